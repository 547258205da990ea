// What one SQLite-backed Durable Object sustains here: requests per second
// and latency of one object doing a shard's work per request, beside the
// same worker answering without the object, measured in the same run.
//
//   node benches/scale/do-throughput.mjs [--seconds 3] [--rounds 2]
//        [--concurrency 8] [--ops ref,noop,lookup,count,lookup-kv,count-kv]
//        [--keys 1000] [--runner wrangler,miniflare] [--via-proxy] [--json]
//
// Method. The fixture benches/scale/worker/shard.toml is one worker and one
// SQLite-backed object class. Each op (worker/shard.js) is driven for
// --seconds by --concurrency loops, each with a keep-alive connection of its
// own, sending its next request when the last one is answered: a closed
// loop, so the object is never offered more than it can take and the figure
// is its throughput, not a queue's growth. Every request of a DO op goes to
// the same object (`shard-0`); the record or counter it touches is picked at
// random among --keys. Ops run in a rotating order, --rounds times, after a
// warm-up; req/s is the median over rounds, latency percentiles pool every
// request of the op. The reference (`ref`) is the same worker answering
// without the object.
//
// Runners, one after the other on a fresh fixture each:
// - `wrangler`: `wrangler dev` (tests/support/wrangler.mjs, offline,
//   127.0.0.1), as the tests run the gateway. It runs two workerd processes:
//   its proxy (the URL it prints; every request is also logged through
//   wrangler's Node process) and the one that runs the worker and its
//   objects. The load goes to the second one's entry socket (found in /proc)
//   unless --via-proxy. Even so each request passes Miniflare's entry worker
//   and wrangler's middleware, and the proxy's workerd works for each object
//   request: wrangler's inspector proxy holds a DevTools session with network
//   events on, and every subrequest, the object hop included, becomes events
//   (checked with Miniflare and a DevTools client: the hop rate halved).
// - `miniflare`: the same workerd and fixture through Miniflare's API and a
//   direct socket, without wrangler's proxy, middleware and inspector: the
//   closer figure for the object.
// CPU per request is read per process (schedstat, all threads); the object's
// own cost is the worker's workerd CPU per request of an op minus the
// reference's, which also carries the stub's side of the hop.
//
// This machine has 2 cores: the load generator (this Node process) competes
// with workerd for them, so req/s is a floor for one object that has a
// core of its own, as it has in production. "1 core would allow" divides a
// second by the object's own CPU per request: what the object's thread could
// do if nothing else ran on its core.
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { Miniflare } from 'miniflare';

import { startWrangler } from '../../tests/support/wrangler.mjs';
import { childrenOf, cpuOf, findWorkerd, median, settle } from '../gateway/harness.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    runner: { type: 'string', default: 'wrangler,miniflare' },
    concurrency: { type: 'string', default: '8' },
    ops: { type: 'string', default: 'ref,noop,lookup,count,lookup-kv,count-kv' },
    keys: { type: 'string', default: '1000' },
    'via-proxy': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opt.seconds);
const ROUNDS = Number(opt.rounds);
const CONCURRENCY = Number(opt.concurrency);
const KEYS = Number(opt.keys);
const RUNNERS = opt.runner.split(',').map((s) => s.trim()).filter(Boolean);
const OPS = opt.ops.split(',').map((s) => s.trim()).filter(Boolean);
const PATHS = { ref: '/ref' };
for (const op of OPS) PATHS[op] ??= `/do/${op}`;

const LABELS = {
  ref: 'reference: the worker answers, no object',
  noop: 'object: answers, no storage (the hop alone)',
  lookup: 'object: primary-key read of a record (SQL)',
  'lookup-kv': 'object: the same read, storage.get',
  count: 'object: rate-limit counter upsert (SQL)',
  'count-kv': 'object: the same counter, storage.get + put',
};

/** The workerd processes of wrangler's process group: its proxy and the worker's. */
function workerdOf(group, entryPort) {
  const found = {};
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) !== group || !stat.includes('(workerd)')) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      found[cmd.includes(`entry=127.0.0.1:${entryPort}\0`) ? 'proxy' : 'worker'] = Number(d);
    } catch { /* gone */ }
  }
  if (!found.proxy || !found.worker) throw new Error(`workerd processes not found: ${JSON.stringify(found)}`);
  return found;
}

