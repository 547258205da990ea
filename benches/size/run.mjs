// Browser bundle size of mesh-sdk beside the best-known auth SDKs, bundled the
// same way (esbuild, browser platform, ESM, minify, an entry that imports the
// main client class; then gzip level 9), and the wasm instantiate time in
// Node with same-run references. Prints numbers; asserts nothing.
//
//   node benches/size/run.mjs [--json FILE] [--runs N]
//
// Needs pkg/ (scripts/build.sh) and the root dev dependencies (npm ci).
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const runs = Number(opt('--runs', 30));
// Issue 15: `import { MeshClient }` bundled and minified, plus its wasm, gzip -9.
const GOAL_KB = 36;
// Issue 15: the wasm `mesh-sdk/gateway` loads, gzip -9.
const GATEWAY_GOAL_KB = 150;

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1);
const version = (name) => JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')).version;

// Each anchor's entry imports its main client class, as an app would.
// oauth4webapi has no class: the app imports the functions of its flows
// (discovery, device grant, refresh, protected resource), i.e. the module.
const anchors = [
  { name: '@supabase/auth-js', entry: "import { AuthClient } from '@supabase/auth-js'; globalThis.sdk = AuthClient;" },
  { name: '@auth0/auth0-spa-js', entry: "import { Auth0Client } from '@auth0/auth0-spa-js'; globalThis.sdk = Auth0Client;" },
  { name: '@azure/msal-browser', entry: "import { PublicClientApplication } from '@azure/msal-browser'; globalThis.sdk = PublicClientApplication;" },
  { name: 'oauth4webapi', entry: "import * as oauth from 'oauth4webapi'; globalThis.sdk = oauth;" },
];
const ours = {
  name: 'mesh-sdk (browser entry)',
  entry: "import { MeshClient } from 'mesh-sdk'; globalThis.sdk = MeshClient;",
};

const work = mkdtempSync(join(tmpdir(), 'mesh-size-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
// `mesh-sdk` resolves to pkg/ through its package.json exports, as for a user.
mkdirSync(join(work, 'node_modules'));
symlinkSync(join(repo, 'pkg'), join(work, 'node_modules/mesh-sdk'), 'dir');

// Code splitting on, as app bundlers do: what a page downloads to import the
// entry is the entry chunk and the chunks it imports statically; chunks
// reached only by a dynamic import() (mesh-sdk's redirect login) are counted
// apart, as `lazy`. Each file is gzipped on its own, as it is served.
async function bundle({ name, entry }, file) {
  const entryFile = join(work, `${file}.entry.mjs`);
  writeFileSync(entryFile, entry);
  const outdir = join(work, `${file}.out`);
  const options = {
    entryPoints: [entryFile],
    bundle: true,
    splitting: true,
    outdir,
    platform: 'browser',
    format: 'esm',
    minify: true,
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'error',
    nodePaths: [join(repo, 'node_modules')],
    // The wasm stays a separate asset (fetched by URL); it is measured apart.
    external: ['*.wasm'],
  };
  const result = await build(options);
  const files = new Map(result.outputFiles.map((f) => [f.path.slice(f.path.lastIndexOf('/') + 1), f.contents]));
  const outputs = Object.fromEntries(Object.entries(result.metafile.outputs).map(([k, v]) => [k.slice(k.lastIndexOf('/') + 1), v]));
  const entryName = Object.keys(outputs).find((k) => outputs[k].entryPoint);
  const initial = new Set([entryName]);
  for (const n of initial) {
    for (const imp of outputs[n].imports) {
      if (imp.kind === 'import-statement' && !imp.external) initial.add(imp.path.slice(imp.path.lastIndexOf('/') + 1));
    }
  }
  let js = 0, jsGz = 0, lazy = 0, lazyGz = 0;
  for (const [n, code] of files) {
    if (!n.endsWith('.js')) continue;
    if (initial.has(n)) {
      js += code.length;
      jsGz += gz(code);
    } else {
      lazy += code.length;
      lazyGz += gz(code);
    }
  }
  // The start-up timings below evaluate one file (re-imported per run, so no chunk is cached): the same bundle unsplit.
  const whole = await build({ ...options, splitting: false, outdir: undefined, metafile: false });
  writeFileSync(join(work, `${file}.bundle.mjs`), whole.outputFiles[0].contents);
  return { name, js, jsGz, lazy, lazyGz };
}

const rows = [];
for (const [i, a] of anchors.entries()) {
  const r = await bundle(a, `anchor${i}`);
  rows.push({ ...r, name: `${a.name} ${version(a.name)}`, total: r.jsGz, file: `anchor${i}` });
}
const mine = await bundle(ours, 'ours');
const wasmBytes = readFileSync(join(repo, 'pkg/wasm/client/mesh_sdk_client_bg.wasm'));
const redirectWasmBytes = readFileSync(join(repo, 'pkg/wasm/redirect/mesh_sdk_redirect_bg.wasm'));
const gatewayWasmBytes = readFileSync(join(repo, 'pkg/wasm/gateway/mesh_sdk_gateway_bg.wasm'));
const durableWasmBytes = readFileSync(join(repo, 'pkg/wasm/gateway-durable/mesh_sdk_gateway_durable_bg.wasm'));
const variants = [['client', wasmBytes], ['redirect', redirectWasmBytes], ['gateway', gatewayWasmBytes], ['gateway-durable', durableWasmBytes]];
// wasm-opt drops the name section; a module that still has one is a --dev build.
for (const [variant, bytes] of variants) {
  if (WebAssembly.Module.customSections(new WebAssembly.Module(bytes), 'name').length > 0) {
    console.log(`WARNING: pkg/wasm/${variant} is a --dev build (no wasm-opt): its sizes are not the release sizes\n`);
  }
}
rows.push({ ...mine, wasm: wasmBytes.length, wasmGz: gz(wasmBytes), total: mine.jsGz + gz(wasmBytes), file: 'ours' });

console.log('## Browser bundle size (esbuild --bundle --minify --splitting --platform=browser --format=esm, gzip -9; lazy chunks apart)\n');
console.log('| package | JS min | JS gz | wasm | wasm gz | total gz |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const wasm = r.wasm === undefined ? ['-', '-'] : [`${kb(r.wasm)} KB`, `${kb(r.wasmGz)} KB`];
  console.log(`| ${r.name} | ${kb(r.js)} KB | ${kb(r.jsGz)} KB | ${wasm[0]} | ${wasm[1]} | **${kb(r.total)} KB** |`);
}
const total = rows.at(-1).total;
console.log(`\nmesh-sdk browser total: ${kb(total)} KB gz; goal <= ${GOAL_KB} KB: ${total <= GOAL_KB * 1024 ? 'met' : 'NOT met'}`);
if (total > GOAL_KB * 1024) console.log('what is big: node benches/size/breakdown.mjs client');
// The redirect login's module and glue come on its first call: a callback page downloads both.
const callback = total + mine.lazyGz + gz(redirectWasmBytes);
console.log(`redirect login (fetched on its first call): ${kb(mine.lazy)} KB JS (${kb(mine.lazyGz)} KB gz) + ${kb(redirectWasmBytes.length)} KB wasm (${kb(gz(redirectWasmBytes))} KB gz); a callback page in all: ${kb(callback)} KB gz`);
console.log(`gateway wasm (mesh-sdk/gateway, workerd and Node): ${kb(gatewayWasmBytes.length)} KB, ${kb(gz(gatewayWasmBytes))} KB gz; goal <= ${GATEWAY_GOAL_KB} KB gz: ${gz(gatewayWasmBytes) <= GATEWAY_GOAL_KB * 1024 ? 'met' : 'NOT met'} (what is big: node benches/size/breakdown.mjs gateway)`);
console.log(`gateway wasm with the Durable Objects (mesh-sdk/gateway/durable): ${kb(durableWasmBytes.length)} KB, ${kb(gz(durableWasmBytes))} KB gz\n`);

// ---- Instantiate time in Node.

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];

async function timeIt(label, fn) {
  await fn(-1); // warm up (the first run also pays for lazy engine set-up)
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(i);
    xs.push(performance.now() - t0);
  }
  return { label, median: median(xs), p90: p90(xs) };
}

