// mesh-sdk/next on Node (Next.js server code, `next start`, route handlers,
// server components and actions): the server build of the core (the client's
// core plus ServerRules), inlined as base64 as the package's Node entry does.
// The Redis store is imported on first use.
import serverBase64 from './wasm/server/mesh_sdk_bg.wasm.b64.js';
import { ClientCore, ServerRules, initSync } from './wasm/server/mesh_sdk.js';
import { defineMeshAuth } from './next-core.js';

initSync({ module: Buffer.from(serverBase64, 'base64') });

export const createMeshAuth = defineMeshAuth(ClientCore, ServerRules, async (url, context) => (await import('./next-redis.js')).redisStore(url, context));
export { MeshError, isMeshError } from './errors.js';
