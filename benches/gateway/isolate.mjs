// Gateway CPU measured inside one isolate: a lower-noise companion of run.mjs.
//
// run.mjs measures what the issue asks for: whole HTTP requests through
// workerd, where auth CPU is the small difference of two ~450 us figures and
// single rounds spread by tens of microseconds. Here each worker (pass-through,
// jose reference, this gateway; bundled as `wrangler deploy --dry-run` bundles
// them) is wrapped in a driver module that calls the worker's own `fetch`
// N times inside ONE request, with the upstream fetch answered in-process
// (the JWKS fetch stays real). The workerd process's CPU over that request
// (schedstat, all threads) divided by N is the worker's cost per call, with
// no socket, HTTP parsing or upstream round trip in it. auth CPU = a
// worker's cost minus the pass-through's in the same round; medians over
// rounds, workers in a rotating order, all in one workerd process.
//
// What this leaves out, and run.mjs keeps: workerd's own handling of the
// inbound request and of the real upstream fetch, which every worker pays
// alike. What it keeps: everything each worker's code does per request,
// Request/Headers work included.
//
//   node benches/gateway/isolate.mjs [--rounds 10] [--calls 4000] [--distinct 1000]
//        [--only public,RS256] [--baseline ../old/gateway/wrangler.toml] [--real-upstream] [--rules]
//        [--service-token]
// --real-upstream lets the upstream fetch go to the origin (and reads each
// body): the same calls with workerd's subrequest in them, as noisy as run.mjs.
// --rules adds "rules", this gateway with route rules on /api/v1/ (two
// scopes and one claim, issue 17), every token carrying what they ask, and
// reports rules minus mesh per round: what authorization costs a request.
// --service-token adds "inject", this gateway with a public route `/plain/`
// and one `/partner/` with `"inject": "service_token"` (its TokenBroker a
// SQLite Durable Object, the token endpoint a local stub issuing 1-hour
// tokens, so the isolate holds the token: the steady state), and reports
// per round the CPU and wall time per call of `/partner/` minus `/plain/`
// on that same worker: what injecting the service token adds.
// --baseline adds "base", another build of the gateway (e.g. a built
// worktree of the previous commit), and reports mesh minus base per round.
// Needs the built package (scripts/build.sh). Loopback only; bounded by
// --rounds and a 15-minute cap.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { bundle, childrenOf, CONFIGS, findWorkerd, median, quantile, ratioInterval, ROOT, settle, startFixtures, workerOptions } from './harness.mjs';
const require = createRequire(import.meta.url);
const { Miniflare } = require(path.join(ROOT, 'node_modules/miniflare'));

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const ROUNDS = Number(opt('rounds', 10));
const CALLS = Number(opt('calls', 4000));
const DISTINCT = Number(opt('distinct', 1000));
const BASELINE = opt('baseline', null);
const REAL = args.includes('--real-upstream');
const ONLY = opt('only', null)?.split(',').map((w) => w.trim()).filter(Boolean);
const RULES = args.includes('--rules');
const SERVICE = args.includes('--service-token');
const SERVICE_ROUTES = JSON.stringify([
  { prefix: '/plain/', auth: 'public' },
  { prefix: '/partner/', auth: 'public', inject: 'service_token' },
  { prefix: '/health', auth: 'public' },
  { prefix: '/api/v1/', auth: 'jwt' },
]);
// The rules the "rules" worker enforces, and the claims every token carries for them.
const RULE_ROUTES = JSON.stringify([
  { prefix: '/api/v1/', auth: 'jwt', scopes: ['memories:read', 'memories:write'], claims: { 'org.id': 'acme' } },
  { prefix: '/health', auth: 'public' },
]);
const RULE_CLAIMS = RULES ? { scope: 'memories:read memories:write profile', org: { id: 'acme' } } : {};
const MAX_MS = 15 * 60_000;
const started = Date.now();
const log = (...a) => console.error('[isolate]', ...a);

