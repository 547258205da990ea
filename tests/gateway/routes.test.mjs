// Routes and identity (issue 6, rules 4 and 5): spoofed identity headers in
// every letter case never reach the origin on any route; each credential works
// only on its own route; unknown paths get 404; the identity is signed with
// MESH_IDENTITY_SECRET and checked by the package's verifyIdentity; an upstream
// failure gives 502.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  assertForwarded, assertNotLogged, assertRejected, isIdentityName, startGatewayStack,
} from '../support/gateway.mjs';
import { request } from '../support/http.mjs';

const IDENTITY_SECRET = randomBytes(32).toString('base64url');
let gw, apiKey, apiKeyId;
const secrets = [];
before(async () => {
  gw = await startGatewayStack({ vars: { MESH_IDENTITY_SECRET: IDENTITY_SECRET } });
  // An API key of user "keyowner", created through the gateway itself.
  const owner = await gw.token({ sub: 'keyowner' });
  const r = await request(gw.url, '/api/v1/keys', { method: 'POST', headers: [['Authorization', `Bearer ${owner}`]], body: { name: 'routes-test' } });
  if (r.status === 200 || r.status === 201) { apiKey = r.json.key; apiKeyId = r.json.id; }
  secrets.push(owner, apiKey, IDENTITY_SECRET);
});
after(async () => { await gw?.stop(); });

const needKey = () => assert.ok(apiKey, 'creating an API key through POST /api/v1/keys failed in before()');

/** Every identity header a client might try, in several letter cases each. */
function spoofHeaders() {
  const names = ['x-user-id', 'x-auth-method', 'x-api-key-id', 'x-mesh-identity-timestamp', 'x-mesh-identity-signature', 'x-mesh-identity-user'];
  const values = { 'x-user-id': 'admin', 'x-auth-method': 'jwt', 'x-api-key-id': 'key-admin', 'x-mesh-identity-timestamp': String(Math.floor(Date.now() / 1000)), 'x-mesh-identity-signature': 'Zm9yZ2Vk', 'x-mesh-identity-user': 'admin' };
  const cases = (n) => [n, n.toUpperCase(), n.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase()), [...n].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('')];
  return names.flatMap((n) => cases(n).map((v) => [v, values[n]]));
}

const ROUTES = [
  { path: '/health', auth: 'public' },
  { path: '/api/v1/chat', auth: 'jwt', method: 'POST', body: { message: 'hi' } },
  { path: '/mcp/messages/', auth: 'jwt', method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'ping' } },
  { path: '/agent/v1/mcp/messages/', auth: 'api_key', method: 'POST', body: { jsonrpc: '2.0', id: 1, method: 'ping' } },
];

async function verifyIdentityOf(seen, { mutate = (x) => x, secret = IDENTITY_SECRET, maxAgeSeconds = 60, replayStore, extra = {} } = {}) {
  const { verifyIdentity } = await import('../../pkg/node.js');
  const headers = new Headers();
  for (const [k, v] of seen.rawHeaders) if (!['host', 'connection', 'content-length', 'transfer-encoding'].includes(k.toLowerCase())) headers.append(k, v);
  const parts = mutate({ method: seen.method, url: `http://origin.test${seen.path}${seen.rawQuery}`, headers });
  const init = { method: parts.method, headers: parts.headers };
  if (!['GET', 'HEAD'].includes(parts.method) && seen.body) init.body = seen.body;
  return verifyIdentity(new Request(parts.url, init), secret, { maxAgeSeconds, replayStore, ...extra });
}