/** TCP ports process `pid` listens on (its socket inodes in /proc/net/tcp). */
function listeningPorts(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try { const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`)); if (m) inodes.add(m[1]); } catch { /* closed */ }
  }
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === '0A' && inodes.has(f[9])).map((f) => parseInt(f[1].split(':')[1], 16));
}

/** The worker's own socket: the port of its workerd that answers /ref. */
async function directUrl(pid) {
  for (const port of listeningPorts(pid)) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/ref`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200 && (await r.text()) === '{}') return `http://127.0.0.1:${port}`;
    } catch { /* not this one */ }
  }
  throw new Error(`no socket of workerd ${pid} answers /ref`);
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** `concurrency` closed loops on `base + path` for `seconds`: count, latencies (ms), errors. */
async function drive(base, p, seconds) {
  const lat = [];
  let errors = 0;
  let firstError = null;
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const k = Math.floor(Math.random() * KEYS);
      const t0 = performance.now();
      let status;
      try { status = await get(`${base}${p}${p.includes('?') ? '&' : '?'}k=${k}`); } catch (e) { status = e.code ?? e.message; }
      lat.push(performance.now() - t0);
      if (status !== 200) { errors++; firstError ??= status; }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return { n: lat.length, wall: (performance.now() - t0) / 1000, lat, errors, firstError };
}

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');

const started = Date.now();
const load0 = os.loadavg();

/**
 * The fixture under `runner`: `wrangler` (wrangler dev, as the tests run the
 * gateway) or `miniflare` (the same workerd and fixture without wrangler's
 * dev tooling: no proxy, no inspector). Returns the URL to load, the workerd
 * processes to read CPU from, and stop().
 */
