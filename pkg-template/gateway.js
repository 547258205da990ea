// `mesh-sdk/gateway` in workerd: the gateway alone (createGateway,
// verifyIdentity) for a Worker without MeshClient. Without the Durable Objects:
// a Worker that binds them imports `mesh-sdk/gateway/durable` (gateway-durable.js).
// It loads only the gateway's wasm; the main entry also loads the client's.
import wasm from './wasm/gateway/mesh_sdk_gateway_bg.wasm';
import { initSync } from './wasm/gateway/mesh_sdk_gateway.js';

initSync({ module: wasm });

export { createGateway, verifyIdentity, version } from './wasm/gateway/mesh_sdk_gateway.js';
export { MeshError, isMeshError } from './errors.js';
