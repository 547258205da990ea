// Browsers: the glue's default init() fetches the .wasm by URL, once.
import init, { ClientCore } from './wasm/client/mesh_sdk.js';
import { defineMeshClient } from './client.js';

await init();

export const MeshClient = defineMeshClient(ClientCore);
export { version } from './wasm/client/mesh_sdk.js';
export { MeshError, isMeshError } from './errors.js';
