// The packed tarball in a Worker: a tiny worker imports `mesh-sdk` (and
// `mesh-sdk/worker`, `mesh-sdk/gateway`, `mesh-sdk/gateway/durable`) by package name, wrangler bundles it as it would for
// deploy (conditions workerd, worker, browser), and real workerd runs it
// offline on 127.0.0.1. The worker makes real calls to a local origin.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  bin, freePort, freshProject, packageVersion, recordingServer, startProcess, waitForHttp,
} from './helpers.mjs';

const worker = `
import * as sdk from 'mesh-sdk';
import * as viaSubpath from 'mesh-sdk/worker';
import * as gatewayOnly from 'mesh-sdk/gateway';
import * as durable from 'mesh-sdk/gateway/durable';

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const origin = url.searchParams.get('origin');
    const out = {
      version: sdk.version(),
      // Both specifiers must resolve to the same module (one wasm instance).
      sameModule: viaSubpath.version === sdk.version,
      exports: Object.keys(sdk).sort(),
      gatewayExports: Object.keys(gatewayOnly).sort(),
      // The gateway-only entry shares the main entry's gateway module.
      sameGateway: gatewayOnly.createGateway === sdk.createGateway,
      durableExports: Object.keys(durable).sort(),
      // The durable entry is a module of its own (the objects' code).
      durableShared: durable.createGateway === sdk.createGateway,
    };
    if (!origin) return Response.json(out); // the readiness probe

    const client = new sdk.MeshClient({ apiUrl: origin, apiKey: 'mesh_sk_from_workerd' });
    const echo = await client.fetch('/echo?from=workerd');
    out.client = { status: echo.status, echo: await echo.json() };
    client.dispose();

    // One public route: no JWT issuer or KV needed. The spoofed identity
    // header must not reach the origin.
    const gateway = gatewayOnly.createGateway();
    const gatewayEnv = { MESH_UPSTREAM_URL: origin, MESH_ROUTES: '[{"prefix":"/health","auth":"public"}]' };
    const inbound = new Request(new URL('/health?from=gateway', url), { headers: { 'X-User-Id': 'spoofed' } });
    const res = await gateway.fetch(inbound, gatewayEnv, ctx);
    out.gateway = { status: res.status, body: await res.text() };

    // A configuration that needs the Durable Objects: the module without
    // them refuses it by name; the durable one goes on to ask for the binding.
    const needsObjects = { ...gatewayEnv, MESH_KEYS_STORE: 'do' };
    const refused = await gatewayOnly.createGateway().fetch(new Request(new URL('/health', url)), needsObjects, ctx);
    out.refused = { status: refused.status, body: await refused.json() };
    const asked = await durable.createGateway().fetch(new Request(new URL('/health', url)), needsObjects, ctx);
    out.asked = { status: asked.status, body: await asked.json() };
    return Response.json(out);
  },
};
`;

test('the packed tarball runs in workerd (wrangler dev, offline)', async (t) => {
  const origin = await recordingServer(t);
  const dir = await freshProject(t, {
    files: {
      'worker.js': worker,
      'wrangler.toml': 'name = "mesh-sdk-packaging"\nmain = "worker.js"\ncompatibility_date = "2026-05-01"\n',
    },
  });
  const port = await freePort();
  const inspectorPort = await freePort();
  const proc = startProcess(t, bin('wrangler'), [
    'dev', '--ip', '127.0.0.1', '--port', String(port),
    '--inspector-ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
    '--persist-to', join(dir, '.state'), '--show-interactive-dev-session=false',
  ], {
    cwd: dir,
    env: { WRANGLER_SEND_METRICS: 'false', XDG_CONFIG_HOME: join(dir, '.config'), CI: 'true' },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/`, { timeoutMs: 90_000, proc });

  const res = await fetch(`${base}/?origin=${encodeURIComponent(origin.url)}`, { signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  assert.equal(res.status, 200, `worker answered ${res.status}: ${text}\n${proc.out.text}`);
  const out = JSON.parse(text);
  assert.equal(out.version, await packageVersion());
  assert.equal(out.sameModule, true, "'mesh-sdk' and 'mesh-sdk/worker' are one module");
  assert.ok(out.exports.includes('isMeshError'));
  assert.deepEqual(out.gatewayExports, ['MeshError', 'createGateway', 'isMeshError', 'verifyIdentity', 'version']);
  assert.equal(out.sameGateway, true, "'mesh-sdk/gateway' and 'mesh-sdk' share one gateway module");
  assert.deepEqual(out.durableExports, ['KeyShard', 'MeshError', 'RateLimitShard', 'TokenBroker', 'createGateway', 'isMeshError', 'verifyIdentity', 'version']);
  assert.equal(out.durableShared, false, "'mesh-sdk/gateway/durable' loads the module with the objects");
  assert.equal(out.exports.includes('KeyShard'), false, "'mesh-sdk' leaves the objects out");
  // MESH_KEYS_STORE=do on the module without objects: refused, and the log
  // names the variable and the entry to use; the durable module takes the
  // store and asks for its binding instead.
  assert.deepEqual([out.refused.status, out.refused.body.error], [500, 'gateway_misconfigured'], JSON.stringify(out.refused));
  assert.deepEqual([out.asked.status, out.asked.body.error], [500, 'gateway_misconfigured'], JSON.stringify(out.asked));
  // Each logs its problem (a JSON line; once when configuring, and per request).
  const problems = () => new Set(proc.out.text.split('\n').filter((l) => l.includes('"gateway_misconfigured"'))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))).problem));
  for (const until = Date.now() + 10_000; problems().size < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 200));
  const [refusedProblem, askedProblem, ...others] = problems();
  assert.deepEqual(others, [], proc.out.text);
  assert.match(refusedProblem, /^MESH_KEYS_STORE: .*'mesh-sdk\/gateway\/durable'/, proc.out.text);
  assert.match(askedProblem, /^MESH_KEYS_DO: /, proc.out.text);

  assert.equal(out.client.status, 200);
  assert.equal(out.client.echo.headers['x-api-key'], 'mesh_sk_from_workerd');
  assert.equal(out.client.echo.url, '/echo?from=workerd');
  assert.equal(out.gateway.status, 200, `the gateway forwarded /health to the origin: ${out.gateway.body}`);
  const forwarded = origin.requests.find((r) => r.url.startsWith('/health'));
  assert.ok(forwarded, 'the origin saw the forwarded /health request');
  assert.equal(forwarded.url, '/health?from=gateway');
  assert.equal(forwarded.headers['x-user-id'], undefined, 'the spoofed x-user-id was stripped');
});
