// Browser end-to-end test of the demo stack (issue 4), in real Chromium:
// the OpenID Provider (oidc-provider), the echo origin, the gateway in workerd
// (wrangler dev) and the www/ Next.js app (`next start` of a production
// build), all on free ports of 127.0.0.1. A person's path through it:
//   1. open /login and start the sign-in with a code ("Use a code");
//   2. open the verification link in a second page, log in and approve on the
//      provider's pages;
//   3. see the first page signed in (the server holds the session: no token
//      ever reaches the page's JavaScript, responses or storage);
//   4. open /settings, create the key `ci-agent` and read it from the page;
//   5. from Node, call /agent/v1/mcp/messages/ with that key through the
//      gateway: the origin sees x-user-id = the signed-in user;
//   6. see the key's last use in the page, revoke it there: the same call
//      now gets 401;
//   7. ask for a key with a scope the user lacks (refused, the page says
//      why), create one with an expiry, see it listed, rotate it with no
//      grace: the new key works, the old one gets 401.
// Then "Sign in", the redirect login (authorization code + PKCE), through the
// provider's login and consent pages, the user's name on /login, a replayed
// callback refused, and sign-out through the provider's logout page.
// Both logins run on the app's server (mesh-sdk/next): the device routes
// (/auth/device...) and the redirect handlers (/auth/login, /auth/callback)
// set one session cookie (sealed, httpOnly); /settings reads it through
// auth() and its keys go through the app's route handlers (/api/keys...),
// which call the gateway with the server-held token.
// Screenshots go to test-artifacts/screenshots/. Every wait is bounded, and
// every process is stopped at the end, whatever happened.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { startOrigin } from '../../scripts/servers/origin.mjs';
import { startProvider } from '../../scripts/servers/provider.mjs';
import { freePort } from '../support/http.mjs';
import { startWrangler } from '../support/wrangler.mjs';
import { bounded, closeQuietly, LAUNCH } from './support/chromium.mjs';
import { buildWww, ROOT, startWww } from './support/next-app.mjs';

const SHOTS = path.join(ROOT, 'test-artifacts/screenshots');
// Short enough that the server refreshes the token during the test.
const ACCESS_TOKEN_TTL = 20;
const UI_TIMEOUT = 30_000;
// A backstop for what no bound covers: a test that stalls fails here, not at
// the runner's per-file timeout.
const TEST_TIMEOUT = 5 * 60_000;

const stops = [];
let op;
let origin;
let gateway;
let app;
let context;
let userDataDir;
const problems = []; // { url, text }: page errors and console errors, reported on failure
const providerOrigins = []; // pages of these are the provider's, not the app's
const leaks = []; // app responses that carried a token (a JWT) to the browser

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await buildWww();

  // The audience is the gateway's URL, as in the demo; so its port comes first.
  const gatewayPort = await freePort();
  const appPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const appUrl = `http://127.0.0.1:${appPort}`;

  // As in the demo: the app's "Sign in" returns to /auth/callback, its
  // sign-out through the provider to /login?signedOut=1; the ID token carries `name`.
  op = await startProvider({
    audience: gatewayUrl,
    accessTokenTtl: ACCESS_TOKEN_TTL,
    idTokenClaims: true,
    redirectUris: [`${appUrl}/auth/callback`],
    postLogoutRedirectUris: [`${appUrl}/login?signedOut=1`],
  });
  stops.push(() => op.close());
  providerOrigins.push(op.issuer);
  origin = await startOrigin();
  stops.push(() => origin.stop());
  gateway = await startWrangler({
    port: gatewayPort,
    vars: {
      MESH_UPSTREAM_URL: origin.url,
      MESH_JWT_ISSUER: op.issuer,
      MESH_JWT_AUDIENCE: gatewayUrl,
      MESH_CORS_ORIGINS: appUrl,
    },
    echo: process.env.MESH_TEST_ECHO ? '[gateway] ' : false,
  });
  stops.push(() => gateway.stop());
  app = await startWww({
    port: appPort,
    env: {
      NEXT_PUBLIC_MESH_ISSUER: op.issuer,
      NEXT_PUBLIC_MESH_CLIENT_ID: op.clientId,
      NEXT_PUBLIC_MESH_AUDIENCE: gatewayUrl,
      NEXT_PUBLIC_MESH_API_URL: gatewayUrl,
      MESH_APP_URL: appUrl,
    },
  });
  stops.push(() => app.stop());

  userDataDir = mkdtempSync(path.join(tmpdir(), 'mesh-e2e-chromium-'));
  stops.push(() => rmSync(userDataDir, { recursive: true, force: true }));
  context = await chromium.launchPersistentContext(userDataDir, { ...LAUNCH, viewport: { width: 1100, height: 800 } });
  stops.push(() => closeQuietly(context, 'the browser context'));
  context.setDefaultTimeout(UI_TIMEOUT);
  context.on('page', watch);
  for (const page of context.pages()) watch(page);
});

