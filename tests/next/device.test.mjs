// mesh-sdk/next's device login run by the server, against the real
// oidc-provider: the device code stays in a sealed cookie, each poll request
// sends at most one token request (when the core's poller allows it), and
// completion sets the session cookie as /auth/callback does. Attacks: a
// foreign Origin, a tampered or swapped pending cookie, a GET sign-out.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeshAuth } from '../../pkg/next.js';
import { approveDevice } from '../support/approve.mjs';
import { sleep } from '../support/http.mjs';
import { BASE, Jar, appOptions, get, openCookie, post, sealCookie, signIn, startIdp, startRedis } from './support.mjs';

let idp;
let grants;
let mesh;
// Each token request of the device grant, approved or not.
let devicePolls = 0;
before(async () => {
  ({ idp, grants } = await startIdp());
  idp.provider.on('grant.error', (ctx) => {
    if (ctx.oidc.params?.grant_type?.endsWith('device_code')) devicePolls++;
  });
  idp.provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type?.endsWith('device_code')) devicePolls++;
  });
  mesh = createMeshAuth(appOptions(idp));
});
after(async () => {
  await mesh?.close();
  await idp?.close();
});

/** POST /auth/device: the login, its cookie in the jar. */
async function start(jar, m = mesh) {
  const res = await post(m, jar, '/auth/device');
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.doesNotMatch(text, /device_code/, 'the device code never reaches the browser');
  return JSON.parse(text).login;
}

/** Polls as the page does (waiting what each answer says) until the state is not pending; bounded. */
async function pollUntilDone(jar, m = mesh, limit = 20) {
  for (let i = 0; i < limit; i++) {
    const res = await post(m, jar, '/auth/device/poll');
    const body = await res.json();
    if (body.state !== 'pending') return { status: res.status, body };
    await sleep(body.retryAfterMs);
  }
  throw new Error('still pending');
}

