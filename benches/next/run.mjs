#!/usr/bin/env node
// mesh-sdk/next benchmark (numbers, not assertions). Run after scripts/build.sh:
//   node benches/next/run.mjs [--calls 5000] [--storms 10,100,1000]
//
// 1. auth() on a valid session: CPU per call (process.cpuUsage over a
//    bounded loop), for the sealed cookie and for Redis (one GET per call),
//    beside one bare AES-256-GCM decrypt of a cookie that size (WebCrypto):
//    the floor of any sealed-cookie session. Auth.js's auth() is the issue's
//    reference; next-auth / @auth/core are not installed here, so no figure
//    is printed for it rather than a made-up one.
// 2. Refresh storm: N concurrent getAccessToken() on one session whose
//    token is due, in 1 process (cookie store) and across 4 Node processes
//    (Redis store; and the cookie store, to show what it cannot prevent).
//    Counted at the real oidc-provider: token requests and refused grants.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { webcrypto } from 'node:crypto';
import { createMeshAuth } from '../../pkg/next.js';
import { Jar, appOptions, signIn, startIdp, startRedis } from '../../tests/next/support.mjs';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('../../tests/next/fixtures/refresh-worker.mjs', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CALLS = Math.min(100_000, Number(arg('calls', '5000')));
const STORMS = arg('storms', '10,100,1000').split(',').map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU µs per call of `fn` over `calls` sequential calls, after a warm-up. */
async function cpuPerCall(fn, calls) {
  for (let i = 0; i < Math.min(500, calls); i++) await fn();
  const start = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  const used = process.cpuUsage(start);
  return { cpuUs: (used.user + used.system) / calls, wallUs: ((performance.now() - wall) * 1000) / calls };
}

const { idp, grants } = await startIdp({ accessTokenTtl: 4 });
const redis = await startRedis();
console.log(`## mesh-sdk/next (${process.version}, ${CALLS} calls per figure)`);
try {
  // 1. auth() CPU.
  const rows = [];
  for (const [label, store] of [['cookie store', undefined], ['Redis store', { redis: redis.url }]]) {
    const mesh = createMeshAuth(appOptions(idp, { store }));
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    const request = jar.request('/');
    if (!(await mesh.auth(request))) throw new Error('not signed in');
    const m = await cpuPerCall(() => mesh.auth(request), CALLS);
    rows.push([`auth(), ${label} (cookie ${jar.header().length} chars)`, m]);
    if (!store) {
      const key = await webcrypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      const iv = webcrypto.getRandomValues(new Uint8Array(12));
      const sealed = await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new Uint8Array(Math.floor((jar.header().length * 3) / 4)));
      rows.push(['reference: one AES-256-GCM decrypt of that size', await cpuPerCall(() => webcrypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed), CALLS)]);
    }
    await mesh.close();
  }
  console.log('\n| what | CPU per call | wall per call |\n| --- | --- | --- |');
  for (const [what, m] of rows) console.log(`| ${what} | ${m.cpuUs.toFixed(1)} µs | ${m.wallUs.toFixed(1)} µs |`);
  console.log('| Auth.js auth() | not measured: next-auth / @auth/core are not installed here | |');

  // 2. Refresh storms.
  console.log('\n| N concurrent | processes | store | token requests | of them refused (reuse) | requests failed | distinct tokens |\n| --- | --- | --- | --- | --- | --- | --- |');
  for (const n of STORMS) {
    for (const [processes, label, store] of [[1, 'cookie', undefined], [4, 'Redis', { redis: redis.url }], [4, 'cookie', undefined]]) {
      const options = appOptions(idp, { store });
      const mesh = createMeshAuth(options);
      const jar = new Jar();
      await signIn(mesh, jar, idp);
      await mesh.getAccessToken(jar.request('/'));
      await mesh.close();
      const before = grants.refresh_token;
      const errorsBefore = grants.errors.length;
      const per = Math.ceil(n / processes);
      // The token is due 2 s after it arrived; every process starts together after that.
      const startAt = Date.now() + 2600;
      const results = await Promise.all(
        Array.from({ length: processes }, () =>
          run(process.execPath, [WORKER, JSON.stringify({ options, cookie: jar.header(), n: per, startAt })], { timeout: 60_000, maxBuffer: 64 << 20 }).then((w) =>
            JSON.parse(w.stdout.trim().split('\n').pop()),
          ),
        ),
      );
      await sleep(100);
      const tokens = new Set(results.flatMap((r) => r.tokens));
      const failed = results.reduce((a, r) => a + r.failures.length, 0);
      console.log(`| ${per * processes} | ${processes} | ${label} | ${grants.refresh_token - before + grants.errors.length - errorsBefore} | ${grants.errors.length - errorsBefore} | ${failed} | ${tokens.size} |`);
    }
  }
  console.log('\nGoal: 1 token request per storm. The cookie store across processes shows why a server store exists: each process may spend the same rotating refresh token, and oidc-provider then revokes the grant.');
} finally {
  await redis.stop();
  await idp.close();
}
