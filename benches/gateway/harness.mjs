// Shared by the gateway benchmark (run.mjs) and profiler (profile.mjs): the
// workers bundled as `wrangler deploy --dry-run` bundles them, the Miniflare
// options for one of them, the origin they forward to, and the variables
// that configure the gateway.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { claims, makeKeys, mint, startJwks } from '../../tests/support/tokens.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The wrangler configs of the workers measured. */
export const CONFIGS = {
  mesh: path.join(ROOT, 'gateway/wrangler.toml'),
  pass: path.join(ROOT, 'benches/gateway/workers/passthrough.toml'),
  jose: path.join(ROOT, 'benches/gateway/workers/jose-gateway.toml'),
};

/** Bundles `config` into `outdir` as `wrangler deploy --dry-run` would deploy it. */
export function bundle(name, config, outdir) {
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/wrangler'),
    ['deploy', '--dry-run', '--outdir', outdir, '-c', config],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' }, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run ${config} failed:\n${r.stdout}\n${r.stderr}`);
  const files = readdirSync(outdir);
  const main = files.find((f) => f.endsWith('.js') && !f.endsWith('.map'));
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  const upload = /Total Upload: ([^\n]+)/.exec(r.stdout)?.[1]?.trim();
  return { name, dir: outdir, main: path.join(outdir, main), wasm: wasm.map((f) => path.join(outdir, f)), upload };
}

/** Miniflare options for one bundled worker on its own loopback socket. */
export function workerOptions(name, b, bindings, extra = {}) {
  return {
    name,
    modules: true,
    scriptPath: b.main,
    modulesRoot: b.dir,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-05-01',
    bindings,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...extra,
  };
}

/** The origin every worker forwards to: drains the body, answers a small JSON. */
export async function startOrigin() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 }).end('{"ok":true}'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** The gateway's configuration (the reference workers read the same names). */
export function gatewayVars(originUrl, jwks, keys) {
  return {
    MESH_UPSTREAM_URL: originUrl,
    MESH_JWT_ISSUER: jwks.issuer,
    MESH_JWT_AUDIENCE: 'mesh-api',
    MESH_JWKS_URL: jwks.url,
    MESH_JWT_HS256_SECRET: keys.hsSecret,
  };
}

/**
 * What every gateway benchmark runs against: the origin, keys, a JWKS server,
 * the gateway's variables, and token minting (long-lived, `user-<i>`).
 */
export async function startFixtures({ extraClaims = {} } = {}) {
  const origin = await startOrigin();
  const keys = await makeKeys();
  const jwks = await startJwks({ keys: [keys.rs, keys.es] });
  const ctx = { issuer: jwks.issuer, audience: 'mesh-api' };
  const signer = { RS256: keys.rs, ES256: keys.es, HS256: keys.hsSecret };
  const longLived = (i = 0) => claims(ctx, { exp: Math.floor(Date.now() / 1000) + 6 * 3600, sub: `user-${i}`, ...extraClaims });
  const mintOne = (alg, i = 0) => mint({ key: signer[alg], payload: longLived(i) });
  return {
    origin, keys, jwks, vars: gatewayVars(origin.url, jwks, keys), longLived, mintOne,
    mintBatch: (alg, n) => Promise.all(Array.from({ length: n }, (_, i) => mintOne(alg, i))),
    stop: async () => { await jwks.stop(); await origin.close(); },
  };
}

/** The direct children of process `pid`, with their command names. */
export function childrenOf(pid) {
  const kids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (Number(rest[1]) === pid) kids.push({ pid: Number(d), comm });
    } catch { /* gone */ }
  }
  return kids;
}

/** The one workerd child of this process that is not in `before` (pids). */
export function findWorkerd(before) {
  const list = childrenOf(process.pid).filter((k) => /workerd/.test(k.comm) && !before.has(k.pid));
  if (list.length !== 1) throw new Error(`expected one new workerd child, found ${JSON.stringify(list)}`);
  return list[0].pid;
}

