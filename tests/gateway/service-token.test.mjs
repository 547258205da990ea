// The edge service token (issue 18, item 1): routes with
// `"inject": "service_token"` send the origin the gateway's own token,
// obtained with the client-credentials grant from the real oidc-provider and
// owned by one TokenBroker Durable Object for the whole edge: three gateway
// instances (separate workerd processes, tests/support/edge.mjs) share it.
// A fault proxy in front of the provider counts the token requests and
// injects 500, 429 + Retry-After, a hang and invalid_client; restarting
// instance 0 (the host of the Durable Objects) evicts the broker mid-refresh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, startProvider } from '../../scripts/servers/provider.mjs';
import { startOrigin } from '../../scripts/servers/origin.mjs';
import { startEdge } from '../support/edge.mjs';
import { startFaultProxy } from '../support/faults.mjs';
import { assertNotLogged } from '../support/gateway.mjs';
import { request, sleep } from '../support/http.mjs';
import { mint } from '../support/tokens.mjs';
import { startWrangler } from '../support/wrangler.mjs';

// 20 s tokens: the broker refreshes when min(60 s, lifetime / 2) is left,
// so one token request every 10 s.
const TTL = 20;
const PERIOD_MS = (TTL / 2) * 1000;
const GRANT = 'client_credentials';
const HS_SECRET = 'service-token-test-hs256-secret-0123456789';
const ISSUER = 'https://issuer.service-token.test';
const ROUTES = JSON.stringify([
  { prefix: '/partner/', auth: 'public', inject: 'service_token' },
  { prefix: '/user/', auth: 'jwt', inject: 'service_token' },
  { prefix: '/plain/', auth: 'public' },
]);

let op, proxy, origin, edge;
const seenTokens = new Set();

const serviceToken = (op, proxy, extra = {}) => JSON.stringify({ issuer: proxy.issuer, client_id: SERVICE_CLIENT_ID, scope: 'api', audience: op.audience, ...extra });
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const bearerAtOrigin = (r) => /^Bearer (.+)$/.exec(r.json?.headers?.authorization ?? '')?.[1];
const successes = () => proxy.tokenRequests(GRANT).filter((r) => r.status === 200);
const events = (i, event) => edge.instances[i].jsonLogs().filter((l) => l.event === event);
const allEvents = (event) => edge.instances.flatMap((_, i) => events(i, event));

before(async () => {
  op = await startProvider({ clientCredentialsTtl: TTL });
  proxy = await startFaultProxy({ target: op.issuer });
  origin = await startOrigin();
  edge = await startEdge({
    instances: 3,
    vars: gatewayVars({ MESH_SERVICE_TOKEN: serviceToken(op, proxy), MESH_SERVICE_CLIENT_SECRET: SERVICE_CLIENT_SECRET }),
  });
});

/** The routes above and an HS256 issuer for the jwt route, and `more`. */
function gatewayVars(more) {
  return {
    MESH_UPSTREAM_URL: origin.url,
    MESH_ROUTES: ROUTES,
    MESH_JWT_ISSUER: ISSUER,
    MESH_JWT_AUDIENCE: 'mesh-api',
    MESH_JWT_ALGORITHMS: 'HS256',
    MESH_JWT_HS256_SECRET: HS_SECRET,
    ...more,
  };
}

after(async () => {
  await edge?.stop();
  await proxy?.close();
  await op?.close();
  await origin?.stop();
});

/**
 * One call through the gateway, and what the origin received: the service
 * token is checked to be valid when the origin read it (the origin's echo
 * says when; same machine, same clock).
 */
async function call(url, path = '/partner/x', headers = { authorization: 'Bearer the-callers-own-token' }) {
  const start = Date.now();
  let r;
  try {
    r = await request(url, path, { headers });
  } catch (e) {
    r = { status: 0, text: e.message };
  }
  const end = Date.now();
  // The service token is the provider's JWT; a route without inject passes the caller's on.
  const token = bearerAtOrigin(r)?.split('.').length === 3 ? bearerAtOrigin(r) : undefined;
  if (token) seenTokens.add(token);
  const expired = token ? claimsOf(token).exp * 1000 <= (r.json?.at ?? end) : false;
  return { url, status: r.status, start, end, token, expired, text: r.status === 200 ? undefined : r.text, r };
}

