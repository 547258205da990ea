// The packed tarball in a plain <script type="module"> page, no bundler:
// a static server on 127.0.0.1 serves the installed package, an import map
// names it, and Chromium (Debian's, via playwright-core) runs the `browser`
// entry (wasm fetched by URL) and the slim entry (explicit init).
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { test } from 'node:test';

import { bounded, closeQuietly } from '../browser/support/chromium.mjs';
import { freshProject, launchChromium, packageVersion, recordingServer } from './helpers.mjs';

const importMap = `<script type="importmap">
{ "imports": { "mesh-sdk": "/node_modules/mesh-sdk/browser.js", "mesh-sdk/slim": "/node_modules/mesh-sdk/slim.js" } }
</script>`;

const mainPage = `<!doctype html><meta charset="utf-8"><title>main</title>${importMap}
<script type="module">
import * as sdk from 'mesh-sdk';
const out = { version: sdk.version(), exports: Object.keys(sdk).sort() };
try {
  const client = new sdk.MeshClient({ apiUrl: location.origin, apiKey: 'mesh_sk_from_browser' });
  const res = await client.fetch('/echo?from=browser');
  out.status = res.status;
  out.echo = await res.json();
  client.dispose();
  try { new sdk.MeshClient({ apiUrl: location.origin }); out.badOption = 'no error'; }
  catch (e) { out.badOption = { code: e.code, isMeshError: sdk.isMeshError(e) }; }
} catch (e) { out.error = String(e && e.stack || e); }
window.__result = out;
</script>`;

const slimPage = `<!doctype html><meta charset="utf-8"><title>slim</title>${importMap}
<script type="module">
import init, * as slim from 'mesh-sdk/slim';
const out = {};
try { slim.version(); out.before = 'no error'; } catch (e) { out.before = e.code; }
try { new slim.MeshClient({ apiUrl: location.origin, apiKey: 'mesh_sk_slim' }); out.classBefore = 'no error'; }
catch (e) { out.classBefore = e.code; }
try { slim.MeshClient.fromEnv({}, {}); out.staticBefore = 'no error'; }
catch (e) { out.staticBefore = e.code; }
await init(new URL('/node_modules/mesh-sdk/wasm/client/mesh_sdk_client_bg.wasm', location.href), new URL('/assets/redirect.wasm', location.href));
out.after = slim.version();
const client = new slim.MeshClient({ apiUrl: location.origin, apiKey: 'mesh_sk_slim' });
out.classAfter = client instanceof slim.MeshClient;
const res = await client.fetch('/echo?from=slim');
out.echoKey = (await res.json()).headers['x-api-key'];
client.dispose();
// The redirect login's module: from init's second argument, on the first authorizeUrl.
const oauth = new slim.MeshClient({ issuer: location.origin, clientId: 'slim-spa', storage: 'memory' });
try { out.authorize = (await oauth.authorizeUrl({ redirectUri: location.origin + '/callback' })).split('?')[0]; }
catch (e) { out.authorize = String(e && e.stack || e); }
oauth.dispose();
window.__result = out;
</script>`;

const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };

test('the packed tarball works in a <script type="module"> page in Chromium', async (t) => {
  const dir = await freshProject(t, { files: { 'index.html': mainPage, 'slim.html': slimPage } });
  const server = await recordingServer(t, async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/echo') return false; // recorded and echoed as JSON
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir)) { res.statusCode = 403; res.end(); return true; }
    try {
      const body = await readFile(file);
      res.setHeader('content-type', types[extname(file)] ?? 'application/octet-stream');
      res.end(body);
    } catch {
      res.statusCode = 404;
      res.end('not found');
    }
    return true;
  });
  // The slim page's redirect module, where its init says; the provider's discovery document.
  await mkdir(join(dir, 'assets'));
  await copyFile(join(dir, 'node_modules/mesh-sdk/wasm/redirect/mesh_sdk_redirect_bg.wasm'), join(dir, 'assets/redirect.wasm'));
  await mkdir(join(dir, '.well-known'));
  const discovery = { issuer: server.url, authorization_endpoint: `${server.url}/authorize`, token_endpoint: `${server.url}/token` };
  await writeFile(join(dir, '.well-known/openid-configuration'), JSON.stringify(discovery));
  const browser = await launchChromium(t);
  const expected = await packageVersion();

  const load = async (path) => {
    const page = await bounded(browser.newPage(), `newPage for ${path}`);
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${server.url}${path}`, { timeout: 30_000 });
    try {
      await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
    } catch (e) {
      throw new Error(`${path}: no result (${problems.join('; ') || e.message})`);
    }
    const result = await bounded(page.evaluate(() => window.__result), `reading the result of ${path}`);
    await closeQuietly(page, `the page of ${path}`);
    return result;
  };

  await t.test('main entry: the wasm is fetched by URL, then a real call', async () => {
    const out = await load('/');
    assert.equal(out.error, undefined, out.error);
    assert.equal(out.version, expected);
    assert.ok(server.requests.some((r) => r.url.endsWith('/wasm/client/mesh_sdk_client_bg.wasm')), 'the client build was loaded');
    assert.ok(!server.requests.some((r) => r.url.includes('/wasm/gateway/')), 'the browser never loads the gateway build');
    assert.ok(!server.requests.some((r) => r.url.includes('/wasm/redirect/')), 'a page without the redirect login never loads its module');
    assert.ok(out.exports.includes('MeshClient'));
    assert.ok(!out.exports.includes('createGateway'), 'the browser build carries no gateway');
    assert.equal(out.status, 200);
    assert.equal(out.echo.headers['x-api-key'], 'mesh_sk_from_browser');
    assert.equal(out.badOption.code, 'invalid_config');
    assert.equal(out.badOption.isMeshError, true);
  });

  await t.test('slim entry: not_initialized before init, works after', async () => {
    const out = await load('/slim.html');
    assert.deepEqual(out, {
      before: 'not_initialized',
      classBefore: 'not_initialized',
      staticBefore: 'not_initialized',
      after: expected,
      classAfter: true,
      echoKey: 'mesh_sk_slim',
      authorize: `${server.url}/authorize`,
    });
    assert.ok(server.requests.some((r) => r.url === '/assets/redirect.wasm'), 'the redirect module came from init\'s second argument');
    assert.ok(!server.requests.some((r) => r.url.includes('/wasm/redirect/mesh_sdk_redirect_bg.wasm')), 'and not from beside its glue');
  });
});
