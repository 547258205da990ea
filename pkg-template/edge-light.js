// Next.js edge runtime (and middleware): the bundler hands us a compiled
// WebAssembly.Module from another JS context, which the glue's synchronous
// initSync rejects (instanceof fails across contexts), so init asynchronously.
import wasm from './wasm/full/mesh_sdk_bg.wasm?module';
import init from './wasm/full/mesh_sdk.js';

await init({ module_or_path: wasm });

// The public API only: the glue also exports the driver's ClientCore.
export { MeshClient, createGateway, verifyIdentity, version } from './wasm/full/mesh_sdk.js';
export { isMeshError } from './errors.js';
