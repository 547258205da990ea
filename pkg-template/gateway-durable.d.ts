// `mesh-sdk/gateway/durable`: the gateway with its Durable Objects. A Worker
// that binds them re-exports the classes so that wrangler can find them.
export { createGateway, verifyIdentity, version, MeshError, isMeshError } from './index.js';
export type {
  Gateway, GatewayEnv, GatewayOptions, GatewayRoute, GatewayVariable, KVNamespaceLike,
  IdentityRequest, VerifiedIdentity, VerifyIdentityOptions, MeshErrorCode,
} from './index.js';

/** The storage of a Durable Object's state, as workerd passes it to a constructor. */
export interface DurableObjectStateLike {
  readonly storage: unknown;
  readonly id?: unknown;
}

/** `MESH_KEYS_STORE=do`: one shard of the API-key records (binding `MESH_KEYS_DO`, SQLite-backed). */
export declare class KeyShard {
  constructor(state: DurableObjectStateLike, env: unknown);
  fetch(request: Request): Promise<Response>;
}

/** `MESH_RATE_LIMIT_STORE=do`: one key's rate-limit bucket (binding `MESH_RATE_LIMITS`, SQLite-backed). */
export declare class RateLimitShard {
  constructor(state: DurableObjectStateLike, env: unknown);
  fetch(request: Request): Promise<Response>;
}

/** `MESH_SERVICE_TOKEN`: obtains and renews the edge's service token (binding `MESH_TOKEN_BROKER`). */
export declare class TokenBroker {
  constructor(state: DurableObjectStateLike, env: unknown);
  fetch(request: Request): Promise<Response>;
  alarm(): Promise<void>;
}
