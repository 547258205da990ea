// mesh-sdk/next's fetchApi: a route handler's call to the API as the
// signed-in user. The server-held token is attached, a 401 refreshes it and
// retries once (the client's request policy, the core's), and every failure
// is an answer with the core's status (server_session::api_failure_status):
// the app's route handlers hold no status rule of their own. The real
// provider; an API on 127.0.0.1 that refuses the tokens it is told to.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createMeshAuth } from '../../pkg/next.js';
import { freePort } from '../support/http.mjs';
import { Jar, appOptions, signIn, startIdp } from './support.mjs';

let idp;
let grants;
let api;
const seen = [];
const refused = new Set();
let refuseAll = false;
before(async () => {
  ({ idp, grants } = await startIdp());
  api = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, token, body, given: req.headers['x-given'] });
      if (refuseAll || refused.has(token)) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' });
        return res.end('{"error":"unauthorized"}');
      }
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  await new Promise((resolve) => api.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await new Promise((resolve) => api?.close(resolve));
  await idp?.close();
});

const apiUrl = () => `http://127.0.0.1:${api.address().port}`;

/** Runs `fn(mesh, jar, token)` with an app on the API and a browser signed in to it; closes it after. */
async function signedIn(fn) {
  const mesh = createMeshAuth(appOptions(idp, { apiUrl: apiUrl() }));
  try {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    return await fn(mesh, jar, await mesh.getAccessToken(jar.request('/')));
  } finally {
    refuseAll = false;
    await mesh.close();
  }
}

describe('mesh-sdk/next, fetchApi', { timeout: 60_000 }, () => {
  test('the call carries the session token; a 401 refreshes it and retries once; the API answer passes through', async () => {
    await signedIn(async (mesh, jar, token) => {
      const res = await mesh.fetchApi('/api/v1/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"k"}' }, { request: jar.request('/') });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await res.json(), { method: 'POST', url: '/api/v1/keys', body: '{"name":"k"}' });
      assert.equal(seen.at(-1).token, token);

      // The API refuses that token (revoked): one refresh, one retry with the new token.
      refused.add(token);
      const refreshes = grants.refresh_token;
      const calls = seen.length;
      const headers = new Headers();
      const again = await mesh.fetchApi('/api/v1/keys', undefined, { request: jar.request('/'), headers });
      assert.equal(again.status, 201);
      assert.equal(grants.refresh_token - refreshes, 1, 'one refresh');
      assert.equal(seen.length - calls, 2, 'one retry');
      assert.notEqual(seen.at(-1).token, token);
      assert.ok(headers.getSetCookie().some((c) => c.startsWith('mesh.session')), 'the cookie store keeps the refreshed tokens');

      // Refused again after the refresh: 401 unauthorized, not a loop.
      refuseAll = true;
      const still = await mesh.fetchApi('/api/v1/keys', undefined, { request: jar.request('/') });
      assert.equal(still.status, 401);
      assert.equal((await still.json()).error, 'unauthorized');
    });
  });

  test('a Request input: its URL on apiUrl by the same rule, its method, headers and body sent, init on top; another origin refused', async () => {
    await signedIn(async (mesh, jar, token) => {
      const given = new Request(`${apiUrl()}/api/v1/keys?x=1`, { method: 'POST', headers: { 'x-given': 'yes' }, body: '{"name":"k"}' });
      const res = await mesh.fetchApi(given, undefined, { request: jar.request('/') });
      assert.equal(res.status, 201);
      assert.deepEqual(await res.json(), { method: 'POST', url: '/api/v1/keys?x=1', body: '{"name":"k"}' });
      assert.equal(seen.at(-1).token, token);
      assert.equal(seen.at(-1).given, 'yes', 'its headers kept');
      const put = await mesh.fetchApi(new Request(`${apiUrl()}/api/v1/keys/1`, { method: 'POST', body: 'old' }), { method: 'PUT', body: 'new' }, { request: jar.request('/') });
      assert.deepEqual(await put.json(), { method: 'PUT', url: '/api/v1/keys/1', body: 'new' });
      const calls = seen.length;
      const elsewhere = await mesh.fetchApi(new Request('http://elsewhere.invalid/api/v1/keys', { method: 'POST', body: 'x' }), undefined, { request: jar.request('/') });
      assert.equal(elsewhere.status, 500);
      assert.equal((await elsewhere.json()).error, 'invalid_config');
      assert.equal(seen.length, calls, 'the token went nowhere else');
    });
  });

  test('failures are answers with the core status: signed out 401, API down 502, another origin 500 with nothing sent', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const mesh = createMeshAuth(appOptions(idp, { apiUrl: closed }));
    try {
      const out = await mesh.fetchApi('/api/v1/keys', undefined, { request: new Jar().request('/') });
      assert.equal(out.status, 401);
      assert.equal((await out.json()).error, 'login_required');
      const jar = new Jar();
      await signIn(mesh, jar, idp);
      const down = await mesh.fetchApi('/api/v1/keys', undefined, { request: jar.request('/') });
      assert.equal(down.status, 502);
      assert.equal((await down.json()).error, 'network');
      const calls = seen.length;
      const elsewhere = await mesh.fetchApi(`${apiUrl()}/api/v1/keys`, undefined, { request: jar.request('/') });
      assert.equal(elsewhere.status, 500);
      assert.equal((await elsewhere.json()).error, 'invalid_config');
      assert.equal(seen.length, calls, 'the token went nowhere else');
      // Without a request outside Next.js (no next/headers here): what to pass instead.
      const outside = await mesh.fetchApi('/api/v1/keys');
      assert.equal(outside.status, 500);
      const body = await outside.json();
      assert.equal(body.error, 'invalid_config');
      assert.ok(body.message.includes('pass the request: fetchApi(input, init, { request, headers })'), body.message);
      assert.equal(seen.length, calls, 'nothing sent');
    } finally {
      await mesh.close();
    }
  });
});
