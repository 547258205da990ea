#!/usr/bin/env node
// mesh-sdk/next benchmark (numbers, not assertions). Run after scripts/build.sh:
//   node benches/next/run.mjs [--calls 2000] [--rounds 5] [--storms 10,100,1000]
//
// 1. auth() on a valid session: CPU per call (process.cpuUsage over a
//    bounded loop), for the sealed cookie and for Redis (one GET per call),
//    beside Auth.js's auth() on the same machine and in the same run
//    (benches/next/authjs.mjs: @auth/core's Auth() on /api/auth/session, as
//    next-auth v5's auth() calls it) and one bare AES-256-GCM decrypt of a
//    cookie that size (WebCrypto), the floor of any sealed-cookie session.
//    The rows alternate within each round; the median and range of the
//    rounds are printed.
// 2. Refresh storm: N concurrent getAccessToken() on one session whose
//    token is due, in 1 process (cookie store) and across 4 Node processes
//    (Redis store; and the cookie store, to show what it cannot prevent).
//    Counted at the real oidc-provider: token requests and refused grants.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { webcrypto } from 'node:crypto';
import { createMeshAuth } from '../../pkg/next.js';
import { APP_ID, APP_SECRET, Jar, SECRET, appOptions, signIn, startIdp, startRedis } from '../../tests/next/support.mjs';
import { authjsConfig, authjsCookie, sessionOf } from './authjs.mjs';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('../../tests/next/fixtures/refresh-worker.mjs', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CALLS = Math.min(100_000, Number(arg('calls', '2000')));
const ROUNDS = Math.min(50, Number(arg('rounds', '5')));
const STORMS = arg('storms', '10,100,1000').split(',').filter(Boolean).map(Number);
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
console.log(`## mesh-sdk/next (${process.version}, ${CALLS} calls per figure, ${ROUNDS} rounds)`);
try {
  // 1. auth() CPU: each candidate is signed in once, then every round measures each in turn.
  const candidates = [];
  let meshCookie = '';
  for (const [label, store] of [['cookie store', undefined], ['Redis store', { redis: redis.url }]]) {
    const mesh = createMeshAuth(appOptions(idp, { store }));
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    const request = jar.request('/');
    if (!(await mesh.auth(request))) throw new Error('not signed in');
    candidates.push({ what: `mesh-sdk/next auth(), ${label} (cookie ${jar.header().length} chars)`, fn: () => mesh.auth(request), close: () => mesh.close() });
    if (!store) meshCookie = jar.header();
  }
  const config = authjsConfig({ secret: SECRET, issuer: idp.issuer, clientId: APP_ID, clientSecret: APP_SECRET });
  // Auth.js's default session holds the user only; an app that calls an API keeps its tokens in it
  // too (Auth.js's refresh-token guide), which the second cookie stands for: as long as mesh's.
  const plain = await authjsCookie(SECRET);
  let pad = 0;
  let withTokens = '';
  for (let i = 0; i < 4; i++) {
    withTokens = await authjsCookie(SECRET, { access_token: 'a'.repeat(pad), refresh_token: 'r'.repeat(43), expires_at: 1_900_000_000 });
    pad = Math.max(0, pad + Math.round(((meshCookie.length - withTokens.length) * 3) / 4));
  }
  for (const [label, cookie] of [['user only', plain], ['with tokens', withTokens]]) {
    const session = await sessionOf(config, cookie);
    if (!session?.user?.name) throw new Error(`Auth.js read no session from its own cookie (${label})`);
    candidates.push({ what: `Auth.js auth(), ${label} (cookie ${cookie.length} chars)`, fn: () => sessionOf(config, cookie) });
  }
  const key = await webcrypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = webcrypto.getRandomValues(new Uint8Array(12));
  const sealed = await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new Uint8Array(Math.floor((meshCookie.length * 3) / 4)));
  candidates.push({ what: 'reference: one AES-256-GCM decrypt of a mesh cookie\'s size', fn: () => webcrypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed) });
  for (const c of candidates) c.cpu = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of candidates) c.cpu.push((await cpuPerCall(c.fn, CALLS)).cpuUs);
  }
  for (const c of candidates) await c.close?.();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const meshMedian = median(candidates[0].cpu);
  console.log(`\n| what | CPU per call, median of ${ROUNDS} rounds | range | against mesh's cookie store |\n| --- | --- | --- | --- |`);
  for (const c of candidates) {
    const m = median(c.cpu);
    console.log(`| ${c.what} | ${m.toFixed(1)} µs | ${Math.min(...c.cpu).toFixed(1)}–${Math.max(...c.cpu).toFixed(1)} µs | ${(m / meshMedian).toFixed(2)}× |`);
  }

  // 2. Refresh storms.
  if (STORMS.length) console.log('\n| N concurrent | processes | store | token requests | of them refused (reuse) | requests failed | distinct tokens |\n| --- | --- | --- | --- | --- | --- | --- |');
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
  if (STORMS.length) console.log('\nGoal: 1 token request per storm. The cookie store across processes shows why a server store exists: each process may spend the same rotating refresh token, and oidc-provider then revokes the grant.');
} finally {
  await redis.stop();
  await idp.close();
}