describe('spoofed identity headers', () => {
  for (const route of ROUTES) {
    test(`${route.auth} route ${route.path}: client identity headers in every letter case are removed`, async () => {
      const headers = spoofHeaders();
      let expected = null;
      if (route.auth === 'jwt') { const t = await gw.token({ sub: 'alice' }); secrets.push(t); headers.unshift(['Authorization', `Bearer ${t}`]); expected = { userId: 'alice', authMethod: 'jwt' }; }
      if (route.auth === 'api_key') { needKey(); headers.unshift(['X-API-Key', apiKey]); expected = { userId: 'keyowner', authMethod: 'api_key', apiKeyId }; }
      const r = await gw.call(route.path, { method: route.method ?? 'GET', headers, body: route.body });
      if (expected) {
        const seen = assertForwarded(r, expected, route.path);
        assert.ok(!JSON.stringify(seen.rawHeaders).includes('admin'), `a spoofed value reached the origin: ${JSON.stringify(seen.rawHeaders)}`);
        assert.ok(!JSON.stringify(seen.rawHeaders).includes('Zm9yZ2Vk'), 'a spoofed signature reached the origin');
        const id = await verifyIdentityOf(seen);
        assert.equal(id.userId, expected.userId);
        assert.equal(id.authMethod, expected.authMethod);
        if (expected.apiKeyId) assert.equal(id.apiKeyId, expected.apiKeyId);
      } else {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.seen.length, 1);
        const leaked = r.seen[0].rawHeaders.filter(([k]) => isIdentityName(k));
        assert.deepEqual(leaked, [], 'identity headers reached the origin on a public route');
      }
    });
  }
  test('identity, key and proxy headers spelled with _ (read as - by CGI, WSGI and PHP origins) are removed', async () => {
    needKey();
    const forged = [['x_user_id', 'admin'], ['X_User_Id', 'admin'], ['x_auth_method', 'api_key'], ['x-api_key-id', 'admin'],
      ['x_mesh_identity_signature', 'admin'], ['x_forwarded_for', 'admin'], ['x_auth_scopes', 'admin'], ['x_api_key', apiKey]];
    const t = await gw.token({ sub: 'alice' });
    secrets.push(t);
    for (const [path, token, headers = []] of [['/health'], ['/api/v1/chat', t], ['/agent/v1/mcp/messages/', undefined, [['X-API-Key', apiKey]]]]) {
      const r = await gw.call(path, { token, method: 'POST', body: { message: 'hi' }, headers: [...headers, ...forged] });
      assert.ok(r.status < 300 && r.seen.length === 1, `${path}: ${r.status} ${r.text}`);
      const raw = r.seen[0].rawHeaders;
      assert.deepEqual(raw.filter(([k]) => k.includes('_')), [], path);
      assert.ok(!JSON.stringify(raw).includes('admin') && !JSON.stringify(raw).includes(apiKey), `${path}: ${JSON.stringify(raw)}`);
    }
  });
  test('spoofed headers alone (no credential) on a protected route: 401, origin saw nothing', async () => {
    assertRejected(await gw.call('/api/v1/chat', { headers: spoofHeaders() }), 'invalid_request');
    assertRejected(await gw.call('/agent/v1/mcp/messages/', { headers: spoofHeaders(), method: 'POST', body: {} }), 'invalid_request');
  });
  test('a public route ignores credentials: no identity is injected from a token there', async () => {
    const t = await gw.token({ sub: 'alice' });
    secrets.push(t);
    const r = await gw.call('/health', { token: t });
    assert.equal(r.status, 200);
    assert.deepEqual(r.seen[0].rawHeaders.filter(([k]) => isIdentityName(k)), []);
  });
  test('an API key in an unusual Authorization form never reaches the origin of a public route', async () => {
    needKey();
    for (const headers of [[['Authorization', `Bearer\t${apiKey}`]], [['Authorization', `Bearer foo, Bearer ${apiKey}`]],
      [['Authorization', 'Bearer foo'], ['Authorization', `Bearer ${apiKey}`]], [['Authorization', apiKey]]]) {
      const r = await gw.call('/health', { headers });
      assert.equal(r.status, 200, r.text);
      assert.ok(!JSON.stringify(r.seen[0].rawHeaders).includes(apiKey), JSON.stringify(headers.map(([k, v]) => [k, v.slice(0, 12)])));
    }
  });
});

