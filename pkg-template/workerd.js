// workerd (Cloudflare Workers): the bundler hands us a compiled WebAssembly.Module.
import wasm from './wasm/full/mesh_sdk_bg.wasm';
import { initSync } from './wasm/full/mesh_sdk.js';

initSync({ module: wasm });

export * from './wasm/full/mesh_sdk.js';
export { isMeshError } from './errors.js';
