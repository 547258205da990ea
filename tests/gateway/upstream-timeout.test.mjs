// The upstream wait (MESH_UPSTREAM_TIMEOUT_SECONDS): an origin that accepts
// the connection and never answers gets the client a 504 with the core's
// code once the bound runs out, not a connection held until the client gives
// up; the bound is on the response's headers, so a body that streams for
// longer arrives whole; the gateway keeps serving afterwards. In workerd
// (wrangler dev) and in Node, where the gateway runs too; in Node also a
// client that left, which must not read as the origin's timeout.
//
// Every wait is bounded: each request gives up after CLIENT_BOUND_MS, far
// beyond the 1 s the gateway is given, so a gateway without the bound fails
// here instead of hanging.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startGatewayStack } from '../support/gateway.mjs';
import { request, sleep } from '../support/http.mjs';

const CLIENT_BOUND_MS = 15_000;
const APP = 'https://app.example';
/** The origin's body takes 5 chunks 600 ms apart: well past the 1 s bound. */
const SLOW_CHUNKS = 5;
const SLOW_BODY = Array.from({ length: SLOW_CHUNKS }, (_, i) => `chunk-${i}\n`).join('');
const ROUTES = JSON.stringify([
  { prefix: '/hang/', auth: 'public' },
  { prefix: '/slow/', auth: 'public' },
  { prefix: '/health', auth: 'public' },
  { prefix: '/api/v1/', auth: 'jwt' },
]);

/**
 * An origin on 127.0.0.1: `/hang/...` and `/api/v1/hang` accept the request
 * and never answer (each such request is kept, with whether its connection
 * has closed); `/slow/...` sends its headers at once and its body over
 * ~3 s; anything else is a small 200.
 */
async function startStubbornOrigin() {
  const hung = [];
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/hang/') || req.url === '/api/v1/hang') {
      const entry = { path: req.url, closed: false };
      req.socket.once('close', () => { entry.closed = true; });
      hung.push(entry);
      return;
    }
    if (req.url.startsWith('/slow/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let i = 0;
      const tick = setInterval(() => {
        res.write(`chunk-${i}\n`);
        if (++i === SLOW_CHUNKS) { clearInterval(tick); res.end(); }
      }, 600);
      res.once('close', () => clearInterval(tick));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, path: req.url }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hung,
    stop: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** Waits, at most `ms`, for `check()` to be true; returns its last value. */
async function within(ms, check) {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(50);
  return check();
}

function assertTimeoutAnswer(r, where) {
  assert.equal(r.status, 504, `${where}: ${r.status} ${r.text}`);
  assert.deepEqual(r.json, { error: 'gateway_timeout', message: 'the origin did not answer in time' }, where);
  assert.equal(r.headers['cache-control'], 'no-store', where);
  assert.ok(r.headers['x-mesh-request-id'], `${where}: the request id a log line can be found by`);
  assert.ok(!/127\.0\.0\.1|:\d{4,5}|abort/i.test(r.text), `${where}: internals in the body: ${r.text}`);
}

describe('in workerd: a hung origin gets a 504 once MESH_UPSTREAM_TIMEOUT_SECONDS runs out', () => {
  let origin, gw;
  before(async () => {
    origin = await startStubbornOrigin();
    gw = await startGatewayStack({ upstream: origin.url, vars: { MESH_ROUTES: ROUTES, MESH_UPSTREAM_TIMEOUT_SECONDS: '1', MESH_CORS_ORIGINS: APP } });
  });
  after(async () => { await gw?.stop(); await origin?.stop(); });

  test('public and authenticated routes answer 504 gateway_timeout, logged as upstream_timeout, and the origin connection is closed', async () => {
    const token = await gw.token({ sub: 'waiter' });
    const cases = [
      ['/hang/public', []],
      // From the web app: the 504 carries the CORS headers every other answer does.
      ['/api/v1/hang', [['Authorization', `Bearer ${token}`], ['Origin', APP]]],
    ];
    for (const [path, headers] of cases) {
      const before = origin.hung.length;
      const r = await request(gw.url, path, { headers, timeoutMs: CLIENT_BOUND_MS });
      assertTimeoutAnswer(r, path);
      if (headers.some(([k]) => k === 'Origin')) {
        assert.equal(r.headers['access-control-allow-origin'], APP, `${path}: a browser app can read the 504`);
        assert.match(r.headers['access-control-expose-headers'] ?? '', /x-mesh-request-id/);
      }
      assert.equal(origin.hung.length, before + 1, `${path}: the origin got the request`);
      const rid = r.headers['x-mesh-request-id'];
      assert.ok(await within(5000, () => gw.gateway.jsonLogs().some((l) => l.event === 'upstream_timeout' && l.request_id === rid)),
        `${path}: an upstream_timeout line for ${rid}:\n${gw.gateway.logs().slice(-1500)}`);
      const line = gw.gateway.jsonLogs().find((l) => l.event === 'upstream_timeout' && l.request_id === rid);
      assert.equal(line.level, 'error');
      assert.equal(line.timeout_ms, 1000);
      assert.ok(!gw.gateway.jsonLogs().some((l) => l.event === 'upstream_failed' && l.request_id === rid), `${path}: not also an unreachable origin`);
      // The gateway gave up on the request: it does not leave the origin's connection open.
      assert.ok(await within(10_000, () => origin.hung.at(-1).closed), `${path}: the gateway closed the hung connection`);
    }
    assert.ok(!gw.gateway.logs().includes(token), 'the token is not logged');
  });

  test('after the timeouts, a normal request is answered', async () => {
    const r = await request(gw.url, '/health', { timeoutMs: CLIENT_BOUND_MS });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ok: true, path: '/health' });
  });

  test('the bound is on the headers: a body streaming past it arrives whole', async () => {
    const r = await request(gw.url, '/slow/stream', { timeoutMs: CLIENT_BOUND_MS });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, SLOW_BODY);
  });
});

