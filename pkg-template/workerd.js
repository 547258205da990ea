// workerd (Cloudflare Workers): the bundler hands us a compiled WebAssembly.Module.
import wasm from './wasm/full/mesh_sdk_bg.wasm';
import { initSync } from './wasm/full/mesh_sdk.js';

initSync({ module: wasm });

// The public API only: the glue also exports the driver's ClientCore.
export { MeshClient, createGateway, verifyIdentity, version } from './wasm/full/mesh_sdk.js';
export { isMeshError } from './errors.js';
