//! `new MeshClient(options)`: reads the JavaScript options field by field, so
//! that a wrong type is reported with the option's name, then lets the core
//! validate them.

use wasm_bindgen::prelude::*;

use super::convert::{get, opt_bool, opt_int, opt_string};
use crate::client::{AuthMode, ClientConfig};
use crate::error::Error;
use crate::secret::ApiKey;

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
    let mut c = ClientConfig::default();
    c.issuer = opt_string(o, "issuer")?;
    c.client_id = opt_string(o, "clientId")?;
    c.audience = opt_string(o, "audience")?;
    if let Some(scope) = opt_string(o, "scope")? {
        c.scope = Some(scope); // else the core's default scope
    }
    c.api_url = opt_string(o, "apiUrl")?;
    c.api_key = opt_string(o, "apiKey")?.map(ApiKey::new);
    let int = |key: &str, slot: &mut i64| -> Result<(), Error> {
        if let Some(v) = opt_int(o, key)? {
            *slot = v;
        }
        Ok(())
    };
    int("refreshLeewaySeconds", &mut c.refresh_leeway_secs)?;
    int("timeoutMs", &mut c.timeout_ms)?;
    int("maxRefreshRetries", &mut c.max_refresh_retries)?;
    int("maxRequestRetries", &mut c.max_request_retries)?;
    int("refreshCooldownMs", &mut c.refresh_cooldown_ms)?;
    if let Some(b) = opt_bool(o, "treat404AsUnauthorized")? {
        c.treat_404_as_unauthorized = b;
    }
    c.validate()?;
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
