// Type definitions of mesh-sdk for the entries with the gateway (Node,
// workerd, the Next.js edge runtime): the client's (browser.d.ts) and the
// gateway's.

export * from './browser.js';

// ---------------------------------------------------------------------------
// The gateway (Node, workerd and the Next.js edge runtime; not in mesh-sdk/slim)

/**
 * The part of a Workers KV namespace the gateway uses; a real
 * `KVNamespace` binding fits.
 */
export interface KVNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; limit?: number; cursor?: string }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

/**
 * The gateway's configuration: Worker variables (`[vars]`, secrets,
 * `wrangler dev --var NAME:VALUE`) and the KV binding. Variables are strings
 * (write `MESH_CLOCK_SKEW_SECONDS = "30"` in wrangler.toml, not a number).
 * Other bindings of your Worker may sit beside them.
 */
export interface GatewayEnv {
  /** Origin base URL; the request's path and query are appended. Required (here or in {@link GatewayOptions}). */
  MESH_UPSTREAM_URL?: string;
  /**
   * Seconds to wait for the origin's response headers (1-600; a streamed body
   * may take longer); then 504 `gateway_timeout`. Default: `30`.
   */
  MESH_UPSTREAM_TIMEOUT_SECONDS?: string;
  /** Required `iss`, where a route uses `jwt`. */
  MESH_JWT_ISSUER?: string;
  /**
   * Several issuers instead of `MESH_JWT_ISSUER` and its siblings: JSON (or the array itself)
   * `[{ "issuer", "audience": string | string[], "jwks_url"?, "algorithms"? }]`; the token's `iss` picks one.
   */
  MESH_JWT_ISSUERS?: string | readonly { issuer: string; audience: string | readonly string[]; jwks_url?: string; algorithms?: readonly string[] }[];
  /** Accepted `aud` values, comma-separated; required where a route uses `jwt`. */
  MESH_JWT_AUDIENCE?: string;
  /** The key set. Default: `jwks_uri` from the issuer's discovery document. */
  MESH_JWKS_URL?: string;
  /** Allowed algorithms, comma-separated: `RS256`, `PS256`, `ES256`, `EdDSA`, `HS256`. Default: `RS256,ES256`. */
  MESH_JWT_ALGORITHMS?: string;
  /** When set, HS256 tokens signed with this secret are accepted too. */
  MESH_JWT_HS256_SECRET?: string;
  /** Leeway for `exp` and `nbf`, in seconds. Default: `30`. */
  MESH_CLOCK_SKEW_SECONDS?: string;
  /**
   * The routes (see {@link GatewayRoute}), as JSON text or as the array
   * itself (a TOML array in `[vars]`, or an imported JSON file); the longest
   * prefix wins; an unmatched path gets 404. Default: `/api/v1/` jwt,
   * `/mcp/messages/` jwt, `/agent/v1/` api_key, `/health` public.
   */
  MESH_ROUTES?: string | readonly GatewayRoute[];
  /** Prefix of issued API keys. Default: `mesh_sk_`. */
  MESH_API_KEY_PREFIX?: string;
  /** HMAC secret for signing the injected identity (see {@link verifyIdentity}). */
  MESH_IDENTITY_SECRET?: string;
  /** Browser origins allowed to call the gateway (CORS), comma-separated, or `*`. Default: none. */
  MESH_CORS_ORIGINS?: string;
  /** Verified claims sent to the origin as headers: `email:x-user-email,org.id:x-org-id` (absent or non-scalar claims send none). */
  MESH_FORWARD_CLAIMS?: string;
  /** The resource identifier in `/.well-known/oauth-protected-resource` (RFC 9728); the request's origin when unset. */
  MESH_RESOURCE?: string;
  /**
   * Where the gateway serves its keys API (list, create, revoke, rotate), the
   * path and everything below it. Default: `/api/v1/keys`. No route may lie
   * at or under it.
   */
  MESH_KEYS_PATH?: string;
  /**
   * The gateway's own token for routes with `inject: "service_token"`
   * (client credentials, RFC 6749 §4.4), as JSON text or the object itself.
   * The client secret is the Worker secret it names (`client_secret_var`,
   * default `MESH_SERVICE_CLIENT_SECRET`). Needs the Durable Object binding
   * `MESH_TOKEN_BROKER` (class `TokenBroker`), so `createGateway` from
   * `mesh-sdk/gateway/durable`.
   */
  MESH_SERVICE_TOKEN?: string | { issuer: string; token_endpoint?: string; client_id: string; client_secret_var?: string; scope?: string; audience?: string; auth_method?: 'client_secret_basic' | 'client_secret_post' };
  /** KV namespace of API-key records; required where a route uses `api_key`. */
  MESH_API_KEYS?: KVNamespaceLike;
  /** Where key records are the truth: `kv` (default) or `do` (Durable Objects, revocation effective at once; `createGateway` from `mesh-sdk/gateway/durable`). */
  MESH_KEYS_STORE?: 'kv' | 'do';
  /** With `MESH_KEYS_STORE=do`: seconds an isolate may reuse a key record, 0-300 (the revocation bound). Default: `0`. */
  MESH_KEYS_CACHE_SECONDS?: string;
  /** Where keys' rate limits are counted: `isolate` (default, per isolate) or `do` (global, Durable Objects; `createGateway` from `mesh-sdk/gateway/durable`). */
  MESH_RATE_LIMIT_STORE?: 'isolate' | 'do';
  /** With `MESH_RATE_LIMIT_STORE=do`, a limited key whose counter is unreachable: `closed` (503, default) or `open`. */
  MESH_RATE_LIMIT_UNREACHABLE?: 'closed' | 'open';
  /** Durable Object namespace of class `KeyShard`; required with `MESH_KEYS_STORE=do`. */
  MESH_KEYS_DO?: unknown;
  /** Durable Object namespace of class `RateLimitShard`; required with `MESH_RATE_LIMIT_STORE=do`. */
  MESH_RATE_LIMITS?: unknown;
}