/**
 * CPU time of a whole process: schedstat ns summed over its threads
 * (nanosecond resolution), and /proc/<pid>/stat's utime+stime ticks (10 ms).
 */
export function cpuOf(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ns, ticks: Number(f[11]) + Number(f[12]) };
}

/**
 * Waits until workerd is idle, and returns its CPU reading then. A phase's
 * work does not all end with its last response: V8 collects its garbage and
 * compiles hot code on background threads, later. Read at once, that work
 * would be charged to whichever phase runs next, on another worker. Read
 * after `settle`, each phase carries its own. Idle: under 0.5 ms of CPU in a
 * 25 ms window; bounded at 80 windows (2 s), after which it reads anyway.
 * @returns {Promise<{ ns: number, ticks: number, waitedMs: number }>}
 */
export async function settle(pid) {
  const t0 = performance.now();
  let prev = cpuOf(pid);
  for (let i = 0; i < 80; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const now = cpuOf(pid);
    if (now.ns - prev.ns < 500_000) return { ...now, waitedMs: performance.now() - t0 };
    prev = now;
  }
  return { ...prev, waitedMs: performance.now() - t0 };
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * A percentile bootstrap interval for median(num) / median(den), where
 * num[i] and den[i] were measured in the same round: rounds are resampled
 * with replacement, pairs kept together. 4,000 resamples from a fixed seed,
 * so the same data give the same interval. With 16 rounds the interval is
 * coarse, but it says what the median alone hides: whether the rounds
 * measured could as well have given a ratio on the other side of a goal.
 * @returns {[number, number]} the `level` (e.g. 0.9) two-sided interval
 */
export function ratioInterval(num, den, level = 0.9) {
  const n = Math.min(num.length, den.length);
  if (n === 0) return [NaN, NaN];
  let seed = 0x6d657368; // mulberry32
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ratios = [];
  const a = new Array(n);
  const b = new Array(n);
  for (let k = 0; k < 4000; k++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      a[i] = num[j];
      b[i] = den[j];
    }
    ratios.push(median(a) / median(b));
  }
  ratios.sort((x, y) => x - y);
  const at = (q) => ratios[Math.min(ratios.length - 1, Math.floor(q * ratios.length))];
  return [at((1 - level) / 2), at(1 - (1 - level) / 2)];
}

/** The q-quantile of `xs` by linear interpolation between sorted values. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
}

/**
 * Sends `n` GETs of `url` over `agent`'s keep-alive sockets, `concurrency` in
 * flight; the i-th carries `tokens[(from + i) % tokens.length]` as a bearer
 * token (`null`: none). A request whose keep-alive socket the server closed
 * just as it went out (ECONNRESET, EPIPE) is retried once on a fresh socket
 * and counted in `resets`. Rejects on a request with no answer in 30 s.
 * Returns requests/s, p50/p99 latency in ms, how many answers were not 200
 * (`bad`, and the first such status), and `resets`.
 */
export async function loadHttp(agent, url, tokens, n, { from = 0, concurrency = 4 } = {}) {
  let resets = 0;
  const once = (token) => new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, { agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ns: Number(process.hrtime.bigint() - t0) }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
  const get = async (token) => {
    try {
      return await once(token);
    } catch (e) {
      if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') throw e;
      resets++;
      return once(token);
    }
  };
  const lat = new Float64Array(n);
  let next = 0;
  let bad = 0;
  let firstBad = null;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await get(tokens[(from + i) % tokens.length]);
      lat[i] = r.ns / 1e6;
      if (r.status !== 200) { bad++; firstBad ??= r.status; }
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort();
  return { rps: n / wall, p50: lat[Math.floor(n * 0.5)], p99: lat[Math.min(n - 1, Math.floor(n * 0.99))], bad, firstBad, resets };
}

/** Prints a benchmark's report, and writes it to `out` too when given. */
export function printReport(lines, out) {
  const text = lines.join('\n');
  console.log(text);
  if (out) writeFileSync(out, `${text}\n`);
}
