//! Where the session is kept: `'memory'` (the default: nothing persisted),
//! `'localStorage'` / `'sessionStorage'` (only when asked for), or an adapter
//! `{ get(key), set(key, value), remove(key) }` whose methods may return
//! promises. Values are strings (the JSON of `StoredSession`).

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::convert::get;
use crate::error::{Error, ErrorKind};
use crate::wasm::error::describe_js;

pub enum Storage {
    Memory,
    Adapter {
        target: JsValue,
        get: Function,
        set: Function,
        remove: Function,
        /// `localStorage`: shared by the tabs of an origin.
        shared: bool,
    },
}

impl Storage {
    /// Parses the `storage` option.
    pub fn from_option(value: &JsValue) -> Result<Storage, Error> {
        if value.is_undefined() || value.is_null() {
            return Ok(Storage::Memory);
        }
        if let Some(name) = value.as_string() {
            return match name.as_str() {
                "memory" => Ok(Storage::Memory),
                "localStorage" | "sessionStorage" => web_storage(&name),
                _ => Err(Error::config(
                    "storage",
                    "must be 'memory', 'localStorage', 'sessionStorage' or an object with get, set and remove",
                )),
            };
        }
        let method = |name: &str| -> Result<Function, Error> {
            get(value, name)
                .dyn_into::<Function>()
                .map_err(|_| Error::config("storage", "an adapter object needs get, set and remove methods"))
        };
        if !value.is_object() {
            return Err(Error::config("storage", "must be a string or an adapter object"));
        }
        Ok(Storage::Adapter {
            target: value.clone(),
            get: method("get")?,
            set: method("set")?,
            remove: method("remove")?,
            shared: false,
        })
    }

    /// True for `localStorage`, whose content the tabs of an origin share.
    pub fn is_shared(&self) -> bool {
        matches!(self, Storage::Adapter { shared: true, .. })
    }

    pub fn is_memory(&self) -> bool {
        matches!(self, Storage::Memory)
    }

    /// Reads `key`; `None` when absent (or for memory storage).
    pub async fn read(&self, key: &str) -> Result<Option<String>, Error> {
        let Storage::Adapter { target, get, .. } = self else { return Ok(None) };
        let value = settle(get.call1(target, &JsValue::from_str(key))).await?;
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        value
            .as_string()
            .map(Some)
            .ok_or_else(|| Error::new(ErrorKind::Storage, "the storage adapter's get() returned something other than a string"))
    }

    /// Writes `key`. The adapter's method is called before this returns (so
    /// writes happen in call order); the future waits for its promise.
    pub fn write(&self, key: &str, value: &str) -> impl std::future::Future<Output = Result<(), Error>> {
        let call = match self {
            Storage::Memory => Ok(JsValue::UNDEFINED),
            Storage::Adapter { target, set, .. } => set.call2(target, &JsValue::from_str(key), &JsValue::from_str(value)),
        };
        async move { settle(call).await.map(|_| ()) }
    }

    /// Removes `key`, with the same ordering as [`Storage::write`].
    pub fn remove(&self, key: &str) -> impl std::future::Future<Output = Result<(), Error>> {
        let call = match self {
            Storage::Memory => Ok(JsValue::UNDEFINED),
            Storage::Adapter { target, remove, .. } => remove.call1(target, &JsValue::from_str(key)),
        };
        async move { settle(call).await.map(|_| ()) }
    }
}

/// Awaits what a storage method returned (a value or a promise); a throw or
/// a rejection becomes a `storage` error.
async fn settle(call: Result<JsValue, JsValue>) -> Result<JsValue, Error> {
    let fail = |e: JsValue| Error::new(ErrorKind::Storage, format!("storage failed: {}", describe_js(&e)));
    let value = call.map_err(fail)?;
    if get(&value, "then").is_function() {
        return JsFuture::from(Promise::resolve(&value)).await.map_err(fail);
    }
    Ok(value)
}

fn web_storage(name: &str) -> Result<Storage, Error> {
    let unavailable = |why: String| Error::config("storage", format!("'{name}' is not available here: {why}"));
    // Reading `localStorage` throws in sandboxed frames and with cookies off.
    let target = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str(name))
        .map_err(|e| unavailable(describe_js(&e)))?;
    if !target.is_object() {
        return Err(unavailable("this runtime has none".into()));
    }
    let method = |m: &str| get(&target, m).dyn_into::<Function>().map_err(|_| unavailable("not a Storage".into()));
    Ok(Storage::Adapter {
        get: method("getItem")?,
        set: method("setItem")?,
        remove: method("removeItem")?,
        shared: name == "localStorage",
        target,
    })
}
