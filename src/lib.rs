//! # mesh-sdk
//!
//! An authentication SDK for JavaScript and edge runtimes, written in Rust and
//! compiled to WebAssembly.
//!
//! ## Contents
//! - [`error`]: one error type with stable codes, shared by every part.
//! - [`key_name`]: what an API key's name may be, for the gateway and the client alike.
//! - [`origin`]: the origin of an http(s) URL, as every origin check reads it.
//! - [`secret`]: token and key newtypes with redacted `Debug`.
//! - [`spelling`]: the known name a misspelt option or variable meant.
//! - `client` (feature `client`, and `gateway`, which takes its token
//!   parsing and refresh rules): the sans-IO client core: token expiry math,
//!   refresh policy and lock, device-flow polling, API-call retry policy.
//! - `gateway` (feature `gateway`): the sans-IO gateway core: configuration,
//!   route policy, JWT header and claim checks, JWKS and token caches, API-key
//!   records, identity signing.
//! - `wasm` (wasm32 only): the thin binding layer that does the IO (fetch,
//!   timers, storage, WebCrypto, KV) and exports the JavaScript API.
//!
//! Nothing outside `wasm` imports `wasm_bindgen`, `web_sys` or `js_sys`, reads
//! the clock or touches the network: the core takes `now` and HTTP responses
//! as inputs and returns decisions, so it is tested on the host with a manual
//! clock.

pub mod error;
pub mod key_name;
pub mod origin;
pub mod secret;
pub mod spelling;

#[cfg(any(feature = "client", feature = "gateway", feature = "redirect"))]
pub mod client;
#[cfg(feature = "gateway")]
pub mod gateway;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, ErrorKind, Result};
