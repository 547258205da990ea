// The redirect login (authorization code + PKCE) against the real
// oidc-provider, driven over HTTP as a browser would, plus crafted
// callbacks and ID tokens that the core must refuse, storing nothing.
import assert from 'node:assert/strict';
import { createSign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MeshClient } from '../../pkg/node.js';
import { keyPair, startProvider } from '../../scripts/servers/provider.mjs';
import { providerLogin as providerSignIn } from '../support/provider-login.mjs';

const REDIRECT = 'http://app.test/callback';
const SPA = {
  client_id: 'mesh-spa',
  client_name: 'Mesh SPA',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [REDIRECT],
  post_logout_redirect_uris: ['http://app.test/bye'],
  scope: 'openid profile offline_access',
};

let idp;
before(async () => {
  idp = await startProvider({ extraClients: [SPA], idTokenClaims: true });
});
after(() => idp?.close());

const client = () => new MeshClient({ issuer: idp.issuer, clientId: 'mesh-spa', audience: idp.audience, scope: 'profile offline_access' });

/** Signs in at the provider's pages (login, consent) and returns the callback URL. */
const signIn = (authorizeUrl, user = idp.users[0]) => providerSignIn(authorizeUrl, user, REDIRECT);

async function refusal(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, e.message);
    return true;
  });
}

