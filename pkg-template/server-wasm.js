// The server build of the core (the client's core plus ServerRules, the
// terminal's login plan and its flags' spelling; scripts/build.sh), Node
// only: initialised once from its base64 module, as the package's Node entry
// does for the client build.
// mesh-sdk/next on Node (next.js) and mesh-auth (bin/mesh-auth.js) import it;
// the edge runtime cannot initialise it synchronously (next-edge.js).
import serverBase64 from './wasm/server/mesh_sdk_server_bg.wasm.b64.js';
import { initSync } from './wasm/server/mesh_sdk_server.js';

initSync({ module: Buffer.from(serverBase64, 'base64') });

export { ClientCore, nearestOption, ServerRules, terminalLoginPlan } from './wasm/server/mesh_sdk_server.js';
