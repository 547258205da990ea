// mesh-sdk/next under `next dev` (Turbopack), as an app team works day to
// day: www/ (which imports the packed mesh-sdk) runs in development mode
// against the real oidc-provider, and both logins give its server a session:
// the device login run by the server (approved at the provider's pages) and
// the redirect login. `next build && next start` is tests/browser/e2e.test.mjs
// and tests/packaging/nextjs.test.mjs; the wasm is loaded by Turbopack here.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startProvider } from '../../scripts/servers/provider.mjs';
import { buildWww, startWww } from '../browser/support/next-app.mjs';
import { approveDevice } from '../support/approve.mjs';
import { freePort, sleep } from '../support/http.mjs';
import { providerLogin } from '../support/provider-login.mjs';

let op, app;

before(async () => {
  await buildWww();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  op = await startProvider({ idTokenClaims: true, redirectUris: [`${url}/auth/callback`], postLogoutRedirectUris: [`${url}/login?signedOut=1`] });
  app = await startWww({
    port,
    dev: true,
    readyTimeoutMs: 180_000,
    env: { NEXT_PUBLIC_MESH_ISSUER: op.issuer, NEXT_PUBLIC_MESH_CLIENT_ID: op.clientId, MESH_APP_URL: url },
  });
});

after(async () => {
  await app?.stop();
  await op?.close();
});

/** A browser's cookie jar over fetch; POSTs carry the app's Origin, as a page's do. */
function visitor() {
  const cookies = new Map();
  return async (path, method = 'GET') => {
    const headers = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(method === 'POST' ? { origin: app.url } : {}) };
    const res = await fetch(new URL(path, app.url), { method, headers, redirect: 'manual', signal: AbortSignal.timeout(120_000) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      if (/Max-Age=0(;|$)/i.test(c)) cookies.delete(pair.slice(0, i));
      else cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
}

const demo = () => op.users.find((u) => u.login === 'demo');

test('next dev: the device login run by the server, auth() on /login and /settings, sign-out', { timeout: 300_000 }, async () => {
  const go = visitor();
  assert.equal((await go('/settings')).status, 307, `signed out: to the login\n${app.logs().slice(-2000)}`);
  const started = await go('/auth/device', 'POST');
  assert.equal(started.status, 200, app.logs().slice(-2000));
  const { login } = await started.json();
  assert.ok(!('deviceCode' in login) && !('device_code' in login), 'the device code stays on the server');
  assert.equal((await approveDevice({ verificationUriComplete: login.verificationUriComplete })).outcome, 'approved');
  let state = 'pending';
  for (let i = 0; i < 30 && state === 'pending'; i++) {
    const polled = await (await go('/auth/device/poll', 'POST')).json();
    state = polled.state;
    if (state === 'pending') await sleep(Math.min(polled.retryAfterMs ?? 1000, 5000));
  }
  assert.equal(state, 'complete');
  const page = await (await go('/login')).text();
  assert.ok(page.includes(demo().name), 'the server names the user from the checked ID token');
  assert.equal((await go('/settings')).status, 200);
  assert.equal((await go('/auth/logout', 'POST')).status, 302);
  assert.equal((await go('/settings')).status, 307, 'signed out again');
});

test('next dev: the redirect login back to /settings', { timeout: 300_000 }, async () => {
  const go = visitor();
  const start = await go('/auth/login?returnTo=/settings');
  assert.equal(start.status, 302, app.logs().slice(-2000));
  const callback = await providerLogin(start.headers.get('location'), demo(), `${app.url}/`);
  const back = await go(callback.slice(app.url.length));
  assert.equal(back.status, 302, await back.text());
  assert.equal(new URL(back.headers.get('location'), app.url).pathname, '/settings');
  assert.equal((await go('/settings')).status, 200);
});
