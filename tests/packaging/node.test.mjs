// The packed tarball in a fresh Node project: ESM import, CommonJS require,
// the slim entry with explicit init, and the raw .wasm exports. Each script
// runs in its own Node process, as a user's program would.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { freshProject, nodeJson, packageVersion, recordingServer } from './helpers.mjs';

// Each probe prints one JSON object: the exports, a real API-key call to a
// local origin, and a bad option.
const probe = (load) => `
${load}
const out = { version: sdk.version(), exports: Object.keys(sdk).sort() };
{
  const client = new sdk.MeshClient({ apiUrl: process.env.ORIGIN, apiKey: 'mesh_sk_packaging_probe' });
  const res = await client.fetch('/echo?from=probe', { method: 'GET' });
  out.status = res.status;
  out.echo = await res.json();
  try {
    new sdk.MeshClient({ apiUrl: 'not a url', apiKey: 'mesh_sk_x' });
    out.badOption = 'no error';
  } catch (e) {
    out.badOption = { code: e.code, name: e.name, message: e.message, isMeshError: sdk.isMeshError(e) };
  }
  client.dispose();
}
console.log(JSON.stringify(out));
`;

const esm = probe(`import * as sdk from 'mesh-sdk';`);
// CommonJS: Node >= 20.19 loads the ES module entry from require().
const cjs = `(async () => {${probe(`const sdk = require('mesh-sdk');`)}})().catch((e) => { console.error(e); process.exit(1); });`;

const slim = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import init, * as slim from 'mesh-sdk/slim';

const out = {};
try {
  slim.version();
  out.before = 'no error';
} catch (e) {
  out.before = { code: e.code, name: e.name, message: e.message, isMeshError: slim.isMeshError(e) };
}
{
  try {
    new slim.MeshClient({ apiUrl: 'http://127.0.0.1:9', apiKey: 'mesh_sk_x' });
    out.classBefore = 'no error';
  } catch (e) {
    out.classBefore = e.code;
  }
}
const wasmPath = fileURLToPath(import.meta.resolve('mesh-sdk/slim.wasm'));
await init(readFileSync(wasmPath));
out.after = slim.version();
{
  const client = new slim.MeshClient({ apiUrl: process.env.ORIGIN, apiKey: 'mesh_sk_slim' });
  out.classAfter = client instanceof slim.MeshClient;
  client.dispose();
}
console.log(JSON.stringify(out));
`;

const rawWasm = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const out = {};
for (const name of ['mesh-sdk/wasm', 'mesh-sdk/wasm/client', 'mesh-sdk/wasm/redirect', 'mesh-sdk/slim.wasm']) {
  const bytes = readFileSync(fileURLToPath(import.meta.resolve(name)));
  out[name] = WebAssembly.validate(bytes) && WebAssembly.Module.exports(new WebAssembly.Module(bytes)).some((e) => e.name === 'version');
}
console.log(JSON.stringify(out));
`;

