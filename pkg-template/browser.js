// Browsers: the glue's default init() fetches the .wasm by URL, once.
import init, { ClientCore } from './wasm/client/mesh_sdk_client.js';
import { defineMeshClient, loadOnce } from './client.js';

await init();

// The redirect login's rules are a module of their own, fetched (from beside
// its glue) on the first authorizeUrl/loginWithRedirect/handleRedirectCallback.
const loadRedirect = loadOnce(async () => {
  const glue = await import('./wasm/redirect/mesh_sdk_redirect.js');
  await glue.default();
  return glue.RedirectCore;
});

export const MeshClient = defineMeshClient(ClientCore, loadRedirect);
export { version } from './wasm/client/mesh_sdk_client.js';
export { MeshError, isMeshError } from './errors.js';
