//! Turns [`crate::Error`] into the one error shape JavaScript sees: an
//! instance of the package's `MeshError` class (`pkg-template/errors.js`)
//! with a stable `.code`, a human `.message`, optional `.context` (method,
//! path, status, token ages; never a token) and a `.cause` chain.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::{Error, RequestContext};

// The glue sits at `wasm/<variant>/mesh_sdk_<variant>.js` in the package, so every
// entry and the Rust side construct the one class `errors.js` exports.
#[wasm_bindgen(raw_module = "../../errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = MeshError)]
    type JsMeshError;
    #[wasm_bindgen(constructor, js_class = "MeshError")]
    fn new(code: &str, message: &str, context: &JsValue, cause: &JsValue) -> JsMeshError;
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Setting a property on a fresh object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

fn context_to_js(ctx: &RequestContext) -> JsValue {
    let obj = Object::new();
    set(&obj, "method", &JsValue::from_str(&ctx.method));
    set(&obj, "path", &JsValue::from_str(&ctx.path));
    if let Some(status) = ctx.status {
        set(&obj, "status", &JsValue::from(status));
    }
    if let Some(age) = ctx.token_age_secs {
        set(&obj, "tokenAgeSeconds", &JsValue::from_f64(age as f64));
    }
    if let Some(left) = ctx.token_remaining_secs {
        set(&obj, "tokenRemainingSeconds", &JsValue::from_f64(left as f64));
    }
    if let Some(oauth) = &ctx.oauth_error {
        set(&obj, "oauthError", &JsValue::from_str(oauth));
    }
    obj.into()
}

/// Builds the JavaScript `MeshError` for a crate error.
pub fn to_js_error(err: &Error) -> JsValue {
    let context = err.context().map(context_to_js).unwrap_or(JsValue::UNDEFINED);
    let cause = err.cause().map(to_js_error).unwrap_or(JsValue::UNDEFINED);
    JsMeshError::new(err.code(), err.message(), &context, &cause).into()
}

impl From<Error> for JsValue {
    fn from(err: Error) -> JsValue {
        to_js_error(&err)
    }
}

/// Describes a thrown JavaScript value without assuming it is an `Error`.
pub fn describe_js(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return s;
    }
    if let Ok(msg) = Reflect::get(value, &JsValue::from_str("message")) {
        if let Some(s) = msg.as_string() {
            return s;
        }
    }
    "unknown JavaScript error".to_string()
}