// The driver: imports the bundled worker and calls its fetch `n` times.
const DRIVER = (main) => `import worker from './${main}';
export * from './${main}';
export default {
  async fetch(request, env, ctx) {
    const { url, tokens, n, real } = await request.json();
    const realFetch = globalThis.fetch;
    const upstream = env.MESH_UPSTREAM_URL;
    // The upstream answers in-process; every other fetch (the JWKS) is real.
    if (!real) globalThis.fetch = (input, init) => (String(input?.url ?? input).startsWith(upstream)
      ? Promise.resolve(new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } }))
      : realFetch(input, init));
    let bad = 0;
    let first = 0;
    try {
      for (let i = 0; i < n; i++) {
        const token = tokens[i % tokens.length];
        const response = await worker.fetch(new Request(url, { headers: token ? { authorization: 'Bearer ' + token } : {} }), env, ctx);
        if (response.status !== 200) { bad++; first ||= response.status; }
        if (real) await response.arrayBuffer();
      }
    } finally {
      globalThis.fetch = realFetch;
    }
    return Response.json({ bad, first });
  },
};
`;

const work = mkdtempSync(path.join(tmpdir(), 'mesh-isolate-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
log('bundling with wrangler deploy --dry-run ...');
const kinds = {
  pass: CONFIGS.pass, jose: CONFIGS.jose, mesh: CONFIGS.mesh,
  ...(BASELINE ? { base: path.resolve(BASELINE) } : {}),
  ...(RULES ? { rules: CONFIGS.mesh } : {}),
  ...(SERVICE ? { inject: CONFIGS.mesh } : {}),
};
const drivers = {};
for (const [kind, config] of Object.entries(kinds)) {
  const b = bundle(kind, config, path.join(work, kind));
  const driver = path.join(b.dir, 'driver.mjs');
  writeFileSync(driver, DRIVER(path.basename(b.main)));
  drivers[kind] = { ...b, main: driver };
}
rmSync(path.join(ROOT, 'benches/gateway/workers/.wrangler'), { recursive: true, force: true });

const fixtures = await startFixtures({ extraClaims: RULE_CLAIMS });
const { vars, mintBatch } = fixtures;
const tokenEndpoint = SERVICE ? await startTokenStub() : null;
const injectVars = SERVICE && {
  ...vars,
  MESH_ROUTES: SERVICE_ROUTES,
  MESH_SERVICE_TOKEN: JSON.stringify({ issuer: tokenEndpoint.url, token_endpoint: `${tokenEndpoint.url}/token`, client_id: 'bench' }),
  MESH_SERVICE_CLIENT_SECRET: 'bench-secret',
};
const varsOf = (kind) => (kind === 'rules' ? { ...vars, MESH_ROUTES: RULE_ROUTES } : kind === 'inject' ? injectVars : vars);

const names = Object.keys(kinds);
const before = new Set(childrenOf(process.pid).map((k) => k.pid));
const mf = new Miniflare({
  workers: names.map((kind) => workerOptions(kind, drivers[kind], varsOf(kind), {
    kvNamespaces: ['MESH_API_KEYS'],
    ...(kind === 'inject' ? { durableObjects: { MESH_TOKEN_BROKER: { className: 'TokenBroker', useSQLite: true } } } : {}),
    // The driver imports the bundle, which Miniflare would take for CommonJS.
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
  })),
  handleRuntimeStdio: (out, err) => { out.resume(); err.resume(); },
});
try {
  await mf.ready;
  const workerd = findWorkerd(before);
  const bases = Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await mf.unsafeGetDirectURL(n)).href])));
  const wallMs = new Map(); // the last call's wall time per call, by kind and path
  const call = async (kind, path_, tokens, n) => {
    const c0 = (await settle(workerd)).ns; // idle first: see harness.mjs
    const t0 = performance.now();
    const r = await fetch(bases[kind], { method: 'POST', body: JSON.stringify({ url: `http://gateway.test${path_}`, tokens, n, real: REAL }), signal: AbortSignal.timeout(120_000) });
    const out = await r.json();
    wallMs.set(`${kind}|${path_}`, (performance.now() - t0) / n);
    const c1 = (await settle(workerd)).ns;
    if (out.bad) throw new Error(`${kind} ${path_}: ${out.bad} of ${n} calls were not 200 (first: ${out.first})`);
    return (c1 - c0) / n / 1000;
  };

  const ALGS = ['RS256', 'ES256', 'HS256'];
  const scenarios = [['public route', null, 'public'], ...ALGS.flatMap((a) => [[`${a} reused`, a, 'reused'], [`${a} ${DISTINCT} distinct`, a, 'distinct']])]
    .filter(([label]) => !ONLY || ONLY.some((w) => label.includes(w)));
  const reused = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, [await fixtures.mintOne(a)]])));
  log('warm-up ...');
  for (const kind of names) {
    await call(kind, '/health', [null], 500);
    for (const a of ALGS) await call(kind, '/api/v1/chat', await mintBatch(a, 20), 500);
  }
  if (SERVICE) for (const p of ['/plain/x', '/partner/x']) await call('inject', p, [null], 500);
  // us per call, by round; `again` is the plain route a second time: the noise floor.
  const service = { plain: [], inject: [], again: [], plainWall: [], injectWall: [], againWall: [] };

  const results = new Map(); // `${label}|${kind}` -> [us per call, by round]
  let rounds = 0;
  for (let round = 0; round < ROUNDS && Date.now() - started < MAX_MS; round++) {
    for (let s = 0; s < scenarios.length; s++) {
      const [label, alg, mode] = scenarios[s];
      const fresh = mode === 'distinct' ? await mintBatch(alg, DISTINCT) : null;
      const order = names.map((_, i) => names[(i + round + s) % names.length]);
      for (const kind of order) {
        // Distinct: every worker gets the same fresh tokens, none seen before by it.
        const [p, tokens, n] = mode === 'public' ? ['/health', [null], CALLS] : mode === 'reused' ? ['/api/v1/chat', reused[alg], CALLS] : ['/api/v1/chat', fresh, DISTINCT];
        const us = await call(kind, p, tokens, n);
        const key = `${label}|${kind}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(us);
      }
    }
    if (SERVICE) {
      // The two routes of one worker, in a rotating order.
      const phases = [['plain', '/plain/x'], ['inject', '/partner/x'], ['again', '/plain/x']];
      const order = phases.map((_, i) => phases[(i + round) % phases.length]);
      for (const [which, p] of order) {
        service[which].push(await call('inject', p, [null], CALLS));
        service[`${which}Wall`].push(wallMs.get(`inject|${p}`) * 1000);
      }
    }
    rounds++;
    log(`round ${rounds}/${ROUNDS} (${Math.round((Date.now() - started) / 1000)} s)`);
  }

  const f1 = (x) => x.toFixed(1);
  const lines = [];
  const p = (s = '') => lines.push(s);
  p(`Gateway CPU inside one isolate: ${rounds} rounds; per round and worker, ${CALLS} calls of its fetch in one request (distinct: ${DISTINCT} fresh tokens), upstream answered in-process`);
  p('CPU = workerd process CPU per call (schedstat, all threads); auth CPU = CPU minus pass-through in the same round; medians over rounds');
  p('');
  p(`| scenario | ${names.map((n) => `${n} CPU us`).join(' | ')} | ${names.filter((n) => n !== 'pass').map((n) => `${n} auth us`).join(' | ')} | mesh / jose auth | rounds within goal |`);
  p(`| --- | ${names.map(() => '---:').join(' | ')} | ${names.filter((n) => n !== 'pass').map(() => '---:').join(' | ')} | ---: | ---: |`);
  const against = [];
  for (const [label, alg, mode] of scenarios) {
    const runs = (k) => results.get(`${label}|${k}`) ?? [];
    const auth = (k) => runs(k).map((x, i) => x - runs('pass')[i]);
    const ratios = runs('mesh').map((_, i) => auth('mesh')[i] / auth('jose')[i]);
    // Issue 15's goals: a reused token at most 1/5 of jose's auth CPU, HS256
    // distinct at most 1/3, RS256/ES256 distinct no more than jose's.
    const [limit, goal] = mode === 'public' ? [NaN, ''] : mode === 'reused' ? [1 / 5, '1/5'] : alg === 'HS256' ? [1 / 3, '1/3'] : [1, '1'];
    const ratio = median(auth('mesh')) / median(auth('jose'));
    // A bootstrap interval over rounds for the median ratio (see harness.mjs).
    const interval = () => ratioInterval(auth('mesh'), auth('jose')).map((x) => x.toFixed(2)).join('-');
    const within = Number.isNaN(limit) ? '' : `${ratios.filter((r) => r >= 0 && r <= limit).length} of ${ratios.length} (goal <= ${goal})`;
    p(`| ${label} | ${names.map((k) => f1(median(runs(k)))).join(' | ')} | ${names.filter((n) => n !== 'pass').map((k) => f1(median(auth(k)))).join(' | ')} | ${mode === 'public' ? '' : `${ratio.toFixed(2)}x (middle half ${quantile(ratios, 0.25).toFixed(2)}-${quantile(ratios, 0.75).toFixed(2)}; 90% interval ${interval()})`} | ${within} |`);
    if (BASELINE) {
      const d = runs('mesh').map((x, i) => x - runs('base')[i]);
      against.push(`- ${label}: mesh - base ${f1(median(d))} us per call (middle half ${f1(quantile(d, 0.25))} to ${f1(quantile(d, 0.75))}; lower in ${d.filter((x) => x < 0).length} of ${d.length} rounds)`);
    }
    if (RULES && mode !== 'public') {
      const d = runs('rules').map((x, i) => x - runs('mesh')[i]);
      const floor = runs('mesh').map((x, i) => x - runs('base')[i]);
      against.push(`- ${label}: rules - mesh ${f1(median(d))} us per call (middle half ${f1(quantile(d, 0.25))} to ${f1(quantile(d, 0.75))}; goal < 5 us and within the noise${BASELINE ? `; mesh - base, the same build twice when base is this build: ${f1(median(floor))}` : ''})`);
    }
  }
  if (SERVICE) {
    const d = service.inject.map((x, i) => x - service.plain[i]);
    const w = service.injectWall.map((x, i) => x - service.plainWall[i]);
    against.push(`- inject: "service_token" - plain route, same worker: CPU ${f1(median(d))} us per call (middle half ${f1(quantile(d, 0.25))} to ${f1(quantile(d, 0.75))}; lower in ${d.filter((x) => x < 0).length} of ${d.length} rounds), wall ${f1(median(w))} us per call (middle half ${f1(quantile(w, 0.25))} to ${f1(quantile(w, 0.75))}); plain route CPU ${f1(median(service.plain))} us, wall ${f1(median(service.plainWall))} us; token requests ${tokenEndpoint.count()}`);
    const n = service.again.map((x, i) => x - service.plain[i]);
    const nw = service.againWall.map((x, i) => x - service.plainWall[i]);
    against.push(`- noise floor, the plain route twice in the same round: CPU ${f1(median(n))} us per call (middle half ${f1(quantile(n, 0.25))} to ${f1(quantile(n, 0.75))}), wall ${f1(median(nw))} us (middle half ${f1(quantile(nw, 0.25))} to ${f1(quantile(nw, 0.75))})`);
  }
  if (BASELINE || RULES || SERVICE) {
    p('');
    p(`Paired by round${BASELINE ? ` (baseline ${BASELINE})` : ''}:`);
    for (const a of against) p(a);
  }
  p('');
  p(`Command: node benches/gateway/isolate.mjs ${args.join(' ')} (${Math.round((Date.now() - started) / 1000)} s)`);
  console.log(lines.join('\n'));
} finally {
  await mf.dispose();
  await fixtures.stop();
  await tokenEndpoint?.close();
}

/** A client-credentials token endpoint that issues 1-hour tokens and counts them. */
async function startTokenStub() {
  const http = await import('node:http');
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `bench-token-${count}-${Date.now()}`, token_type: 'Bearer', expires_in: 3600 }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, count: () => count, close: () => new Promise((r) => server.close(r)) };
}