test('the packed tarball works in a fresh Node project', async (t) => {
  const origin = await recordingServer(t);
  const dir = await freshProject(t, {
    files: { 'esm.mjs': esm, 'cjs.cjs': cjs, 'slim.mjs': slim, 'raw.mjs': rawWasm },
  });
  const expected = await packageVersion();

  const checkProbe = (out, label) => {
    assert.equal(out.version, expected, `${label}: version()`);
    assert.equal(out.stderr, '', `${label}: nothing on stderr (no warning about require of an ES module)`);
    assert.ok(out.exports.includes('isMeshError'), `${label}: exports isMeshError`);
    for (const name of ['MeshClient', 'createGateway', 'verifyIdentity', 'version', 'isMeshError']) {
      assert.ok(out.exports.includes(name), `${label}: exports ${name}`);
    }
    assert.equal(out.status, 200, `${label}: client.fetch status`);
    assert.equal(out.echo.headers['x-api-key'], 'mesh_sk_packaging_probe', `${label}: X-API-Key arrived`);
    assert.equal(out.echo.url, '/echo?from=probe');
    assert.equal(out.echo.headers.authorization, undefined, `${label}: API-key mode sends no bearer token`);
    assert.equal(out.badOption.code, 'invalid_config', `${label}: bad option code`);
    assert.equal(out.badOption.name, 'MeshError');
    assert.equal(out.badOption.isMeshError, true);
    assert.match(out.badOption.message, /apiUrl/, `${label}: the message names the option`);
  };

  await t.test('ESM import', async () => {
    checkProbe(await nodeJson(dir, 'esm.mjs', { ORIGIN: origin.url }), 'esm');
  });

  await t.test('CommonJS require', async () => {
    checkProbe(await nodeJson(dir, 'cjs.cjs', { ORIGIN: origin.url }), 'cjs');
  });

  await t.test('slim entry: clear error before init, works after', async () => {
    const out = await nodeJson(dir, 'slim.mjs', { ORIGIN: origin.url });
    assert.equal(out.before.code, 'not_initialized');
    assert.equal(out.before.name, 'MeshError');
    assert.equal(out.before.isMeshError, true);
    assert.match(out.before.message, /init/);
    assert.equal(out.after, expected);
    assert.equal(out.classBefore, 'not_initialized');
    assert.equal(out.classAfter, true);
  });

  await t.test('raw .wasm exports are valid modules', async () => {
    const out = await nodeJson(dir, 'raw.mjs');
    delete out.stderr;
    assert.deepEqual(out, { 'mesh-sdk/wasm': true, 'mesh-sdk/wasm/client': true, 'mesh-sdk/wasm/redirect': true, 'mesh-sdk/slim.wasm': true });
  });

  await t.test('the CLI bins are installed and start', async (st) => {
    for (const name of ['mesh-auth', 'mesh-env']) {
      const path = join(dir, 'node_modules/.bin', name);
      if (!existsSync(join(dir, 'node_modules/mesh-sdk/bin', `${name}.js`))) {
        st.diagnostic(`${name} is not in this build yet`);
        continue;
      }
      const { stdout } = await promisify(execFile)(path, ['--help'], { cwd: dir, timeout: 30_000 });
      assert.match(stdout, new RegExp(`Usage: ${name}`));
    }
  });
});

// mesh-sdk/next and mesh-auth share one initialisation of the Node-only server
// build (server-wasm.js): no other module of the package instantiates it, and
// importing that module alone makes the build usable.
test('the server build is initialised by server-wasm.js alone', async () => {
  const pkgDir = fileURLToPath(new URL('../../pkg/', import.meta.url));
  const modules = ['.', 'bin'].flatMap((dir) => readdirSync(join(pkgDir, dir)).filter((f) => f.endsWith('.js')).map((f) => join(dir, f)));
  const initialising = modules.filter((f) => readFileSync(join(pkgDir, f), 'utf8').includes('wasm/server/mesh_sdk_server_bg.wasm'));
  assert.deepEqual(initialising.sort(), ['next-edge.js', 'server-wasm.js'], 'next-edge.js loads it asynchronously (edge runtime); every Node module goes through server-wasm.js');
  const script = `const { terminalLoginPlan, ServerRules } = await import(${JSON.stringify(join(pkgDir, 'server-wasm.js'))});
console.log(JSON.stringify({ flow: terminalLoginPlan({ platform: 'linux', env: { MESH_HEADLESS: 'true' } }).flow, rules: typeof ServerRules }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  assert.deepEqual(JSON.parse(stdout), { flow: 'device', rules: 'function' });
});

// A bundler, or a user, that copies the package's wasm files into one folder
// must not have one build overwrite another: each file is named after its build.
test('every wasm file of the package has a name of its own', () => {
  const pkgDir = fileURLToPath(new URL('../../pkg/', import.meta.url));
  const files = readdirSync(join(pkgDir, 'wasm'), { recursive: true }).map(String).filter((f) => /\.wasm(\.b64\.js)?$/.test(f));
  const names = files.map((f) => f.split('/').pop());
  assert.ok(files.length >= 8, files.join(', '));
  assert.equal(new Set(names).size, names.length, `clashing names: ${files.join(', ')}`);
  // <variant>/mesh_sdk_<variant>_bg.wasm, a dash in the variant as an underscore.
  for (const f of files) {
    const [variant, name] = f.split('/');
    assert.ok(name.startsWith(`mesh_sdk_${variant.replace('-', '_')}_bg.wasm`), f);
  }
});
