// mesh-sdk/next in the Next.js edge runtime (middleware): the server build,
// initialised asynchronously as the package's edge entry does (edge-light.js
// says why). No Redis here (no sockets): the middleware reads the session
// cookie only.
import serverWasm from './wasm/server/mesh_sdk_server_bg.wasm?module';
import init, { ClientCore, ServerRules } from './wasm/server/mesh_sdk_server.js';
import { defineMeshAuth } from './next-core.js';

await init({ module_or_path: serverWasm });

export const createMeshAuth = defineMeshAuth(ClientCore, ServerRules);
export { MeshError, isMeshError } from './errors.js';
