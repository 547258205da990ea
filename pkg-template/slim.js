// Explicit init: the caller supplies the wasm (bytes, a compiled module, a URL
// or a Response) and awaits `init` before anything else. Until then every
// export throws a MeshError with code `not_initialized`.
import glueInit, * as glue from './wasm/client/mesh_sdk.js';
import { defineMeshClient } from './client.js';
import { guard } from './guard.js';

export { MeshError, isMeshError } from './errors.js';

let ready = false;
const isReady = () => ready;

export default async function init(wasm) {
  await glueInit(wasm === undefined ? undefined : { module_or_path: wasm });
  ready = true;
}

export function initSync(wasm) {
  glue.initSync({ module: wasm });
  ready = true;
}

export const version = guard(glue.version, 'version', isReady);
export const MeshClient = guard(defineMeshClient(glue.ClientCore), 'MeshClient', isReady);
