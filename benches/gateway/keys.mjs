// API-key lookups, KV against Durable Objects (issue 18, "Benchmark"): in
// ONE workerd process, through Miniflare, the gateway (gateway/wrangler.toml,
// the built pkg/, bundled as `wrangler deploy --dry-run` bundles it) three
// times, each on its own socket:
//   kv-A, kv-B  MESH_KEYS_STORE=kv (KV binding): the reference, twice, so
//               its difference is the noise floor;
//   do          MESH_KEYS_STORE=do, MESH_KEYS_CACHE_SECONDS=0: every request
//               asks the key's KeyShard (SQLite-backed, same process).
// Each worker gets its own key (made through its keys API); every request
// sends it to the default api_key route /agent/v1/. Phases run one at a
// time, workers in a rotating order; CPU is the workerd process's over a
// phase (schedstat, all threads, after harness.mjs's settle), so the
// object's own work is in the `do` figure. Medians over rounds, and do
// minus kv-A paired per round.
//
// Locally the object is in the same process: the figure is the CPU and the
// local latency of the lookup, not the network distance to the object's
// location, which a deployment adds (see docs/gateway.md).
//
//   node benches/gateway/keys.mjs [--rounds 8] [--requests 1000] [--concurrency 4] [--out FILE]
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { bundle, childrenOf, CONFIGS, findWorkerd, loadHttp, median, quantile, printReport, ROOT, settle, startFixtures, workerOptions } from './harness.mjs';
const require = createRequire(import.meta.url);
const { Miniflare } = require(path.join(ROOT, 'node_modules/miniflare'));

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const ROUNDS = Number(opt('rounds', 8));
const REQUESTS = Number(opt('requests', 1000));
const CONCURRENCY = Number(opt('concurrency', 4));
const OUT = opt('out', null);
const started = Date.now();
const log = (...a) => console.error('[keys]', ...a);

const work = mkdtempSync(path.join(tmpdir(), 'mesh-bench-keys-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
log('bundling with wrangler deploy --dry-run ...');
const b = bundle('mesh', CONFIGS.mesh, path.join(work, 'mesh'));
const fixtures = await startFixtures();

const OBJECTS = {
  durableObjects: {
    MESH_KEYS_DO: { className: 'KeyShard', useSQLite: true },
    MESH_RATE_LIMITS: { className: 'RateLimitShard', useSQLite: true },
  },
};
const WORKERS = [
  ['kv-A', {}],
  ['kv-B', {}],
  ['do', { MESH_KEYS_STORE: 'do', MESH_KEYS_CACHE_SECONDS: '0' }],
];
const quiet = (out, err) => { out.resume(); err.on('data', (d) => { const s = String(d); if (/error/i.test(s)) process.stderr.write(`[workerd] ${s}`); }); };
const beforeKids = new Set(childrenOf(process.pid).map((k) => k.pid));
const mf = new Miniflare({
  workers: WORKERS.map(([name, vars]) => workerOptions(name, b, { ...fixtures.vars, ...vars }, { kvNamespaces: ['MESH_API_KEYS'], ...OBJECTS })),
  handleRuntimeStdio: quiet,
});
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
try {
  await mf.ready;
  const pid = findWorkerd(beforeKids);
  const user = await fixtures.mintOne('HS256');
  const urls = {};
  const keys = {};
  for (const [name] of WORKERS) {
    const base = await mf.unsafeGetDirectURL(name);
    const r = await fetch(new URL('/api/v1/keys', base), { method: 'POST', headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' }, body: '{"name":"bench"}' });
    if (r.status !== 201) throw new Error(`${name}: create a key: ${r.status} ${await r.text()}`);
    keys[name] = [(await r.json()).key];
    urls[name] = new URL('/agent/v1/bench', base).href;
    const warm = await loadHttp(agent, urls[name], keys[name], 300, { concurrency: CONCURRENCY });
    if (warm.bad) throw new Error(`${name} warm-up: ${warm.bad} answers were not 200 (first: ${warm.firstBad})`);
  }
  const results = Object.fromEntries(WORKERS.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = WORKERS.map((_, i) => WORKERS[(i + round) % WORKERS.length][0]);
    for (const name of order) {
      const c0 = await settle(pid);
      const r = await loadHttp(agent, urls[name], keys[name], REQUESTS, { concurrency: CONCURRENCY });
      const c1 = await settle(pid);
      if (r.bad) throw new Error(`${name}: ${r.bad} of ${REQUESTS} answers were not 200 (first: ${r.firstBad})`);
      results[name].push({ ...r, cpuUs: (c1.ns - c0.ns) / REQUESTS / 1000 });
    }
    log(`round ${round + 1}/${ROUNDS} done`);
  }
  const f1 = (x) => x.toFixed(1);
  const lines = [];
  const p = (s = '') => lines.push(s);
  const med = (name, k) => median(results[name].map((x) => x[k]));
  p(`API-key lookup, KV against a KeyShard Durable Object (cache 0): ${ROUNDS} rounds x ${REQUESTS} requests, ${CONCURRENCY} in flight, one workerd; medians over rounds`);
  p('');
  p('| worker | req/s | p50 ms | p99 ms | CPU us/req |');
  p('| --- | ---: | ---: | ---: | ---: |');
  for (const [name] of WORKERS) p(`| ${name} | ${Math.round(med(name, 'rps'))} | ${med(name, 'p50').toFixed(2)} | ${med(name, 'p99').toFixed(2)} | ${f1(med(name, 'cpuUs'))} |`);
  p('');
  const diff = (a, k) => results[a].map((x, i) => x[k] - results['kv-A'][i][k]);
  for (const [what, k] of [['CPU us/req', 'cpuUs'], ['p50 ms', 'p50']]) {
    const d = diff('do', k);
    const noise = diff('kv-B', k);
    p(`- do - kv-A ${what}: ${median(d).toFixed(k === 'p50' ? 3 : 1)} (middle half ${quantile(d, 0.25).toFixed(2)} to ${quantile(d, 0.75).toFixed(2)}); kv-B - kv-A (noise): ${median(noise).toFixed(k === 'p50' ? 3 : 1)}`);
  }
  p(`Command: node benches/gateway/keys.mjs ${args.join(' ')} (${Math.round((Date.now() - started) / 1000)} s)`);
  printReport(lines, OUT);
} finally {
  await mf.dispose();
  agent.destroy();
  await fixtures.stop();
}
