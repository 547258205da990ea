// The mesh-sdk edge gateway as a Cloudflare Worker.
//
// All configuration comes from the Worker's environment (wrangler.toml [vars],
// `wrangler dev --var NAME:VALUE`, secrets, and the KV binding MESH_API_KEYS);
// it is parsed once per isolate for each distinct env. See docs/gateway.md.
//
// In your own project: `import { createGateway } from 'mesh-sdk/gateway';`
// (only the gateway's wasm; `from 'mesh-sdk'` works too and also loads
// MeshClient's). The `workerd` export condition picks the Workers entry.
import { createGateway } from '../pkg/gateway.js';

// The Durable Object classes the gateway's bindings name (wrangler.toml).
export { KeyShard, RateLimitShard, TokenBroker } from '../pkg/gateway.js';

export default createGateway();