// A fresh glue module per run (a query string makes a new module record), so
// each run compiles, instantiates and starts the wasm from bytes, as a page
// load or a cold isolate does.
const glueUrl = (variant, i) => `${pathToFileURL(join(repo, `pkg/wasm/${variant}/mesh_sdk_${variant.replace('-', '_')}.js`)).href}?run=${variant}${i}`;
const timings = [];
for (const [variant, bytes] of variants) {
  timings.push(await timeIt(`mesh-sdk ${variant} wasm (${kb(bytes.length)} KB): initSync from bytes`, async (i) => {
    const glue = await import(glueUrl(variant, `s${i}`));
    glue.initSync({ module: bytes });
  }));
  timings.push(await timeIt(`mesh-sdk ${variant} wasm: async init (WebAssembly.instantiate)`, async (i) => {
    const glue = await import(glueUrl(variant, `a${i}`));
    await glue.default({ module_or_path: bytes });
  }));
}
// Same-run references: the smallest valid wasm module (the engine's fixed
// cost), and evaluating each anchor's minified bundle (a JS SDK's start-up).
const emptyWasm = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
timings.push(await timeIt('reference: empty wasm module, compile + instantiate', async () => {
  new WebAssembly.Instance(new WebAssembly.Module(emptyWasm), {});
}));
for (const r of rows.slice(0, -1)) {
  const url = pathToFileURL(join(work, `${r.file}.bundle.mjs`)).href;
  try {
    timings.push(await timeIt(`reference: evaluate ${r.name} bundle (${kb(r.js)} KB JS)`, async (i) => {
      await import(`${url}?run=${i}`);
    }));
  } catch (e) {
    timings.push({ label: `reference: evaluate ${r.name} bundle`, error: e.message.split('\n')[0] });
  }
}
console.log(`## Instantiate time in Node ${process.version} (median and p90 of ${runs} runs, ms; one warm-up)\n`);
console.log('| what | median | p90 |');
console.log('| --- | ---: | ---: |');
for (const t of timings) {
  if (t.error) console.log(`| ${t.label} | n/a (${t.error}) | |`);
  else console.log(`| ${t.label} | ${t.median.toFixed(3)} | ${t.p90.toFixed(3)} |`);
}

const jsonOut = opt('--json');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ sizes: rows, timings, goalKB: GOAL_KB }, null, 2));
