// `make demo`'s stack, as the README's main command starts it: scripts/demo.mjs
// (after scripts/build.sh and the www build, which this test makes sure of)
// on free ports of 127.0.0.1. A newcomer's first steps through it:
//   - the web app's /login page and the provider's discovery answer;
//   - a terminal-style device login at the demo's provider (MeshClient in
//     Node, approved on the provider's pages as demo/demo), and an API call
//     through the demo gateway: the origin sees the user's x-user-id, never
//     the one the caller sent;
//   - the API-key route refuses a call without a key, a spoofed identity
//     included, and nothing reaches the origin;
//   - Ctrl-C (SIGINT) stops everything: the demo exits 0 and frees its ports.
// Every wait is bounded; the demo's process group is killed at the end whatever happened.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { MeshClient } from '../../pkg/node.js';
import { buildWww, ROOT } from '../browser/support/next-app.mjs';
import { approveDevice } from '../support/approve.mjs';
import { freePort, sleep } from '../support/http.mjs';
import { killGroup, live } from '../support/process-group.mjs';

const READY = 'mesh-sdk demo is running';
let demo;
let out = '';
let exited = null;
const ports = {};

before(async () => {
  await buildWww();
  for (const name of ['provider', 'origin', 'gateway', 'web']) ports[name] = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/demo.mjs')], {
    cwd: ROOT,
    detached: true, // its own process group: the end of the test reaches every child
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      MESH_DEMO_PROVIDER_PORT: String(ports.provider),
      MESH_DEMO_ORIGIN_PORT: String(ports.origin),
      MESH_DEMO_GATEWAY_PORT: String(ports.gateway),
      MESH_DEMO_WEB_PORT: String(ports.web),
      NEXT_TELEMETRY_DISABLED: '1',
    },
  });
  live.add(child);
  const keep = (chunk) => { out = (out + chunk.toString('utf8')).slice(-256 * 1024); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.once('exit', (code, signal) => {
    exited = { code, signal };
    live.delete(child);
  });
  demo = child;
  for (const until = Date.now() + 180_000; !out.includes(READY); await sleep(250)) {
    if (exited) throw new Error(`the demo exited (${exited.code ?? exited.signal}) before it was ready:\n${out}`);
    if (Date.now() > until) throw new Error(`the demo was not ready within 180 s:\n${out}`);
  }
});

after(() => {
  if (demo && !exited) killGroup(demo, 'SIGKILL');
});

const url = (name, p) => `http://127.0.0.1:${ports[name]}${p}`;
const get = (u, headers = {}) => fetch(u, { headers, signal: AbortSignal.timeout(30_000) });

test('the demo prints where everything is', () => {
  for (const name of ['web', 'gateway', 'provider', 'origin']) assert.ok(out.includes(`127.0.0.1:${ports[name]}`), `${name} in:\n${out}`);
});

test("the web app's login page and the provider answer", async () => {
  const login = await get(url('web', '/login'));
  assert.equal(login.status, 200);
  assert.match(await login.text(), /Sign in/);
  const discovery = await get(url('provider', '/.well-known/openid-configuration'));
  assert.equal(discovery.status, 200);
  const meta = await discovery.json();
  assert.equal(meta.issuer, url('provider', ''));
  assert.ok(meta.device_authorization_endpoint, 'the provider offers the device login');
});

test('a device login at the demo provider calls the API through the gateway as that user', { timeout: 120_000 }, async () => {
  const client = new MeshClient({
    issuer: url('provider', ''),
    clientId: 'mesh-demo',
    audience: url('gateway', ''),
    apiUrl: url('gateway', ''),
    scope: 'openid offline_access',
    storage: 'memory',
    timeoutMs: 10_000,
  });
  try {
    const login = await client.startDeviceLogin();
    const [session, approval] = await Promise.all([
      client.completeDeviceLogin(login),
      approveDevice({ verificationUriComplete: login.verificationUriComplete, login: 'demo', password: 'demo' }),
    ]);
    assert.equal(approval.outcome, 'approved');
    assert.ok(session.accessToken);
    // The caller tries to choose its identity; the gateway strips it and injects the token's.
    const res = await client.fetch('/api/v1/whoami', { headers: { 'x-user-id': 'admin' } });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const echo = JSON.parse(text);
    assert.equal(echo.path, '/api/v1/whoami');
    assert.equal(echo.identity.userId, 'user-demo-1', text);
    assert.equal(echo.headers['x-user-id'], 'user-demo-1', text);
    assert.doesNotMatch(text, /"admin"/);
    assert.match(out, /\[origin\] GET \/api\/v1\/whoami user=user-demo-1/);
  } finally {
    client.dispose();
  }
});

test('the API-key route refuses a call without a key, spoofed identity or not', async () => {
  for (const headers of [{}, { 'x-user-id': 'admin' }, { authorization: 'Bearer not-a-key' }]) {
    const res = await get(url('gateway', '/agent/v1/mcp/messages/'), headers);
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.doesNotMatch(await res.text(), /admin/);
  }
  assert.doesNotMatch(out, /\[origin\] GET \/agent\//, 'no refused call reached the origin');
});

test('Ctrl-C stops the whole demo and frees its ports', { timeout: 60_000 }, async () => {
  process.kill(demo.pid, 'SIGINT');
  for (const until = Date.now() + 30_000; !exited; await sleep(200)) {
    if (Date.now() > until) assert.fail(`the demo still runs 30 s after SIGINT:\n${out}`);
  }
  assert.deepEqual(exited, { code: 0, signal: null }, out);
  for (const [name, port] of Object.entries(ports)) {
    // workerd may let go of its port a moment after wrangler exits.
    let free = await isFree(port);
    for (let i = 0; !free && i < 10; i++) free = (await sleep(500), await isFree(port));
    assert.ok(free, `the ${name} port ${port} is still taken after the demo exited`);
  }
});

/** @param {number} port */
function isFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
