// What single steps of the gateway's per-request JavaScript cost inside
// workerd: one request runs a step N times over prepared Requests, and the
// workerd process's CPU over that request (read from outside, after it goes
// idle) divided by N, minus an empty loop's, is the step's cost. Workers
// freeze their clocks while code runs, so this cannot be timed from inside.
//
//   node benches/gateway/probe.mjs [--iterations 40000] [--rounds 11]
//
// Steps: `inbound` (plumbing.js's own, reading a request into its line; the token is
// 700 characters, as an RS256 test token), that plus wasm-bindgen's way of
// passing a string into wasm (a JavaScript loop over its characters), that
// plus `TextEncoder.encodeInto` into a reused buffer and the glue's copy of
// the bytes (what plumbing.js does since 29dd49a), and the forwarding's
// header work (copying the request's Headers, and iterating their names to
// strip some, against deleting the four fixed names only: what the
// x-mesh-identity-* prefix rule's iteration costs). Loopback only; bounded by
// --rounds.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { childrenOf, findWorkerd, median, ROOT, settle } from './harness.mjs';
const require = createRequire(import.meta.url);
const { Miniflare } = require(path.join(ROOT, 'node_modules/miniflare'));

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const N = Number(opt('iterations', 40_000));
const ROUNDS = Number(opt('rounds', 11));

const WORKER = String.raw`
import { inbound } from './plumbing.js'; // the gateway's own, copied beside this worker
const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InJzMjU2LWFiY2QifQ.' + 'x'.repeat(300) + '.' + 'y'.repeat(342);
const memory = new Uint8Array(1 << 16); // stands for wasm memory
function stringLoop(arg) { // wasm-bindgen's passStringToWasm0, ASCII part
  const len = arg.length;
  let offset = 0;
  for (; offset < len; offset++) { const code = arg.charCodeAt(offset); if (code > 0x7f) break; memory[offset] = code; }
  return offset;
}
const encoder = new TextEncoder();
const scratch = new Uint8Array(1 << 16);
const DROP = ['x-user-id', 'x-auth-method', 'x-api-key-id'];
let sink = 0;
export default {
  async fetch(req) {
    const { step, n } = await req.json();
    const reqs = Array.from({ length: 64 }, (_, i) => new Request('http://gw.test/api/v1/chat?i=' + i, {
      headers: { authorization: 'Bearer ' + TOKEN, host: 'gw.test', connection: 'keep-alive', 'user-agent': 'node', accept: '*/*' },
    }));
    for (let i = 0; i < n; i++) {
      const r = reqs[i & 63];
      switch (step) {
        case 'empty': sink += r ? 1 : 0; break;
        case 'inbound': sink += inbound(r).length; break;
        case 'inbound + string loop': sink += stringLoop(inbound(r)); break;
        case 'inbound + encodeInto + copy': {
          const bytes = scratch.subarray(0, encoder.encodeInto(inbound(r), scratch).written);
          memory.set(bytes, 0);
          sink += bytes.length;
          break;
        }
        case 'headers: copy': sink += new Headers(r.headers) ? 1 : 0; break;
        case 'headers: copy + strip': { // as plumbing.js forward
          const h = new Headers(r.headers);
          for (const k of r.headers.keys()) if (k === 'host' || DROP.includes(k) || k.startsWith('x-mesh-identity-')) h.delete(k);
          sink += 1;
          break;
        }
        case 'headers: copy + 4 deletes': { // the strip without the x-mesh-identity-* prefix rule's iteration
          const h = new Headers(r.headers);
          h.delete('host'); h.delete('x-user-id'); h.delete('x-auth-method'); h.delete('x-api-key-id');
          sink += 1;
          break;
        }
      }
    }
    return new Response(String(sink));
  },
};
`;

const work = mkdtempSync(path.join(tmpdir(), 'mesh-probe-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
writeFileSync(path.join(work, 'worker.js'), WORKER);
copyFileSync(path.join(ROOT, 'src/wasm/gateway/plumbing.js'), path.join(work, 'plumbing.js'));
const before = new Set(childrenOf(process.pid).map((k) => k.pid));
const mf = new Miniflare({ modules: true, scriptPath: path.join(work, 'worker.js'), modulesRoot: work, modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }], compatibilityDate: '2026-05-01', host: '127.0.0.1', port: 0 });
try {
  const url = await mf.ready;
  const pid = findWorkerd(before);
  const steps = ['empty', 'inbound', 'inbound + string loop', 'inbound + encodeInto + copy', 'headers: copy', 'headers: copy + strip', 'headers: copy + 4 deletes'];
  const run = (step) => fetch(url, { method: 'POST', body: JSON.stringify({ step, n: N }), signal: AbortSignal.timeout(120_000) }).then((r) => r.text());
  for (const step of steps) await run(step); // warm-up
  const us = Object.fromEntries(steps.map((s) => [s, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const step of steps) {
      const c0 = (await settle(pid)).ns;
      await run(step);
      const c1 = (await settle(pid)).ns;
      us[step].push((c1 - c0) / N / 1000);
    }
  }
  const empty = median(us.empty);
  console.log(`Steps of the gateway's per-request JavaScript inside workerd: ${ROUNDS} rounds x ${N} iterations in one request; us per iteration over an empty loop (median)`);
  for (const step of steps.slice(1)) console.log(`- ${step}: ${(median(us[step]) - empty).toFixed(2)} us`);
  console.log(`Command: node benches/gateway/probe.mjs ${args.join(' ')}`);
} finally {
  await mf.dispose();
}
