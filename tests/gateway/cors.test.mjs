// CORS (docs/gateway.md "CORS"): for an Origin listed in MESH_CORS_ORIGINS, on
// jwt routes and the keys API, the gateway answers preflights itself and adds
// the CORS headers to every response, the origin's forwarded ones included,
// with their status and body untouched. Other origins and other routes get no
// CORS headers. The browser e2e test covers the keys API from a real page;
// this covers the forwarded responses and the refusals, which it does not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertForwarded, assertRejected, startGatewayStack } from '../support/gateway.mjs';

const APP = 'https://app.test';
let gw;
before(async () => {
  gw = await startGatewayStack({ vars: { MESH_CORS_ORIGINS: `${APP},https://other-app.test` } });
});
after(async () => { await gw?.stop(); });

const EXPOSED = 'www-authenticate, retry-after, x-mesh-request-id';

function assertCors(r, origin, where) {
  assert.equal(r.headers['access-control-allow-origin'], origin, `allow-origin ${where}`);
  assert.equal(r.headers['access-control-expose-headers'], EXPOSED, `expose-headers ${where}`);
  assert.match(String(r.headers.vary ?? ''), /\bOrigin\b/i, `Vary: Origin ${where}`);
  assert.equal(r.headers['access-control-allow-credentials'], undefined, `no allow-credentials ${where}`);
}

function assertNoCors(r, where) {
  for (const name of Object.keys(r.headers)) assert.ok(!name.startsWith('access-control-'), `${name} sent ${where}`);
}

test('a forwarded jwt-route response carries CORS headers for an allowed origin, with the origin\'s status and body', async () => {
  const token = await gw.token({ sub: 'alice' });
  const r = await gw.call('/api/v1/chat', { token, method: 'POST', headers: [['Origin', APP]], body: { message: 'hi' } });
  const seen = assertForwarded(r, { userId: 'alice', authMethod: 'jwt' });
  assertCors(r, APP, 'on the forwarded response');
  assert.equal(r.json.reply, 'You said: hi', 'the origin\'s body passes through');
  assert.equal(seen.headers.origin, APP, 'the Origin header reaches the origin');

  // The second allowed origin gets its own value, not the first one's.
  const r2 = await gw.call('/mcp/messages/', { token, method: 'POST', headers: [['Origin', 'https://other-app.test']], body: { jsonrpc: '2.0', id: 1, method: 'ping' } });
  assert.equal(r2.status, 202, r2.text);
  assertCors(r2, 'https://other-app.test', 'for the second allowed origin');
});

test('an origin not in the list, or no Origin, gets no CORS headers on a forwarded response', async () => {
  const token = await gw.token({ sub: 'alice' });
  for (const headers of [[['Origin', 'https://evil.test']], [['Origin', `${APP}.evil.test`]], [['Origin', 'null']], []]) {
    const r = await gw.call('/api/v1/chat', { token, method: 'POST', headers, body: { message: 'hi' } });
    assertForwarded(r, { userId: 'alice', authMethod: 'jwt' });
    assertNoCors(r, `for ${JSON.stringify(headers)}`);
  }
});

test('a 401 on a jwt route carries CORS headers for an allowed origin, so the app can read the challenge', async () => {
  const r = await gw.call('/api/v1/chat', { token: 'not-a-jwt', headers: [['Origin', APP]] });
  assertRejected(r, 'invalid_token');
  assertCors(r, APP, 'on a 401');
  const none = await gw.call('/api/v1/chat', { headers: [['Origin', APP]] });
  assertRejected(none, 'invalid_request');
  assertCors(none, APP, 'on a 401 without a credential');
});

test('preflights: answered by the gateway for allowed origins on jwt routes and the keys API, never forwarded', async () => {
  for (const path of ['/api/v1/chat', '/mcp/messages/', '/api/v1/keys']) {
    const r = await gw.call(path, { method: 'OPTIONS', headers: [['Origin', APP], ['Access-Control-Request-Method', 'POST'], ['Access-Control-Request-Headers', 'authorization, content-type']] });
    assert.equal(r.status, 204, `${path}: ${r.text}`);
    assertCors(r, APP, `on the preflight of ${path}`);
    assert.match(r.headers['access-control-allow-headers'] ?? '', /\bauthorization\b/, `${path}: authorization allowed`);
    assert.match(r.headers['access-control-allow-methods'] ?? '', /\bPOST\b/, `${path}: POST allowed`);
    assert.equal(r.seen.length, 0, `${path}: the preflight reached the origin`);
  }
  const refused = await gw.call('/api/v1/chat', { method: 'OPTIONS', headers: [['Origin', 'https://evil.test'], ['Access-Control-Request-Method', 'POST']] });
  assertNoCors(refused, 'on a preflight from another origin');
  assert.equal(refused.seen.length, 0, 'a preflight from another origin reached the origin without a credential');
});

test('public and api_key routes get no CORS headers, even for an allowed origin', async () => {
  const r = await gw.call('/health', { headers: [['Origin', APP]] });
  assert.equal(r.status, 200, r.text);
  assertNoCors(r, 'on the public route');
  const agent = await gw.call('/agent/v1/mcp/messages/', { method: 'POST', headers: [['Origin', APP]], body: {} });
  assertRejected(agent, 'invalid_request');
  assertNoCors(agent, 'on the api_key route');
});