/** The names of the gateway's string variables. */
export type GatewayVariable = Exclude<keyof GatewayEnv, 'MESH_API_KEYS' | 'MESH_KEYS_DO' | 'MESH_RATE_LIMITS'>;

/** One route of `MESH_ROUTES`. */
export interface GatewayRoute {
  prefix: string;
  auth: 'jwt' | 'api_key' | 'public';
  /** Only these methods (upper case); others get 405 with `Allow`. */
  methods?: readonly string[];
  /** Every one must be in the token's `scope`/`scp`, or the API key's scopes (else 403). */
  scopes?: readonly string[];
  /** Dotted claim path -> the string it must equal, or a list of allowed strings (else 403). */
  claims?: Readonly<Record<string, string | readonly string[]>>;
  /** The issuers whose tokens this route takes (all configured ones when absent). */
  issuers?: readonly string[];
  /** `service_token`: send the origin `Authorization: Bearer <the gateway's service token>` (`MESH_SERVICE_TOKEN`) in place of the caller's. */
  inject?: 'service_token';
}

/**
 * Options of {@link createGateway}: defaults for any variable the Worker's
 * env lacks (the env wins).
 */
export type GatewayOptions = { [V in GatewayVariable]?: GatewayEnv[V] };

/** A Workers module handler: `export default createGateway()`. */
export interface Gateway {
  /**
   * Verifies, strips and forwards. Never rejects: failures are responses
   * (401 with `WWW-Authenticate`, 404, 502, 503, or 500 "gateway
   * misconfigured").
   */
  fetch(request: Request, env: GatewayEnv, ctx?: unknown): Promise<Response>;
}

/**
 * The edge gateway: verifies the credential each route requires, strips
 * client-sent identity headers and forwards with `x-user-id` (and, with
 * `MESH_IDENTITY_SECRET`, a signed identity).
 */
export function createGateway(options?: GatewayOptions): Gateway;

/** Options of {@link verifyIdentity}: these only (another name is refused as `invalid_config`, so a misspelt `replayStore` cannot turn replay checks off). */
export interface VerifyIdentityOptions {
  /** Reject identities signed further than this from the origin's clock, either way. @default 60 */
  maxAgeSeconds?: number;
  /**
   * Refuse a signature seen before: `add` stores it for `ttlSeconds` and
   * returns whether it was new (with Redis: `SET sig 1 NX EX ttl`). Without
   * it, a captured request can be replayed within `maxAgeSeconds`.
   */
  replayStore?: { add(signature: string, ttlSeconds: number): boolean | Promise<boolean> };
}

/** An identity the gateway signed and {@link verifyIdentity} checked. */
export interface VerifiedIdentity {
  readonly userId: string;
  readonly authMethod: 'jwt' | 'api_key';
  /** Set when `authMethod` is `'api_key'`. */
  readonly apiKeyId?: string;
  /** When the gateway signed it, in Unix seconds. */
  readonly timestamp: number;
  /** Every header the signature covered, by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What {@link verifyIdentity} reads: a Fetch `Request`, or Node's
 * `IncomingMessage` (`method`, `url` as a path, lower-case `headers`).
 */
export type IdentityRequest =
  | Request
  | {
      method: string;
      url: string;
      headers: Headers | Readonly<Record<string, string | string[] | undefined>>;
    };

/**
 * For origins (Node or Workers): checks the `x-mesh-identity-*` signature the
 * gateway added (`MESH_IDENTITY_SECRET`), so requests that bypassed the
 * gateway can be refused. Resolves with the identity, or rejects with a
 * {@link MeshError}: `unauthorized` (missing, tampered, stale or replayed),
 * or `invalid_config` (no secret, or a bad option).
 */
export function verifyIdentity(
  request: IdentityRequest,
  secret: string,
  options?: VerifyIdentityOptions,
): Promise<VerifiedIdentity>;
