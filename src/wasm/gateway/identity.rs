//! `verifyIdentity(request, secret, { maxAgeSeconds })` for origins (Node,
//! Workers): checks the gateway's signed identity headers. Resolves with
//! `{ userId, authMethod, apiKeyId?, timestamp }`; rejects with an Error whose
//! `code` is `unauthorized` (or `invalid_config` for a missing secret).

use wasm_bindgen::prelude::*;

use crate::error::{Error, ErrorKind};
use crate::gateway::config::GatewaySecret;
use crate::gateway::headers::{API_KEY_ID, AUTH_METHOD, IDENTITY_SIGNATURE, IDENTITY_TIMESTAMP, USER_ID};
use crate::gateway::identity::{verify, ReceivedIdentity, DEFAULT_MAX_AGE_SECS};
use crate::gateway::request::split_url;
use crate::wasm::global::now_secs;

use super::js::{get_prop, object};

/// A header from a `Headers` (has `get`) or a plain object of lower-case
/// names; a repeated header (an array) counts as missing.
fn header(headers: &JsValue, name: &str) -> Option<String> {
    let get = get_prop(headers, "get");
    if let Some(f) = get.dyn_ref::<js_sys::Function>() {
        return f.call1(headers, &JsValue::from_str(name)).ok()?.as_string();
    }
    get_prop(headers, name).as_string()
}

fn unauthorized(code: &str) -> JsValue {
    Error::new(ErrorKind::Unauthorized, format!("the request's gateway identity did not verify ({code})")).into()
}

#[wasm_bindgen(js_name = verifyIdentity, unchecked_return_type = "Promise<VerifiedIdentity>")]
pub async fn verify_identity(
    #[wasm_bindgen(unchecked_param_type = "IdentityRequest")] request: JsValue,
    secret: JsValue,
    #[wasm_bindgen(unchecked_param_type = "{ maxAgeSeconds?: number }")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let secret = secret
        .as_string()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JsValue::from(Error::config("secret", "must be the gateway's MESH_IDENTITY_SECRET")))?;
    let max_age = match get_prop(&options, "maxAgeSeconds").as_f64() {
        None if options.is_undefined() || get_prop(&options, "maxAgeSeconds").is_undefined() => DEFAULT_MAX_AGE_SECS,
        Some(n) if n.is_finite() && n >= 0.0 => n.floor() as i64,
        _ => return Err(Error::config("maxAgeSeconds", "must be a number of seconds >= 0").into()),
    };
    let method = get_prop(&request, "method").as_string().unwrap_or_else(|| "GET".into());
    let url = get_prop(&request, "url").as_string().ok_or_else(|| unauthorized("no_url"))?;
    let headers = get_prop(&request, "headers");
    let values: Vec<Option<String>> =
        [USER_ID, AUTH_METHOD, API_KEY_ID, IDENTITY_TIMESTAMP, IDENTITY_SIGNATURE].iter().map(|n| header(&headers, n)).collect();
    let got = ReceivedIdentity {
        user_id: values[0].as_deref(),
        auth_method: values[1].as_deref(),
        api_key_id: values[2].as_deref(),
        timestamp: values[3].as_deref(),
        signature: values[4].as_deref(),
    };
    let (identity, ts) = verify(&GatewaySecret::new(secret), &method, split_url(&url).0, &got, now_secs(), max_age)
        .map_err(|e| unauthorized(e.code()))?;
    let out = object(&[
        ("userId", JsValue::from_str(&identity.user_id)),
        ("authMethod", JsValue::from_str(identity.method.name())),
        ("timestamp", JsValue::from_f64(ts as f64)),
    ]);
    if let Some(id) = &identity.api_key_id {
        super::js::set_prop(&out, "apiKeyId", &JsValue::from_str(id));
    }
    Ok(out.into())
}
