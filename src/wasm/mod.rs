//! The binding layer: the only place that imports `wasm_bindgen`, `web_sys`
//! and `js_sys`. Each export converts types and delegates to the core.

pub mod error;
pub mod global;
#[cfg(feature = "gateway")]
pub mod timer;

#[cfg(any(feature = "client", feature = "redirect"))]
pub mod client;
#[cfg(feature = "gateway")]
pub mod gateway;

use wasm_bindgen::prelude::*;

/// The package version, for diagnostics.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
