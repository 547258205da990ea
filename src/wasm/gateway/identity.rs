//! `verifyIdentity(request, secret, { maxAgeSeconds, replayStore })` for
//! origins (Node, Workers): checks the gateway's signed identity headers.
//! Resolves with `{ userId, authMethod, apiKeyId?, timestamp, headers }`;
//! rejects with an Error whose `code` is `unauthorized` (or `invalid_config`
//! for a bad secret or option).

use wasm_bindgen::prelude::*;

use crate::error::{Error, ErrorKind};
use crate::gateway::config::GatewaySecret;
use crate::gateway::headers::{IDENTITY_SIGNATURE, IDENTITY_SIGNED_HEADERS, IDENTITY_TIMESTAMP};
use crate::gateway::identity::{check_verify_option, replay_window_secs, verify, IdentityError, DEFAULT_MAX_AGE_SECS, MAX_SIGNED_HEADERS, VERIFY_OPTIONS};
use crate::gateway::request::split_url;
use crate::wasm::global::{check_names, now_secs};

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
    #[wasm_bindgen(unchecked_param_type = "VerifyIdentityOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let secret = secret
        .as_string()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JsValue::from(Error::config("secret", "must be the gateway's MESH_IDENTITY_SECRET")))?;
    let options = if options.is_null() { JsValue::UNDEFINED } else { options };
    if !options.is_undefined() {
        if !options.is_object() {
            return Err(Error::config("options", format!("must be an object {{ {} }}", VERIFY_OPTIONS.join(", "))).into());
        }
        check_names(&options, check_verify_option)?;
    }
    let max_age = match get_prop(&options, "maxAgeSeconds").as_f64() {
        None if options.is_undefined() || get_prop(&options, "maxAgeSeconds").is_undefined() => DEFAULT_MAX_AGE_SECS,
        Some(n) if n.is_finite() && n >= 0.0 => n.floor() as i64,
        _ => return Err(Error::config("maxAgeSeconds", "must be a number of seconds >= 0").into()),
    };
    let store = if options.is_undefined() { JsValue::UNDEFINED } else { get_prop(&options, "replayStore") };
    let add = get_prop(&store, "add");
    let add = match add.dyn_ref::<js_sys::Function>() {
        Some(f) => Some(f.clone()),
        None if store.is_undefined() => None,
        None => return Err(Error::config("replayStore", "must have add(signature, ttlSeconds) -> boolean").into()),
    };
    let method = get_prop(&request, "method").as_string().unwrap_or_else(|| "GET".into());
    let url = get_prop(&request, "url").as_string().ok_or_else(|| unauthorized("no_url"))?;
    let headers = get_prop(&request, "headers");
    // Read once, up front: the core borrows the values.
    let mut read: Vec<(String, Option<String>)> = Vec::new();
    for name in [IDENTITY_SIGNED_HEADERS, IDENTITY_TIMESTAMP, IDENTITY_SIGNATURE] {
        read.push((name.to_string(), header(&headers, name)));
    }
    let listed = read[0].1.clone().unwrap_or_default();
    for name in listed.split(',').take(MAX_SIGNED_HEADERS) {
        if !read.iter().any(|(n, _)| n == name) {
            read.push((name.to_string(), header(&headers, name)));
        }
    }
    let (path, query) = split_url(&url);
    let lookup = |name: &str| read.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref());
    let verified = verify(&GatewaySecret::new(secret), (&method, path, query), lookup, now_secs(), max_age)
        .map_err(|e| unauthorized(e.code()))?;
    if let Some(add) = add {
        // A signature is single-use within its window: the store keeps it
        // that long and says whether it was new (Redis: SET NX EX).
        let signature = lookup(IDENTITY_SIGNATURE).unwrap_or_default();
        let ttl = JsValue::from_f64(replay_window_secs(max_age) as f64);
        let added = add.call2(&store, &JsValue::from_str(signature), &ttl)?;
        let added = match added.dyn_into::<js_sys::Promise>() {
            Ok(promise) => wasm_bindgen_futures::JsFuture::from(promise).await?,
            Err(value) => value,
        };
        if added.as_bool() != Some(true) {
            return Err(unauthorized(IdentityError::Replayed.code()));
        }
    }
    let identity = &verified.identity;
    let out = object(&[
        ("userId", JsValue::from_str(&identity.user_id)),
        ("authMethod", JsValue::from_str(identity.method.name())),
        ("timestamp", JsValue::from_f64(verified.timestamp as f64)),
        ("headers", object_of(&verified.headers).into()),
    ]);
    if let Some(id) = &identity.api_key_id {
        super::js::set_prop(&out, "apiKeyId", &JsValue::from_str(id));
    }
    Ok(out.into())
}

/// The signed headers as a plain object, name to value.
fn object_of(pairs: &[(String, String)]) -> js_sys::Object {
    let out = js_sys::Object::new();
    for (name, value) in pairs {
        super::js::set_prop(&out, name, &JsValue::from_str(value));
    }
    out
}