/** `count` calls spread evenly over `durationMs`, at most `concurrency` at once, round robin over `urls`. */
async function load({ urls, count, durationMs, concurrency = 40, path }) {
  const t0 = Date.now();
  const results = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const wait = t0 + (i * durationMs) / count - Date.now();
      if (wait > 0) await sleep(wait);
      results.push(await call(urls[i % urls.length], path));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** Calls at about `perSecond` until stopped; `stop()` gives every result. */
function background({ urls, perSecond = 20 }) {
  const results = [];
  const pending = new Set();
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const p = call(urls()[i % urls().length]).then((x) => { results.push(x); pending.delete(p); });
      pending.add(p);
      await sleep(1000 / perSecond);
    }
  })();
  return { results, async stop() { stopped = true; await loop; await Promise.all(pending); return results; } };
}

function assertAllServed(results, what) {
  const failed = results.filter((x) => x.status !== 200 || !x.token);
  // On failure: when, against the token requests' timeline, to see which fault it followed.
  const t0 = results[0]?.start ?? 0;
  const timeline = () => proxy.tokenRequests(GRANT).filter((r) => r.at >= t0 - PERIOD_MS).map((r) => `${r.at - t0}:${r.status ?? r.fault}`).join(' ');
  assert.deepEqual(failed.slice(0, 3).map((x) => `${x.status} at ${x.start - t0} ms on ${x.url}: ${x.text?.slice(0, 200)}`), [],
    `${what}: ${failed.length} of ${results.length} requests failed; token requests (ms: status) ${timeline()}`);
  const expired = results.filter((x) => x.expired);
  assert.equal(expired.length, 0, `${what}: ${expired.length} requests carried an expired service token`);
}

async function nextSuccess(after, timeoutMs = PERIOD_MS + 15_000) {
  await proxy.waitFor(() => successes().some((r) => r.at > after), { timeoutMs, what: 'a token request that succeeds' });
  return successes().find((r) => r.at > after);
}

describe('routes that inject the service token', () => {
  test('the origin gets the gateway\'s token in place of the caller\'s, beside x-user-id on an authenticated route', async () => {
    for (const url of edge.urls) {
      const r = await call(url);
      assert.equal(r.status, 200, r.text);
      const claims = claimsOf(r.token);
      assert.equal(claims.client_id, SERVICE_CLIENT_ID);
      assert.equal(claims.aud, op.audience);
      assert.equal(claims.scope, 'api');
      assert.equal(claims.exp - claims.iat, TTL);
    }
    const alice = await mint({ key: HS_SECRET, payload: { sub: 'alice', iss: ISSUER, aud: 'mesh-api', exp: Math.floor(Date.now() / 1000) + 600 } });
    const user = await call(edge.urls[1], '/user/me', { authorization: `Bearer ${alice}` });
    assert.equal(user.status, 200, user.text);
    assert.equal(user.r.json.headers['x-user-id'], 'alice');
    assert.equal(claimsOf(user.token).client_id, SERVICE_CLIENT_ID, 'the caller\'s JWT is replaced');
    assert.equal((await call(edge.urls[1], '/user/me', {})).status, 401, 'the route still authenticates its caller');
    // A route without inject forwards the caller's header as before.
    const plain = await call(edge.urls[2], '/plain/x');
    assert.equal(plain.r.json.headers.authorization, 'Bearer the-callers-own-token');
    assert.equal(proxy.count(GRANT), 1, 'three instances, one token request');
  });
});

describe('the lock at edge scale', () => {
  test('1,000 concurrent requests on 3 instances over three refresh periods: one token request per period, none failed, none waited', async () => {
    // Start just after a refresh, so the run holds exactly three refreshes
    // (at 1, 2 and 3 periods) and ends half a period after the third.
    await nextSuccess(successes().at(-1).at);
    const before = proxy.count(GRANT);
    const waitedBefore = allEvents('service_token_waited').length;
    const t0 = Date.now();
    const results = await load({ urls: edge.urls, count: 1000, durationMs: 3.5 * PERIOD_MS, concurrency: 40 });
    const t1 = Date.now();
    assertAllServed(results, 'steady state');
    const during = proxy.tokenRequests(GRANT).slice(before);
    const timeline = () => during.map((r) => r.at - t0).join(', ');
    assert.equal(during.length, 3, `token requests during the run at ${timeline()} ms: one per refresh period`);
    // And each one period after the one before: no double refresh, no late one.
    const all = proxy.tokenRequests(GRANT).slice(before - 1);
    for (let i = 1; i < all.length; i++) {
      const gap = all[i].at - all[i - 1].at;
      assert.ok(gap > PERIOD_MS - 1500 && gap < PERIOD_MS + 2500, `token requests ${gap} ms apart (${timeline()})`);
    }
    assert.equal(allEvents('service_token_waited').length, waitedBefore, 'no request waited for a token request');
    const latencies = results.map((x) => x.end - x.start).sort((a, b) => a - b);
    console.log(`# ${results.length} requests in ${t1 - t0} ms; latency p50 ${latencies[500]} ms, p99 ${latencies[990]} ms; token requests ${during.length}`);
  });
});

