// Where a credential may go, and what the client takes in: no redirect is
// followed (an API key, a bearer token, a refresh token never reach the
// Location's origin), a Request given to fetch() keeps its method and body,
// a token endpoint's unusable access_token is refused at once, and base URLs
// that would misroute or leak are refused at construction. Small servers of
// its own on 127.0.0.1; the provider's part is a discovery document and a
// token endpoint.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';

const T = { timeout: 30_000 };
const KEY = 'mesh_sk_SECRETKEY0123456789abcdef';
const now = () => Math.floor(Date.now() / 1000);

/** A server on 127.0.0.1 that records each request and answers with `answer(req, body, self)`. */
async function serve(answer) {
  const seen = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(req, body, self, res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const self = { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => server.close() };
  return self;
}

/** A client of the provider at `op` whose session is due for a refresh: the refresh's error. */
async function refreshFailure(op, refreshToken, accessToken) {
  const client = new MeshClient({ issuer: op.url, clientId: 'x', timeoutMs: 3000, maxRefreshRetries: 0 });
  const expiresAt = now() - 1;
  client.setSession({ accessToken, refreshToken, expiresAt });
  const error = await client.getAccessToken().then(() => null, (err) => err);
  return { client, error, expiresAt };
}

const json = (res, status, value, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
};

describe('credentials reach their own origin only', () => {
  let foreign;
  before(async () => { foreign = await serve((_req, _body, _self, res) => json(res, 200, { reply: 'from foreign' })); });
  after(() => foreign?.close());

  test('an API redirect to another origin is not followed: the key and the token stay home', T, async () => {
    const api = await serve((req, _b, _s, res) => { res.writeHead(307, { location: `${foreign.url}/stolen${req.url}` }); res.end(); });
    const keyed = new MeshClient({ apiUrl: api.url, apiKey: KEY, timeoutMs: 3000 });
    const oauth = new MeshClient({ issuer: 'http://127.0.0.1:9', clientId: 'x', apiUrl: api.url, timeoutMs: 3000 });
    oauth.setSession({ accessToken: 'BEARERSECRET0123456789', expiresAt: now() + 3600 });
    try {
      const res = await keyed.fetch('/api/v1/x');
      assert.equal(res.status, 307, 'the redirect is the answer');
      assert.equal(res.headers.get('location'), `${foreign.url}/stolen/api/v1/x`);
      const e = await keyed.chat('hi').then(() => null, (err) => err);
      assert.equal(e?.code, 'http_error');
      assert.equal(e.status, 307);
      assert.match(e.message, /HTTP 307, a redirect, which is not followed/);
      assert.equal((await oauth.fetch('/api/v1/y')).status, 307);
      assert.equal((await oauth.keys.list().catch((err) => err)).code, 'http_error', 'not the foreign body as the list');
      assert.deepEqual(foreign.seen, [], 'the other origin received nothing');
      assert.equal(api.seen.length, 4);
    } finally {
      keyed.dispose();
      oauth.dispose();
      api.close();
    }
  });

  test('a token endpoint that redirects gets no refresh token elsewhere: the refresh fails, the session is kept', T, async () => {
    const op = await serve((req, _b, self, res) => {
      if (req.url.startsWith('/.well-known/')) {
        return json(res, 200, { issuer: self.url, token_endpoint: `${self.url}/token`, revocation_endpoint: `${self.url}/revoke` });
      }
      res.writeHead(307, { location: `${foreign.url}/captured${req.url}` });
      res.end();
    });
    const { client, error: e, expiresAt } = await refreshFailure(op, 'REFRESH-SECRET-123', 'opaque-access');
    try {
      assert.equal(e?.code, 'refresh_failed');
      assert.equal(e.cause?.code, 'http_error');
      assert.match(e.cause.message, /HTTP 307, a redirect, which is not followed/);
      assert.deepEqual([client.getSession()?.expiresAt, client.getSession()?.hasRefreshToken], [expiresAt, true], 'the session stays');
      client.setSession({ accessToken: 'opaque-access', refreshToken: 'REFRESH-SECRET-456', expiresAt: now() + 100 });
      await client.logout();
      assert.deepEqual(foreign.seen, [], 'neither the refresh nor the revocation went to the other origin');
      assert.deepEqual(op.seen.filter((r) => !r.url.startsWith('/.well-known/')).map((r) => r.url), ['/token', '/revoke']);
    } finally {
      client.dispose();
      op.close();
    }
  });
});

describe('what the client takes in', () => {
  test('fetch(request): a Request keeps its method, headers and body, on retry too; another origin is refused', T, async () => {
    let first = true;
    const api = await serve((_req, _b, _s, res) => {
      if (first) {
        first = false;
        return json(res, 503, {}); // a PUT is idempotent: retried, its body sent again
      }
      json(res, 200, { ok: true });
    });
    const client = new MeshClient({ apiUrl: api.url, apiKey: KEY, timeoutMs: 3000 });
    try {
      const put = new Request(`${api.url}/api/v1/items/7`, { method: 'PUT', body: '{"n":7}', headers: { 'content-type': 'application/json' } });
      assert.equal((await client.fetch(put)).status, 200);
      const get = new Request(`${api.url}/api/v1/items/8`, { headers: { 'x-trace': 't1' } });
      assert.equal((await client.fetch(get, { headers: { 'x-trace': 't2' } })).status, 200);
      const [a, retried, b] = api.seen;
      for (const r of [a, retried]) {
        assert.deepEqual([r.method, r.url, r.body, r.headers['content-type'], r.headers['x-api-key']], ['PUT', '/api/v1/items/7', '{"n":7}', 'application/json', KEY]);
      }
      assert.deepEqual([b.method, b.url, b.headers['x-trace']], ['GET', '/api/v1/items/8', 't2'], 'init on top of the Request');
      const elsewhere = await client.fetch(new Request('http://127.0.0.1:9/x')).then(() => null, (err) => err);
      assert.equal(elsewhere?.code, 'invalid_config');
      assert.equal(api.seen.length, 3);
    } finally {
      client.dispose();
      api.close();
    }
  });

  test('a token endpoint access_token that cannot travel in a header is invalid_response, the token not quoted', T, async () => {
    const op = await serve((req, _b, self, res) => {
      if (req.url.startsWith('/.well-known/')) return json(res, 200, { issuer: self.url, token_endpoint: `${self.url}/token` });
      json(res, 200, { access_token: 'SECRET\r\nX: 1', token_type: 'Bearer', expires_in: 300, refresh_token: 'r2' });
    });
    const { client, error: e, expiresAt } = await refreshFailure(op, 'r1', 'old-access');
    try {
      assert.equal(e?.code, 'refresh_failed');
      assert.equal(e.cause?.code, 'invalid_response');
      assert.match(e.cause.message, /access_token that is not printable ASCII/);
      assert.ok(!JSON.stringify([e.message, e.cause.message]).includes('SECRET'));
      assert.equal(client.getSession()?.expiresAt, expiresAt, 'the session is not replaced by an unusable token');
    } finally {
      client.dispose();
      op.close();
    }
  });

  test('issuer and apiUrl: no query, no user:password@ (never echoed)', T, () => {
    const refused = (options, option) => {
      assert.throws(() => new MeshClient(options), (e) => e.code === 'invalid_config' && e.message.includes(`\`${option}\``) && !e.message.includes('hunter2'));
    };
    refused({ apiUrl: 'http://127.0.0.1:1/v2?tenant=acme', apiKey: KEY }, 'apiUrl');
    refused({ apiUrl: 'https://svc:hunter2@api.example.com', apiKey: KEY }, 'apiUrl');
    refused({ issuer: 'https://svc:hunter2@id.example.com', clientId: 'x' }, 'issuer');
    refused({ issuer: 'https://id.example.com/?realm=a', clientId: 'x' }, 'issuer');
    new MeshClient({ apiUrl: 'http://127.0.0.1:1/v2/', apiKey: KEY }).dispose();
  });
});
