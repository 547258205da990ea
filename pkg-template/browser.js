// Browsers: the glue's default init() fetches the .wasm by URL, once.
import init from './wasm/client/mesh_sdk.js';

await init();

// The public API only: the glue also exports the driver's ClientCore.
export { MeshClient, version } from './wasm/client/mesh_sdk.js';
export { isMeshError } from './errors.js';
