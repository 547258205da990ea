// The packed tarball in a Next.js 16 app (fixtures/next-app), with no
// next.config: a server component, a Node route handler, an edge route
// handler and a client component import `mesh-sdk`. One `next build`
// (Turbopack, the default), then `next start` on 127.0.0.1: the routes and the
// page are fetched, and Chromium proves the client component ran the browser
// entry.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import {
  freePort, freshProject, launchChromium, packageVersion, recordingServer, repo, startProcess, waitForHttp,
} from './helpers.mjs';
import { bounded } from '../browser/support/chromium.mjs';

const run = promisify(execFile);
const nextEnv = { NEXT_TELEMETRY_DISABLED: '1' };

test('the packed tarball works in a Next.js app (build, start, server and client)', async (t) => {
  const origin = await recordingServer(t);
  const dir = await freshProject(t, { copyFrom: join(repo, 'tests/packaging/fixtures/next-app'), timeoutMs: 600_000 });
  const next = join(dir, 'node_modules/.bin/next');
  const expected = await packageVersion();

  try {
    await run(next, ['build'], { cwd: dir, env: { ...process.env, ...nextEnv }, timeout: 600_000, maxBuffer: 32 << 20 });
  } catch (e) {
    assert.fail(`next build failed:\n${e.stdout}\n${e.stderr}`);
  }

  const port = await freePort();
  const proc = startProcess(t, next, ['start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: dir,
    env: { ...nextEnv, MESH_TEST_ORIGIN: origin.url },
  });
  const base = `http://127.0.0.1:${port}`;
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
    assert.ok(wasm.some((w) => /mesh_sdk_bg/.test(w.filePath)), JSON.stringify(wasm));
  });

  await t.test('server component renders with mesh-sdk', async () => {
    const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(30_000) });
    const html = await res.text();
    assert.equal(res.status, 200, proc.out.text);
    assert.match(html, new RegExp(`server:(<!-- -->)?${expected.replaceAll('.', '\\.')}`));
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
    const clientWasm = (await stat(join(dir, 'node_modules/mesh-sdk/wasm/client/mesh_sdk_bg.wasm'))).size;
    assert.deepEqual(await Promise.all(wasmSizes), [clientWasm], 'the browser fetched the client build once, not the full one');
  });
});
