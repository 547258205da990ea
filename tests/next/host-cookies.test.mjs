// mesh-sdk/next on https: its cookies are named with the `__Host-` prefix,
// which a browser keeps only when Secure, host-only and Path=/, so no other
// host can set one. The attack: a sibling subdomain (evil.example.test for
// app.example.test) sets `mesh.session` with Domain=example.test, holding a
// sealed session of the attacker's own (login CSRF, session fixation). The
// bare names are never read, and the responses that write a cookie delete
// the bare ones an older version left. The handlers read the Cookie header
// only, so the app's https needs no TLS here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMeshAuth } from '../../pkg/next.js';
import { approveDevice } from '../support/approve.mjs';
import { sleep } from '../support/http.mjs';
import { HTTPS_BASE, Jar, appOptions, get, openCookie, post, providerLogin, sealCookie, signIn, startIdp } from './support.mjs';

let idp;
let mesh;
before(async () => {
  ({ idp } = await startIdp());
  mesh = createMeshAuth(appOptions(idp, { baseUrl: HTTPS_BASE, protect: ['/settings'] }));
});
after(async () => {
  await mesh?.close();
  await idp?.close();
});

const httpsJar = (entries = []) => new Jar(entries, HTTPS_BASE);
const bare = (jar) => [...jar.cookies.keys()].filter((k) => !k.startsWith('__Host-'));
/** The session cookie an older version (bare name, its own additional data) sealed for what `jar` holds. */
const asOlderVersion = async (jar) => sealCookie('mesh.session', await openCookie('__Host-mesh.session', jar.cookies.get('__Host-mesh.session')));