after(async () => {
  // Newest first; each step runs even if an earlier one failed.
  for (const stop of stops.reverse()) {
    try { await stop(); } catch { /* keep stopping the rest */ }
  }
});

const JWT = /eyJ[\w-]{8,}\.eyJ[\w-]{8,}\./;

function watch(page) {
  page.on('pageerror', (e) => problems.push({ url: page.url(), text: `pageerror: ${e.message}` }));
  page.on('console', (m) => { if (m.type() === 'error') problems.push({ url: page.url(), text: `console: ${m.text()}` }); });
  // Every answer of the app to the browser (pages, RSC payloads, the auth and
  // key routes): none may carry a token, nor a device code.
  page.on('response', (res) => {
    // The app's static code is the same for everyone: no user's token can be in it.
    if (!app || !res.url().startsWith(`${app.url}/`) || res.url().startsWith(`${app.url}/_next/static/`)) return;
    if (res.status() >= 300 && res.status() < 400) return;
    res.text().then((body) => {
      if (JWT.test(body) || /"(access_token|refresh_token|device_code|accessToken|refreshToken|idToken)"/.test(body)) leaks.push(`${res.url()}: ${body.slice(0, 200)}`);
    }, () => {});
  });
}

/** No token in anything the page's JavaScript can read: responses, storage, document.cookie. */
async function assertNoTokenInBrowser(page) {
  assert.deepEqual(leaks, [], 'no response of the app carried a token or a device code');
  const visible = await bounded(page.evaluate(() => JSON.stringify([document.cookie, { ...localStorage }, { ...sessionStorage }])), 'reading storage');
  assert.ok(!JWT.test(visible), `no token in storage or document.cookie: ${visible.slice(0, 200)}`);
  assert.ok(!/mesh\.(session|device|login)/.test(visible), 'the session cookies are httpOnly');
}

/** Adds what the browser and the servers said to an assertion's failure. */
async function step(name, page, fn) {
  try {
    return await fn();
  } catch (err) {
    await page?.screenshot({ path: path.join(SHOTS, `failed-${name}.png`), fullPage: true }).catch(() => {});
    err.message += `\n--- step: ${name}\n--- browser:\n${problems.map((p) => `${p.url} ${p.text}`).join('\n') || '(nothing)'}`
      + `\n--- next start (tail):\n${app?.logs().slice(-3000) ?? ''}`
      + `\n--- gateway (tail):\n${gateway?.logs().slice(-3000) ?? ''}`;
    throw err;
  }
}

/**
 * The app's own pages threw nothing and logged no error. The provider's pages
 * are not ours, and a failed HTTP status (the device flow's 400 answers, a
 * refused key) is what the protocol does, not a fault of the page.
 */
function assertNoAppErrors() {
  const ours = problems.filter((p) => !providerOrigins.some((o) => p.url.startsWith(`${o}/`))
    && !/Failed to load resource/.test(p.text));
  assert.deepEqual(ours, [], 'no page errors or console errors in the app');
}

/** "Sign out" on /login, "Yes, sign me out" on the provider's page, back on /login signed out. */
async function signOutThroughProvider(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${op.issuer}/**`);
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.waitForURL(`${app.url}/login?signedOut=1`);
  await page.getByText('You are signed out.').waitFor();
}

/** POST /agent/v1/mcp/messages/ through the gateway with an API key, as an agent would. */
async function agentCall(key) {
  origin.clear();
  const res = await fetch(`${gateway.url}/agent/v1/mcp/messages/`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    signal: AbortSignal.timeout(15_000),
  });
  await res.arrayBuffer();
  return { status: res.status, seen: [...origin.requests] };
}

test('the server imports mesh-sdk: /api/health returns its version', async () => {
  const res = await fetch(`${app.url}/api/health`, { signal: AbortSignal.timeout(15_000) });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.ok, true);
  assert.match(body.meshSdk, /^\d+\.\d+\.\d+/);
});

