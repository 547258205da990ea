//! Sans-IO client core: no IO, no clock, no `wasm_bindgen`. Every decision
//! takes `now_ms` (Unix milliseconds from the binding's `Date.now()`) and the
//! HTTP outcome as inputs and returns an enum; the binding does the fetch,
//! the sleep and the storage.
//!
//! - [`config`]: `ClientConfig` (the JS options) and its validation.
//! - [`token`]: token responses, `TokenSet`, expiry and leeway math, the
//!   unverified JWT payload decode.
//! - [`oauth`]: token-endpoint replies, error classification, `Retry-After`,
//!   backoff.
//! - [`refresh`]: `Session`, the refresh lock and retry/cooldown machine.
//! - [`device`]: the RFC 8628 device-flow poller.
//! - [`request`]: the API-call retry policy.
//! - [`storage`]: the persisted session format and its key.
//! - [`env`](mod@env): `setSession` input and `MESH_*` environment import/export.
//! - [`discovery`]: the OIDC discovery document's checks and endpoints.
//! - [`grant`]: the discovery URL and the form of every POST to the provider.
//! - [`failure`]: the codes and messages of failures the binding observes
//!   (timeouts, network errors and whether they were sent, storage), and the
//!   event names.
//! - [`lease`]: the localStorage lease that stands in for Web Locks.
//! - [`validation`]: `validate()`'s verdicts.
//! - [`server_session`]: `mesh-sdk/next`'s cookies, routes, middleware and Redis store.
//!
//! ## API notes for the binding
//! - Times are `i64` Unix ms (`Date.now() as i64`); `jitter` is `Math.random()`.
//! - JSON: the browser binding `JSON.parse`s bodies and fills
//!   [`token::TokenResponse`] / [`oauth::OAuthErrorBody`] /
//!   [`device::DeviceAuthorization`] / [`storage::StoredSession`] field by
//!   field with `Reflect` (`src/wasm/client/records.rs`): serde-wasm-bindgen
//!   cost about a fifth of the browser bundle. The serde derives here serve
//!   host tests and Rust callers. When a token response has no
//!   `expires_in`, decode the access token with [`token::decode_jwt_payload`]
//!   and put its claims in [`oauth::TokenAnswer::claims`].
//! - Options: the binding reads each option by name into [`RawOptions`]
//!   and calls [`ClientConfig::from_options`], which checks types and values
//!   and names the option in every error.
//!   `setSession` input: [`env::SessionInput::to_tokens`]; `fromEnv`:
//!   [`EnvVars::require_tokens`].
//! - While a refresh is in flight, every `get_token` returns `JoinInFlight`
//!   (also during a proactive refresh), so concurrent callers share one
//!   token; a failed refresh hands waiters `Failed { still_valid }`.
//! - Refresh transport failures: a timeout → `Session::on_timeout`; a
//!   network error → `Session::on_network_error(maybe_sent)`, where
//!   `maybe_sent = !is_unsent_network_error(err.cause?.code)` (Node gives
//!   `ECONNREFUSED` etc.; browsers give nothing, so "maybe sent"). Only an
//!   unsent request is retried with the same (rotating) refresh token.
//! - If the binding gives up a refresh without an answer (dispose, abort),
//!   it calls `Session::abandon_refresh(maybe_sent)`, else the core lock
//!   stays taken until `timeoutMs` + 5 s have passed (then it releases
//!   itself and treats the token as maybe spent). `before_send` may be
//!   called again before each retry and while waiting for a cross-tab lock.
//! - Whenever a call returns an `Ended` variant, the binding clears storage
//!   (after re-reading it: see [`refresh::Session::adopt`]) and emits
//!   `sessionEnded` once.

pub mod config;
pub mod device;
pub mod discovery;
pub mod env;
pub mod failure;
pub mod grant;
pub mod id_token;
pub mod lease;
pub mod oauth;
pub mod option_names;
pub mod pending_login;
pub mod redirect;
pub mod refresh;
pub mod request;
pub mod resp;
pub mod server_session;
pub mod storage;
pub mod terminal;
pub mod token;
pub mod validation;

pub use config::{AuthMode, ClientConfig, OptionValue, RawOptions};
pub use device::{DeviceAuthorization, DevicePoller, DeviceStep, PollState, PollStep};
pub use env::{EnvVars, SessionInput};
pub use oauth::{is_unsent_network_error, retry_after_ms, OAuthErrorBody, TokenAnswer, TokenReply};
pub use refresh::{Ready, RefreshOutcome, RefreshPolicy, SendStep, Session, TokenStep};
pub use request::{decide, Credential, Decision, RequestPolicy, Response, SentRequest};
pub use storage::{storage_key, StoredSession};
pub use token::{decode_jwt_payload, JwtClaims, TokenResponse, TokenSet};

