//! The Workers KV namespace of API-key records (`env.MESH_API_KEYS`): get,
//! put, delete and a bounded list, as futures.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::js::{get_prop, object, set_prop, KvNamespace};

/// Pages of a list followed at most (a user has at most MAX_KEYS_PER_USER keys).
const MAX_LIST_PAGES: usize = 16;

pub(super) async fn get(kv: &KvNamespace, key: &str) -> Result<Option<String>, JsValue> {
    Ok(JsFuture::from(kv.get(key)?).await?.as_string())
}

pub(super) async fn put(kv: &KvNamespace, key: &str, value: &str, metadata: Option<&JsValue>) -> Result<(), JsValue> {
    let options = match metadata {
        Some(m) => object(&[("metadata", m.clone())]).into(),
        None => JsValue::UNDEFINED,
    };
    JsFuture::from(kv.put(key, value, &options)?).await.map(|_| ())
}

pub(super) async fn delete(kv: &KvNamespace, key: &str) -> Result<(), JsValue> {
    JsFuture::from(kv.delete(key)?).await.map(|_| ())
}

/// Every `(name, metadata)` under `prefix`, following cursors (bounded).
pub(super) async fn list(kv: &KvNamespace, prefix: &str) -> Result<Vec<(String, JsValue)>, JsValue> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let options = object(&[("prefix", JsValue::from_str(prefix))]);
        if let Some(c) = &cursor {
            set_prop(&options, "cursor", &JsValue::from_str(c));
        }
        let page = JsFuture::from(kv.list(&options)?).await?;
        let keys: js_sys::Array = get_prop(&page, "keys").dyn_into().unwrap_or_default();
        for k in keys.iter() {
            if let Some(name) = get_prop(&k, "name").as_string() {
                out.push((name, get_prop(&k, "metadata")));
            }
        }
        if get_prop(&page, "list_complete").is_truthy() {
            break;
        }
        cursor = get_prop(&page, "cursor").as_string();
        if cursor.is_none() {
            break;
        }
    }
    Ok(out)
}