describe('faults of the token endpoint mid-run', () => {
  test('500, then 429 with Retry-After, then a hang: the current token stays in service and the refresh recovers', async () => {
    const bg = background({ urls: () => edge.urls });
    try {
      proxy.failNext(1, { status: 500 }, { grantType: GRANT });
      let fault = Date.now();
      await proxy.waitFor(() => proxy.tokenRequests(GRANT).some((r) => r.at >= fault && r.fault), { timeoutMs: PERIOD_MS + 5000, what: 'the 500' });
      const after500 = proxy.tokenRequests(GRANT).find((r) => r.at >= fault && r.fault);
      const retried500 = await nextSuccess(after500.at);
      assert.ok(retried500.at - after500.at < 3000, `retried ${retried500.at - after500.at} ms after the 500 (backoff from 1 s)`);

      proxy.failNext(1, { status: 429, retryAfter: 3 }, { grantType: GRANT });
      fault = Date.now();
      await proxy.waitFor(() => proxy.tokenRequests(GRANT).some((r) => r.at >= fault && r.fault), { timeoutMs: PERIOD_MS + 5000, what: 'the 429' });
      const after429 = proxy.tokenRequests(GRANT).find((r) => r.at >= fault && r.fault);
      const retried429 = await nextSuccess(after429.at);
      const wait = retried429.at - after429.at;
      assert.ok(wait >= 2900 && wait < 5000, `Retry-After: 3 honoured: retried after ${wait} ms`);
      assert.equal(proxy.tokenRequests(GRANT).filter((r) => r.at > after429.at && r.at < retried429.at).length, 0, 'nothing sent during Retry-After');

      proxy.failNext(1, 'hang', { grantType: GRANT });
      fault = Date.now();
      await proxy.waitFor(() => proxy.tokenRequests(GRANT).some((r) => r.at >= fault && r.fault), { timeoutMs: PERIOD_MS + 5000, what: 'the hang' });
      const hung = proxy.tokenRequests(GRANT).find((r) => r.at >= fault && r.fault);
      const retriedHang = await nextSuccess(hung.at);
      const after = retriedHang.at - hung.at;
      assert.ok(after >= 5000 && after < 8000, `the hung request timed out (5 s) and was retried after ${after} ms`);
    } finally {
      const results = await bg.stop();
      assertAllServed(results, 'through 500, 429 and a hang');
    }
    const failures = events(0, 'service_token_refresh_failed');
    assert.deepEqual(failures.slice(-3).map((l) => l.status ?? l.error), [500, 429, 'timeout']);
  });

  test('invalid_client is logged once, loudly, and the run recovers when the endpoint accepts the client again', async () => {
    const bg = background({ urls: () => edge.urls });
    try {
      proxy.failNext(2, { status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } }, { grantType: GRANT });
      const fault = Date.now();
      await proxy.waitFor(() => proxy.tokenRequests(GRANT).filter((r) => r.at >= fault && r.fault).length === 2, { timeoutMs: PERIOD_MS + 8000, what: 'two refusals' });
      await nextSuccess(fault);
    } finally {
      const results = await bg.stop();
      assertAllServed(results, 'through invalid_client');
    }
    const refused = events(0, 'service_token_client_refused');
    assert.equal(refused.length, 1, 'logged once for the episode');
    assert.equal(refused[0].level, 'error');
    assert.equal(refused[0].error, 'invalid_client');
    assert.match(refused[0].action, /check client_id and the secret in MESH_SERVICE_CLIENT_SECRET/);
  });

  test('the broker evicted mid-refresh: no double refresh, no expired token, recovery', async () => {
    const bg = background({ urls: () => edge.urls.slice(1) });
    let hung, recovered;
    try {
      proxy.failNext(1, 'hang', { grantType: GRANT });
      const fault = Date.now();
      await proxy.waitFor(() => proxy.tokenRequests(GRANT).some((r) => r.at >= fault && r.fault), { timeoutMs: PERIOD_MS + 5000, what: 'a refresh in flight' });
      hung = proxy.tokenRequests(GRANT).find((r) => r.at >= fault && r.fault);
      await edge.restart(0);
      recovered = await nextSuccess(hung.at);
      // Until the next refresh is due, the restarted broker sent exactly one request.
      await sleep(2000);
    } finally {
      const results = await bg.stop();
      assertAllServed(results, 'instances 1 and 2 while the broker\'s host restarted');
    }
    // Only requests before the recovered token's refresh is due (half its
    // lifetime): on a slow machine the restart can take long enough for the
    // next regular refresh to land inside the wait above.
    const since = proxy.tokenRequests(GRANT).filter((r) => r.at > hung.at && r.at < recovered.at + PERIOD_MS - 1000);
    assert.equal(since.length, 1, `token requests after the eviction: ${since.map((r) => `${r.at - hung.at} ms ${r.status}`).join(', ')}`);
    assert.ok(events(0, 'service_token_request_lost').length <= 1);
    const results = await load({ urls: edge.urls, count: 60, durationMs: 3000, concurrency: 10 });
    assertAllServed(results, 'after recovery, instance 0 included');
  });

  test('no secret and no token in any log or error body', () => {
    const logs = edge.instances.map((w) => w.logs()).join('\n');
    assertNotLogged(logs, [SERVICE_CLIENT_SECRET, ...seenTokens], 'service token');
    assert.ok(seenTokens.size >= 4, `tokens seen by the origin: ${seenTokens.size}`);
  });
});

