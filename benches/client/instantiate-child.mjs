// One measurement in a fresh process (V8 caches compiled wasm per process, so
// repeating in one process would time cache hits). Prints one JSON line.
//   node instantiate-child.mjs wasm <path/to/mesh_sdk_<variant>_bg.wasm> <path/to/mesh_sdk_<variant>.js>
//   node instantiate-child.mjs entry <path/to/node.js>
//   node instantiate-child.mjs import <package name>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [kind, a, b] = process.argv.slice(2);
const now = () => performance.now();
const out = { kind };

if (kind === 'wasm') {
  const bytes = readFileSync(a);
  const glue = await import(pathToFileURL(b).href);
  const t0 = now();
  const module = new WebAssembly.Module(bytes);
  const t1 = now();
  glue.initSync({ module }); // instantiate + wasm-bindgen start
  const t2 = now();
  Object.assign(out, { compileMs: t1 - t0, instantiateMs: t2 - t1, totalMs: t2 - t0, check: typeof glue.version === 'function' ? glue.version() : null });
} else if (kind === 'entry') {
  const t0 = now();
  await import(pathToFileURL(a).href);
  out.totalMs = now() - t0;
} else if (kind === 'import') {
  const t0 = now();
  await import(a);
  out.totalMs = now() - t0;
} else {
  throw new Error(`unknown kind ${kind}`);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
