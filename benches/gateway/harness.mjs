// Shared by the gateway benchmark (run.mjs) and profiler (profile.mjs): the
// workers bundled as `wrangler deploy --dry-run` bundles them, the Miniflare
// options for one of them, the origin they forward to, and the variables
// that configure the gateway.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The wrangler configs of the workers measured. */
export const CONFIGS = {
  mesh: path.join(ROOT, 'gateway/wrangler.toml'),
  pass: path.join(ROOT, 'benches/gateway/workers/passthrough.toml'),
  jose: path.join(ROOT, 'benches/gateway/workers/jose-gateway.toml'),
};

/** Bundles `config` into `outdir` as `wrangler deploy --dry-run` would deploy it. */
export function bundle(name, config, outdir) {
  const r = spawnSync(path.join(ROOT, 'node_modules/.bin/wrangler'),
    ['deploy', '--dry-run', '--outdir', outdir, '-c', config],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' }, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run ${config} failed:\n${r.stdout}\n${r.stderr}`);
  const files = readdirSync(outdir);
  const main = files.find((f) => f.endsWith('.js') && !f.endsWith('.map'));
  const wasm = files.filter((f) => f.endsWith('.wasm'));
  const upload = /Total Upload: ([^\n]+)/.exec(r.stdout)?.[1]?.trim();
  return { name, dir: outdir, main: path.join(outdir, main), wasm: wasm.map((f) => path.join(outdir, f)), upload };
}

/** Miniflare options for one bundled worker on its own loopback socket. */
export function workerOptions(name, b, bindings, extra = {}) {
  return {
    name,
    modules: true,
    scriptPath: b.main,
    modulesRoot: b.dir,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-05-01',
    bindings,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...extra,
  };
}

/** The origin every worker forwards to: drains the body, answers a small JSON. */
export async function startOrigin() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 }).end('{"ok":true}'));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** The gateway's configuration (the reference workers read the same names). */
export function gatewayVars(originUrl, jwks, keys) {
  return {
    MESH_UPSTREAM_URL: originUrl,
    MESH_JWT_ISSUER: jwks.issuer,
    MESH_JWT_AUDIENCE: 'mesh-api',
    MESH_JWKS_URL: jwks.url,
    MESH_JWT_HS256_SECRET: keys.hsSecret,
  };
}
