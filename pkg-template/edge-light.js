// Next.js edge runtime (and middleware): the bundler hands us compiled
// WebAssembly.Modules from another JS context, which the glue's synchronous
// initSync rejects (instanceof fails across contexts), so init asynchronously.
// Two modules: the gateway's and MeshClient's core (the browser's module).
import gatewayWasm from './wasm/gateway/mesh_sdk_gateway_bg.wasm?module';
import clientWasm from './wasm/client/mesh_sdk_client_bg.wasm?module';
import redirectWasm from './wasm/redirect/mesh_sdk_redirect_bg.wasm?module';
import initGateway from './wasm/gateway/mesh_sdk_gateway.js';
import initClient, { ClientCore } from './wasm/client/mesh_sdk_client.js';
import initRedirect, { RedirectCore } from './wasm/redirect/mesh_sdk_redirect.js';
import { defineMeshClient, loadOnce } from './client.js';

await Promise.all([initGateway({ module_or_path: gatewayWasm }), initClient({ module_or_path: clientWasm })]);

// The redirect login's rules (a third module) start on first use.
const loadRedirect = loadOnce(async () => {
  await initRedirect({ module_or_path: redirectWasm });
  return RedirectCore;
});

export const MeshClient = defineMeshClient(ClientCore, loadRedirect);
export { createGateway, verifyIdentity, version } from './wasm/gateway/mesh_sdk_gateway.js';
export { MeshError, isMeshError } from './errors.js';
