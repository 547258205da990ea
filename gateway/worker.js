// The mesh-sdk edge gateway as a Cloudflare Worker.
//
// All configuration comes from the Worker's environment (wrangler.toml [vars],
// `wrangler dev --var NAME:VALUE`, secrets, and the KV binding MESH_API_KEYS);
// it is parsed once per isolate for each distinct env. See docs/gateway.md.
//
// In your own project: `import { createGateway } from 'mesh-sdk/gateway';`
// (only the gateway's wasm, without the Durable Objects). This worker binds
// the objects (wrangler.toml), so it takes the module that has them, as
// `mesh-sdk/gateway/durable` in your project.
import { createGateway } from '../pkg/gateway-durable.js';

// The Durable Object classes the gateway's bindings name.
export { KeyShard, RateLimitShard, TokenBroker } from '../pkg/gateway-durable.js';

export default createGateway();
