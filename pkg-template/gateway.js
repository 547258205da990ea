// `mesh-sdk/gateway` in workerd: the gateway alone (createGateway,
// verifyIdentity, the Durable Object classes) for a Worker without MeshClient.
// It loads only the gateway's wasm; the main entry also loads the client's.
import wasm from './wasm/gateway/mesh_sdk_gateway_bg.wasm';
import { initSync } from './wasm/gateway/mesh_sdk_gateway.js';

initSync({ module: wasm });

export { createGateway, verifyIdentity, version } from './wasm/gateway/mesh_sdk_gateway.js';
export { KeyShard, RateLimitShard, TokenBroker } from './wasm/gateway/mesh_sdk_gateway.js';
export { MeshError, isMeshError } from './errors.js';
