// `mesh-sdk/gateway`: the gateway's part of the main entry's types.
export { createGateway, verifyIdentity, version, MeshError, isMeshError } from './index.js';
export type {
  Gateway, GatewayEnv, GatewayOptions, GatewayRoute, GatewayVariable, KVNamespaceLike,
  IdentityRequest, VerifiedIdentity, VerifyIdentityOptions, MeshErrorCode,
} from './index.js';
