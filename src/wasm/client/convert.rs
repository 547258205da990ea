//! Small conversions between JavaScript values and Rust, through `Reflect`
//! (no serde for a handful of fields: it keeps the browser build small).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::client::OptionValue;
use crate::error::Error;

/// `obj[key]`, or `undefined` when `obj` is not an object or the read throws.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key] = value` on an object this crate created (cannot fail).
pub fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// A string field; `undefined`/`null` is `None`, anything but a string is an
/// error naming the field.
pub fn opt_string(obj: &JsValue, key: &str) -> Result<Option<String>, Error> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| Error::config(key, "must be a string"))
}

/// A field as the core's option readers take it: they check its type and
/// name the field in errors.
pub fn option_value(obj: &JsValue, key: &str) -> Option<OptionValue> {
    let v = get(obj, key);
    if v.is_undefined() {
        None
    } else if v.is_null() {
        Some(OptionValue::Null)
    } else if let Some(s) = v.as_string() {
        Some(OptionValue::Str(s))
    } else if let Some(n) = v.as_f64() {
        Some(OptionValue::Num(n))
    } else if let Some(b) = v.as_bool() {
        Some(OptionValue::Bool(b))
    } else {
        Some(OptionValue::Other)
    }
}

/// Seconds (Unix) from milliseconds, as a JS number.
pub fn secs(ms: i64) -> JsValue {
    JsValue::from_f64(crate::client::token::unix_secs(ms) as f64)
}

/// `value` when set, else `null`.
pub fn or_null(value: Option<JsValue>) -> JsValue {
    value.unwrap_or(JsValue::NULL)
}

/// A string property, or `None` when absent or not a string.
pub fn string_prop(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// A number of seconds given as a number (truncated) or a numeric string;
/// `Ok(None)` when absent or `null`, `Err` for anything else.
pub fn seconds_prop(obj: &JsValue, key: &str) -> Result<Option<i64>, ()> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(n) = v.as_f64() {
        return if n.is_finite() { Ok(Some(n as i64)) } else { Err(()) };
    }
    v.as_string().and_then(|s| s.trim().parse::<i64>().ok()).map(Some).ok_or(())
}

/// `JSON.parse(text)`; `None` when it is empty or not JSON.
pub fn parse_json(text: &str) -> Option<JsValue> {
    if text.trim().is_empty() {
        return None;
    }
    js_sys::JSON::parse(text).ok()
}

/// `options.extraParams`: an object of string values (the core checks the names).
/// A form (`client::grant::Form`) as `[[name, value], …]`, for
/// `URLSearchParams`.
pub fn form_js(form: &[(&str, &str)]) -> Array {
    form.iter().map(|(name, value)| Array::of2(&JsValue::from_str(name), &JsValue::from_str(value))).collect()
}

pub fn extra_params(value: &JsValue) -> Result<Vec<(String, String)>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(Error::config("extraParams", "must be an object of strings"));
    }
    let mut out = Vec::new();
    for name in Object::keys(value.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()) {
        let v = get(value, &name).as_string().ok_or_else(|| Error::config("extraParams", "must be an object of strings"))?;
        out.push((name, v));
    }
    Ok(out)
}
