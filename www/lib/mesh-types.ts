// The app's configuration of mesh-sdk's client: which provider, client id,
// audience and API (the gateway). Read on the server per request
// (lib/config.ts) by the app's server session (lib/auth.ts) and key route handlers (lib/gateway.ts).
export interface MeshConfig {
  issuer: string;
  clientId: string;
  audience: string;
  apiUrl: string;
}
