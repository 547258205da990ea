// Next.js edge runtime (and middleware): the bundler hands us a compiled
// WebAssembly.Module from another JS context, which the glue's synchronous
// initSync rejects (instanceof fails across contexts), so init asynchronously.
import wasm from './wasm/full/mesh_sdk_bg.wasm?module';
import init, { ClientCore } from './wasm/full/mesh_sdk.js';
import { defineMeshClient } from './client.js';

await init({ module_or_path: wasm });

export const MeshClient = defineMeshClient(ClientCore);
export { createGateway, verifyIdentity, version } from './wasm/full/mesh_sdk.js';
export { MeshError, isMeshError } from './errors.js';