test('device login, API key created in /settings, used by an agent through the gateway, revoked', { timeout: TEST_TIMEOUT }, async () => {
  const page = await bounded(context.newPage(), 'newPage for /login');

  // 1. /login: start the sign-in; the code and the link appear.
  const link = await step('start-login', page, async () => {
    await page.goto(`${app.url}/login`);
    await page.getByRole('button', { name: 'Use a code' }).click();
    const code = (await page.getByTestId('user-code').textContent()).trim();
    assert.match(code, /\w{4}/, 'a user code is shown');
    const href = await page.getByTestId('verification-link').getAttribute('href');
    assert.ok(href.startsWith(op.issuer), `the verification link points at the provider: ${href}`);
    assert.ok(href.includes(encodeURIComponent(code)) || href.includes(code), 'the link carries the code');
    await page.screenshot({ path: path.join(SHOTS, 'login-code.png'), fullPage: true });
    // A reload while the user approves elsewhere keeps the login: the same
    // code comes back and the page goes on polling for it (approved below).
    await page.reload();
    assert.equal((await page.getByTestId('user-code').textContent()).trim(), code, 'the same code after a reload');
    assert.equal(await page.getByTestId('verification-link').getAttribute('href'), href);
    return href;
  });

  // 2. A second page: the provider's own pages, as a person uses them.
  const provider = await bounded(context.newPage(), "newPage for the provider's approval page");
  await step('approve', provider, async () => {
    await provider.goto(link);
    await provider.getByRole('button', { name: 'Continue' }).click();
    await provider.getByLabel('Login').fill('demo');
    await provider.getByLabel('Password').fill('demo');
    await provider.getByRole('button', { name: 'Sign in' }).click();
    await provider.getByRole('button', { name: 'Allow' }).click();
    await provider.getByText('Your device is signed in').waitFor();
    await bounded(provider.close(), "close of the provider's page");
  });

  // 3. The first page notices by itself and shows who is signed in.
  const userId = await step('signed-in', page, async () => {
    const id = (await page.getByTestId('user-id').textContent()).trim();
    assert.equal(id, op.users.find((u) => u.login === 'demo').id);
    // The device grant's ID token, checked on the server, names the user.
    assert.equal((await page.getByTestId('user-name').textContent()).trim(), op.users.find((u) => u.login === 'demo').name);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your session', 'a signed-in user is not asked to sign in');
    assert.ok(await page.getByTestId('token-expiry').locator('time').getAttribute('datetime'), 'the expiry the server read');
    // The pending login is spent: a reload shows the session, no code.
    await page.reload();
    assert.equal(await page.getByTestId('user-code').count(), 0);
    await assertNoTokenInBrowser(page);
    await page.screenshot({ path: path.join(SHOTS, 'signed-in.png'), fullPage: true });
    return id;
  });

  // 4. /settings (a fresh page load: the server reads the session cookie).
  const key = await step('create-key', page, async () => {
    await page.goto(`${app.url}/settings`);
    await page.getByText('No API keys yet').waitFor();
    // The name's rule is the gateway's (the core's, in code points): its
    // coded 400 comes through the route handler to the page.
    await page.getByLabel('Key name').fill('😀'.repeat(101));
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('must be 1-100 characters').waitFor();
    await page.getByLabel('Key name').fill('ci-agent');
    await page.getByRole('button', { name: 'Create key' }).click();
    const value = await page.getByTestId('created-key').inputValue();
    assert.match(value, /^mesh_sk_[A-Za-z0-9_-]{40,}$/, 'the key is shown once, in full');
    const row = page.getByTestId('key-row').filter({ hasText: 'ci-agent' });
    await row.waitFor();
    assert.ok((await row.textContent()).includes(value.slice(-4)), 'the list shows the key by its last 4 characters');
    assert.ok(!(await row.textContent()).includes(value), 'the list never shows the whole key');
    // The copy button puts the whole key on the clipboard.
    await bounded(context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url }), 'grantPermissions for the clipboard');
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await bounded(page.evaluate(() => navigator.clipboard.readText()), 'reading the clipboard'), value);
    await page.screenshot({ path: path.join(SHOTS, 'settings-key.png'), fullPage: true });
    // The same page on a phone-sized screen.
    await bounded(page.setViewportSize({ width: 390, height: 844 }), 'setViewportSize to a phone');
    await page.screenshot({ path: path.join(SHOTS, 'settings-key-mobile.png'), fullPage: true });
    // Stacked on a phone, the row's cells lose their column headers: each says what it is.
    const labels = await bounded(
      page.$$eval('[data-testid="key-row"] td[data-label]', (cells) => cells.map((c) => getComputedStyle(c, '::before').content)),
      'reading the stacked cells\' labels',
    );
    assert.deepEqual(labels, ['"Key: "', '"Scopes: "', '"Created: "', '"Expires: "', '"Last used: "']);
    await bounded(page.setViewportSize({ width: 1100, height: 800 }), 'setViewportSize back to a desktop');
    return value;
  });

  // 4b. CSRF: the signed-in user's cookies on a request from another site
  // (as a page elsewhere would send them, were SameSite not there) are refused
  // before the session's token is used; the same request from the app works.
  await step('cross-site', page, async () => {
    const cookie = (await bounded(context.cookies(app.url), 'reading the cookies')).map((c) => `${c.name}=${c.value}`).join('; ');
    const call = (method, path, origin, body) =>
      fetch(`${app.url}${path}`, { method, headers: { cookie, origin, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(15_000) });
    for (const [method, path, body] of [['POST', '/api/keys', JSON.stringify({ name: 'csrf' })], ['DELETE', '/api/keys/any', undefined]]) {
      const res = await call(method, path, 'http://evil.example', body);
      assert.equal(res.status, 403, `${method} ${path} from another site`);
      assert.equal((await res.json()).error, 'forbidden');
    }
    const listed = await call('GET', '/api/keys', 'http://evil.example');
    assert.equal(listed.status, 200, 'a GET changes nothing (and CORS keeps its answer from the other site)');
    assert.ok(!JSON.stringify(await listed.json()).includes('"csrf"'), 'no key was created');
  });

  // 5. An agent uses the key: the origin sees the signed-in user, not the key.
  await step('agent-call', page, async () => {
    const { status, seen } = await agentCall(key);
    assert.equal(status, 202, 'the origin answered through the gateway');
    assert.equal(seen.length, 1);
    assert.equal(seen[0].path, '/agent/v1/mcp/messages/');
    assert.equal(seen[0].identity.userId, userId);
    assert.equal(seen[0].identity.authMethod, 'api_key');
    assert.ok(!JSON.stringify(seen[0].headers).includes(key), 'the raw key is not forwarded');
  });

  // 6. The page shows the key's last use (written back after the call).
  await step('last-used', page, async () => {
    const row = page.getByTestId('key-row').filter({ hasText: 'ci-agent' });
    assert.equal((await row.getByTestId('key-expires').textContent()).trim(), 'Never');
    let shown = 'Never';
    for (let i = 0; i < 20 && shown === 'Never'; i++) {
      await bounded(page.reload(), 'reloading /settings');
      await row.waitFor();
      shown = (await row.getByTestId('key-last-used').textContent()).trim();
      if (shown === 'Never') await new Promise((r) => setTimeout(r, 500));
    }
    const at = await row.getByTestId('key-last-used').locator('time').getAttribute('datetime');
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 120_000, `last used ${at}`);
    // The reload hid the new key's panel; the revoke step below starts without it.
  });

  // Revoke in the page (with its confirmation step): the key stops working.
  await step('revoke', page, async () => {
    // Second thoughts first: Escape closes the confirmation, nothing is revoked.
    await page.getByRole('button', { name: 'Revoke ci-agent' }).click();
    await bounded(page.keyboard.press('Escape'), 'pressing Escape');
    await page.getByRole('button', { name: 'Yes, revoke' }).waitFor({ state: 'detached' });
    assert.equal((await agentCall(key)).status, 202, 'the key still works');
    await page.getByRole('button', { name: 'Revoke ci-agent' }).click();
    await page.getByRole('button', { name: 'Yes, revoke' }).click();
    await page.getByText('No API keys yet').waitFor();
    const { status, seen } = await agentCall(key);
    assert.equal(status, 401, 'a revoked key is refused');
    assert.equal(seen.length, 0, 'the origin saw nothing');
  });

  // 7. Scopes the user lacks are refused; a key with an expiry, then rotated.
  await step('scope-expiry-rotate', page, async () => {
    await page.getByLabel('Key name').fill('rotating');
    // The app signs in for `openid offline_access` only: its token holds no
    // resource scope, so a key asking for `api` is refused, and the page says why.
    await page.getByLabel('Scopes (optional)').fill('api');
    const expires = new Date(Date.now() + 30 * 86_400_000);
    const local = new Date(expires.getTime() - expires.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel('Expires (optional)').fill(local);
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('a key can only carry scopes you hold yourself').waitFor();
    await page.getByLabel('Scopes (optional)').fill('');
    await page.getByRole('button', { name: 'Create key' }).click();
    const oldKey = await page.getByTestId('created-key').inputValue();
    const row = page.getByTestId('key-row').filter({ hasText: 'rotating' });
    await row.waitFor();
    assert.equal((await row.getByTestId('key-scopes').textContent()).trim(), 'none');
    const listedExpiry = await row.getByTestId('key-expires').locator('time').getAttribute('datetime');
    assert.equal(listedExpiry.slice(0, 16), expires.toISOString().slice(0, 16), 'the expiry as chosen');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal((await agentCall(oldKey)).status, 202);

    await page.getByRole('button', { name: 'Rotate rotating' }).click();
    await page.getByRole('button', { name: 'Yes, rotate' }).click();
    await page.getByText('New key “rotating”').waitFor();
    const newKey = await page.getByTestId('created-key').inputValue();
    assert.notEqual(newKey, oldKey);
    await page.screenshot({ path: path.join(SHOTS, 'settings-rotated.png'), fullPage: true });
    assert.equal((await agentCall(newKey)).status, 202, 'the replacement works');
    assert.equal((await agentCall(oldKey)).status, 401, 'the old key stopped (no grace)');
    // Both are listed: the old one as expired.
    await page.getByTestId('key-row').filter({ hasText: 'Expired' }).waitFor();
  });

  // A reload while a key is being created: the gateway made the key, the
  // page never got to show it. After the reload the page says so and offers
  // to revoke it.
  await step('create-interrupted', page, async () => {
    let reached;
    const atGateway = new Promise((resolve) => { reached = resolve; });
    const hold = async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await route.fetch(); // the gateway creates the key; its answer never reaches the page
      reached();
      // Neither fulfilled nor continued (which would create a second key): the reload ends it.
    };
    await page.route('**/api/keys', hold);
    await page.getByLabel('Key name').fill('lost-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    await bounded(atGateway, 'the held create request reaching the gateway');
    await page.reload();
    await page.unroute('**/api/keys', hold);
    const panel = page.getByTestId('unshown-key');
    await panel.getByText('“lost-key”').waitFor();
    await page.getByTestId('key-row').filter({ hasText: 'lost-key' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'settings-unshown-key.png'), fullPage: true });
    await panel.getByRole('button', { name: 'Revoke it' }).click();
    await panel.waitFor({ state: 'detached' });
    await page.getByText('Key lost-key revoked.').waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Your API keys' }).waitFor();
    await page.getByTestId('key-row').first().waitFor();
    assert.equal(await page.getByTestId('key-row').filter({ hasText: 'lost-key' }).count(), 0, 'the unshown key is revoked');
    assert.equal(await page.getByTestId('unshown-key').count(), 0, 'and not offered again');
  });

  // Sign out: the session ends on the server and at the provider (its
  // logout page asks, then sends the tab back to /login). Another tab, open
  // on /settings, sees it on its next navigation.
  const other = await bounded(context.newPage(), 'newPage for a second tab');
  await step('sign-out', page, async () => {
    await other.goto(`${app.url}/settings`);
    await other.getByRole('heading', { name: 'Your API keys' }).waitFor();
    await assertNoTokenInBrowser(page);
    await page.goto(`${app.url}/login`);
    await signOutThroughProvider(page);
    // Signed out, /settings sends the user to /login and back afterwards.
    await page.goto(`${app.url}/settings`);
    await page.waitForURL(`${app.url}/login?returnTo=%2Fsettings`);
    await page.getByRole('button', { name: 'Use a code' }).waitFor();
    await other.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
    await other.waitForURL(`${app.url}/login?returnTo=%2Fsettings`);
    assert.match(await other.locator('.badge').textContent(), /Signed out/);
  });
  await bounded(other.close(), 'close of the second tab');
  await bounded(page.close(), 'close of the /login page');
  assertNoAppErrors();
});

