// workerd (Cloudflare Workers): the bundler hands us compiled WebAssembly.Modules.
// Two modules: the gateway's (built for speed) and MeshClient's core (built
// for size, the browser's module); neither carries the other's code.
import gatewayWasm from './wasm/gateway/mesh_sdk_gateway_bg.wasm';
import clientWasm from './wasm/client/mesh_sdk_client_bg.wasm';
import redirectWasm from './wasm/redirect/mesh_sdk_redirect_bg.wasm';
import { initSync as initGateway } from './wasm/gateway/mesh_sdk_gateway.js';
import { ClientCore, initSync as initClient } from './wasm/client/mesh_sdk_client.js';
import { RedirectCore, initSync as initRedirect } from './wasm/redirect/mesh_sdk_redirect.js';
import { defineMeshClient, loadOnce } from './client.js';

initGateway({ module: gatewayWasm });
initClient({ module: clientWasm });

// The redirect login's rules (a third module) start on first use.
const loadRedirect = loadOnce(async () => {
  initRedirect({ module: redirectWasm });
  return RedirectCore;
});

export const MeshClient = defineMeshClient(ClientCore, loadRedirect);
export { createGateway, verifyIdentity, version } from './wasm/gateway/mesh_sdk_gateway.js';
// The gateway's Durable Object classes (MESH_KEYS_STORE=do, MESH_RATE_LIMIT_STORE=do,
// MESH_SERVICE_TOKEN) are in `mesh-sdk/gateway/durable` only (gateway-durable.js).
export { MeshError, isMeshError } from './errors.js';
