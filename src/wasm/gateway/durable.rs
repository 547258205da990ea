#![cfg_attr(not(feature = "durable-objects"), allow(dead_code))]
//! Raw bindings of Durable Objects, both sides: the namespace and stub a
//! gateway isolate calls (`env.MESH_TOKEN_BROKER`, `env.MESH_KEYS_DO`,
//! `env.MESH_RATE_LIMITS`), and the state and storage an object holds
//! (`ctx.storage`, SQLite-backed). Only what the gateway uses; the calls
//! between isolate and object are `fetch`es whose bodies the core writes.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// A Durable Object namespace binding of the Worker's env.
    #[derive(Clone)]
    pub type DurableObjectNamespace;
    /// `idFromName(name)`: the same name gives the same object everywhere.
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    pub fn id_from_name(this: &DurableObjectNamespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn get(this: &DurableObjectNamespace, id: &JsValue) -> Result<DurableObjectStub, JsValue>;

    /// The stub of one object: `fetch` reaches its `fetch` handler.
    pub type DurableObjectStub;
    #[wasm_bindgen(method, catch)]
    pub fn fetch(this: &DurableObjectStub, url: &str, init: &JsValue) -> Result<Promise, JsValue>;

    /// What an object is constructed with (`ctx`): its storage.
    #[derive(Clone)]
    pub type DurableObjectState;
    #[wasm_bindgen(method, getter)]
    pub fn storage(this: &DurableObjectState) -> DurableObjectStorage;

    /// The object's transactional storage (key-value API over its SQLite).
    #[derive(Clone)]
    pub type DurableObjectStorage;
    /// `get(key)` -> `Promise<value | undefined>`.
    #[wasm_bindgen(method, catch)]
    pub fn get(this: &DurableObjectStorage, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn put(this: &DurableObjectStorage, key: &str, value: &JsValue) -> Result<Promise, JsValue>;
    /// `setAlarm(epochMillis)`: the object's `alarm()` runs then, even after an eviction.
    #[wasm_bindgen(method, catch, js_name = setAlarm)]
    pub fn set_alarm(this: &DurableObjectStorage, epoch_ms: f64) -> Result<Promise, JsValue>;
}

/// The stub of the object named `name` in `namespace`.
pub fn stub(namespace: &DurableObjectNamespace, name: &str) -> Result<DurableObjectStub, JsValue> {
    namespace.get(&namespace.id_from_name(name)?)
}

/// A stored text value (`None`: absent, or not text).
pub async fn get_text(storage: &DurableObjectStorage, key: &str) -> Result<Option<String>, JsValue> {
    Ok(JsFuture::from(storage.get(key)?).await?.as_string())
}

pub async fn put_text(storage: &DurableObjectStorage, key: &str, value: &str) -> Result<(), JsValue> {
    JsFuture::from(storage.put(key, &JsValue::from_str(value))?).await.map(|_| ())
}
