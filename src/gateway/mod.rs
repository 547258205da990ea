//! The edge gateway's sans-IO core (feature `gateway`).
//!
//! Nothing here does IO, reads the clock or imports `wasm_bindgen`: every
//! function takes `now` and the bytes it needs and returns a decision. The
//! binding in `crate::wasm::gateway` does the fetches, WebCrypto and KV, and
//! feeds the results back in. Design notes: `docs/gateway.md`.
//!
//! - [`config`]: the environment variables, validated (bad -> 500 "gateway misconfigured").
//! - [`route`]: longest-prefix route table; each route accepts one credential kind.
//! - [`authorize`]: what a verified caller must also hold on a route (methods, scopes, claims, issuers).
//! - [`request`]: per request, the plan: 404, preflight, keys API, reject, or forward.
//! - [`resource`]: RFC 9728 protected resource metadata, for MCP clients.
//! - [`cors`]: which origin a response allows, and the CORS headers.
//! - [`upstream`]: how long the origin's answer is awaited, and the 502/504 when none comes.
//! - [`forwarded`]: the proxy headers (`x-forwarded-*`, `forwarded`) the origin receives.
//! - [`headers`]: which headers are stripped, which identity headers are injected.
//! - [`jwt`]: size cap and header pre-checks, jsonwebtoken's decode and Validation, claim post-checks.
//! - [`crypto_provider`]: jsonwebtoken's provider: HS256 on hmac/sha2, WebCrypto's verdicts.
//! - [`jwks`]: the JWKS cache policy (TTL, kid refetch cooldown, outage).
//! - [`token_cache`]: verified tokens per isolate; hits re-check `exp`/`nbf`.
//! - [`verify`]: the verification pipeline as steps.
//! - [`api_keys`]: key format, KV layout, create and rotate bodies, scopes a creator may grant, negative cache.
//! - [`key_use`]: per use of a key: expiry, per-key rate limit, when its last use is written back.
//! - [`stores`]: where keys and rate-limit counts live (KV and isolates, or Durable Objects), and the cache bound.
//! - [`shard`]: the request/answer shape of the gateway's sharded Durable Objects, and the shard count.
//! - [`key_shard`]: a `KeyShard`'s records, tombstones and owner lists; lazy migration from KV.
//! - [`rate_limit`]: the token bucket of a `RateLimitShard`, and what an unreachable one means.
//! - [`service_token`]: `MESH_SERVICE_TOKEN`, the client-credentials request and its answer.
//! - [`token_broker`]: the service token's life: the broker's refresh policy, what isolates keep.
//! - [`identity`]: the HMAC-signed identity for the origin, sign and verify.
//! - [`reject`]: uniform error replies and structured log lines.

pub mod api_keys;
pub mod authorize;
pub mod config;
pub mod cors;
pub mod env_names;
pub mod crypto_provider;
pub mod forwarded;
pub mod headers;
pub mod identity;
pub mod jwks;
pub mod jwt;
pub mod key_shard;
pub mod key_use;
pub mod rate_limit;
pub mod reject;
pub mod request;
pub mod resource;
pub mod route;
pub mod shard;
pub mod stores;
pub mod service_token;
pub mod token_broker;
pub mod token_cache;
pub mod upstream;
pub mod verify;
