//! `new MeshClient(options)`: reads the JavaScript options field by field
//! into the core's `RawOptions`, and the core converts and validates them
//! (`ClientConfig::from_options`), so a wrong type or value is reported with
//! the option's name. The `storage` option is the JavaScript layer's to read.

use wasm_bindgen::prelude::*;

use super::convert::{opt_string, option_value};
use crate::wasm::global::check_names;
use crate::client::option_names::check_option_name;
use crate::client::{ClientConfig, RawOptions};
use crate::error::Error;

pub struct Options {
    pub config: ClientConfig,
    pub storage_key: Option<String>,
}

pub fn parse(options: &JsValue) -> Result<Options, Error> {
    if !options.is_object() {
        return Err(Error::config("options", "must be an object such as { issuer, clientId, apiUrl }"));
    }
    let o = options;
    // A name the client does not read is a typo, refused before anything is
    // read (so `apikey` is named, not reported as a missing `issuer`).
    check_names(o, |name| check_option_name(name, cfg!(feature = "server")))?;
    let field = |key| option_value(o, key);
    let c = ClientConfig::from_options(&RawOptions {
        issuer: field("issuer"),
        client_id: field("clientId"),
        audience: field("audience"),
        scope: field("scope"),
        api_url: field("apiUrl"),
        api_key: field("apiKey"),
        // mesh-sdk/next's confidential client; a browser keeps no secret.
        client_secret: if cfg!(feature = "server") { field("clientSecret") } else { None },
        refresh_leeway_seconds: field("refreshLeewaySeconds"),
        timeout_ms: field("timeoutMs"),
        treat_404_as_unauthorized: field("treat404AsUnauthorized"),
        max_refresh_retries: field("maxRefreshRetries"),
        max_request_retries: field("maxRequestRetries"),
        refresh_cooldown_ms: field("refreshCooldownMs"),
        keys_path: field("keysPath"),
    })?;
    let storage_key = opt_string(o, "storageKey")?;
    if storage_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(Error::config("storageKey", "must not be empty"));
    }
    Ok(Options { config: c, storage_key })
}
