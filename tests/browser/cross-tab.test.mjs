// Cross-tab refresh in real Chromium (issue 4): tabs of one browser share one
// session stored in localStorage. A real OpenID Provider (oidc-provider, with
// rotating refresh tokens: a reused one revokes the whole grant) sits behind
// a recording proxy, so each test can count what the provider saw.
//
// Black box: the fixture page only uses the public API (`new MeshClient`,
// `getAccessToken`, `logout`, `on`). Every wait is bounded; no assertion is
// about timing. Token lifetime is short (TTL seconds) and refreshLeewaySeconds
// is 0, so "expired" means what it says.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

import { startProvider } from '../../scripts/servers/provider.mjs';
import { approveDevice } from '../support/approve.mjs';
import { startStatic, startTokenProxy } from './fixtures/servers.mjs';
import { bounded, closeQuietly, LAUNCH } from './support/chromium.mjs';

// Seconds an access token lives. Short, so refreshes really happen; long
// enough that a tab stalled for seconds on a busy 2-core machine does not
// see the fresh token expire again within one round (that would be a second,
// legitimate refresh).
const TTL = 9;
const TABS = 5;
const ENDED = ['session_ended', 'not_logged_in'];

let op;
let proxy;
let web;
let browser;

before(async () => {
  op = await startProvider({ accessTokenTtl: TTL });
  proxy = await startTokenProxy(op.issuer);
  web = await startStatic();
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  // Each step runs even if an earlier one failed: no orphan process or port.
  for (const stop of [() => closeQuietly(browser, 'the browser'), () => web?.close(), () => proxy?.close(), () => op?.close()]) {
    try { await stop(); } catch { /* keep closing the rest */ }
  }
});

// ---------------------------------------------------------------------------
// Helpers

function pageUrl() {
  const q = new URLSearchParams({ issuer: proxy.origin, clientId: op.clientId, apiUrl: proxy.origin, timeoutMs: '20000' });
  return `${web.origin}/fixtures/cross-tab.html?${q}`;
}

/** Opens one tab of the app and waits for its MeshClient. */
async function openTab(context) {
  const page = await bounded(context.newPage(), 'newPage for a tab of the fixture app');
  page.problems = [];
  page.refreshesSent = 0;
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  // Token requests this tab sent (Playwright cannot always see the body of
  // fetch(Request), so the grant type is not checked: callers reset this
  // after the login, when only refreshes remain).
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === `${proxy.origin}/token`) page.refreshesSent++;
  });
  const res = await page.goto(pageUrl());
  assert.equal(res?.status(), 200, 'the fixture page is served');
  await page.waitForFunction(() => window.meshReady, null, { timeout: 20_000 })
    .catch((e) => assert.fail(`the fixture page never loaded the package: ${e.message}\n${page.problems.join('\n')}`));
  const ready = await page.evaluate(() => window.meshReady);
  assert.equal(ready, 'ok', `the fixture page could not create a MeshClient: ${ready} ${page.problems.join(' | ')}`);
  return page;
}

/** A real device login in a new tab, approved over HTTP on the provider's pages. */
async function signIn(context) {
  const page = await openTab(context);
  const login = await page.evaluate(async () => {
    window.login = await window.client.startDeviceLogin();
    return { verificationUriComplete: window.login.verificationUriComplete, userCode: window.login.userCode };
  });
  await approveDevice({ verificationUriComplete: login.verificationUriComplete });
  await page.evaluate(async () => { await window.client.completeDeviceLogin(window.login); });
  const first = proxy.issued.at(-1);
  assert.ok(first && /device_code/.test(first.grant), 'the device login got its tokens through the proxy');
  return page;
}

/** The signed-in tab plus more tabs of the same app. */
async function tabs(context, n = TABS) {
  const pages = [await signIn(context)];
  while (pages.length < n) pages.push(await openTab(context));
  return pages;
}

/** Waits (bounded by one TTL) until the newest access token has expired. */
async function untilExpired() {
  const newest = proxy.issued.at(-1);
  await sleep(Math.max(0, newest.at + TTL * 1000 + 500 - Date.now()));
}

