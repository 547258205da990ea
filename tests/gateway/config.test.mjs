// Configuration (issue 6, "Shape"): a bad configuration answers 500 "gateway
// misconfigured" on every route and logs a clear error, never a silent open
// door; the allow-list, the HS256 switch, the clock skew, MESH_ROUTES (longest
// prefix wins) and MESH_API_KEY_PREFIX do what they say.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertForwarded, assertRejected, isIdentityName, startGatewayStack } from '../support/gateway.mjs';
import { forge, now } from '../support/tokens.mjs';

const BAD = {
  'MESH_UPSTREAM_URL missing': { vars: { MESH_UPSTREAM_URL: undefined }, names: ['MESH_UPSTREAM_URL'] },
  'MESH_UPSTREAM_URL not a URL': { vars: { MESH_UPSTREAM_URL: 'not a url' }, names: ['MESH_UPSTREAM_URL'] },
  'MESH_ROUTES not JSON': { vars: { MESH_ROUTES: '[{"prefix":"/api/v1/","auth":' }, names: ['MESH_ROUTES'] },
  'MESH_ROUTES with an unknown auth': { vars: { MESH_ROUTES: '[{"prefix":"/api/v1/","auth":"magic"},{"prefix":"/health","auth":"public"}]' }, names: ['MESH_ROUTES'] },
  'MESH_JWT_ISSUER missing with a jwt route': { vars: { MESH_JWT_ISSUER: undefined }, names: ['MESH_JWT_ISSUER'] },
  'MESH_JWT_AUDIENCE missing with a jwt route': { vars: { MESH_JWT_AUDIENCE: undefined }, names: ['MESH_JWT_AUDIENCE'] },
  'MESH_UPSTREAM_TIMEOUT_SECONDS of 0': { vars: { MESH_UPSTREAM_TIMEOUT_SECONDS: '0' }, names: ['MESH_UPSTREAM_TIMEOUT_SECONDS'] },
};

describe('a bad configuration is a 500 "gateway misconfigured", never open', { concurrency: 2 }, () => {
  for (const [name, { vars, names }] of Object.entries(BAD)) {
    describe(name, { concurrency: 1 }, () => {
      let gw;
      before(async () => { gw = await startGatewayStack({ vars }); });
      after(async () => { await gw?.stop(); });
      test('every route answers 500 "gateway misconfigured"; the origin sees nothing; the log names the problem', async () => {
        const t = await gw.token();
        const calls = [
          await gw.call('/api/v1/chat', { token: t }),
          await gw.call('/api/v1/chat'),
          await gw.call('/mcp/messages/', { token: t, method: 'POST', body: {} }),
          await gw.call('/agent/v1/mcp/messages/', { headers: [['X-API-Key', 'mesh_sk_x']] }),
          await gw.call('/health', { waitLogs: true }),
        ];
        for (const r of calls) {
          assert.equal(r.status, 500, `${r.status} ${r.text}`);
          assert.match(r.text, /gateway misconfigured/);
          assert.equal(r.seen.length, 0, 'a misconfigured gateway forwarded a request');
        }
        const logs = gw.gateway.logs();
        assert.ok(names.some((n) => logs.includes(n)), `the log should name ${names.join('/')}:\n${logs.slice(-1500)}`);
        assert.ok(!calls.some((r) => r.text.includes('{"prefix') || r.text.includes('127.0.0.1')), 'the response leaks configuration');
      });
    });
  }
  describe('alg "none" in MESH_JWT_ALGORITHMS', { concurrency: 1 }, () => {
    let gw;
    before(async () => { gw = await startGatewayStack({ vars: { MESH_JWT_ALGORITHMS: 'RS256,none' } }); });
    after(async () => { await gw?.stop(); });
    test('is refused as a configuration (500) or ignored: an unsigned token never passes', async () => {
      for (const alg of ['none', 'NONE']) {
        const r = await gw.call('/api/v1/chat', { token: forge({ header: { alg }, payload: gw.claims({ sub: 'admin' }) }) });
        assert.ok(r.status === 500 || r.status === 401, `${r.status} ${r.text}`);
        assert.equal(r.seen.length, 0);
      }
    });
  });
});