describe('redirect login against oidc-provider', { timeout: 60_000 }, () => {
  test('the authorization URL asks for code with S256, state, nonce and openid', async () => {
    const url = new URL(await client().authorizeUrl({ redirectUri: REDIRECT, prompt: 'login', loginHint: 'demo' }));
    assert.equal(url.origin + url.pathname, (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()).authorization_endpoint);
    const q = url.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge'), /^[\w-]{43}$/);
    assert.match(q.get('state'), /^[\w-]{43}$/);
    assert.match(q.get('nonce'), /^[\w-]{43}$/);
    assert.notEqual(q.get('state'), q.get('nonce'));
    assert.deepEqual(q.get('scope').split(' '), ['openid', 'profile', 'offline_access']);
    assert.equal(q.get('resource'), idp.audience);
    assert.equal(q.get('login_hint'), 'demo');
  });

  test('happy path: sign in, session.user, returnTo, refresh, logout URL', async () => {
    const c = client();
    // offline_access (a refresh token) is granted only with prompt=consent (OIDC Core 11).
    const url = await c.authorizeUrl({ redirectUri: REDIRECT, returnTo: '/settings?tab=keys', prompt: 'consent' });
    const callback = await signIn(url);
    assert.ok(new URL(callback).searchParams.get('iss'), 'oidc-provider sends iss (RFC 9207)');
    const session = await c.handleRedirectCallback(callback);
    assert.equal(session.returnTo, '/settings?tab=keys');
    assert.deepEqual(session.user, { sub: 'user-demo-1', name: 'Demo User' });
    assert.ok(session.accessToken && session.refreshToken);
    assert.deepEqual(c.getSession().user, { sub: 'user-demo-1', name: 'Demo User' });
    assert.ok(await c.getAccessToken());
    // The replayed callback finds no pending login.
    await refusal(c.handleRedirectCallback(callback), 'state_mismatch');
    assert.ok(c.getSession(), 'a refused replay leaves the session as it was');
    const out = await c.logout({ returnTo: 'http://app.test/bye' });
    assert.equal(out.revoked, true);
    const logout = new URL(out.logoutUrl);
    assert.equal(logout.searchParams.get('post_logout_redirect_uri'), 'http://app.test/bye');
    assert.equal(logout.searchParams.get('id_token_hint').split('.').length, 3);
    assert.equal(c.getSession(), null);
    const page = await fetch(out.logoutUrl);
    assert.equal(page.status, 200, 'the provider accepts the id_token_hint');
  });

  test('a replayed code under a fresh state is refused by the provider (authorization_failed) and stores nothing', async () => {
    const first = client();
    const callback = new URL(await signIn(await first.authorizeUrl({ redirectUri: REDIRECT })));
    await first.handleRedirectCallback(callback.href);
    // An attacker replays the spent code into another login of theirs (its own state and verifier).
    const second = client();
    const start = new URL(await second.authorizeUrl({ redirectUri: REDIRECT }));
    callback.searchParams.set('state', start.searchParams.get('state'));
    await assert.rejects(second.handleRedirectCallback(callback.href), (e) => {
      // The token endpoint's invalid_grant: the code was refused, a new login is needed.
      assert.equal(e.code, 'authorization_failed', e.message);
      assert.match(e.message, /refused the authorization code, expired or already used: sign in again \(HTTP 400\): invalid_grant$/);
      assert.equal(e.context?.oauthError, 'invalid_grant');
      return true;
    });
    assert.equal(second.getSession(), null);
  });

  test('an open returnTo is dropped', async () => {
    const c = client();
    const session = await c.handleRedirectCallback(await signIn(await c.authorizeUrl({ redirectUri: REDIRECT, returnTo: '//evil.example/x' })));
    assert.equal(session.returnTo, null);
    assert.ok(session.refreshToken, 'without prompt=consent too, the browser app gets a (rotating) refresh token');
  });

  test('tampered state, mix-up iss and error responses store nothing', async () => {
    const c = client();
    const callback = new URL(await signIn(await c.authorizeUrl({ redirectUri: REDIRECT })));
    const tampered = new URL(callback);
    tampered.searchParams.set('state', 'x'.repeat(43));
    await refusal(c.handleRedirectCallback(tampered.href), 'state_mismatch');
    const mixup = new URL(callback);
    mixup.searchParams.set('iss', 'http://evil.example');
    await refusal(c.handleRedirectCallback(mixup.href), 'issuer_mismatch');
    await refusal(c.handleRedirectCallback(callback.href), 'state_mismatch', 'the refused callback consumed its login');
    assert.equal(c.getSession(), null);

    const d = client();
    const cb = new URL(await signIn(await d.authorizeUrl({ redirectUri: REDIRECT })));
    cb.searchParams.set('iss', 'http://evil.example');
    await refusal(d.handleRedirectCallback(cb.href), 'issuer_mismatch');
    cb.searchParams.delete('iss');
    await refusal(d.handleRedirectCallback(cb.href), 'state_mismatch');
    assert.equal(d.getSession(), null);

    const e = client();
    const start = new URL(await e.authorizeUrl({ redirectUri: REDIRECT }));
    const denied = `${REDIRECT}?error=access_denied&error_description=User%20said%20no&state=${start.searchParams.get('state')}&iss=${encodeURIComponent(idp.issuer)}`;
    await assert.rejects(e.handleRedirectCallback(denied), (err) => err.code === 'access_denied' && /User said no/.test(err.message));
    const start2 = new URL(await e.authorizeUrl({ redirectUri: REDIRECT }));
    const noIss = `${REDIRECT}?code=abc&state=${start2.searchParams.get('state')}`;
    await refusal(e.handleRedirectCallback(noIss), 'issuer_mismatch');
    assert.equal(e.getSession(), null);
  });
});

