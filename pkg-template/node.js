// Node and Next.js server code: the wasm comes inlined as base64, so no bundler
// has to find a file next to this one.
import wasmBase64 from './wasm/full/mesh_sdk_bg.wasm.b64.js';
import { initSync } from './wasm/full/mesh_sdk.js';

initSync({ module: Buffer.from(wasmBase64, 'base64') });

// The public API only: the glue also exports the driver's ClientCore.
export { MeshClient, createGateway, verifyIdentity, version } from './wasm/full/mesh_sdk.js';
export { isMeshError } from './errors.js';