/** getAccessToken in every page at one wall-clock moment. */
async function allAtOnce(pages) {
  const t = Date.now() + 400;
  return Promise.all(pages.map((p) => p.evaluate((at) => window.tokenAt(at), t)));
}

function diagnostics(pages) {
  return pages.flatMap((p, i) => p.problems.map((x) => `tab ${i}: ${x}`)).join('\n');
}

/** All results succeeded with one token, which the newest response carried. */
function assertOneSharedFreshToken(results, pages, previous) {
  const failed = results.filter((r) => !r.ok);
  assert.deepEqual(failed, [], `every tab gets a token\n${diagnostics(pages)}`);
  const distinct = new Set(results.map((r) => r.token));
  assert.equal(distinct.size, 1, `all tabs get the same token (got ${distinct.size} different ones)`);
  const [token] = distinct;
  if (previous) assert.notEqual(token, previous, 'the token was refreshed, not the expired one served');
  assert.equal(token, proxy.issued.at(-1).accessToken, 'it is the token of the newest token response');
  return token;
}

/** The provider saw `expected` refreshes since `n0`; on failure, says who sent what. */
function assertRefreshes(n0, expected, pages, what) {
  const sent = proxy.forwardedRefreshes().slice(n0);
  assert.equal(sent.length, expected, `${what}: the provider saw ${sent.length} refreshes, expected ${expected}; `
    + `token POSTs per tab so far: ${pages.map((p) => p.refreshesSent)}; refreshes: `
    + JSON.stringify(sent.map((r) => ({ status: r.status, at: r.at % 100_000, token: r.refreshToken?.slice(0, 6) })))
    + `\n${diagnostics(pages)}`);
}

/** The provider never received a refresh token twice, and never refused one. */
function assertNoRefreshTokenReuse(since = 0) {
  const sent = proxy.forwardedRefreshes().filter((r) => proxy.requests.indexOf(r) >= since);
  const tokens = sent.map((r) => r.refreshToken);
  assert.equal(new Set(tokens).size, tokens.length, 'no refresh token reached the provider twice');
  assert.deepEqual(sent.filter((r) => r.status !== 200).map((r) => r.status), [], 'the provider accepted every refresh');
  for (const r of sent) {
    const issuedBefore = proxy.issued.filter((i) => i.at <= r.at && i.refreshToken);
    assert.equal(r.refreshToken, issuedBefore.at(-1)?.refreshToken, 'each refresh spent the newest refresh token');
  }
}

/**
 * At expiry, every tab asks at once; the refresh is held at the proxy, and
 * the tab that sent it is closed. Returns the remaining tabs' results.
 * The remaining tabs must finish well within timeoutMs (20 s): a lock that
 * outlives its dead holder would keep them waiting.
 */
async function closeHolderMidRefresh(pages) {
  await untilExpired();
  for (const p of pages) p.refreshesSent = 0;
  const held = proxy.holdNextRefresh();
  const at = Date.now() + 400;
  await Promise.all(pages.map((p) => p.evaluate((x) => window.startTokenAt(x), at)));
  const heldRequest = await Promise.race([held.arrived, sleep(20_000).then(() => null)]);
  assert.ok(heldRequest, `some tab started a refresh\n${diagnostics(pages)}`);
  const holder = await waitFor('the tab that sent the held refresh', () => pages.find((p) => p.refreshesSent > 0));
  assert.equal(pages.filter((p) => p.refreshesSent > 0).length, 1, 'one tab refreshes while the others wait');

  await bounded(holder.close(), 'close of the tab that holds the refresh'); // mid-refresh: its request is still held at the proxy
  await waitFor('the proxy to drop the dead tab\'s request', () => heldRequest.dropped);
  const rest = pages.filter((p) => p !== holder);
  await Promise.all(rest.map((p) => p.waitForFunction(() => window.lastResult !== undefined, null, { timeout: 15_000 })
    .catch(() => assert.fail(`a remaining tab still had no token 15 s after the holder closed: a stuck lock\n${diagnostics(rest)}`))));
  return { rest, results: await Promise.all(rest.map((p) => p.evaluate(() => window.lastResult))) };
}