test('/login: cancel, retry, a denied and an expired code each say what happened', { timeout: TEST_TIMEOUT }, async () => {
  const page = await bounded(context.newPage(), 'newPage for /login');
  await step('cancel-and-retry', page, async () => {
    await page.goto(`${app.url}/login`);
    await page.getByRole('button', { name: 'Use a code' }).click();
    const first = (await page.getByTestId('user-code').textContent()).trim();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('Sign-in cancelled.').waitFor();
    await page.getByRole('button', { name: 'Start again' }).waitFor();
    // A cancelled login is over: a reload does not bring its code back.
    await page.reload();
    await page.getByRole('button', { name: 'Use a code' }).waitFor();
    assert.equal(await page.getByTestId('user-code').count(), 0);
    await page.getByRole('button', { name: 'Use a code' }).click();
    const second = (await page.getByTestId('user-code').textContent()).trim();
    assert.notEqual(second, first, 'a retry asks for a new code');
  });

  await step('denied', page, async () => {
    const provider = await bounded(context.newPage(), "newPage for the provider's approval page");
    await provider.goto(await page.getByTestId('verification-link').getAttribute('href'));
    await provider.getByRole('button', { name: 'Abort' }).click();
    await page.getByText('The sign-in was denied').waitFor();
    // Only now: a close issued while the provider's page was still navigating
    // after the click once stalled Chromium for 20 s (CI of 2026-11-26). The
    // close is cleanup, not what this step checks, so a stall is logged.
    await closeQuietly(provider, "the provider's page");
    await page.screenshot({ path: path.join(SHOTS, 'login-denied.png'), fullPage: true });
  });

  // A provider whose device codes live 3 s, and the same build of the app
  // started again with it: the code expires before anyone approves it.
  await step('expired', page, async () => {
    const shortOp = await startProvider({ audience: gateway.url, deviceCodeTtl: 3 });
    stops.push(() => shortOp.close());
    providerOrigins.push(shortOp.issuer);
    const shortPort = await freePort();
    const shortApp = await startWww({
      port: shortPort,
      env: {
        NEXT_PUBLIC_MESH_ISSUER: shortOp.issuer,
        NEXT_PUBLIC_MESH_AUDIENCE: gateway.url,
        NEXT_PUBLIC_MESH_API_URL: gateway.url,
        MESH_APP_URL: `http://127.0.0.1:${shortPort}`,
      },
    });
    stops.push(() => shortApp.stop());
    await page.goto(`${shortApp.url}/login`);
    await page.getByRole('button', { name: 'Use a code' }).click();
    await page.getByText('The code expired before it was approved').waitFor();
    await page.getByRole('button', { name: 'Start again' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'login-expired.png'), fullPage: true });
  });
  await bounded(page.close(), 'close of the /login page');
  assertNoAppErrors();
});

