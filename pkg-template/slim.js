// Explicit init: the caller supplies the wasm (bytes, a compiled module, a URL
// or a Response) and awaits `init` before anything else. Until then every
// export throws a MeshError with code `not_initialized`.
import glueInit, * as glue from './wasm/client/mesh_sdk_client.js';
import { defineMeshClient, loadOnce } from './client.js';
import { guard } from './guard.js';

export { MeshError, isMeshError } from './errors.js';

let ready = false;
const isReady = () => ready;
/** Where the redirect login's module comes from (`init`'s second argument); by default from beside its glue. */
let redirectSource;

// The redirect login's rules: a module of their own, loaded on first use.
const loadRedirect = loadOnce(async () => {
  const glue = await import('./wasm/redirect/mesh_sdk_redirect.js');
  await glue.default(redirectSource === undefined ? undefined : { module_or_path: redirectSource });
  return glue.RedirectCore;
});

export default async function init(wasm, redirectWasm) {
  await glueInit(wasm === undefined ? undefined : { module_or_path: wasm });
  redirectSource = redirectWasm;
  ready = true;
}

export function initSync(wasm) {
  glue.initSync({ module: wasm });
  ready = true;
}

export const version = guard(glue.version, 'version', isReady);
export const MeshClient = guard(defineMeshClient(glue.ClientCore, loadRedirect), 'MeshClient', isReady);
