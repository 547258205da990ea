// workerd (Cloudflare Workers): the bundler hands us a compiled WebAssembly.Module.
import wasm from './wasm/full/mesh_sdk_bg.wasm';
import { ClientCore, initSync } from './wasm/full/mesh_sdk.js';
import { defineMeshClient } from './client.js';

initSync({ module: wasm });

export const MeshClient = defineMeshClient(ClientCore);
export { createGateway, verifyIdentity, version } from './wasm/full/mesh_sdk.js';
// The gateway's Durable Object classes (MESH_KEYS_STORE=do, MESH_RATE_LIMIT_STORE=do,
// MESH_SERVICE_TOKEN): a Worker re-exports them so that wrangler can bind them
// (gateway/worker.js, gateway/wrangler.toml).
export { KeyShard, RateLimitShard, TokenBroker } from './wasm/full/mesh_sdk.js';
export { MeshError, isMeshError } from './errors.js';