describe('each credential only on its own route', () => {
  test('a valid JWT (RS256, ES256, HS256) on the api_key route: 401', async () => {
    for (const key of [gw.keys.rs, gw.keys.es, gw.keys.hsSecret]) {
      const t = await gw.token({ key });
      secrets.push(t);
      // A JWT is no API key: invalid_token, or invalid_request ("no API key given").
      assertRejected(await gw.call('/agent/v1/mcp/messages/', { token: t, method: 'POST', body: {} }), ['invalid_token', 'invalid_request'], 'JWT as Bearer');
      assertRejected(await gw.call('/agent/v1/mcp/messages/', { headers: [['X-API-Key', t]], method: 'POST', body: {} }), ['invalid_token', 'invalid_request'], 'JWT as X-API-Key');
    }
  });
  test('a valid API key on the jwt routes and on the key-management endpoints: 401', async () => {
    needKey();
    for (const path of ['/api/v1/chat', '/mcp/messages/', '/api/v1/keys']) {
      assertRejected(await gw.call(path, { token: apiKey }), 'invalid_token', `${path} Bearer key`);
      // X-API-Key is no credential on a jwt route: 401 invalid_request (or invalid_token).
      const viaHeader = await gw.call(path, { headers: [['X-API-Key', apiKey]] });
      assert.equal(viaHeader.status, 401, `${path} X-API-Key: ${viaHeader.text}`);
      assert.equal(viaHeader.seen.length, 0);
    }
  });
  test('the API key works on its own route (control for the test above)', async () => {
    needKey();
    assertForwarded(await gw.call('/agent/v1/mcp/messages/', { token: apiKey, method: 'POST', body: {} }), { userId: 'keyowner', authMethod: 'api_key', apiKeyId });
  });
});

