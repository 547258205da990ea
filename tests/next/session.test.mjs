// mesh-sdk/next with its default store (the sealed cookie), its handlers
// driven with real `Request`s against the real oidc-provider: the login,
// auth(), getAccessToken() and its single-flight refresh, the middleware,
// logout, and the attacks on each rule.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeshAuth, isMeshError } from '../../pkg/next.js';
import { sleep } from '../support/http.mjs';
import { BASE, Jar, appOptions, get, openCookie, post, sealCookie, signIn, startIdp, startLogin } from './support.mjs';

let idp;
let grants;
let mesh;
before(async () => {
  // Access tokens live 4 s: the refresh is due 2 s after each one arrives.
  ({ idp, grants } = await startIdp({ accessTokenTtl: 4 }));
  mesh = createMeshAuth(appOptions(idp, { protect: ['/settings', '/api/keys'] }));
});
after(async () => {
  await mesh?.close();
  await idp?.close();
});

const jwtPayload = (t) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

describe('mesh-sdk/next, cookie store', { timeout: 80_000 }, () => {
  test('sign in, auth() without tokens, the cookies, getAccessToken, logout', async () => {
    const jar = new Jar();
    const before = await mesh.auth(jar.request('/'));
    assert.equal(before, null);
    const login = await mesh.handlers.GET(jar.request('/auth/login?returnTo=%2Fsettings%3Ftab%3Dkeys'));
    const loginCookie = login.headers.getSetCookie().find((c) => c.startsWith('mesh.login='));
    assert.match(loginCookie, /; Path=\/; Max-Age=900; HttpOnly; SameSite=Lax$/, 'localhost: no Secure');
    jar.apply(login.headers);
    const url = new URL(login.headers.get('location'));
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('redirect_uri'), `${BASE}/auth/callback`);
    assert.equal(url.searchParams.get('prompt'), 'consent', "createMeshAuth's prompt");
    const { providerLogin } = await import('./support.mjs');
    const callback = await providerLogin(url.href, idp.users[0]);
    const res = await get(mesh, jar, callback.slice(BASE.length));
    assert.equal(res.status, 302, await res.clone().text());
    assert.equal(res.headers.get('location'), `${BASE}/settings?tab=keys`);
    assert.ok(!jar.cookies.has('mesh.login'), 'the pending login is spent');
    const setSession = res.headers.getSetCookie().filter((c) => c.startsWith('mesh.session'));
    assert.ok(setSession.length >= 1);
    for (const c of setSession) assert.match(c, /; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);

    const session = await mesh.auth(jar.request('/'));
    assert.equal(session.user.name, 'Demo User');
    assert.equal(session.userId, 'user-demo-1');
    assert.ok(session.sessionExpiresAt > Date.now() / 1000 + 29 * 86400);
    for (const key of ['accessToken', 'refreshToken', 'idToken']) assert.ok(!(key in session), key);

    const headers = new Headers();
    const token = await mesh.getAccessToken(jar.request('/api/x'), headers);
    assert.equal(jwtPayload(token).sub, 'user-demo-1');
    assert.ok(!JSON.stringify(session).includes(token), 'auth() never holds the token');

    // The middleware lets the signed-in user through.
    assert.equal(await mesh.middleware(jar.request('/settings')), undefined);

    const out = await post(mesh, jar, '/auth/logout?returnTo=/bye');
    assert.equal(out.status, 302);
    const end = new URL(out.headers.get('location'));
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${BASE}/bye`);
    assert.equal(end.searchParams.get('id_token_hint').split('.').length, 3);
    assert.deepEqual(jar.sessionCookies(), []);
    assert.equal(await mesh.auth(jar.request('/')), null);
  });

  test('a token endpoint that cannot be reached at the callback: 502, not a refusal', async () => {
    const { idp: gone } = await startIdp();
    const m = createMeshAuth(appOptions(gone, { timeoutMs: 2000 }));
    try {
      const jar = new Jar();
      const callback = await startLogin(m, jar, gone);
      await gone.close();
      const res = await get(m, jar, callback.slice(BASE.length));
      assert.equal(res.status, 502);
      assert.equal((await res.json()).error, 'network');
      assert.deepEqual(jar.sessionCookies(), []);
    } finally {
      await m.close();
      await gone.close().catch(() => {});
    }
  });

  test('a provider that cannot be reached: a coded 502 from the login, no cookie, no crash', async () => {
    const down = createMeshAuth(appOptions(idp, { issuer: 'http://127.0.0.1:1', timeoutMs: 2000 }));
    try {
      const res = await down.handlers.GET(new Jar().request('/auth/login?returnTo=/settings'));
      assert.equal(res.status, 502);
      assert.equal((await res.json()).error, 'network');
      assert.deepEqual(res.headers.getSetCookie(), []);
    } finally {
      await down.close();
    }
  });

  test('createMeshAuth names the option it refuses', () => {
    const refused = (more, option) =>
      assert.throws(() => createMeshAuth(appOptions(idp, more)), (e) => e.code === 'invalid_config' && e.message.includes(`\`${option}\``), option);
    refused({ secret: 'short' }, 'secret');
    refused({ secret: ' '.repeat(32) }, 'secret');
    refused({ secret: 'changeme'.repeat(4) }, 'secret');
    refused({ baseUrl: 'app.example.com' }, 'baseUrl');
    refused({ store: 'disk' }, 'store');
    refused({ protect: ['settings'] }, 'protect');
    // Checked when the app starts, not at its first sign-in.
    refused({ prompt: 'always' }, 'prompt');
    refused({ prompt: 42 }, 'prompt');
    // Read through serde-wasm-bindgen: a wrong type still names its option.
    for (const protect of ['/settings', 42, { '/settings': true }, ['/settings', 42]]) refused({ protect }, 'protect');
    refused({ baseUrl: 42 }, 'baseUrl');
    refused({ secret: ['x'.repeat(40)] }, 'secret');
    // A misspelt option is named with the one meant, its own or the client's.
    assert.throws(() => createMeshAuth(appOptions(idp, { baseURL: BASE })), (e) => e.code === 'invalid_config' && /`baseURL`.*did you mean `baseUrl`/.test(e.message));
    assert.throws(() => createMeshAuth(appOptions(idp, { clientID: 'x' })), (e) => e.code === 'invalid_config' && /`clientID`.*did you mean `clientId`/.test(e.message));
    // Once a non-string or empty secret silently made a public client (or
    // sent an empty secret); the message never quotes the secret.
    refused({ clientSecret: 42 }, 'clientSecret');
    refused({ clientSecret: '' }, 'clientSecret');
    assert.throws(() => createMeshAuth(appOptions(idp, { clientSecret: 'a-secret\u0000value' })), (e) => e.code === 'invalid_config' && !e.message.includes('a-secret'));
  });

  test('a wrong method is a 405 method_not_allowed with Allow; a HEAD (a link preview, a monitor) starts no login and spends no callback', async () => {
    const jar = new Jar();
    const head = (path) => mesh.handlers.GET(jar.request(path, { method: 'HEAD' }));
    /** A HEAD's refusal: the Allow header, no cookie, no body. */
    const refusedHead = async (res, allow) => {
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), allow);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(res.headers.getSetCookie(), []);
      assert.equal(await res.text(), '', 'a HEAD answer has no body');
    };
    // A GET of the login starts one (its pending cookie): a HEAD must not.
    await refusedHead(await head('/auth/login?returnTo=/settings'), 'GET');
    // The request is wrong, not the app's configuration.
    const viaPost = await post(mesh, jar, '/auth/login');
    assert.equal(viaPost.status, 405);
    assert.equal(viaPost.headers.get('allow'), 'GET');
    const body = await viaPost.json();
    assert.equal(body.error, 'method_not_allowed');
    assert.match(body.message, /answers GET only/);
    // A HEAD of a callback URL leaves its state and code to the GET that follows.
    const callback = (await startLogin(mesh, jar, idp)).slice(BASE.length);
    const pending = jar.cookies.get('mesh.login');
    const exchanged = grants.authorization_code;
    await refusedHead(await head(callback), 'GET');
    assert.equal(jar.cookies.get('mesh.login'), pending);
    assert.equal(grants.authorization_code, exchanged, 'no code exchange');
    const done = await get(mesh, jar, callback);
    assert.equal(done.status, 302, await done.clone().text());
    assert.ok(await mesh.auth(jar.request('/')), 'signed in by the GET after the HEAD');
    // Sign-out is POST only, a HEAD as much as a GET.
    await refusedHead(await head('/auth/logout'), 'POST');
    assert.ok(await mesh.auth(jar.request('/')), 'still signed in');
  });

  test('outside Next.js, auth() and getAccessToken() without a request say to pass one', async () => {
    // This process has no Next.js: next/headers cannot load here.
    await assert.rejects(import('next/headers'), (e) => e.code === 'ERR_MODULE_NOT_FOUND');
    const cases = [
      [() => mesh.auth(), 'auth(request)'],
      [() => mesh.getAccessToken(), 'getAccessToken(request, headers)'],
    ];
    for (const [call, usage] of cases) {
      await assert.rejects(call(), (e) => {
        assert.ok(isMeshError(e), String(e));
        assert.equal(e.code, 'invalid_config');
        assert.match(e.message, /Next\.js/);
        assert.ok(e.message.includes(`pass the request: ${usage}`), e.message);
        assert.equal(e.cause?.code, 'ERR_MODULE_NOT_FOUND', 'the import failure is the cause');
        return true;
      });
    }
  });

  test('the middleware: to the login for pages, 401 under /api, through elsewhere', async () => {
    const jar = new Jar();
    const page = await mesh.middleware(jar.request('/settings/keys?x=1'));
    assert.equal(page.status, 307);
    assert.equal(page.headers.get('location'), `${BASE}/auth/login?returnTo=%2Fsettings%2Fkeys%3Fx%3D1`);
    const api = await mesh.middleware(jar.request('/api/keys'));
    assert.equal(api.status, 401);
    assert.equal((await api.json()).error, 'login_required');
    // Neither may be kept by a cache: each answers for one browser's session.
    for (const answer of [page, api]) assert.equal(answer.headers.get('cache-control'), 'no-store', String(answer.status));
    assert.equal(await mesh.middleware(jar.request('/')), undefined);
    assert.equal(await mesh.middleware(jar.request('/settingsx')), undefined);
  });

  test('N=50 concurrent getAccessToken on one nearly expired session: one token request, each response carries the new cookie', async () => {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    const first = await mesh.getAccessToken(jar.request('/'));
    await sleep(2600);
    const before = grants.refresh_token;
    const runs = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const headers = new Headers();
        return { token: await mesh.getAccessToken(jar.request('/'), headers), headers };
      }),
    );
    assert.equal(grants.refresh_token - before, 1, 'exactly one refresh');
    const tokens = new Set(runs.map((r) => r.token));
    assert.equal(tokens.size, 1);
    assert.notEqual([...tokens][0], first);
    for (const r of runs) assert.ok(r.headers.getSetCookie().some((c) => c.startsWith('mesh.session')), 'the new cookie on every response');
    // A request still carrying the old cookie gets the new token, no second refresh.
    assert.equal(await mesh.getAccessToken(jar.request('/')), [...tokens][0]);
    jar.apply(runs[0].headers);
    assert.equal(await mesh.getAccessToken(jar.request('/')), [...tokens][0]);
    assert.equal(grants.refresh_token - before, 1);
    assert.deepEqual(grants.errors, []);
  });

  test('a new process (no cache) refreshes from the cookie, and the refreshed cookie is what the next one reads', async () => {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    await sleep(2600);
    const other = createMeshAuth(appOptions(idp));
    try {
      const headers = new Headers();
      const before = grants.refresh_token;
      const token = await other.getAccessToken(jar.request('/'), headers);
      assert.equal(grants.refresh_token - before, 1);
      jar.apply(headers);
      const third = createMeshAuth(appOptions(idp));
      assert.equal(await third.getAccessToken(jar.request('/')), token, 'the new cookie holds the new tokens');
      await third.close();
    } finally {
      await other.close();
    }
  });

  test('a session over 4 KB travels in chunks; when it shrinks, the extra chunks are deleted', async () => {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    const [version, sid, created, record] = (await openCookie('mesh.session', jar.cookies.get('mesh.session'))).split('|');
    const stored = JSON.parse(record);
    // An opaque access token of 6,000 characters, already expired: the next use refreshes.
    const big = { ...stored, accessToken: 'x'.repeat(6000), expiresAt: Date.now() - 1000 };
    const sealed = await sealCookie('mesh.session', [version, sid, created, JSON.stringify(big)].join('|'));
    assert.ok(sealed.length > 3800 * 2);
    const chunked = new Jar([['mesh.session.0', sealed.slice(0, 3800)], ['mesh.session.1', sealed.slice(3800, 7600)], ['mesh.session.2', sealed.slice(7600)]]);
    assert.equal((await mesh.auth(chunked.request('/'))).user.name, 'Demo User', 'read from its chunks');
    const missing = new Jar([...chunked.cookies].filter(([k]) => k !== 'mesh.session.1'));
    assert.equal(await mesh.auth(missing.request('/')), null, 'a missing chunk is no session');
    const headers = new Headers();
    const token = await mesh.getAccessToken(chunked.request('/'), headers);
    assert.notEqual(token, big.accessToken);
    chunked.apply(headers);
    assert.deepEqual(chunked.sessionCookies(), ['mesh.session'], 'one cookie again, the chunks deleted');
    assert.equal(await mesh.getAccessToken(chunked.request('/')), token);
  });

  test('a session too large for cookies under 16 KB of request headers is refused at the login with storage; a server store takes it', async (t) => {
    // An opaque access token of 14,000 characters (a token with many group claims): about 20 KB
    // sealed, which the cookie store once wrote in 6 chunks, past Node's 16 KB of request headers.
    const big = 'x'.repeat(14_000);
    const [provider] = idp.server.listeners('request');
    idp.server.removeAllListeners('request');
    idp.server.on('request', (req, res) => {
      if (req.url.startsWith('/token')) {
        const end = res.end.bind(res);
        res.end = (body, ...rest) => {
          const answer = JSON.parse(String(body));
          const text = JSON.stringify({ ...answer, access_token: big });
          res.setHeader('content-length', Buffer.byteLength(text));
          return end(text, ...rest);
        };
      }
      provider(req, res);
    });
    t.after(() => {
      idp.server.removeAllListeners('request');
      idp.server.on('request', provider);
    });
    const jar = new Jar();
    const callback = await startLogin(mesh, jar, idp);
    const res = await get(mesh, jar, callback.slice(BASE.length));
    const body = await res.json();
    assert.equal(body.error, 'storage', JSON.stringify(body));
    assert.match(body.message, /too large for its cookie .*use a server store, such as store: \{ redis:/);
    assert.deepEqual(jar.sessionCookies(), [], 'nothing the browser would be locked out by');
    const memory = createMeshAuth(appOptions(idp, { store: 'memory' }));
    t.after(() => memory.close());
    const kept = new Jar();
    await signIn(memory, kept, idp);
    assert.equal((await memory.auth(kept.request('/'))).user.name, 'Demo User');
    assert.equal(await memory.getAccessToken(kept.request('/')), big);
    assert.ok(kept.header().length < 200);
  });

  test('tampered, truncated and foreign session cookies are a signed-out user, never an exception', async () => {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    const [name] = jar.sessionCookies();
    const value = jar.cookies.get(name);
    const variants = {
      tampered: value.slice(0, 40) + (value[40] === 'A' ? 'B' : 'A') + value.slice(41),
      truncated: value.slice(0, value.length - 5),
      garbage: 'not-a-cookie!!',
      empty: '',
    };
    const foreignApp = createMeshAuth(appOptions(idp, { secret: 'another-secret-of-enough-length-9876543210' }));
    try {
      const theirs = new Jar();
      await signIn(foreignApp, theirs, idp);
      variants.foreign = theirs.cookies.get(theirs.sessionCookies()[0]);
      assert.ok(await foreignApp.auth(theirs.request('/')), 'valid where it was made');
    } finally {
      await foreignApp.close();
    }
    // The login cookie sealed under the session cookie's name (its name is the AAD).
    variants.swapped = await sealCookie('mesh.login', await openCookie(name, value));
    for (const [what, v] of Object.entries(variants)) {
      const forged = new Jar([[name, v]]);
      assert.equal(await mesh.auth(forged.request('/')), null, what);
      await assert.rejects(mesh.getAccessToken(forged.request('/')), (e) => e.code === 'login_required', what);
      assert.equal((await mesh.middleware(forged.request('/settings'))).status, 307, what);
    }
  });

  test('attacks on the callback: tampered state, mix-up iss, replay, wrong nonce, open returnTo', async () => {
    const refused = async (jar, path, code) => {
      const res = await get(mesh, jar, path);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, code);
      assert.deepEqual(jar.sessionCookies(), [], 'nothing stored');
    };
    // Tampered state.
    let jar = new Jar();
    let callback = new URL(await startLogin(mesh, jar, idp));
    callback.searchParams.set('state', 'x'.repeat(43));
    await refused(jar, callback.pathname + callback.search, 'state_mismatch');
    // Mix-up: another issuer's iss.
    jar = new Jar();
    callback = new URL(await startLogin(mesh, jar, idp));
    callback.searchParams.set('iss', 'http://127.0.0.1:1');
    await refused(jar, callback.pathname + callback.search, 'issuer_mismatch');
    // Replay: the same callback again in the same browser, and with the cookies it had before.
    jar = new Jar();
    const path = (await startLogin(mesh, jar, idp)).slice(BASE.length);
    const before = jar.clone();
    assert.equal((await get(mesh, jar, path)).status, 302);
    await refused(new Jar([...jar.cookies].filter(([k]) => !k.startsWith('mesh.session'))), path, 'state_mismatch');
    const replay = await get(mesh, before, path);
    assert.equal(replay.status, 400, 'the code is spent at the provider');
    assert.deepEqual(before.sessionCookies(), []);
    // Wrong nonce: a pending login forged with the secret, its nonce changed.
    jar = new Jar();
    callback = new URL(await startLogin(mesh, jar, idp));
    const list = JSON.parse(await openCookie('mesh.login', jar.cookies.get('mesh.login')));
    list[0].nonce = 'n'.repeat(43);
    jar.cookies.set('mesh.login', await sealCookie('mesh.login', JSON.stringify(list)));
    await refused(jar, callback.pathname + callback.search, 'invalid_id_token');
    // An open returnTo lands on the app's root.
    for (const open of ['//evil.example/x', 'https://evil.example', '/\\evil.example']) {
      jar = new Jar();
      const res = await signIn(mesh, jar, idp, open);
      assert.equal(res.headers.get('location'), `${BASE}/`, open);
    }
    // An unknown handler path.
    assert.equal((await get(mesh, new Jar(), '/auth/nothing')).status, 404);
  });
});
