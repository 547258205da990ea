// mesh-sdk/next on Node (Next.js server code, `next start`, route handlers,
// server components and actions): the server build of the core, as the
// package's Node entry loads it. The Redis store is imported on first use.
import { ClientCore, ServerRules } from './wasm/full/mesh_sdk.js';
import './node.js';
import { defineMeshAuth } from './next-core.js';

export const createMeshAuth = defineMeshAuth(ClientCore, ServerRules, async (url, context) => (await import('./next-redis.js')).redisStore(url, context));
export { MeshError, isMeshError } from './errors.js';
