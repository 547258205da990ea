// Node and Next.js server code: the wasm comes inlined as base64, so no bundler
// has to find a file next to this one.
import wasmBase64 from './wasm/full/mesh_sdk_bg.wasm.b64.js';
import { ClientCore, initSync } from './wasm/full/mesh_sdk.js';
import { defineMeshClient } from './client.js';

initSync({ module: Buffer.from(wasmBase64, 'base64') });

export const MeshClient = defineMeshClient(ClientCore);
export { createGateway, verifyIdentity, version } from './wasm/full/mesh_sdk.js';
export { MeshError, isMeshError } from './errors.js';
