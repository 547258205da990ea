// `mesh-sdk/gateway/durable` in workerd: the gateway with its Durable Objects
// (the classes TokenBroker, KeyShard, RateLimitShard, and the isolate's calls
// to them: MESH_KEYS_STORE=do, MESH_RATE_LIMIT_STORE=do, MESH_SERVICE_TOKEN).
// A module of its own (scripts/build.sh "gateway-durable"): `mesh-sdk` and
// `mesh-sdk/gateway` load the smaller module without them, since wrangler
// uploads (and workerd compiles) every .wasm a bundle resolves, used or not.
import wasm from './wasm/gateway-durable/mesh_sdk_gateway_durable_bg.wasm';
import { initSync } from './wasm/gateway-durable/mesh_sdk_gateway_durable.js';

initSync({ module: wasm });

export { createGateway, verifyIdentity, version } from './wasm/gateway-durable/mesh_sdk_gateway_durable.js';
export { KeyShard, RateLimitShard, TokenBroker } from './wasm/gateway-durable/mesh_sdk_gateway_durable.js';
export { MeshError, isMeshError } from './errors.js';