describe('allow-list RS256 only, no HS256 secret, skew 0, custom routes and key prefix', () => {
  let gw;
  const ROUTES = JSON.stringify([
    { prefix: '/api/', auth: 'public' },
    { prefix: '/api/v1/', auth: 'jwt' },
    { prefix: '/agent/v1/', auth: 'api_key' },
    { prefix: '/open', auth: 'public' },
  ]);
  before(async () => {
    gw = await startGatewayStack({
      hs256: false,
      // MESH_CORS_ORIGIN: a misspelling of MESH_CORS_ORIGINS, reads as unset.
      vars: { MESH_JWT_ALGORITHMS: 'RS256', MESH_CLOCK_SKEW_SECONDS: '0', MESH_ROUTES: ROUTES, MESH_API_KEY_PREFIX: 'acme_live_', MESH_CORS_ORIGIN: 'https://app.example' },
    });
  });
  after(async () => { await gw?.stop(); });

  test('RS256 passes; ES256 (valid, but not allowed) and HS256 (no secret configured) do not', async () => {
    assertForwarded(await gw.call('/api/v1/chat', { token: await gw.token({ sub: 'rs' }) }), { userId: 'rs', authMethod: 'jwt' });
    assertRejected(await gw.call('/api/v1/chat', { token: await gw.token({ key: gw.keys.es }) }), 'invalid_token', 'ES256 not allowed');
    assertRejected(await gw.call('/api/v1/chat', { token: await gw.token({ key: gw.keys.hsSecret }) }), 'invalid_token', 'HS256 without secret');
  });
  test('HS256 keyed with the RSA public key, when HS256 is not enabled at all', async () => {
    for (const key of [gw.keys.rs.spki, JSON.stringify(gw.keys.rs.jwk), '']) {
      const token = forge({ header: { alg: 'HS256', kid: gw.keys.rs.kid }, payload: gw.claims({ sub: 'mallory' }), sign: { alg: 'HS256', key } });
      assertRejected(await gw.call('/api/v1/chat', { token }), 'invalid_token');
    }
  });
  test('skew 0: a token 5 s past exp, or 5 s before nbf, is refused', async () => {
    assertRejected(await gw.call('/api/v1/chat', { token: await gw.token({ exp: now() - 5 }) }), 'invalid_token', 'exp');
    assertRejected(await gw.call('/api/v1/chat', { token: await gw.token({ nbf: now() + 5 }) }), 'invalid_token', 'nbf');
  });
  test('the longest prefix wins: /api/v1/ needs a JWT under the public /api/', async () => {
    assertRejected(await gw.call('/api/v1/chat'), 'invalid_request');
    const pub = await gw.call('/api/other', { headers: [['X-User-Id', 'admin']] });
    assert.equal(pub.status, 200, pub.text);
    assert.equal(pub.seen.length, 1);
    assert.deepEqual(pub.seen[0].rawHeaders.filter(([k]) => isIdentityName(k)), []);
    assert.equal((await gw.call('/open')).status, 200);
    assert.equal((await gw.call('/open/x')).status, 200);
  });
  test('a path outside MESH_ROUTES gets 404 (the default /health is gone)', async () => {
    for (const p of ['/health', '/mcp/messages/', '/', '/opened']) {
      const r = await gw.call(p);
      assert.equal(r.status, 404, `${p}: ${r.status}`);
      assert.equal(r.seen.length, 0);
    }
  });
  test('a misspelt variable is logged with the one meant, once, and the gateway still serves', async () => {
    assert.equal((await gw.call('/open', { waitLogs: true })).status, 200);
    // Exactly one: the gateway's own names and the test's bindings are no near misses.
    const warned = gw.gateway.jsonLogs().filter((l) => l.event === 'env_name_misspelt');
    assert.deepEqual(warned.map(({ level, name, meant }) => ({ level, name, meant })), [{ level: 'warn', name: 'MESH_CORS_ORIGIN', meant: 'MESH_CORS_ORIGINS' }]);
  });
  test('MESH_API_KEY_PREFIX: issued keys carry it, and work on the agent route', async () => {
    const owner = await gw.token({ sub: 'prefixed' });
    const r = await gw.call('/api/v1/keys', { token: owner, method: 'POST', body: { name: 'acme' } });
    assert.ok(r.status === 200 || r.status === 201, r.text);
    assert.match(r.json.key, /^acme_live_[A-Za-z0-9_-]{43,}$/);
    assert.equal(r.json.prefix, 'acme_live_');
    assertForwarded(await gw.call('/agent/v1/x', { token: r.json.key }), { userId: 'prefixed', authMethod: 'api_key', apiKeyId: r.json.id });
    assertForwarded(await gw.call('/agent/v1/x', { headers: [['x-api-key', r.json.key]] }), { userId: 'prefixed', authMethod: 'api_key', apiKeyId: r.json.id });
  });
});

