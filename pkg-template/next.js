// mesh-sdk/next on Node (Next.js server code, `next start`, route handlers,
// server components and actions): the server build of the core (the client's
// core plus ServerRules), initialised by server-wasm.js. The Redis store is
// imported on first use.
import { ClientCore, ServerRules } from './server-wasm.js';
import { defineMeshAuth } from './next-core.js';

export const createMeshAuth = defineMeshAuth(ClientCore, ServerRules, async (url, context) => (await import('./next-redis.js')).redisStore(url, context));
export { MeshError, isMeshError } from './errors.js';
