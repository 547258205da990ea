// Where the gateway's CPU goes inside workerd: runs the built gateway (bundled
// as `wrangler deploy --dry-run` bundles it) in Miniflare with the inspector
// on, loads one scenario, and prints the V8 CPU profile's self time by
// function (top N), plus the share spent in wasm, in the JS glue and in
// workerd's own builtins.
//
//   node benches/gateway/profile.mjs [--scenario public|RS256|ES256|HS256]
//        [--distinct] [--requests 4000] [--top 30] [--worker mesh|pass|jose] [--named]
// --named runs the build's twin with a name section (target/bindgen/gateway-durable/
// mesh_sdk_gateway_durable_bg.named.wasm, the same optimised code: gateway/worker.js
// binds the Durable Objects), so wasm frames have names.
// Loopback only; bounded by --requests and a 120 s cap.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { bundle, CONFIGS, loadHttp, ROOT, startFixtures, workerOptions } from './harness.mjs';
const require = createRequire(import.meta.url);
const { Miniflare } = require(path.join(ROOT, 'node_modules/miniflare'));
const WebSocket = require(path.join(ROOT, 'node_modules/ws'));

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const SCENARIO = opt('scenario', 'public');
const DISTINCT = args.includes('--distinct');
const REQUESTS = Number(opt('requests', 4000));
const TOP = Number(opt('top', 30));
const WORKER = opt('worker', 'mesh');
const work = mkdtempSync(path.join(tmpdir(), 'mesh-prof-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const b = bundle(WORKER, CONFIGS[WORKER], work);
if (args.includes('--named') && WORKER === 'mesh') {
  copyFileSync(path.join(ROOT, 'target/bindgen/gateway-durable/mesh_sdk_gateway_durable_bg.named.wasm'), b.wasm[0]);
}

const fixtures = await startFixtures();
const inspectorPort = 9000 + Math.floor(Math.random() * 20000);
const mf = new Miniflare({
  inspectorPort,
  workers: [workerOptions(WORKER, b, fixtures.vars, { kvNamespaces: ['MESH_API_KEYS'] })],
});
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
try {
  const base = await mf.unsafeGetDirectURL(WORKER);
  const url = new URL(SCENARIO === 'public' ? '/health' : '/api/v1/chat', base).href;
  const tokens = SCENARIO === 'public' ? [null] : await fixtures.mintBatch(SCENARIO, DISTINCT ? REQUESTS : 1);
  const load = async (list, n) => {
    const r = await loadHttp(agent, url, list, n);
    if (r.bad) throw new Error(`${r.bad} of ${n} responses were not 200 (first: ${r.firstBad})`);
  };
  await load(SCENARIO === 'public' || !DISTINCT ? tokens : [tokens[0]], 300); // warm up (and JIT)

  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.title?.includes(WORKER)) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  let id = 0;
  const pending = new Map();
  ws.on('message', (m) => { const msg = JSON.parse(m); pending.get(msg.id)?.(msg); pending.delete(msg.id); });
  // Bounded: workerd's inspector leaves some methods unanswered.
  const send = (method, params = {}, ms = 60_000) => new Promise((ok) => {
    const i = ++id;
    pending.set(i, ok);
    setTimeout(() => { if (pending.delete(i)) ok({ error: 'no answer' }); }, ms).unref();
    ws.send(JSON.stringify({ id: i, method, params }));
  });
  const heap = async () => (await send('Runtime.getHeapUsage', {}, 3000)).result?.usedSize ?? NaN;
  const heapBefore = await heap();
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 50 });
  await send('Profiler.start');
  const t0 = performance.now();
  await Promise.race([load(tokens, REQUESTS), new Promise((_, fail) => setTimeout(() => fail(new Error('over 120 s')), 120_000).unref())]);
  const wall = performance.now() - t0;
  const { result } = await send('Profiler.stop');
  await send('HeapProfiler.collectGarbage', {}, 3000);
  const heapAfter = await heap();
  ws.close();

  const { nodes, samples, timeDeltas } = result.profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const fns = new Map();
  const kinds = { wasm: 0, glue: 0, idle: 0, other: 0 };
  let total = 0;
  for (const [nid, us] of self) {
    const { callFrame: f } = byId.get(nid);
    const name = f.functionName || '(anonymous)';
    const file = f.url.split('/').pop() || '';
    // Anonymous JS functions are told apart by where they start.
    const key = name === '(anonymous)' && file ? `${name}  ${file}:${f.lineNumber + 1}` : `${name}  ${file}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    total += us;
    if (name === '(idle)' || name === '(program)') kinds.idle += us;
    else if (f.url.startsWith('wasm://') || /^\$?wasm-function|^\$/.test(name)) kinds.wasm += us;
    else if (/\.js$/.test(file)) kinds.glue += us;
    else kinds.other += us;
  }
  const busy = total - kinds.idle;
  console.log(`${WORKER} ${SCENARIO}${DISTINCT ? ' distinct' : ''}: ${REQUESTS} requests in ${wall.toFixed(0)} ms; sampled busy ${(busy / REQUESTS).toFixed(1)} us/request`);
  console.log(`JS heap in use: ${(heapBefore / 1024).toFixed(0)} KB before, ${(heapAfter / 1024).toFixed(0)} KB after (after a GC)`);
  console.log(`busy split: wasm ${(100 * kinds.wasm / busy).toFixed(1)}%, JS (worker + glue) ${(100 * kinds.glue / busy).toFixed(1)}%, builtins/runtime ${(100 * kinds.other / busy).toFixed(1)}%`);
  console.log('top self time (us per request):');
  const source = readFileSync(b.main, 'utf8').split('\n');
  for (const [key, us] of [...fns].filter(([k]) => !/^\((idle|program)\)/.test(k)).sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    const line = /:(\d+)$/.exec(key)?.[1];
    const text = line ? `  | ${source[Number(line) - 1]?.trim().slice(0, 90)}` : '';
    console.log(`${(us / REQUESTS).toFixed(2).padStart(8)}  ${key.slice(0, 140)}${text}`);
  }
} finally {
  await mf.dispose();
  agent.destroy();
  await fixtures.stop();
}