describe('ID tokens the core refuses', { timeout: 60_000 }, () => {
  // A token endpoint and JWKS of our own, so the ID token can be crafted.
  const { privateKey, publicKey } = keyPair('rsa', { modulusLength: 2048 });
  const other = keyPair('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
  const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
  const sign = (header, claims, key = privateKey) => {
    const input = `${b64(header)}.${b64(claims)}`;
    const s = createSign('RSA-SHA256').update(input).sign(key);
    return `${input}.${s.toString('base64url')}`;
  };
  let server;
  let issuer;
  let idToken = () => '';
  before(async () => {
    const { createServer } = await import('node:http');
    server = createServer((req, res) => {
      const json = (o) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
      if (req.url === '/.well-known/openid-configuration') {
        return json({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, authorization_response_iss_parameter_supported: true });
      }
      if (req.url === '/jwks') return json({ keys: [jwk] });
      if (req.url === '/token') return json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken() });
      res.writeHead(404).end();
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  /** A login whose token endpoint answers with `makeToken(claims)`; a refusal must leave `getSession()` null. */
  async function attempt(makeToken, { returnTo, query = (state) => `code=c&state=${state}&iss=${encodeURIComponent(issuer)}` } = {}) {
    const c = new MeshClient({ issuer, clientId: 'spa' });
    const start = new URL(await c.authorizeUrl({ redirectUri: REDIRECT, returnTo }));
    const nonce = start.searchParams.get('nonce');
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, sub: 'u1', aud: 'spa', exp: now + 300, iat: now, nonce, name: 'Ada' };
    idToken = () => makeToken(claims);
    try {
      return await c.handleRedirectCallback(`${REDIRECT}?${query(start.searchParams.get('state'))}`);
    } catch (e) {
      assert.equal(c.getSession(), null, `a refusal (${e.code}) stores nothing`);
      throw e;
    }
  }

  const H = { alg: 'RS256', kid: 'k1' };
  test('a well-formed token passes (the fixture is sound)', async () => {
    const s = await attempt((c) => sign(H, c));
    assert.deepEqual(s.user, { sub: 'u1', name: 'Ada' });
  });
  const cases = [
    ['signed by another key', (c) => sign(H, c, other.privateKey)],
    ['alg none', (c) => `${b64({ alg: 'none' })}.${b64(c)}.`],
    ['alg none with a signature', (c) => `${b64({ alg: 'none', kid: 'k1' })}.${b64(c)}.${b64('x')}`],
    ['HS256 keyed with the public key', (c) => sign({ alg: 'HS256', kid: 'k1' }, c)],
    ['wrong nonce', (c) => sign(H, { ...c, nonce: 'other' })],
    ['wrong aud', (c) => sign(H, { ...c, aud: 'other' })],
    ['several audiences without azp', (c) => sign(H, { ...c, aud: ['spa', 'other'] })],
    ['azp of another client', (c) => sign(H, { ...c, aud: ['spa', 'other'], azp: 'other' })],
    ['no nonce', (c) => sign(H, { ...c, nonce: undefined })],
    ['another issuer', (c) => sign(H, { ...c, iss: 'http://evil.example' })],
    ['expired', (c) => sign(H, { ...c, exp: c.iat - 3600 })],
    ['issued in the future', (c) => sign(H, { ...c, iat: c.iat + 3600 })],
    ['unknown kid', (c) => sign({ alg: 'RS256', kid: 'k2' }, c)],
    ['no ID token in the token response', () => undefined],
    ['claims changed after signing', (c) => { const [h, , s] = sign(H, c).split('.'); return `${h}.${b64({ ...c, sub: 'admin' })}.${s}`; }],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      await refusal(attempt(make), 'invalid_id_token');
    });
  }

  const good = (c) => sign(H, c);
  test('callbacks refused before the code is exchanged store nothing', async () => {
    const iss = encodeURIComponent(issuer);
    const refusals = [
      ['no state', () => `code=c&iss=${iss}`, 'state_mismatch'],
      ['an empty state', () => `code=c&state=&iss=${iss}`, 'state_mismatch'],
      ['state given twice', (s) => `code=c&state=${s}&state=${s}&iss=${iss}`, 'state_mismatch'],
      ['no iss where discovery promises it', (s) => `code=c&state=${s}`, 'issuer_mismatch'],
      ['iss of another provider', (s) => `code=c&state=${s}&iss=${encodeURIComponent('http://evil.example')}`, 'issuer_mismatch'],
      ['login_required', (s) => `error=login_required&error_description=Sign%20in%20again&state=${s}&iss=${iss}`, 'login_required'],
      ['another error', (s) => `error=server_error&state=${s}&iss=${iss}`, 'authorization_failed'],
    ];
    for (const [name, query, code] of refusals) {
      await assert.rejects(attempt(good, { query }), (e) => {
        assert.equal(e.code, code, `${name}: ${e.message}`);
        if (code === 'login_required') assert.match(e.message, /Sign in again/, 'the provider\'s error_description is kept');
        return true;
      });
    }
  });

  test('returnTo: a same-origin path is kept, anything else is dropped', async () => {
    assert.equal((await attempt(good, { returnTo: '/settings?tab=keys#top' })).returnTo, '/settings?tab=keys#top');
    for (const open of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', '/\tevil', 'javascript:alert(1)', 'settings', '']) {
      assert.equal((await attempt(good, { returnTo: open })).returnTo, null, JSON.stringify(open));
    }
  });
});
