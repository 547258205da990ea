// Where a worker's CPU goes per request, read by Linux `perf` from workerd
// itself: native code (workerd, V8, BoringSSL), the kernel, and JIT code
// named through V8's perf map, wasm functions included (by name with
// --named). Unlike profile.mjs (V8's own sampling profiler over the
// inspector), this samples the process at a fixed rate, so the time it gives
// a function is time spent there, and it shows what workerd does on a
// worker's behalf (Headers, promises, allocation) beside the worker's code.
//
//   node benches/gateway/perf.mjs [--worker mesh|jose|pass] [--scenario public|RS256|ES256|HS256]
//        [--distinct] [--warmup 20000] [--requests 6000] [--top 40] [--named] [--kinds wasm,JS]
// --kinds lists only those kinds of code (wasm, JS, native, kernel).
//
// workerd runs here without Miniflare, from a config this script writes,
// because the V8 flag that writes the perf map (--perf-basic-prof) can only
// be set in workerd's config. The routes are the default ones minus the
// API-key route (no KV here). --named swaps in the build's twin with a name
// section, optimised as build.sh optimises the shipped one. The warm-up
// matters: V8 compiles wasm with Liftoff first and moves a function to
// TurboFan only after enough calls; a function called once per request needs
// thousands of requests. Needs `perf` (Debian: linux-perf) and a built pkg/.
// Loopback only; bounded by --requests and timeouts on every wait.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { bundle, CONFIGS, loadHttp, ROOT, startFixtures } from './harness.mjs';
const require = createRequire(import.meta.url);
const WORKERD = require(path.join(ROOT, 'node_modules/workerd')).default; // the binary's path

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const WORKER = opt('worker', 'mesh');
const SCENARIO = opt('scenario', 'RS256');
const DISTINCT = args.includes('--distinct');
const WARMUP = Number(opt('warmup', 20_000));
const REQUESTS = Number(opt('requests', 6000));
const TOP = Number(opt('top', 40));
const KINDS = opt('kinds', null)?.split(',');
const HZ = 10_000;
if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('perf is not installed (Debian: apt-get install linux-perf)');
  process.exit(2);
}

const work = mkdtempSync(path.join(tmpdir(), 'mesh-perf-'));
let workerd;
let mapFile;
const cleanup = () => {
  workerd?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  if (mapFile) rmSync(mapFile, { force: true });
};
process.on('exit', cleanup);

const b = bundle(WORKER, CONFIGS[WORKER], path.join(work, 'bundle'));
if (args.includes('--named') && WORKER === 'mesh') {
  // The same wasm-opt pass as scripts/build.sh, keeping the name section (-g).
  const features = ['--enable-bulk-memory', '--enable-multivalue', '--enable-mutable-globals',
    '--enable-nontrapping-float-to-int', '--enable-reference-types', '--enable-sign-ext'];
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/wasm-opt'),
    ['-Oz', '--converge', '-g', ...features, path.join(ROOT, 'target/bindgen/gateway-durable/mesh_sdk_gateway_durable_bg.named.wasm'), '-o', path.join(work, 'named.wasm')],
    { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`wasm-opt failed: ${r.stderr}`);
  copyFileSync(path.join(work, 'named.wasm'), b.wasm[0]);
}

const fixtures = await startFixtures();
const freePort = () => new Promise((ok) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); }); });
const port = await freePort();
const vars = {
  ...fixtures.vars,
  MESH_ROUTES: JSON.stringify([{ prefix: '/api/v1/', auth: 'jwt' }, { prefix: '/mcp/messages/', auth: 'jwt' }, { prefix: '/health', auth: 'public' }]),
};
const q = (s) => JSON.stringify(s);
// `embed` paths are relative to the config file.
const rel = (f) => q(path.relative(work, f));
const modules = [`(name = ${q(path.basename(b.main))}, esModule = embed ${rel(b.main)})`,
  ...b.wasm.map((w) => `(name = ${q(path.basename(w))}, wasm = embed ${rel(w)})`)];
