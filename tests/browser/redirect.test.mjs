// The redirect login in real Chromium against the real oidc-provider: the
// app navigates to the provider, the user signs in and consents on its
// pages, the provider sends the browser back, and the page completes the
// login (code exchange, ID token verified with WebCrypto, session stored).
// Then the package README's redirect example, run as written on the pages
// of an app (/account, /callback, /), through sign-in and sign-out.
// The attacks on each rule are tested cheaper: src/client/redirect_tests.rs,
// src/client/id_token_tests.rs and tests/client/redirect-login.test.mjs.
// A failed load of the redirect login's wasm module is tried here (a blocked request).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { startProvider } from '../../scripts/servers/provider.mjs';
import { startStatic } from './fixtures/servers.mjs';
import { bounded, closeQuietly, LAUNCH } from './support/chromium.mjs';

let op;
let web;
let browser;
let callback;
const appPages = {};

before(async () => {
  web = await startStatic({}, appPages);
  callback = `${web.origin}/fixtures/redirect.html`;
  op = await startProvider({
    idTokenClaims: true,
    extraClients: [{
      client_id: 'mesh-spa',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [callback],
      post_logout_redirect_uris: [`${web.origin}/fixtures/redirect.html?bye=1`],
      scope: 'openid profile offline_access',
    }, {
      // The package README's example, as written: its client id, /callback and /.
      client_id: 'my-spa',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${web.origin}/callback`],
      post_logout_redirect_uris: [`${web.origin}/`],
      scope: 'openid profile offline_access',
    }],
  });
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  for (const stop of [() => closeQuietly(browser, 'the browser'), () => web?.close(), () => op?.close()]) {
    try { await stop(); } catch { /* keep closing the rest */ }
  }
});

/** The fixture page as the mesh-spa app, its client ready. @param {import('playwright-core').BrowserContext} context */
async function fixturePage(context) {
  const page = await bounded(context.newPage(), 'newPage');
  const q = new URLSearchParams({ issuer: op.issuer, clientId: 'mesh-spa', audience: op.audience });
  await page.goto(`${callback}?${q}`);
  await page.waitForFunction(() => window.meshReady, null, { timeout: 20_000 });
  assert.equal(await page.evaluate(() => window.meshReady), 'ok');
  return page;
}

test('sign in with the redirect, see the user, get the logout URL', { timeout: 90_000 }, async () => {
  const context = await bounded(browser.newContext(), 'newContext');
  try {
    const page = await fixturePage(context);
    await Promise.all([page.waitForURL(`${op.issuer}/**`, { timeout: 20_000 }), page.evaluate(() => window.login('/fixtures/redirect.html?after=1'))]);
    await page.fill('input[name=login]', 'demo');
    await page.fill('input[name=password]', 'demo');
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('button:has-text("Allow")', { timeout: 20_000 });
    await page.click('button:has-text("Allow")');
    await page.waitForURL((url) => url.href.startsWith(`${callback}?`), { timeout: 20_000 }).catch(async (e) => {
      throw new Error(`${e.message}\nat ${page.url()}: ${(await page.textContent("body"))?.slice(0, 500)}`);
    });
    await page.waitForFunction(() => window.result, null, { timeout: 20_000 });
    const result = await page.evaluate(() => window.result);
    assert.equal(result.ok, true, result.message);
    assert.deepEqual(result.user, { sub: 'user-demo-1', name: 'Demo User' });
    assert.equal(result.returnTo, '/fixtures/redirect.html?after=1');
    assert.equal(result.hasRefreshToken, true);
    assert.deepEqual(result.session.user, result.user);
    // The callback page's URL replayed in this tab: its login was consumed.
    const replay = await page.evaluate(() => window.client.handleRedirectCallback().then(() => 'accepted', (e) => e.code));
    assert.equal(replay, 'state_mismatch');
    const out = await page.evaluate(() => window.client.logout({ returnTo: `${location.origin}/fixtures/redirect.html?bye=1` }));
    assert.equal(out.revoked, true);
    const logout = new URL(out.logoutUrl);
    assert.equal(logout.origin, op.issuer);
    assert.ok(logout.searchParams.get('id_token_hint'));
    assert.equal(await page.evaluate(() => window.client.getSession()), null);
    // The provider's logout page accepts the hint and the return address.
    const answer = await page.goto(out.logoutUrl);
    assert.equal(answer.status(), 200);
  } finally {
    await closeQuietly(context, 'the browser context');
  }
});

/**
 * The README's "Redirect login (a browser SPA)" block as packed (pkg/README.md),
 * cut at its three comments into the pages an app has: /account (the sign-in
 * button, the user, the sign-out button) and /callback. Only the issuer and
 * the import path change; `show` and the buttons are the page's.
 */
function readmePages() {
  const example = (file) => readFileSync(new URL(file, import.meta.url), 'utf8')
    .split('\n### Redirect login (a browser SPA)\n')[1]?.match(/```js\n([\s\S]*?)```/)?.[1];
  const block = example('../../pkg/README.md');
  assert.ok(block, 'the package README has the redirect example');
  assert.equal(example('../../README.md'), block, "the repository README's copy is the same");
  const code = block.replace("from 'mesh-sdk'", "from '/pkg/browser.js'").replace("'https://auth.example.com'", JSON.stringify(op.issuer));
  const [setup, rest] = code.split('// The sign-in button');
  const [signIn, rest2] = rest.split('// The /callback page');
  const [callback, anyPage] = rest2.split('// Any page');
  assert.ok(setup && signIn && callback && anyPage, 'the example has its three parts');
  const html = (body, script) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>${body}<script type="module">${script}</script></body></html>`;
  return {
    '/account': html('<button id="signIn">Sign in</button><button id="signOut">Sign out</button>',
      `${setup}//${signIn}\ntry {\n//${anyPage}\nwindow.state = { user: { name, sub } };\n} catch (e) { window.state = { signedOut: e.code }; }`),
    '/callback': html('', `const show = (code, message) => { window.state = { refused: code, message }; };\n${setup}//${callback}`),
    '/': html('<p>Home</p>', ''),
  };
}

test('the package README\'s redirect example, as written, signs in and out', { timeout: 90_000 }, async () => {
  // Served by the app's own server: Chromium lets only a loopback page fetch the loopback provider.
  Object.assign(appPages, readmePages());
  const context = await bounded(browser.newContext(), 'newContext');
  try {
    const page = await bounded(context.newPage(), 'newPage');
    const state = async () => {
      await page.waitForFunction(() => window.state, null, { timeout: 20_000 });
      return page.evaluate(() => window.state);
    };
    await page.goto(`${web.origin}/account`);
    assert.deepEqual(await state(), { signedOut: 'not_logged_in' });
    await Promise.all([page.waitForURL(`${op.issuer}/**`, { timeout: 20_000 }), page.click('#signIn')]);
    await page.fill('input[name=login]', 'demo');
    await page.fill('input[name=password]', 'demo');
    await page.click('button:has-text("Sign in")');
    await page.click('button:has-text("Allow")');
    // /callback completes the login and replaces itself with returnTo (/account).
    await page.waitForURL(`${web.origin}/account`, { timeout: 20_000 });
    assert.deepEqual(await state(), { user: { name: 'Demo User', sub: 'user-demo-1' } });
    await Promise.all([page.waitForURL(`${op.issuer}/**`, { timeout: 20_000 }), page.click('#signOut')]);
    await page.click('button:has-text("Yes, sign me out")');
    await page.waitForURL(`${web.origin}/`, { timeout: 20_000 });
    await page.goto(`${web.origin}/account`);
    assert.deepEqual(await state(), { signedOut: 'not_logged_in' });
  } finally {
    await closeQuietly(context, 'the browser context');
  }
});

test('a failed load of the redirect module rejects with network, stores nothing, and the next call loads it', { timeout: 90_000 }, async () => {
  const discovery = await (await fetch(`${op.issuer}/.well-known/openid-configuration`)).json();
  const context = await bounded(browser.newContext(), 'newContext');
  try {
    const page = await fixturePage(context);
    const module = '**/pkg/wasm/redirect/mesh_sdk_redirect_bg.wasm';
    let blocked = 0;
    await page.route(module, (route) => {
      blocked += 1;
      return route.abort('connectionrefused');
    });
    const authorize = () => page.evaluate(async (redirectUri) => {
      const { MeshError } = await import('/pkg/browser.js');
      const stored = () => Object.keys(sessionStorage).filter((k) => k !== 'fixture').sort();
      try {
        const url = await window.client.authorizeUrl({ redirectUri });
        return { url, stored: stored() };
      } catch (e) {
        return { code: e?.code ?? null, isMeshError: e instanceof MeshError, message: String(e?.message ?? e), stored: stored() };
      }
    }, callback);

    const failed = await authorize();
    assert.equal(blocked, 1, 'the redirect module was requested and blocked');
    assert.equal(failed.url, undefined, 'no authorization URL without the redirect module');
    assert.equal(failed.code, 'network', failed.message);
    assert.equal(failed.isMeshError, true);
    assert.deepEqual(failed.stored, [], 'no pending login kept for a login that never started');

    await page.unroute(module);
    const next = await authorize();
    assert.equal(next.code, undefined, next.message);
    assert.equal(next.url.split('?')[0], discovery.authorization_endpoint);
    assert.equal(new URL(next.url).searchParams.get('client_id'), 'mesh-spa');
    assert.equal(next.stored.length, 1, 'the pending login is kept in sessionStorage once the module loaded');
  } finally {
    await closeQuietly(context, 'the browser context');
  }
});
