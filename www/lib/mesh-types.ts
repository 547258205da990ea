// The app's configuration of mesh-sdk's client: which provider, client id,
// audience and API (the gateway). Read on the server per request
// (lib/config.ts) and handed to the browser's MeshProvider (lib/mesh.tsx).
export interface MeshConfig {
  issuer: string;
  clientId: string;
  audience: string;
  apiUrl: string;
}