describe('routing', () => {
  test('a path no route matches gets 404, with or without a credential; the origin saw nothing', async () => {
    const t = await gw.token();
    secrets.push(t);
    for (const path of ['/', '/api/v2/chat', '/api/v1', '/agent/v2/x', '/healthz', '/HEALTH', '/mcp/messages', '/admin', '/API/V1/chat']) {
      for (const token of [undefined, t]) {
        const r = await gw.call(path, { token });
        assert.equal(r.status, 404, `${path}: ${r.status} ${r.text}`);
        assert.equal(r.seen.length, 0, `${path} reached the origin`);
      }
    }
  });
  test('dot segments and encodings cannot reach a protected path through the public route', async () => {
    const protectedPrefixes = ['/api/v1/', '/agent/v1/', '/mcp/messages/'];
    for (const path of ['/health/../api/v1/chat', '/health/%2e%2e/api/v1/chat', '/health/%2E%2E/agent/v1/x', '/health/./../mcp/messages/', '/health/..%2fapi/v1/chat', '/health/%2e%2e%2fapi%2fv1%2fchat', '/health//../api/v1/chat']) {
      const r = await gw.call(path);
      for (const seen of r.seen) {
        // What an origin that follows RFC 3986 / WHATWG makes of the path:
        // dot segments (also as %2e) removed. An encoded slash stays data.
        const normal = new URL(seen.path.replace(/%2e/gi, '.'), 'http://x').pathname;
        const hit = protectedPrefixes.find((p) => normal.startsWith(p));
        if (hit) assert.ok(seen.identity.userId, `${path} reached ${seen.path} (${hit}) with no identity`);
      }
      assert.ok(r.status < 500, `${path}: ${r.status}`);
    }
  });
  test('a prefix matches whole segments only: /api/v1evil is no route', async () => {
    const t = await gw.token();
    secrets.push(t);
    for (const path of ['/api/v1evil', '/api/v1evil/chat', '/healthz/x', '/agent/v1x/y']) {
      const r = await gw.call(path, { token: t });
      assert.equal(r.status, 404, `${path}: ${r.status} ${r.text}`);
      assert.equal(r.seen.length, 0, `${path} reached the origin`);
    }
  });
  test('workerd resolves dot segments first: climbing out of /health lands on a jwt route and needs a JWT', async () => {
    for (const path of ['/health/../api/v1/chat', '/health/%2e%2e/api/v1/chat', '/health/%2E%2E/api/v1/chat', '/health/./../api/v1/chat']) {
      const r = await gw.call(path);
      assertRejected(r, 'invalid_request', path);
    }
  });
  test('an encoded slash or backslash, or an empty segment, is 400 on every route', async () => {
    const t = await gw.token();
    secrets.push(t);
    for (const path of ['/health/%2f', '/health/%2F..', '/health/a%5cb', '/health/a%5Cb', '/api/v1//chat', '/health//x', '//health', '/agent/v1/a//b']) {
      const r = await gw.call(path, { token: t });
      assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
      assert.equal(r.seen.length, 0, `${path} reached the origin`);
    }
  });
  test('client-sent proxy headers never reach the origin; the gateway sets its own', async () => {
    const forged = [['X-Forwarded-For', '6.6.6.6'], ['X-Real-IP', '6.6.6.6'], ['Forwarded', 'for=6.6.6.6;host=evil.example'], ['X-Forwarded-Host', 'evil.example'], ['X-Forwarded-Proto', 'gopher']];
    const r = await gw.call('/health', { headers: forged });
    assert.equal(r.status, 200, r.text);
    const seen = r.seen[0];
    const values = (n) => seen.rawHeaders.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    assert.ok(!JSON.stringify(seen.rawHeaders).includes('6.6.6.6') && !JSON.stringify(seen.rawHeaders).includes('evil.example'), JSON.stringify(seen.rawHeaders));
    const host = new URL(gw.url).host;
    assert.deepEqual(values('x-forwarded-host'), [host]);
    assert.deepEqual(values('x-forwarded-proto'), ['http']);
    assert.equal(values('forwarded').length, 1);
    assert.match(values('forwarded')[0], new RegExp(`host="${host}";proto=http$`));
    // CF-Connecting-IP is the connecting address where Cloudflare sets it; here the test sends one.
    const r2 = await gw.call('/health', { headers: [['CF-Connecting-IP', '203.0.113.9'], ['X-Forwarded-For', '6.6.6.6']] });
    const seen2 = r2.seen[0];
    const v2 = (n) => seen2.rawHeaders.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    assert.deepEqual(v2('x-forwarded-for'), ['203.0.113.9']);
    assert.deepEqual(v2('x-real-ip'), ['203.0.113.9']);
    assert.match(v2('forwarded')[0], /^for=203\.0\.113\.9;host=/);
  });
  test('path and method overrides, and proxy headers the gateway does not set, never reach the origin', async () => {
    const forged = [['X-Original-URL', '/admin'], ['X-Rewrite-URL', '/admin'], ['X-HTTP-Method-Override', 'DELETE'],
      ['X-HTTP-Method', 'DELETE'], ['X-Method-Override', 'DELETE'], ['X-Forwarded-Port', '6666'], ['X-Forwarded-Prefix', '/evil'],
      ['X-Forwarded-Server', 'evil.example'], ['True-Client-IP', '6.6.6.6'], ['X-Client-IP', '6.6.6.6'], ['X-Cluster-Client-IP', '6.6.6.6']];
    const t = await gw.token();
    secrets.push(t);
    for (const [path, token] of [['/health'], ['/api/v1/chat', t]]) {
      const r = await gw.call(path, { token, headers: forged });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      const names = r.seen[0].rawHeaders.map(([k]) => k.toLowerCase());
      assert.deepEqual(forged.map(([k]) => k.toLowerCase()).filter((k) => names.includes(k)), [], path);
    }
  });
  test('the default route table: /health public, /api/v1/ and /mcp/messages/ jwt, /agent/v1/ api_key', async () => {
    assert.equal((await gw.call('/health')).status, 200);
    assert.equal((await gw.call('/health/live')).status, 200);
    assertRejected(await gw.call('/api/v1/anything'), 'invalid_request');
    assertRejected(await gw.call('/mcp/messages/'), 'invalid_request');
    assertRejected(await gw.call('/agent/v1/anything'), 'invalid_request');
  });
});

