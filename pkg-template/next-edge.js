// mesh-sdk/next in the Next.js edge runtime (middleware): the server build,
// initialised as the package's edge entry does. No Redis here (no sockets):
// the middleware reads the session cookie only.
import { ClientCore, ServerRules } from './wasm/full/mesh_sdk.js';
import './edge-light.js';
import { defineMeshAuth } from './next-core.js';

export const createMeshAuth = defineMeshAuth(ClientCore, ServerRules);
export { MeshError, isMeshError } from './errors.js';