/** Logout in pages[0]; every other tab ends its session and keeps no token. */
async function logoutEverywhere(pages, firstIssued) {
  await pages[0].evaluate(() => window.client.logout());
  const n0 = proxy.forwardedRefreshes().length;
  const secrets = proxy.issued.slice(firstIssued).flatMap((i) => [i.accessToken, i.refreshToken]).filter(Boolean);
  for (const [i, page] of pages.entries()) {
    const r = await waitFor(`tab ${i} to see the logout`, async () => {
      const x = await page.evaluate(() => window.token());
      return x.ok ? null : x;
    }, 10_000);
    assert.ok(ENDED.includes(r.code), `tab ${i}: getAccessToken rejects with session_ended or not_logged_in, got ${r.code}: ${r.message}`);
    const stored = await page.evaluate(() => Object.values(localStorage).join('\n'));
    assert.ok(!secrets.some((x) => stored.includes(x)), `tab ${i}: no token is left in localStorage`);
    if (i > 0) {
      const events = await page.evaluate(() => window.meshEvents);
      // With BroadcastChannel, the reason the tab that signed out had, not a
      // vaguer one from the storage event; without it, the storage event is all.
      const channel = await page.evaluate(() => typeof BroadcastChannel === 'function');
      const told = channel ? ['sessionEnded:logout'] : ['sessionEnded:ended_elsewhere'];
      assert.ok(told.some((e) => events.includes(e)), `tab ${i} was told the session ended: ${told} (events: ${events})`);
    }
  }
  // Nothing wakes up later and spends the old refresh token.
  await untilExpired();
  const after = await Promise.all(pages.map((p) => p.evaluate(() => window.token())));
  assert.deepEqual(after.filter((r) => r.ok), [], 'still logged out in every tab after the old token\'s expiry');
  assert.equal(proxy.forwardedRefreshes().length, n0, 'no tab refreshed after the logout');
}

