//! Bindings to globals that every runtime has (browsers, Node >= 18, Next.js
//! server code, workerd). Binding the global `setTimeout` and `crypto`
//! rather than `window` lets one build run everywhere (gloo-net does the same
//! for `fetch`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `globalThis.setTimeout`; returns an opaque handle (a number in browsers,
    /// an object in Node), so it is kept as a `JsValue`.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);

    /// `globalThis.crypto`.
    #[wasm_bindgen(thread_local_v2, js_name = crypto)]
    pub static CRYPTO: web_sys::Crypto;
}

/// Milliseconds since the Unix epoch, from `Date.now()`.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Whole seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    (now_ms() / 1000.0).floor() as i64
}

#[wasm_bindgen]
extern "C" {
    /// `Object.keys`, its throw caught (a Proxy's `ownKeys` may throw; an
    /// uncaught throw here would trap and leave the instance unusable).
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(value: &JsValue) -> Result<js_sys::Array, JsValue>;
}

/// `value`'s own enumerable names (`Object.keys`); none when it is not an
/// object, or when listing them throws: the names are only checked, and
/// each value is still read on its own.
pub fn object_names(value: &JsValue) -> Vec<String> {
    if !value.is_object() {
        return Vec::new();
    }
    object_keys(value).map(|keys| keys.into_iter().filter_map(|k| k.as_string()).collect()).unwrap_or_default()
}

/// Runs `check` on each of `obj`'s own enumerable names (the core refuses
/// one it does not read); the first refusal is the error.
pub fn check_names(obj: &JsValue, check: impl Fn(&str) -> Result<(), crate::error::Error>) -> Result<(), crate::error::Error> {
    object_names(obj).iter().try_for_each(|name| check(name))
}