describe('mesh-sdk/next, device login on the server', { timeout: 120_000 }, () => {
  test('start, a reload finds it, an early poll sends nothing, approve, complete: auth() sees the user', async () => {
    const jar = new Jar();
    const login = await start(jar);
    assert.match(login.userCode, /\S/);
    assert.ok(login.verificationUriComplete.startsWith(idp.issuer));
    assert.ok(login.expiresAt > Date.now() / 1000 && login.interval >= 1);
    assert.ok(jar.cookies.has('mesh.device'));
    const record = JSON.parse(await openCookie('mesh.device', jar.cookies.get('mesh.device')));
    assert.equal(record.user_code, login.userCode, 'the sealed cookie holds the pending login');

    // A reloaded page asks for it again.
    const again = await (await get(mesh, jar, '/auth/device')).json();
    assert.deepEqual(again.login, login);

    // Before the interval: pending, and the provider is not asked.
    const before = devicePolls;
    const early = await post(mesh, jar, '/auth/device/poll');
    const earlyBody = await early.json();
    assert.equal(earlyBody.state, 'pending');
    assert.ok(earlyBody.retryAfterMs > 0 && earlyBody.retryAfterMs <= login.interval * 1000);
    assert.equal(devicePolls, before, 'no token request before the interval');
    assert.equal(await mesh.auth(jar.request('/')), null);

    await approveDevice({ verificationUriComplete: login.verificationUriComplete });
    const done = await pollUntilDone(jar);
    assert.equal(done.status, 200);
    assert.deepEqual(done.body, { state: 'complete' });
    assert.ok(!jar.cookies.has('mesh.device'), 'the pending login is spent');
    assert.ok(devicePolls > before && devicePolls - before <= 3, `polls at the interval only (${devicePolls - before})`);
    const session = await mesh.auth(jar.request('/'));
    assert.equal(session.userId, 'user-demo-1');
    assert.equal(session.user.name, 'Demo User', 'the device grant\'s ID token, checked, names the user');
    for (const key of ['accessToken', 'refreshToken', 'idToken']) assert.ok(!(key in session), key);
    assert.equal(JSON.parse(Buffer.from((await mesh.getAccessToken(jar.request('/'))).split('.')[1], 'base64url')).sub, 'user-demo-1');

    // Spent: polling again finds nothing.
    const spent = await post(mesh, jar, '/auth/device/poll');
    assert.equal(spent.status, 400);
    assert.equal((await spent.json()).error, 'state_mismatch');

    // The ID token was kept: the logout names the session at the provider.
    const out = await post(mesh, jar, '/auth/logout');
    assert.equal(out.status, 302);
    assert.equal(new URL(out.headers.get('location')).searchParams.get('id_token_hint')?.split('.').length, 3);
  });

  test('polls of one login at once (two tabs, StrictMode): one token request, and after approval every tab is told complete with the session cookie', async () => {
    const jar = new Jar();
    const login = await start(jar);
    const together = async () => {
      const jars = [0, 1, 2].map(() => new Jar([...jar.cookies]));
      const answers = await Promise.all(jars.map((j) => mesh.handlers.POST(j.request('/auth/device/poll', { method: 'POST', headers: { origin: BASE } }))));
      answers.forEach((a, i) => jars[i].apply(a.headers));
      return { bodies: await Promise.all(answers.map((a) => a.json())), jars };
    };
    await sleep(login.interval * 1000 + 200);
    let before = devicePolls;
    const pending = await together();
    assert.deepEqual(pending.bodies.map((b) => b.state), ['pending', 'pending', 'pending']);
    assert.equal(devicePolls - before, 1, 'one token request for three polls');
    jar.cookies = pending.jars[0].cookies;

    await approveDevice({ verificationUriComplete: login.verificationUriComplete });
    await sleep(login.interval * 1000 + 200);
    before = devicePolls;
    const done = await together();
    assert.deepEqual(done.bodies, [{ state: 'complete' }, { state: 'complete' }, { state: 'complete' }], 'none says failed');
    assert.equal(devicePolls - before, 1);
    for (const j of done.jars) assert.equal((await mesh.auth(j.request('/')))?.userId, 'user-demo-1', 'each tab got the session cookie');
  });

  test("an ID token that does not verify with the provider's key ends the login; nothing is stored", async () => {
    // A fresh instance (its own JWKS fetch), and the JWKS it reads tampered with: the modulus changed.
    const m = createMeshAuth(appOptions(idp));
    const jwksUri = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()).jwks_uri;
    const realFetch = globalThis.fetch;
    let served = 0;
    globalThis.fetch = async (input, init) => {
      const url = typeof input === 'string' ? input : input.url;
      if (url !== jwksUri) return realFetch(input, init);
      const jwks = await (await realFetch(input, init)).json();
      for (const key of jwks.keys) key.n = key.n.slice(0, 40) + (key.n[40] === 'A' ? 'B' : 'A') + key.n.slice(41);
      served++;
      return Response.json(jwks);
    };
    try {
      const jar = new Jar();
      const login = await start(jar, m);
      await approveDevice({ verificationUriComplete: login.verificationUriComplete });
      const end = await pollUntilDone(jar, m);
      assert.ok(served >= 1, 'the tampered JWKS was read');
      assert.equal(end.status, 400);
      assert.equal(end.body.state, 'failed');
      assert.equal(end.body.error, 'invalid_id_token');
      assert.deepEqual(jar.sessionCookies(), [], 'no session');
      assert.ok(!jar.cookies.has('mesh.device'));
      assert.equal(await m.auth(jar.request('/')), null);
    } finally {
      globalThis.fetch = realFetch;
      await m.close();
    }
  });

  test('cancel forgets it; a denied login says so', async () => {
    const jar = new Jar();
    await start(jar);
    const cancelled = await post(mesh, jar, '/auth/device/cancel');
    assert.deepEqual(await cancelled.json(), { state: 'cancelled' });
    assert.ok(!jar.cookies.has('mesh.device'));
    assert.deepEqual(await (await get(mesh, jar, '/auth/device')).json(), { login: null });
    const after = await post(mesh, jar, '/auth/device/poll');
    assert.equal(after.status, 400);

    const denied = new Jar();
    const login = await start(denied);
    await approveDevice({ verificationUriComplete: login.verificationUriComplete, deny: true });
    const end = await pollUntilDone(denied);
    assert.equal(end.status, 200);
    assert.equal(end.body.state, 'denied');
    assert.equal(end.body.error, 'access_denied');
    assert.ok(!denied.cookies.has('mesh.device'));
    assert.equal(await mesh.auth(denied.request('/')), null);
  });

  test('an expired code: the core says expired, no poll is sent', async () => {
    const { idp: short } = await startIdp({ deviceCodeTtl: 3 });
    const m = createMeshAuth(appOptions(short));
    try {
      const jar = new Jar();
      await start(jar, m);
      // The first poll would come after the 5 s interval, past the expiry.
      const res = await post(m, jar, '/auth/device/poll');
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.state, 'expired');
      assert.equal(body.error, 'device_code_expired');
      assert.ok(!jar.cookies.has('mesh.device'));
    } finally {
      await m.close();
      await short.close();
    }
  });

  test('with a server store (memory, Redis): completion stores the session there, the cookie holds its id', async () => {
    const redis = await startRedis();
    try {
      for (const store of ['memory', { redis: redis.url }]) {
        const m = createMeshAuth(appOptions(idp, { store }));
        try {
          const jar = new Jar();
          const login = await start(jar, m);
          await approveDevice({ verificationUriComplete: login.verificationUriComplete });
          const done = await pollUntilDone(jar, m);
          assert.deepEqual(done.body, { state: 'complete' }, JSON.stringify(store));
          const payload = await openCookie('mesh.session', jar.cookies.get('mesh.session'));
          assert.match(payload, /^1\|[\w-]{43}\|\d+\|$/, 'only the session id in the cookie');
          assert.equal((await m.auth(jar.request('/'))).userId, 'user-demo-1');
          // Another instance on the same Redis reads the same session.
          if (typeof store === 'object') {
            const other = createMeshAuth(appOptions(idp, { store }));
            assert.equal((await other.auth(jar.request('/'))).userId, 'user-demo-1');
            await other.close();
          }
        } finally {
          await m.close();
        }
      }
    } finally {
      await redis.stop();
    }
  });

  test('a foreign or missing Origin, a wrong method: refused, nothing set', async () => {
    for (const origin of ['http://evil.example', 'http://localhost:3001', 'null', null]) {
      const jar = new Jar();
      const res = await post(mesh, jar, '/auth/device', origin);
      assert.equal(res.status, 403, String(origin));
      assert.equal((await res.json()).error, 'forbidden');
      assert.deepEqual(res.headers.getSetCookie(), []);
    }
    const jar = new Jar();
    await start(jar);
    const sealed = jar.cookies.get('mesh.device');
    for (const path of ['/auth/device/poll', '/auth/device/cancel']) {
      const res = await post(mesh, jar, path, 'http://evil.example');
      assert.equal(res.status, 403);
      assert.equal(jar.cookies.get('mesh.device'), sealed, 'the pending login is untouched');
    }
    const viaGet = await get(mesh, jar, '/auth/device/poll');
    assert.equal(viaGet.status, 405);
    assert.equal(viaGet.headers.get('allow'), 'POST');
    assert.equal((await viaGet.json()).error, 'method_not_allowed');
    const viaPut = await mesh.handlers.POST(jar.request('/auth/device', { method: 'PUT', headers: { origin: BASE } }));
    assert.equal(viaPut.status, 405);
    assert.equal(viaPut.headers.get('allow'), 'GET, HEAD, POST');
    assert.equal((await viaPut.json()).error, 'method_not_allowed');
  });

  test('HEAD /auth/device is answered as its GET, without the body and without setting a cookie', async () => {
    const head = (jar) => mesh.handlers.GET(jar.request('/auth/device', { method: 'HEAD' }));
    const jar = new Jar();
    await start(jar);
    const res = await head(jar);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(await res.text(), '');
    assert.deepEqual(res.headers.getSetCookie(), []);
    // A pending cookie that no longer opens: the GET deletes it, a HEAD leaves it.
    const stale = new Jar([['mesh.device', 'garbage']]);
    const probe = await head(stale);
    assert.equal(probe.status, 200);
    assert.deepEqual(probe.headers.getSetCookie(), []);
    const read = await get(mesh, stale, '/auth/device');
    assert.deepEqual(await read.json(), { login: null });
    assert.ok(!stale.cookies.has('mesh.device'), 'the GET cleared it');
  });

  test("checkOrigin: the app's own route handlers refuse a cross-site state change", async () => {
    const request = (method, origin) => new Request(`${BASE}/api/keys`, { method, headers: origin ? { origin } : {} });
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      assert.equal(mesh.checkOrigin(request(method, 'http://evil.example')), null, `${method} changes nothing`);
    }
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      assert.equal(mesh.checkOrigin(request(method, new URL(BASE).origin)), null, `${method} from the app`);
      for (const origin of ['http://evil.example', 'null', null]) {
        const refused = mesh.checkOrigin(request(method, origin));
        assert.ok(refused, `${method} from ${origin}`);
        assert.equal(refused.status, 403);
        assert.equal((await refused.json()).error, 'forbidden');
      }
    }
  });

  test('a tampered, swapped or forged pending cookie is refused', async () => {
    const jar = new Jar();
    await start(jar);
    const sealed = jar.cookies.get('mesh.device');
    const flip = sealed.slice(0, 20) + (sealed[20] === 'A' ? 'B' : 'A') + sealed.slice(21);
    const record = await openCookie('mesh.device', sealed);
    const forged = await sealCookie('mesh.device', record, 'another-secret-of-enough-length-0123456789');
    // The pending redirect login's cookie sealed under its own name.
    const loginJar = new Jar();
    await get(mesh, loginJar, '/auth/login');
    const swapped = loginJar.cookies.get('mesh.login');
    for (const value of [flip, forged, swapped, 'garbage']) {
      const bad = new Jar([['mesh.device', value]]);
      const res = await post(mesh, bad, '/auth/device/poll');
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'state_mismatch');
      assert.ok(!bad.cookies.has('mesh.device'), 'cleared');
    }
  });

  test('sign-out is POST only: a GET (an <img>, a link) leaves the session alone', async () => {
    const jar = new Jar();
    await signIn(mesh, jar, idp);
    const viaGet = await get(mesh, jar, '/auth/logout');
    assert.equal(viaGet.status, 405);
    assert.ok(await mesh.auth(jar.request('/')), 'still signed in');
    const cross = await post(mesh, jar, '/auth/logout', 'http://evil.example');
    assert.equal(cross.status, 403);
    assert.ok(await mesh.auth(jar.request('/')), 'still signed in');
    const out = await post(mesh, jar, '/auth/logout');
    assert.equal(out.status, 302);
    assert.equal(await mesh.auth(jar.request('/')), null);
    assert.ok(grants.authorization_code >= 1);
  });
});