writeFileSync(path.join(work, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
  v8Flags = ["--perf-basic-prof"],
);
const worker :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = "2026-05-01",
  bindings = [${Object.entries(vars).map(([k, v]) => `(name = ${q(k)}, text = ${q(v)})`).join(', ')}],
);
`);
// cwd: V8's logging flags write isolate-*.log files into it.
workerd = spawn(WORKERD, ['serve', path.join(work, 'config.capnp')], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
mapFile = `/tmp/perf-${workerd.pid}.map`;

const base = `http://127.0.0.1:${port}`;
const url = new URL(SCENARIO === 'public' ? '/health' : '/api/v1/chat', base).href;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
for (let i = 0; ; i++) { // ready: bounded at 20 s
  try { await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) }); break; } catch (e) {
    if (i >= 100 || workerd.exitCode !== null) throw new Error(`workerd did not answer on ${base}: ${e.message}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const tokens = SCENARIO === 'public' ? [null] : DISTINCT ? await fixtures.mintBatch(SCENARIO, WARMUP + REQUESTS) : [await fixtures.mintOne(SCENARIO)];
let sent = 0; // distinct tokens run on from the warm-up, none twice
const load = async (n) => {
  const r = await loadHttp(agent, url, tokens, n, { from: sent });
  sent += n;
  if (r.bad) throw new Error(`${r.bad} of ${n} responses were not 200 (first: ${r.firstBad})`);
};
console.error(`[perf] warm-up: ${WARMUP} requests`);
await load(WARMUP);
const data = path.join(work, 'perf.data');
const rec = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(HZ), '-p', String(workerd.pid), '-o', data], { stdio: 'inherit' });
await new Promise((r) => setTimeout(r, 300));
console.error(`[perf] recording ${REQUESTS} requests`);
await load(REQUESTS);
rec.kill('SIGINT');
await new Promise((r) => rec.on('exit', r));
await fixtures.stop();

const report = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,sym', '--stdio', '-n'], { encoding: 'utf8', maxBuffer: 64 << 20 });
const rows = [];
for (const line of report.stdout.split('\n')) {
  const m = /^\s+[\d.]+%\s+(\d+)\s+(\S.*?)\s+\[(.)\]\s+(.*)$/.exec(line);
  if (m) rows.push({ samples: Number(m[1]), dso: m[2].trim(), sym: m[4].trim() });
}
const us = (samples) => (samples * 1e6) / HZ / REQUESTS;
const kind = (r) => (r.dso.startsWith('[JIT]') ? (/-(turbofan|liftoff)$/.test(r.sym) || r.sym.startsWith('JS:wasm') ? 'wasm' : 'JS') : r.dso.includes('kernel') ? 'kernel' : 'native');
const total = {};
for (const r of rows) total[kind(r)] = (total[kind(r)] ?? 0) + r.samples;
console.log(`${WORKER}, ${SCENARIO}${DISTINCT ? ' distinct' : ''}: CPU per request over ${REQUESTS} requests after ${WARMUP} (perf, ${HZ} Hz)`);
console.log(Object.entries(total).map(([k, s]) => `${k} ${us(s).toFixed(1)} us`).join(', ') + `; all ${us(rows.reduce((a, r) => a + r.samples, 0)).toFixed(1)} us`);
console.log('');
for (const r of rows.filter((r) => !KINDS || KINDS.includes(kind(r))).sort((a, b) => b.samples - a.samples).slice(0, TOP)) {
  const sym = r.sym.replace(/\[[0-9a-f]{16}\]/g, '').replace(/mesh_sdk::/g, '').slice(0, 140);
  console.log(`${us(r.samples).toFixed(2).padStart(7)} us  ${kind(r).padEnd(6)} ${sym}`);
}
process.exit(0);