describe('a gateway whose client is refused, or not configured', () => {
  test('a refused client answers 502 with a clear body and logs the refusal once; never the secret', async () => {
    const wrong = 'a-wrong-secret-that-must-never-be-logged-0123';
    const gw = await startWrangler({
      vars: gatewayVars({
        MESH_SERVICE_TOKEN: JSON.stringify({ issuer: op.issuer, token_endpoint: `${op.issuer}/token`, client_id: SERVICE_CLIENT_ID, client_secret_var: 'EDGE_SECRET' }),
        EDGE_SECRET: wrong,
      }),
    });
    try {
      const bodies = [];
      for (let i = 0; i < 4; i++) {
        const r = await request(gw.url, '/partner/x');
        assert.equal(r.status, 502, r.text);
        assert.equal(r.json.error, 'service_token_refused');
        assert.match(r.json.message, /refused the gateway's client credentials \(invalid_client\)/);
        bodies.push(r.text);
        await sleep(300);
      }
      const refused = gw.jsonLogs().filter((l) => l.event === 'service_token_client_refused');
      assert.equal(refused.length, 1, 'one loud line, not one per request');
      assert.match(refused[0].action, /EDGE_SECRET/);
      assertNotLogged(gw.logs() + bodies.join('\n'), [wrong], 'refused client');
    } finally {
      await gw.stop();
    }
  });

  test('inject without MESH_SERVICE_TOKEN is a configuration error (500), never an open route', async () => {
    const gw = await startWrangler({ vars: gatewayVars({}) });
    try {
      for (const path of ['/partner/x', '/plain/x']) {
        const r = await request(gw.url, path);
        assert.equal(r.status, 500);
        assert.equal(r.json.error, 'gateway_misconfigured');
      }
      // The log comes through workerd's stdout pipe, which may trail the response on a busy machine.
      const logged = () => gw.jsonLogs().some((l) => l.event === 'gateway_misconfigured' && /MESH_SERVICE_TOKEN is not set/.test(l.problem));
      for (let i = 0; i < 100 && !logged(); i++) await sleep(50);
      assert.ok(logged(), `no gateway_misconfigured line naming MESH_SERVICE_TOKEN:\n${gw.logs().slice(-1500)}`);
    } finally {
      await gw.stop();
    }
  });
});
