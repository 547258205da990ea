// The mesh-sdk edge gateway as a Cloudflare Worker.
//
// All configuration comes from the Worker's environment (wrangler.toml [vars],
// `wrangler dev --var NAME:VALUE`, secrets, and the KV binding MESH_API_KEYS);
// it is parsed once per isolate for each distinct env. See docs/gateway.md.
//
// In your own project: `import { createGateway } from 'mesh-sdk';` (the
// package's `workerd` export condition picks the Workers entry).
import { createGateway } from '../pkg/workerd.js';

// The Durable Object classes the gateway's bindings name (wrangler.toml).
export { KeyShard, RateLimitShard, TokenBroker } from '../pkg/workerd.js';

export default createGateway();