describe('in Node: the same bound, and a client that left is not the origin\'s timeout', () => {
  let origin, gateway, env, logs, savedLog;
  before(async () => {
    origin = await startStubbornOrigin();
    const { createGateway } = await import('../../pkg/node.js');
    gateway = createGateway();
    // Public routes only: no issuer here.
    const routes = JSON.stringify(JSON.parse(ROUTES).filter((r) => r.auth === 'public'));
    env = { MESH_UPSTREAM_URL: origin.url, MESH_ROUTES: routes, MESH_UPSTREAM_TIMEOUT_SECONDS: '1' };
    savedLog = console.log;
    logs = [];
    console.log = (line) => logs.push(String(line));
  });
  after(async () => { console.log = savedLog; await origin?.stop(); });

  const events = (name) => logs.flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } }).filter((e) => e.event === name);
  /** The gateway's answer to `request`, or a rejection after CLIENT_BOUND_MS. */
  const answer = (req) => {
    let timer;
    const bound = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${CLIENT_BOUND_MS} ms`)), CLIENT_BOUND_MS); });
    return Promise.race([gateway.fetch(req, env), bound]).finally(() => clearTimeout(timer));
  };

  test('a hung origin: 504 gateway_timeout and an upstream_timeout line; then a normal request is answered', async () => {
    const res = await answer(new Request(`http://gw.test/hang/node`));
    const text = await res.text();
    assertTimeoutAnswer({ status: res.status, text, json: JSON.parse(text), headers: Object.fromEntries(res.headers) }, 'node');
    assert.deepEqual(events('upstream_timeout').map((e) => [e.request_id, e.timeout_ms]), [[res.headers.get('x-mesh-request-id'), 1000]]);
    assert.equal(events('upstream_failed').length, 0);
    const ok = await answer(new Request('http://gw.test/health'));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, path: '/health' });
  });

  test('a body streaming past the bound arrives whole (Node aborts a body whose fetch signal fires)', async () => {
    const res = await answer(new Request('http://gw.test/slow/node'));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), SLOW_BODY);
  });

  test('the client aborted its request: no 504, and no upstream_timeout line', async () => {
    logs.length = 0;
    const client = new AbortController();
    const pending = answer(new Request('http://gw.test/hang/left', { signal: client.signal }));
    // The gateway is waiting on the origin when the client goes away.
    assert.ok(await within(5000, () => origin.hung.some((h) => h.path === '/hang/left')), 'the origin got the request');
    client.abort();
    const res = await pending;
    assert.notEqual(res.status, 504);
    assert.equal(res.status, 499);
    assert.equal(events('upstream_timeout').length, 0, logs.join('\n'));
    assert.deepEqual(events('client_aborted').map((e) => e.level), ['info']);
  });
});