// Routes are matched on the path as sent; an origin that decodes %XX of
// letters, or drops `;params` (Tomcat, Spring), must not act on a path the
// gateway routed elsewhere.
describe('a path that reads differently once decoded, under nested routes', () => {
  let nested;
  before(async () => {
    nested = await startGatewayStack({ vars: { MESH_ROUTES: JSON.stringify([
      { prefix: '/pub/', auth: 'public' }, { prefix: '/pub/private/', auth: 'jwt' },
      { prefix: '/api/v1/', auth: 'jwt' }, { prefix: '/api/v1/admin/', auth: 'jwt', scopes: ['admin'] },
      { prefix: '/health', auth: 'public' },
    ]) } });
  });
  after(async () => { await nested?.stop(); });

  test('the nested routes protect what is below them (control)', async () => {
    assertRejected(await nested.call('/pub/private/x'), 'invalid_request');
    const t = await nested.token();
    secrets.push(t);
    assert.equal((await nested.call('/api/v1/admin/x', { token: t })).status, 403);
  });
  test('encoded letters, ;parameters and %00 that reach another route or the keys API: 400, the origin saw nothing', async () => {
    const t = await nested.token({ sub: 'alice' });
    secrets.push(t);
    for (const path of ['/pub/%70rivate/x', '/pub/priv%61te/x', '/api/v1/%61dmin/x', '/api/v1/ad%6Din/x', '/api/v1/%6beys',
      '/api/v1/%6Beys/key_x', '/pub/private;x/y', '/pub/private%00/x', '/health%00', '/pub/;x/private/x', '/pub/.%2e;x/api/v1/x']) {
      for (const token of [undefined, t]) {
        const r = await nested.call(path, { token });
        assert.equal(r.status, 400, `${path}: ${r.status} ${r.text}`);
        assert.match(r.json?.message ?? '', /reads differently once decoded/);
        assert.equal(r.seen.length, 0, `${path} reached the origin`);
      }
    }
  });
  test('an escape or a ;parameter that keeps its route is forwarded exactly as sent', async () => {
    for (const path of ['/pub/%41bc', '/pub/x%7e;jsessionid=1', '/health/%25']) {
      const r = await nested.call(path);
      assert.equal(r.status, 200, `${path}: ${r.status} ${r.text}`);
      assert.equal(r.seen[0]?.path, path);
    }
  });
});