async function start(runner) {
  const config = path.join(HERE, 'worker/shard.toml');
  if (runner === 'wrangler') {
    const w = await startWrangler({ config });
    const pids = workerdOf(w.pid, w.port);
    const base = opt['via-proxy'] ? w.url : await directUrl(pids.worker);
    return { base, pids, stop: () => w.stop() };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mesh-do-bench-'));
  const before = new Set(childrenOf(process.pid).map((k) => k.pid));
  const mf = new Miniflare({
    workers: [{
      name: 'shard', modules: true, scriptPath: path.join(HERE, 'worker/shard.js'), compatibilityDate: '2026-05-01',
      durableObjects: { SHARD: { className: 'BenchShard', useSQLite: true } },
      unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    }],
    durableObjectsPersist: dir,
  });
  await mf.ready;
  const base = (await mf.unsafeGetDirectURL('shard')).origin;
  return {
    base, pids: { worker: findWorkerd(before), proxy: null },
    stop: async () => { await mf.dispose(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Every op, --rounds times in a rotating order, on a fresh fixture. */
async function measure(runner) {
  const fx = await start(runner);
  try {
    const { base, pids } = fx;
    for (const op of OPS) await drive(base, PATHS[op], 1); // warm-up: the object's table is seeded on its first request
    const results = Object.fromEntries(OPS.map((op) => [op, { rps: [], lat: [], worker: [], proxy: [], gen: [], errors: 0, firstError: null }]));
    const proxyNs = () => (pids.proxy ? cpuOf(pids.proxy).ns : 0);
    const m0 = machineTicks();
    let ours = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const order = OPS.map((_, i) => OPS[(i + round) % OPS.length]);
      for (const op of order) {
        const c0 = { worker: (await settle(pids.worker)).ns, proxy: proxyNs(), gen: process.cpuUsage() };
        const r = await drive(base, PATHS[op], SECONDS);
        const c1 = { worker: (await settle(pids.worker)).ns, proxy: proxyNs(), gen: process.cpuUsage(c0.gen) };
        const acc = results[op];
        acc.rps.push(r.n / r.wall);
        acc.lat.push(...r.lat);
        acc.worker.push((c1.worker - c0.worker) / 1000 / r.n);
        acc.proxy.push((c1.proxy - c0.proxy) / 1000 / r.n);
        acc.gen.push((c1.gen.user + c1.gen.system) / r.n);
        acc.errors += r.errors;
        acc.firstError ??= r.firstError;
        ours += (c1.worker - c0.worker) / 1e9 + (c1.proxy - c0.proxy) / 1e9 + (c1.gen.user + c1.gen.system) / 1e6;
      }
    }
    const m1 = machineTicks();
    const hz = 100; // USER_HZ: /proc/stat counts in 1/100 s on Linux
    const wallMachine = (m1.total - m0.total) / hz / os.cpus().length;
    const otherCores = Math.max(0, ((m1.busy - m0.busy) / hz - ours) / wallMachine);
    const rows = OPS.map((op) => {
      const a = results[op];
      const sorted = [...a.lat].sort((x, y) => x - y);
      return {
        op, label: LABELS[op] ?? op, rps: median(a.rps), rpsMin: Math.min(...a.rps), rpsMax: Math.max(...a.rps),
        p50: pct(sorted, 0.5), p90: pct(sorted, 0.9), p99: pct(sorted, 0.99), max: sorted.at(-1),
        workerUs: median(a.worker), proxyUs: pids.proxy ? median(a.proxy) : NaN, genUs: median(a.gen),
        errors: a.errors, firstError: a.firstError, n: a.lat.length,
      };
    });
    const ref = rows.find((r) => r.op === 'ref');
    for (const r of rows) {
      r.objectUs = ref && r.op !== 'ref' ? r.workerUs - ref.workerUs : NaN;
      r.coreAllows = r.objectUs > 0 ? 1e6 / r.objectUs : NaN;
    }
    return { runner, rows, otherCores };
  } finally {
    await fx.stop();
  }
}

const runs = [];
try {
  for (const runner of RUNNERS) runs.push(await measure(runner));
} finally {
  agent.destroy();
}
const workerdVersion = JSON.parse(readFileSync(path.join(HERE, '../../node_modules/workerd/package.json'), 'utf8')).version;
if (opt.json) {
  console.log(JSON.stringify({ runs, concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS, viaProxy: opt['via-proxy'], load0 }, null, 2));
} else {
  const p = (s = '') => console.log(s);
  p(`One SQLite-backed Durable Object under load: workerd ${workerdVersion}, offline on 127.0.0.1, ${os.cpus().length} cores; load average ${load0.map((x) => x.toFixed(2)).join(' ')} before the run`);
  p(`${CONCURRENCY} closed loops, one keep-alive connection each; ${ROUNDS} rounds x ${SECONDS} s per op, ops interleaved; every object request to one object, keys at random among ${KEYS}`);
  p('req/s: median over rounds (lowest-highest); latency: every request of the op pooled; CPU per request: schedstat of each process; object CPU = the worker\'s workerd CPU minus the reference\'s');
  for (const { runner, rows, otherCores } of runs) {
    p();
    p(runner === 'wrangler'
      ? `### wrangler dev (${opt['via-proxy'] ? "through its proxy URL" : "load sent straight to the workerd that runs the worker"}); other processes used ${otherCores.toFixed(2)} cores`
      : `### Miniflare, the same workerd without wrangler's proxy and inspector; other processes used ${otherCores.toFixed(2)} cores`);
    p();
    p(`| op | req/s | p50 ms | p90 ms | p99 ms | max ms | worker's workerd CPU us | object CPU us | 1 core would allow, req/s | ${runner === 'wrangler' ? "wrangler's proxy workerd CPU us | " : ''}load generator CPU us | errors |`);
    p(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ${runner === 'wrangler' ? '---: | ' : ''}---: | ---: |`);
    for (const r of rows) {
      p(`| ${r.label} | ${int(r.rps)} (${int(r.rpsMin)}-${int(r.rpsMax)}) | ${f2(r.p50)} | ${f2(r.p90)} | ${f2(r.p99)} | ${f1(r.max)} | ${f1(r.workerUs)} | ${f1(r.objectUs)} | ${int(r.coreAllows)} | ${runner === 'wrangler' ? `${f1(r.proxyUs)} | ` : ''}${f1(r.genUs)} | ${r.errors}${r.firstError ? ` (${r.firstError})` : ''} |`);
    }
  }
  p();
  p(`Command: node benches/scale/do-throughput.mjs ${process.argv.slice(2).join(' ')}`.trim() + ` (${Math.round((Date.now() - started) / 1000)} s)`);
}
for (const run of runs) for (const r of run.rows) if (r.errors) process.exitCode = 1;
