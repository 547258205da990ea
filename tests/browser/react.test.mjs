// mesh-sdk/react in real Chromium against the real oidc-provider: a page
// that renders useSession / useAccessToken / useDeviceLogin (fixtures/
// react-app.jsx, bundled here with React; the package is the built pkg/).
// Signed out -> a device login that survives a reload -> signed in; a second
// tab of the app sees the session; a refresh in one tab re-renders both; a
// logout in one tab re-renders the other. No polling: an idle page does not
// render again.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

import { startProvider } from '../../scripts/servers/provider.mjs';
import { approveDevice } from '../support/approve.mjs';
import { startStatic } from './fixtures/servers.mjs';
import { bounded, closeQuietly, LAUNCH } from './support/chromium.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Seconds an access token lives: short, so the test can wait for a real refresh.
const TTL = 6;

let op;
let web;
let browser;
let appDir;

before(async () => {
  appDir = await mkdtemp(join(tmpdir(), 'mesh-react-app-'));
  await build({
    entryPoints: [fileURLToPath(new URL('./fixtures/react-app.jsx', import.meta.url))],
    outfile: join(appDir, 'react-app.js'),
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    logLevel: 'silent',
    // React's development build: StrictMode's double mount runs, and React's warnings reach the console (a test failure).
    define: { 'process.env.NODE_ENV': '"development"' },
    // The hooks as packed, with React bundled in; the client entry stays the served one.
    alias: { 'mesh-sdk/react': join(ROOT, 'pkg/react.js') },
    plugins: [{ name: 'served-pkg', setup: (b) => b.onResolve({ filter: /^\/pkg\// }, (a) => ({ path: a.path, external: true })) }],
  });
  op = await startProvider({ accessTokenTtl: TTL });
  web = await startStatic({ '/app/': appDir });
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  for (const stop of [() => closeQuietly(browser, 'the browser'), () => web?.close(), () => op?.close(), () => appDir && rm(appDir, { recursive: true, force: true })]) {
    try { await stop(); } catch { /* keep closing the rest */ }
  }
});

async function openApp(context) {
  const page = await bounded(context.newPage(), 'newPage for the React fixture');
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  const q = new URLSearchParams({ issuer: op.issuer, clientId: op.clientId });
  const res = await page.goto(`${web.origin}/fixtures/react.html?${q}`);
  assert.equal(res?.status(), 200);
  return page;
}

const text = (page, id) => page.locator(`#${id}`).textContent({ timeout: 20_000 });

async function until(page, id, expected, what) {
  await page.waitForFunction(([i, e]) => document.getElementById(i)?.textContent === e, [id, expected], { timeout: 20_000 })
    .catch(async () => assert.fail(`${what}: #${id} is ${JSON.stringify(await page.locator(`#${id}`).textContent({ timeout: 1000 }).catch(() => null))}, `
      + `expected ${JSON.stringify(expected)}\n${page.problems.join('\n')}`));
}

async function untilChanged(page, id, previous, what) {
  await page.waitForFunction(([i, p]) => { const t = document.getElementById(i)?.textContent; return t && t !== p; }, [id, previous], { timeout: 20_000 })
    .catch(() => assert.fail(`${what}: #${id} stayed ${previous}\n${page.problems.join('\n')}`));
  return text(page, id);
}

/** A new visitor's tab (signed out) that clicked "Sign in": its device login is pending. */
async function startedLogin(context) {
  const page = await openApp(context);
  await until(page, 'status', 'signed-out', 'a new visitor');
  await page.click('#start');
  await until(page, 'device', 'pending', 'after Sign in');
  return page;
}

/** Runs `body` in a fresh browser context (its own localStorage), closed afterwards. */
async function inContext(body) {
  const context = await bounded(browser.newContext(), 'newContext');
  try {
    await body(context);
  } finally {
    await closeQuietly(context, 'the browser context');
  }
}

test('the hooks follow a device login, a reload, a refresh and another tab\'s logout', () => inContext(async (context) => {
  const one = await startedLogin(context);
  const userCode = await text(one, 'verify');
  const link = await one.locator('#verify').getAttribute('href');
  assert.ok(userCode && link, 'the code to show and its link');

  // A reload during the login shows the same code, still waiting.
  await one.reload();
  await until(one, 'device', 'pending', 'after a reload');
  assert.equal(await text(one, 'verify'), userCode, 'the same login is resumed');

  await approveDevice({ verificationUriComplete: link });
  await until(one, 'status', 'signed-in', 'after approval');
  const expires = await text(one, 'expires');
  const token = await untilChanged(one, 'token', '', 'the access token');

  // Another tab reads the stored session.
  const two = await openApp(context);
  await until(two, 'status', 'signed-in', 'a second tab');
  assert.equal(await text(two, 'expires'), expires);

  // Idle: no timer renders anything.
  const rendered = await one.evaluate(() => window.renders.length);
  await sleep(1500);
  assert.equal(await one.evaluate(() => window.renders.length), rendered, 'an idle page does not render again');

  // Once the token expired, a refresh in tab two re-renders both tabs.
  await sleep(Math.max(0, Number(expires) * 1000 + 1000 - Date.now()));
  const refreshed = await two.evaluate(() => window.client.getAccessToken().then(() => 'ok', (e) => `${e.code}: ${e.message}`));
  assert.equal(refreshed, 'ok');
  const later = await untilChanged(one, 'expires', expires, 'tab one after tab two refreshed');
  assert.ok(Number(later) > Number(expires), 'a later expiry');
  assert.equal(await untilChanged(two, 'expires', expires, 'tab two after its refresh'), later);
  assert.notEqual(await untilChanged(one, 'token', token, 'the token shown in tab one'), token);

  // A logout in tab two re-renders tab one.
  await two.click('#logout');
  await until(two, 'status', 'signed-out', 'the tab that signed out');
  await until(one, 'status', 'signed-out', 'the other tab');
  assert.equal(await text(one, 'device'), 'idle');

  assert.deepEqual([...one.problems, ...two.problems], [], 'no page errors');
}));

test('cancel ends a device login: a reload does not resume it', () => inContext(async (context) => {
  const page = await startedLogin(context);
  await page.click('#cancel');
  await until(page, 'device', 'idle', 'after Cancel');
  await page.reload();
  await until(page, 'status', 'signed-out', 'after a reload');
  await until(page, 'device', 'idle', 'nothing to resume');
  assert.deepEqual(page.problems, [], 'no page errors');
}));