describe('mesh-sdk/next on https: __Host- cookies', { timeout: 120_000 }, () => {
  test('a sign-in sets __Host-mesh.login and __Host-mesh.session: Secure, Path=/, no Domain; sign-out deletes them', async () => {
    const jar = httpsJar();
    const login = await get(mesh, jar, '/auth/login?returnTo=/settings');
    assert.equal(login.status, 302);
    assert.deepEqual(login.headers.getSetCookie().map((c) => c.replace(/=[^;]*;/, '=…;')), ['__Host-mesh.login=…; Path=/; Max-Age=900; HttpOnly; SameSite=Lax; Secure']);
    const callback = await providerLogin(login.headers.get('location'), idp.users[0], HTTPS_BASE);
    const res = await get(mesh, jar, callback.slice(HTTPS_BASE.length));
    assert.equal(res.status, 302, await res.clone().text());
    const set = res.headers.getSetCookie();
    const session = set.filter((c) => c.startsWith('__Host-mesh.session'));
    assert.ok(session.length >= 1, set.join('\n'));
    for (const c of session) assert.match(c, /^__Host-mesh\.session(\.\d)?=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax; Secure$/);
    assert.ok(!set.some((c) => /domain=/i.test(c)), 'host-only');
    assert.deepEqual(bare(jar), [], 'no bare name is written');
    assert.equal((await mesh.auth(jar.request('/'))).userId, 'user-demo-1');
    assert.equal(await mesh.middleware(jar.request('/settings')), undefined);

    // A sibling subdomain is another origin: it cannot sign the user out either.
    const foreign = await post(mesh, jar, '/auth/logout', 'https://evil.example.test');
    assert.equal(foreign.status, 403);
    assert.equal(mesh.checkOrigin(jar.request('/api/x', { method: 'POST', headers: { origin: 'https://evil.example.test' } })).status, 403);
    assert.equal(mesh.checkOrigin(jar.request('/api/x', { method: 'POST', headers: { origin: HTTPS_BASE } })), null);

    const out = await post(mesh, jar, '/auth/logout');
    assert.equal(out.status, 302);
    assert.ok(out.headers.getSetCookie().every((c) => /^__Host-mesh\.session(\.\d)?=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Secure$/.test(c)), out.headers.getSetCookie().join('\n'));
    assert.deepEqual([...jar.cookies.keys()], []);
    assert.equal(await mesh.auth(jar.request('/')), null);
  });

  test('a sealed mesh.session planted by a sibling subdomain signs no one in, and does not displace the user', async () => {
    // The attacker signs in at the app themselves, and plants their session under the bare name.
    const attacker = httpsJar();
    await signIn(mesh, attacker, idp, '/', idp.users[1]);
    assert.equal((await mesh.auth(attacker.request('/'))).userId, 'user-demo-2');
    const theirs = attacker.cookies.get('__Host-mesh.session');
    const older = await asOlderVersion(attacker);
    // Where the bare name is read (plain-HTTP loopback), the older version's cookie is a live session:
    // the planted value below is real, not garbage that would be refused anyway.
    const plain = createMeshAuth(appOptions(idp));
    try {
      assert.equal((await plain.auth(new Jar([['mesh.session', older]]).request('/'))).userId, 'user-demo-2');
    } finally {
      await plain.close();
    }

    const plants = {
      'their current cookie under the bare name': [['mesh.session', theirs]],
      'an older version\'s cookie': [['mesh.session', older]],
      'an older version\'s cookie, chunked': [['mesh.session.0', older.slice(0, 40)], ['mesh.session.1', older.slice(40)]],
    };
    for (const [what, planted] of Object.entries(plants)) {
      const victim = httpsJar(planted);
      assert.equal(await mesh.auth(victim.request('/')), null, what);
      const guard = await mesh.middleware(victim.request('/settings'));
      assert.equal(guard?.status, 307, what);
      assert.ok(guard.headers.get('location').startsWith(`${HTTPS_BASE}/auth/login`), what);
      await assert.rejects(mesh.getAccessToken(victim.request('/api/x'), new Headers()), { code: 'login_required' }, what);
    }

    // A signed-in user keeps their own session beside a planted one.
    const victim = httpsJar();
    await signIn(mesh, victim, idp, '/');
    victim.cookies.set('mesh.session', theirs);
    assert.equal((await mesh.auth(victim.request('/'))).userId, 'user-demo-1');
    assert.equal(await mesh.middleware(victim.request('/settings')), undefined);
  });

  test('upgrading from bare names: the old session is signed out once; sign-in and sign-out delete the old cookies', async () => {
    const donor = httpsJar();
    await signIn(mesh, donor, idp, '/');
    const older = await asOlderVersion(donor);
    // What a browser kept from before the upgrade: a chunked session and a pending login.
    const jar = httpsJar([['mesh.session.0', older.slice(0, 40)], ['mesh.session.1', older.slice(40)], ['mesh.login', 'stale']]);
    assert.equal(await mesh.auth(jar.request('/')), null, 'the old name is not read');
    const login = await get(mesh, jar, '/auth/login?returnTo=/');
    assert.ok(login.headers.getSetCookie().includes('mesh.login=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure'), 'the login deletes the old pending login');
    assert.deepEqual(bare(jar).sort(), ['mesh.session.0', 'mesh.session.1']);
    const callback = await providerLogin(login.headers.get('location'), idp.users[0], HTTPS_BASE);
    assert.equal((await get(mesh, jar, callback.slice(HTTPS_BASE.length))).status, 302);
    assert.deepEqual(bare(jar), [], 'the sign-in deleted the old session');
    assert.equal((await mesh.auth(jar.request('/'))).userId, 'user-demo-1');

    // Sign-out deletes an old one too (set before the upgrade, still in the browser).
    jar.cookies.set('mesh.session', older);
    const out = await post(mesh, jar, '/auth/logout');
    assert.ok(out.headers.getSetCookie().includes('mesh.session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure'));
    assert.deepEqual([...jar.cookies.keys()], []);
    // A request without old cookies gets no deletion of them.
    const fresh = httpsJar();
    const again = await get(mesh, fresh, '/auth/login?returnTo=/');
    assert.deepEqual(again.headers.getSetCookie().map((c) => c.split('=')[0]), ['__Host-mesh.login']);
  });

  test('the device login keeps its code in __Host-mesh.device and completes with __Host-mesh.session', async () => {
    const jar = httpsJar([['mesh.device', 'left by an older version']]);
    const start = await post(mesh, jar, '/auth/device');
    assert.equal(start.status, 200);
    const set = start.headers.getSetCookie();
    assert.match(set.find((c) => c.startsWith('__Host-mesh.device=')), /; Path=\/; Max-Age=900; HttpOnly; SameSite=Lax; Secure$/);
    assert.ok(set.includes('mesh.device=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure'), 'the old pending login deleted');
    const { login } = await start.json();
    const pending = await (await get(mesh, jar, '/auth/device')).json();
    assert.deepEqual(pending.login, login, 'read back from __Host-mesh.device');

    await approveDevice({ verificationUriComplete: login.verificationUriComplete });
    let body;
    for (let i = 0; i < 20; i++) {
      body = await (await post(mesh, jar, '/auth/device/poll')).json();
      if (body.state !== 'pending') break;
      await sleep(body.retryAfterMs);
    }
    assert.deepEqual(body, { state: 'complete' });
    assert.deepEqual([...jar.cookies.keys()].filter((k) => !k.startsWith('__Host-mesh.session')), [], 'the pending login spent');
    assert.equal((await mesh.auth(jar.request('/'))).userId, 'user-demo-1');
  });
});
