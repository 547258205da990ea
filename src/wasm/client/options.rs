//! `new MeshClient(options)`: reads the JavaScript options field by field
//! into the core's `RawOptions`, and the core converts and validates them
//! (`ClientConfig::from_options`), so a wrong type or value is reported with
//! the option's name.

use wasm_bindgen::prelude::*;

use super::convert::{get, opt_string, option_value};
use crate::client::{AuthMode, ClientConfig, RawOptions};
use crate::error::Error;

pub struct Options {
    pub config: ClientConfig,
    /// The `storage` option as given (the driver builds the adapter);
    /// `undefined` in API-key mode, which loads no OAuth state.
    pub storage: JsValue,
    pub storage_key: Option<String>,
}

pub fn parse(options: &JsValue) -> Result<Options, Error> {
    if !options.is_object() {
        return Err(Error::config("options", "must be an object such as { issuer, clientId, apiUrl }"));
    }
    let o = options;
    // Each field as it is (`option_value`); the core checks types and values
    // and names the option in every error.
    let field = |key| option_value(o, key);
    let c = ClientConfig::from_options(&RawOptions {
        issuer: field("issuer"),
        client_id: field("clientId"),
        audience: field("audience"),
        scope: field("scope"),
        api_url: field("apiUrl"),
        api_key: field("apiKey"),
        refresh_leeway_seconds: field("refreshLeewaySeconds"),
        timeout_ms: field("timeoutMs"),
        treat_404_as_unauthorized: field("treat404AsUnauthorized"),
        max_refresh_retries: field("maxRefreshRetries"),
        max_request_retries: field("maxRequestRetries"),
        refresh_cooldown_ms: field("refreshCooldownMs"),
    })?;
    // API-key mode loads no OAuth state: storage is never touched.
    let storage = match c.mode() {
        AuthMode::ApiKey => JsValue::UNDEFINED,
        AuthMode::OAuth => get(o, "storage"),
    };
    let storage_key = opt_string(o, "storageKey")?;
    if storage_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(Error::config("storageKey", "must not be empty"));
    }
    Ok(Options { config: c, storage, storage_key })
}
