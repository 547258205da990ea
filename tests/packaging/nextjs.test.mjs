// The packed tarball in a Next.js 16 app (fixtures/next-app), with no
// next.config: a server component, a Node route handler, an edge route
// handler and a client component import `mesh-sdk`. One `next build`
// (Turbopack, the default), then `next start` on 127.0.0.1: the routes and the
// page are fetched, and Chromium proves the client component ran the browser
// entry. The same app gets the package README's mesh-sdk/next example, its
// files taken from the README's code blocks (so a documented example cannot
// rot), and signs in against the real oidc-provider: the handlers, auth() in
// a server component and getAccessToken() in a route handler through
// cookies(), and the middleware in the edge runtime.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import {
  freePort, freshProject, launchChromium, packageVersion, recordingServer, repo, startProcess, waitForHttp,
} from './helpers.mjs';
import { bounded } from '../browser/support/chromium.mjs';
import { APP_CLIENT, APP_SECRET } from '../next/support.mjs';
import { startProvider } from '../../scripts/servers/provider.mjs';
import { approveDevice } from '../support/approve.mjs';
import { providerLogin } from '../support/provider-login.mjs';

const run = promisify(execFile);
const nextEnv = { NEXT_TELEMETRY_DISABLED: '1' };

test('the packed tarball works in a Next.js app (build, start, server and client)', async (t) => {
  const origin = await recordingServer(t);
  const dir = await freshProject(t, { copyFrom: join(repo, 'tests/packaging/fixtures/next-app'), timeoutMs: 600_000 });
  const next = join(dir, 'node_modules/.bin/next');
  const expected = await packageVersion();

  // The README's mesh-sdk/next files, each code block named by its first line (`// lib/auth.js`).
  const readme = await readFile(join(dir, 'node_modules/mesh-sdk/README.md'), 'utf8');
  const section = readme.split('## A server-side session in Next.js')[1].split('\n## ')[0];
  const files = [...section.matchAll(/```jsx?\n\/\/ ([\w./[\]-]+\.jsx?)[^\n]*\n[\s\S]*?```/g)];
  assert.deepEqual(files.map((m) => m[1]), ['lib/auth.js', 'app/auth/[...mesh]/route.js', 'app/settings/page.jsx', 'app/api/keys/route.js', 'middleware.js']);
  for (const [block, path] of files) {
    await mkdir(join(dir, dirname(path)), { recursive: true });
    await writeFile(join(dir, path), block.replace(/^```jsx?\n/, '').replace(/```$/, ''));
  }

  // The same handlers in the edge runtime (the edge-light entry), under /edge: the server-run device login there.
  await mkdir(join(dir, 'app/edge/auth/[...mesh]'), { recursive: true });
  await writeFile(join(dir, 'app/edge/auth/[...mesh]/route.js'), `import { handlers } from '../../../../lib/auth.js';
export const runtime = 'edge';
const at = (request) => new Request(request.url.replace('/edge/auth/', '/auth/'), { method: request.method, headers: request.headers });
export const GET = (request) => handlers.GET(at(request));
export const POST = (request) => handlers.POST(at(request));
`);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const client = { ...APP_CLIENT, redirect_uris: [`${base}/auth/callback`], post_logout_redirect_uris: [`${base}/`] };
  const idp = await startProvider({ extraClients: [client], idTokenClaims: true });
  t.after(() => idp.close());
  // The README reads these; `next build` loads lib/auth.js too, so it needs them as well.
  const appEnv = {
    MESH_ISSUER: idp.issuer,
    MESH_CLIENT_ID: APP_CLIENT.client_id,
    MESH_CLIENT_SECRET: APP_SECRET,
    APP_URL: base,
    MESH_SECRET: 'the-fixture-secret-of-enough-length-0123456789',
    MESH_API_URL: origin.url,
  };

  try {
    await run(next, ['build'], { cwd: dir, env: { ...process.env, ...nextEnv, ...appEnv }, timeout: 600_000, maxBuffer: 32 << 20 });
  } catch (e) {
    assert.fail(`next build failed:\n${e.stdout}\n${e.stderr}`);
  }

  const proc = startProcess(t, next, ['start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: dir,
    env: { ...nextEnv, ...appEnv, MESH_TEST_ORIGIN: origin.url },
  });
  await waitForHttp(`${base}/api/version?echo=1`, { timeoutMs: 60_000, proc });

  const getJson = async (path) => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    assert.equal(res.status, 200, `${path}: ${text}\n${proc.out.text}`);
    return JSON.parse(text);
  };

  await t.test('route handler (Node runtime) makes a real call', async () => {
    const out = await getJson('/api/version');
    assert.equal(out.version, expected);
    assert.equal(out.origin.headers['x-api-key'], 'mesh_sk_next_route');
    assert.equal(out.origin.url, '/echo');
  });

  await t.test('route handler (edge runtime) loads the edge-light entry', async () => {
    assert.deepEqual(await getJson('/api/edge'), { version: expected, runtime: 'edge' });
  });

  await t.test('the edge route bundles the wasm as an edge wasm binding', async () => {
    // Proof that Next.js picked the `edge-light` entry (`.wasm?module`), not
    // the Node entry with its inlined base64.
    const manifest = JSON.parse(await readFile(join(dir, '.next/server/middleware-manifest.json'), 'utf8'));
    const wasm = manifest.functions?.['/api/edge/route']?.wasm ?? [];
    assert.ok(wasm.some((w) => /mesh_sdk_(client|gateway|redirect)_bg/.test(w.filePath)), JSON.stringify(wasm));
  });

  await t.test('server component renders with mesh-sdk', async () => {
    const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(30_000) });
    const html = await res.text();
    assert.equal(res.status, 200, proc.out.text);
    assert.match(html, new RegExp(`server:(<!-- -->)?${expected.replaceAll('.', '\\.')}`));
  });

  await t.test("the README's mesh-sdk/next example: middleware (edge), login, auth() in a server component, fetchApi() in a route handler", async () => {
    const cookies = new Map();
    const go = async (path, method = 'GET', origin = base) => {
      const headers = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(method === 'POST' ? { origin } : {}) };
      const res = await fetch(new URL(path, base), { method, headers, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';');
        const i = pair.indexOf('=');
        if (/Max-Age=0(;|$)/.test(c)) cookies.delete(pair.slice(0, i));
        else cookies.set(pair.slice(0, i), pair.slice(i + 1));
      }
      return res;
    };
    const page = await go('/settings');
    assert.equal(page.status, 307, proc.out.text);
    // Next.js turns a same-origin Location from middleware into a path.
    assert.equal(new URL(page.headers.get('location'), base).href, `${base}/auth/login?returnTo=%2Fsettings`);
    const api = await go('/api/keys');
    assert.equal(api.status, 401);
    assert.equal((await api.json()).error, 'login_required');
    // Next.js hands a HEAD to the GET handler: a link preview or a monitor
    // starts no login, and the device route's HEAD is its GET without the body.
    const probe = await go('/auth/login?returnTo=/settings', 'HEAD');
    assert.equal(probe.status, 405, proc.out.text);
    assert.equal(probe.headers.get('allow'), 'GET');
    assert.equal(cookies.size, 0, 'no pending-login cookie');
    const deviceProbe = await go('/auth/device', 'HEAD');
    assert.equal(deviceProbe.status, 200, proc.out.text);
    assert.equal(deviceProbe.headers.get('content-type'), 'application/json');
    const login = await go('/auth/login?returnTo=/settings');
    assert.equal(login.status, 302, proc.out.text);
    const callback = await providerLogin(login.headers.get('location'), idp.users[0], `${base}/`);
    const back = await go(callback.slice(base.length));
    assert.equal(back.status, 302, `${await back.text()}\n${proc.out.text}`);
    assert.equal(back.headers.get('location'), `${base}/settings`);
    const settings = await go('/settings');
    assert.equal(settings.status, 200);
    assert.match(await settings.text(), /<form [^>]*action="\/auth\/logout"[^>]*>Demo User(<!-- -->)? <button>Sign out/);
    // The route handler called the API with the user's access token.
    const keys = await go('/api/keys');
    assert.equal(keys.status, 200, proc.out.text);
    const seen = await keys.json();
    assert.equal(seen.url, '/api/v1/keys');
    const token = seen.headers.authorization.replace(/^Bearer /, '');
    assert.equal(JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).sub, 'user-demo-1');
    // The README's POST handler: from the app it calls the API; from another site, a 403 first.
    const created = await go('/api/keys', 'POST');
    assert.equal(created.status, 200, proc.out.text);
    assert.equal((await created.json()).method, 'POST');
    const reached = origin.requests.length;
    const forged = await go('/api/keys', 'POST', 'http://evil.example');
    assert.equal(forged.status, 403);
    assert.equal((await forged.json()).error, 'forbidden');
    assert.equal(origin.requests.length, reached, 'the refused request never reached the API');
    assert.equal((await go('/auth/logout')).status, 405, 'a GET cannot sign out');
    assert.equal((await go('/auth/logout', 'POST')).status, 302);
    assert.equal((await go('/settings')).status, 307, 'signed out again');
  });

  await t.test('the device login routes run in the edge runtime, and their session works in the Node runtime', async () => {
    const manifest = JSON.parse(await readFile(join(dir, '.next/server/middleware-manifest.json'), 'utf8'));
    assert.ok(manifest.functions?.['/edge/auth/[...mesh]/route'], `an edge function: ${Object.keys(manifest.functions ?? {})}`);
    let cookie = '';
    const send = async (path, method = 'POST') => {
      const res = await fetch(`${base}${path}`, { method, headers: { origin: base, cookie }, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
      const set = res.headers.getSetCookie().map((c) => c.split(';')[0]);
      if (set.length) cookie = [...new Map([...cookie.split('; ').filter(Boolean), ...set].map((p) => [p.split('=')[0], p])).values()].filter((p) => !p.endsWith('=')).join('; ');
      return res;
    };
    const started = await send('/edge/auth/device');
    assert.equal(started.status, 200, proc.out.text);
    const { login } = await started.json();
    assert.match(login.userCode, /\S/);
    assert.match(cookie, /mesh\.device=/);
    await approveDevice({ verificationUriComplete: login.verificationUriComplete });
    let state;
    for (let i = 0; i < 20 && state?.state !== 'complete'; i++) {
      await new Promise((r) => setTimeout(r, state?.retryAfterMs ?? 0));
      state = await (await send('/edge/auth/device/poll')).json();
    }
    assert.deepEqual(state, { state: 'complete' }, proc.out.text);
    const settings = await send('/settings', 'GET');
    assert.equal(settings.status, 200, proc.out.text);
    assert.match(await settings.text(), /Demo User/);
  });

  await t.test('client component runs the browser entry in Chromium', async () => {
    const browser = await launchChromium(t);
    const page = await bounded(browser.newPage(), 'newPage for the Next.js client component');
    const wasmSizes = [];
    page.on('response', (res) => {
      if (new URL(res.url()).pathname.endsWith('.wasm')) wasmSizes.push(res.body().then((b) => b.length));
    });
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/`, { timeout: 30_000 });
    // The component shows "loading" until its effect (browser only) settles.
    await page
      .waitForFunction(() => document.querySelector('#client-version')?.textContent !== 'loading', null, { timeout: 30_000 })
      .catch(() => {});
    const text = (await bounded(page.textContent('#client-version'), 'reading #client-version')) ?? '';
    assert.ok(text.startsWith(`client:${expected}`), `client component shows "${text}" (${problems.join('; ')})`);
    assert.equal(text, `client:${expected} key:mesh_sk_next_client`);
    const clientWasm = (await stat(join(dir, 'node_modules/mesh-sdk/wasm/client/mesh_sdk_client_bg.wasm'))).size;
    assert.deepEqual(await Promise.all(wasmSizes), [clientWasm], 'the browser fetched the client build once, not the full one');
  });
});
