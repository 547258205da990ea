// Browsers: the glue's default init() fetches the .wasm by URL, once.
import init from './wasm/client/mesh_sdk.js';

await init();

export * from './wasm/client/mesh_sdk.js';
export { isMeshError } from './errors.js';