describe('signed identity (MESH_IDENTITY_SECRET) and verifyIdentity', () => {
  let seen;
  before(async () => {
    const t = await gw.token({ sub: 'signed-user' });
    secrets.push(t);
    const r = await gw.call('/api/v1/chat?a=1', { token: t, method: 'POST', body: { message: 'sign me' } });
    seen = assertForwarded(r, { userId: 'signed-user', authMethod: 'jwt' });
  });
  test('the origin receives a timestamp and a signature', () => {
    assert.match(seen.headers['x-mesh-identity-timestamp'] ?? '', /^\d+$/);
    assert.ok((seen.headers['x-mesh-identity-signature'] ?? '').length >= 32);
    assert.ok(Math.abs(Number(seen.headers['x-mesh-identity-timestamp']) - Date.now() / 1000) < 120);
  });
  test('verifyIdentity accepts the request as the gateway sent it', async () => {
    const id = await verifyIdentityOf(seen);
    assert.equal(id.userId, 'signed-user');
    assert.equal(id.authMethod, 'jwt');
    assert.equal(id.timestamp, Number(seen.headers['x-mesh-identity-timestamp']));
  });
  const tamper = {
    'another user id': (p) => { p.headers.set('x-user-id', 'admin'); return p; },
    'another auth method': (p) => { p.headers.set('x-auth-method', 'api_key'); return p; },
    'another method': (p) => ({ ...p, method: p.method === 'POST' ? 'PUT' : 'POST' }),
    'another path': (p) => ({ ...p, url: p.url.replace('/api/v1/chat', '/api/v1/admin') }),
    'another query': (p) => ({ ...p, url: p.url.replace('?a=1', '?a=2') }),
    'no query': (p) => ({ ...p, url: p.url.replace('?a=1', '') }),
    'a header left out of the signed list': (p) => { p.headers.set('x-mesh-identity-headers', 'x-user-id'); return p; },
    'a later timestamp': (p) => { p.headers.set('x-mesh-identity-timestamp', String(Number(p.headers.get('x-mesh-identity-timestamp')) + 1)); return p; },
    'a changed signature': (p) => { const s = p.headers.get('x-mesh-identity-signature'); p.headers.set('x-mesh-identity-signature', (s[0] === 'A' ? 'B' : 'A') + s.slice(1)); return p; },
    'no signature': (p) => { p.headers.delete('x-mesh-identity-signature'); return p; },
    'no timestamp': (p) => { p.headers.delete('x-mesh-identity-timestamp'); return p; },
    'no user id': (p) => { p.headers.delete('x-user-id'); return p; },
  };
  for (const [name, mutate] of Object.entries(tamper)) {
    test(`verifyIdentity rejects ${name}`, async () => {
      await assert.rejects(verifyIdentityOf(seen, { mutate }), (e) => { assert.equal(e.code, 'unauthorized', String(e)); return true; });
    });
  }
  test('verifyIdentity covers the query and names every signed header', async () => {
    assert.equal(seen.rawQuery, '?a=1');
    const id = await verifyIdentityOf(seen);
    assert.deepEqual(id.headers, { 'x-user-id': 'signed-user', 'x-auth-method': 'jwt' });
  });
  test('with a replay store, a signature is accepted once', async () => {
    const seenSigs = new Map();
    const replayStore = { add: async (sig, ttl) => { assert.ok(ttl >= 60, `ttl ${ttl}`); if (seenSigs.has(sig)) return false; seenSigs.set(sig, ttl); return true; } };
    await verifyIdentityOf(seen, { replayStore });
    await assert.rejects(verifyIdentityOf(seen, { replayStore }), (e) => e.code === 'unauthorized' && /identity_replayed/.test(e.message));
    await assert.rejects(verifyIdentityOf(seen, { replayStore: {} }), (e) => e.code === 'invalid_config');
    // A misspelt store would leave replays unchecked: it is refused, naming the option meant.
    await assert.rejects(verifyIdentityOf(seen, { extra: { replayStorage: replayStore } }), (e) => e.code === 'invalid_config' && /`replayStorage`.*did you mean `replayStore`/.test(e.message));
  });
  test('verifyIdentity rejects the wrong secret', async () => {
    await assert.rejects(verifyIdentityOf(seen, { secret: 'not-the-secret' }), (e) => e.code === 'unauthorized');
  });
  test('verifyIdentity rejects an identity older than maxAgeSeconds', async () => {
    const age = Date.now() / 1000 - Number(seen.headers['x-mesh-identity-timestamp']);
    if (age < 2.2) await new Promise((r) => setTimeout(r, (2.2 - age) * 1000));
    await assert.rejects(verifyIdentityOf(seen, { maxAgeSeconds: 1 }), (e) => e.code === 'unauthorized');
    await verifyIdentityOf(seen, { maxAgeSeconds: 60 }); // still fine with a wider window
  });
});

test('no token, key or secret in the gateway\'s log', () => {
  assertNotLogged(gw.gateway.logs(), secrets, 'routes suite');
});

test('upstream down: 502, for authenticated and public routes (runs last: stops the origin)', async () => {
  await gw.origin.stop();
  const t = await gw.token();
  const r = await request(gw.url, '/api/v1/chat', { headers: [['Authorization', `Bearer ${t}`]] });
  assert.equal(r.status, 502, r.text);
  assert.ok(!/127\.0\.0\.1|ECONNREFUSED|stack/i.test(r.text), `internals in the 502 body: ${r.text}`);
  assert.equal((await request(gw.url, '/health')).status, 502);
});