test('"Sign in": the redirect login through the provider pages, the user\'s name, a replayed callback, sign-out at the provider', { timeout: TEST_TIMEOUT }, async () => {
  const page = await bounded(context.newPage(), 'newPage for /login');
  const user = op.users.find((u) => u.login === 'demo');
  const callbackUrl = await step('redirect-sign-in', page, async () => {
    await page.goto(`${app.url}/login`);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${op.issuer}/**`);
    await page.getByLabel('Login').fill('demo');
    await page.getByLabel('Password').fill('demo');
    const callback = page.waitForRequest((r) => r.url().startsWith(`${app.url}/auth/callback?`));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    const url = (await callback).url();
    assert.ok(new URL(url).searchParams.get('code'), 'the provider sent a code back');
    // The server completes the login and sends the tab back to /login.
    await page.waitForURL(`${app.url}/login`);
    assert.equal((await page.getByTestId('user-name').textContent()).trim(), user.name, 'the name from the ID token');
    assert.equal((await page.getByTestId('user-id').textContent()).trim(), user.id);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your session');
    assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Your session' }).count(), 1, 'the nav says so too');
    assert.match(await page.locator('.badge').textContent(), new RegExp(user.name));
    await assertNoTokenInBrowser(page);
    await page.screenshot({ path: path.join(SHOTS, 'redirect-signed-in.png'), fullPage: true });
    return url;
  });

  // The same callback again (history, a shared link): refused, and the
  // session the first one stored is left as it was.
  await step('replayed-callback', page, async () => {
    await page.goto(callbackUrl);
    await page.waitForURL(`${app.url}/login?failed=state_mismatch`);
    await page.getByText('or was already completed').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'redirect-replayed.png'), fullPage: true });
    assert.equal((await page.getByTestId('user-name').textContent()).trim(), user.name, 'the session is left as it was');
  });

  await step('redirect-sign-out', page, async () => {
    await signOutThroughProvider(page);
    assert.equal(await page.locator('.badge').textContent(), 'Signed out');
    // Signed out at the provider too: "Sign in" asks for the password again.
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${op.issuer}/**`);
    await page.getByLabel('Password').waitFor();
  });
  await bounded(page.close(), 'close of the /login page');
  assertNoAppErrors();
});
