#!/usr/bin/env node
// Client benchmark (numbers, not assertions). Run after scripts/build.sh:
//   node benches/client/refresh-storm.mjs [--runs 7] [--callers 1,10,100,1000,10000]
//
// 1. Refresh storm: N concurrent getAccessToken() calls on an expired session
//    (real oidc-provider behind the counting proxy). Goal: exactly 1 token
//    request for any N, and one token for all callers.
// 2. wasm start-up in Node: compile + instantiate of pkg/wasm/gateway and
//    pkg/wasm/client (median of N fresh processes), and the cold import of
//    pkg/node.js (base64 decode + compile + instantiate). Reference, measured
//    in the same run: the cold import time of JavaScript auth libraries in
//    Node (oauth4webapi, @supabase/auth-js). They are plain JS, not wasm, and
//    do not do the same job: the reference shows what loading an auth SDK
//    costs in JS, not a like-for-like comparison.
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { startStack, rawDeviceLogin, nowSeconds } from '../../tests/support/stack.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Math.max(1, Math.min(50, Number(opt('--runs', 7))));
const CALLERS = opt('--callers', '1,10,100,1000,10000').split(',').map(Number).filter((n) => n > 0 && n <= 100_000);

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

if (!existsSync(`${root}pkg/node.js`)) {
  console.error('pkg/ is missing: run scripts/build.sh first');
  process.exit(1);
}

// ---------------------------------------------------------------------------
console.log(`mesh-sdk client benchmark, ${new Date().toISOString()}, node ${process.version}\n`);
console.log('## Refresh storm: concurrent getAccessToken() on an expired session\n');
const { MeshClient } = await import('../../pkg/node.js');
const stack = await startStack({ accessTokenTtl: 300 });
const stormRows = [];
try {
  let t = await rawDeviceLogin(stack.op.issuer);
  let refreshToken = t.refresh_token;
  let accessToken = t.access_token;
  for (const n of CALLERS) {
    const client = new MeshClient(stack.clientOptions({ timeoutMs: 30_000 }));
    try {
      client.setSession({ accessToken, refreshToken, expiresAt: nowSeconds() - 5 });
      stack.proxy.reset();
      const t0 = performance.now();
      const results = await Promise.allSettled(Array.from({ length: n }, () => client.getAccessToken()));
      const ms = performance.now() - t0;
      const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
      stormRows.push([n, stack.proxy.count(), stack.proxy.count('refresh_token'), new Set(ok).size, n - ok.length, fmt(ms)]);
      const env = client.exportEnv();
      if (env?.MESH_REFRESH_TOKEN) {
        refreshToken = env.MESH_REFRESH_TOKEN; // rotated: carry the chain on
        accessToken = env.MESH_ACCESS_TOKEN;
      } else {
        t = await rawDeviceLogin(stack.op.issuer);
        ({ refresh_token: refreshToken, access_token: accessToken } = t);
      }
    } finally {
      client.dispose();
    }
  }
} finally {
  await stack.close();
}
console.log(table(['callers', 'token requests', 'refresh requests', 'distinct tokens', 'failed calls', 'wall ms (all callers)'], stormRows));
console.log('\nGoal: exactly 1 token request and 1 distinct token for every row. Each row is a new client, so');
console.log('its wall time includes one discovery request and the token request (all on 127.0.0.1).\n');

// ---------------------------------------------------------------------------
console.log(`## wasm start-up in Node (median of ${RUNS} fresh processes)\n`);
const child = fileURLToPath(new URL('./instantiate-child.mjs', import.meta.url));
function measure(childArgs) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const outText = execFileSync(process.execPath, [child, ...childArgs], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    runs.push(JSON.parse(outText.trim().split('\n').at(-1)));
  }
  return runs;
}
const startRows = [];
for (const variant of ['gateway', 'client']) {
  const wasm = `${root}pkg/wasm/${variant}/mesh_sdk_${variant}_bg.wasm`;
  if (!existsSync(wasm)) continue;
  const bytes = readFileSync(wasm);
  const runs = measure(['wasm', wasm, `${root}pkg/wasm/${variant}/mesh_sdk_${variant}.js`]);
  startRows.push([
    `mesh-sdk wasm/${variant}`,
    `${(bytes.length / 1024).toFixed(1)} KB (${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KB gz)`,
    fmt(median(runs.map((r) => r.compileMs))),
    fmt(median(runs.map((r) => r.instantiateMs))),
    fmt(median(runs.map((r) => r.totalMs))),
  ]);
}
const entryRuns = measure(['entry', `${root}pkg/node.js`]);
startRows.push(['mesh-sdk pkg/node.js cold import (base64 + compile + init)', '-', '-', '-', fmt(median(entryRuns.map((r) => r.totalMs)))]);
for (const lib of ['oauth4webapi', '@supabase/auth-js']) {
  try {
    const runs = measure(['import', lib]);
    startRows.push([`reference: ${lib} cold import (JS, no wasm)`, '-', '-', '-', fmt(median(runs.map((r) => r.totalMs)))]);
  } catch (err) {
    startRows.push([`reference: ${lib}`, 'not installed', '-', '-', '-']);
  }
}
console.log(table(['what', 'size', 'compile ms', 'instantiate+init ms', 'total ms'], startRows));
console.log('\nThe references are JavaScript libraries imported cold in the same way; they load no wasm and');
console.log('do not do the same job. They show what loading an auth SDK costs in Node, for scale.');