async function waitFor(what, fn, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function freeze(page) {
  const cdp = await bounded(page.context().newCDPSession(page), 'newCDPSession for a tab to freeze');
  await bounded(cdp.send('Page.setWebLifecycleState', { state: 'frozen' }), 'freezing a tab');
  return async () => {
    await bounded(cdp.send('Page.setWebLifecycleState', { state: 'active' }), 'waking a frozen tab');
    await bounded(cdp.detach(), 'detach of the CDP session of a woken tab');
  };
}

async function newContext(t, init) {
  const context = await bounded(browser.newContext(), 'newContext');
  t.after(() => closeQuietly(context, "the test's browser context"));
  if (init) await bounded(context.addInitScript(init), 'addInitScript');
  return context;
}

// ---------------------------------------------------------------------------

describe('cross-tab refresh in Chromium (5 tabs, one session in localStorage)', { timeout: 240_000 }, () => {
  test('tabs share the session; at expiry 5 tabs at once cause exactly one refresh and get the same token', { timeout: 60_000 }, async (t) => {
    const since = proxy.requests.length;
    const context = await newContext(t);
    const pages = await tabs(context);

    const before = proxy.forwardedRefreshes().length;
    const shared = await Promise.all(pages.map((p) => p.evaluate(() => window.token())));
    let token = assertOneSharedFreshToken(shared, pages);
    assert.equal(proxy.forwardedRefreshes().length, before, 'a fresh shared session needs no refresh');

    for (let round = 0; round < 2; round++) {
      const n0 = proxy.forwardedRefreshes().length;
      await untilExpired();
      const results = await allAtOnce(pages);
      token = assertOneSharedFreshToken(results, pages, token);
      assertRefreshes(n0, 1, pages, `round ${round}`);
    }
    assertNoRefreshTokenReuse(since);
  });

  test('a tab closed in the middle of its refresh releases the lock; another tab completes', { timeout: 60_000 }, async (t) => {
    const since = proxy.requests.length;
    const context = await newContext(t);
    const pages = await tabs(context);
    const old = assertOneSharedFreshToken(await Promise.all(pages.map((p) => p.evaluate(() => window.token()))), pages);

    const n0 = proxy.forwardedRefreshes().length;
    const { rest, results } = await closeHolderMidRefresh(pages);
    assertOneSharedFreshToken(results, rest, old);
    assertRefreshes(n0, 1, pages, 'after the holder died (its own request never arrived)');
    assertNoRefreshTokenReuse(since);
  });

  test('a sleeping tab wakes with an expired token and takes the fresh one without spending a refresh token', { timeout: 75_000 }, async (t) => {
    const since = proxy.requests.length;
    const context = await newContext(t);
    const pages = await tabs(context);
    const sleeper = pages[TABS - 1];
    const awake = pages.slice(0, -1);
    let token = assertOneSharedFreshToken(await Promise.all(pages.map((p) => p.evaluate(() => window.token()))), pages);

    // 1. It sleeps through one refresh; on waking its token has expired, the stored one is fresh.
    let wake = await freeze(sleeper);
    let n0 = proxy.forwardedRefreshes().length;
    await untilExpired();
    token = assertOneSharedFreshToken(await allAtOnce(awake), awake, token);
    assertRefreshes(n0, 1, pages, 'the awake tabs at once');
    await wake();
    const woke = await sleeper.evaluate(() => window.token());
    assert.deepEqual(woke, { ok: true, token }, `the woken tab gets the fresh token\n${diagnostics(pages)}`);
    assertRefreshes(n0, 1, pages, 'after waking (waking spends no refresh token)');

    // 2. It sleeps through a refresh and past the expiry of the token that refresh
    //    brought: it must refresh, with the rotated refresh token from storage.
    wake = await freeze(sleeper);
    n0 = proxy.forwardedRefreshes().length;
    await untilExpired();
    token = assertOneSharedFreshToken(await allAtOnce(awake), awake, token);
    await untilExpired();
    await wake();
    const late = await sleeper.evaluate(() => window.token());
    assert.equal(late.ok, true, `the late sleeper gets a token: ${JSON.stringify(late)}\n${diagnostics(pages)}`);
    assertOneSharedFreshToken([late], [sleeper], token);
    assertRefreshes(n0, 2, pages, 'the awake tabs, then the late sleeper');
    assertNoRefreshTokenReuse(since);
  });

  test('logout in one tab ends the session in every tab', { timeout: 60_000 }, async (t) => {
    const context = await newContext(t);
    const firstIssued = proxy.issued.length;
    const pages = await tabs(context);
    assertOneSharedFreshToken(await Promise.all(pages.map((p) => p.evaluate(() => window.token()))), pages);

    await logoutEverywhere(pages, firstIssued);
  });

  test('without Web Locks and BroadcastChannel (old browsers): one spend, a closed holder blocks no one, logout reaches every tab', { timeout: 90_000 }, async (t) => {
    const since = proxy.requests.length;
    const context = await newContext(t, () => { delete Navigator.prototype.locks; delete globalThis.BroadcastChannel; });
    const firstIssued = proxy.issued.length;
    const pages = await tabs(context);
    assert.deepEqual(await pages[0].evaluate(() => ['locks' in navigator, 'BroadcastChannel' in globalThis]), [false, false],
      'the fixture really removed navigator.locks and BroadcastChannel');
    let token = assertOneSharedFreshToken(await Promise.all(pages.map((p) => p.evaluate(() => window.token()))), pages);
    let n0 = proxy.forwardedRefreshes().length;
    await untilExpired();
    token = assertOneSharedFreshToken(await allAtOnce(pages), pages, token);
    assertRefreshes(n0, 1, pages, 'five tabs at once');

    n0 = proxy.forwardedRefreshes().length;
    const { rest, results } = await closeHolderMidRefresh(pages);
    token = assertOneSharedFreshToken(results, rest, token);
    assertRefreshes(n0, 1, pages, 'after the holder died');
    assertNoRefreshTokenReuse(since);

    await logoutEverywhere(rest, firstIssued);
  });
});
