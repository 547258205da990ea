// Node and Next.js server code: the wasm comes inlined as base64, so no bundler
// has to find a file next to this one. Two modules: the gateway's and
// MeshClient's core (the browser's module); neither carries the other's code.
import gatewayBase64 from './wasm/gateway/mesh_sdk_gateway_bg.wasm.b64.js';
import clientBase64 from './wasm/client/mesh_sdk_client_bg.wasm.b64.js';
import { initSync as initGateway } from './wasm/gateway/mesh_sdk_gateway.js';
import { ClientCore, initSync as initClient } from './wasm/client/mesh_sdk_client.js';
import { defineMeshClient, loadOnce } from './client.js';

initGateway({ module: Buffer.from(gatewayBase64, 'base64') });
initClient({ module: Buffer.from(clientBase64, 'base64') });

// The redirect login's rules: a third module, loaded on first use.
const loadRedirect = loadOnce(async () => {
  const [{ default: base64 }, glue] = await Promise.all([import('./wasm/redirect/mesh_sdk_redirect_bg.wasm.b64.js'), import('./wasm/redirect/mesh_sdk_redirect.js')]);
  glue.initSync({ module: Buffer.from(base64, 'base64') });
  return glue.RedirectCore;
});

export const MeshClient = defineMeshClient(ClientCore, loadRedirect);
export { createGateway, verifyIdentity, version } from './wasm/gateway/mesh_sdk_gateway.js';
export { MeshError, isMeshError } from './errors.js';
