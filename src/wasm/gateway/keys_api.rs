//! `/api/v1/keys`: list, create and revoke the caller's API keys, served by
//! the gateway itself after JWT verification. Each user sees and revokes only
//! the keys under their own index prefix; the plaintext key is returned once,
//! by create, and never stored.

use std::cell::RefCell;

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use web_sys::Request;

use crate::gateway::api_keys::{self, IndexEntry, KeyRecord, NegativeCache, MAX_CREATE_BODY_BYTES, MAX_KEYS_PER_USER};
use crate::gateway::reject::{self, event_log, Reply};
use crate::gateway::request::KeysOp;
use crate::wasm::global::now_secs;

use super::js::{console_log, random, read_body, KvNamespace};
use super::kv::{delete as kv_delete, get as kv_get, list as kv_list, put as kv_put};
use super::response::Rid;

/// The API-key store of one configuration: the KV namespace, the key prefix,
/// and the unknown keys remembered (a minted key leaves that cache).
pub(super) struct KeyStore {
    pub kv: KvNamespace,
    pub prefix: String,
    pub negative: RefCell<NegativeCache>,
}

pub(super) async fn serve(store: Option<&KeyStore>, op: KeysOp, owner: &str, request: &Request, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let Some(store) = store else { return Ok(reject::unavailable()) };
    let kv = &store.kv;
    let result = match op {
        KeysOp::NotFound => return Ok(reject::not_found()),
        KeysOp::MethodNotAllowed(allow) => return Ok(reject::method_not_allowed(allow)),
        KeysOp::List => list(kv, owner).await.map(|keys| Reply::json(200, json!({ "keys": keys }))),
        KeysOp::Create => create(store, owner, request, rid).await,
        KeysOp::Revoke(id) => revoke(kv, owner, &id, rid).await,
    };
    // A KV failure is an outage, not a bad request: 503, detail to the log.
    Ok(result.unwrap_or_else(|e| {
        let detail = json!({ "detail": crate::wasm::error::describe_js(&e) });
        console_log(&event_log("error", "kv_failed", rid.get(), detail));
        reject::unavailable()
    }))
}

async fn list(kv: &KvNamespace, owner: &str) -> Result<Vec<Value>, JsValue> {
    let mut records: Vec<KeyRecord> = Vec::new();
    for (_, metadata) in kv_list(kv, &api_keys::user_prefix(owner)).await? {
        let text = js_sys::JSON::stringify(&metadata).ok().and_then(|s| s.as_string()).unwrap_or_default();
        if let Ok(r) = serde_json::from_str::<KeyRecord>(&text) {
            if r.owner == owner {
                records.push(r);
            }
        }
    }
    records.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(records.iter().map(api_keys::public_view).collect())
}

async fn create(store: &KeyStore, owner: &str, request: &Request, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let kv = &store.kv;
    let Some(body) = read_body(request, MAX_CREATE_BODY_BYTES).await? else {
        return Ok(reject::bad_request("request body is too large"));
    };
    let name = match api_keys::parse_create_body(&body) {
        Ok(name) => name,
        Err(message) => return Ok(reject::bad_request(message)),
    };
    if kv_list(kv, &api_keys::user_prefix(owner)).await?.len() >= MAX_KEYS_PER_USER {
        return Ok(reject::bad_request("key limit reached: revoke a key first"));
    }
    let new = api_keys::mint(&store.prefix, &random()?, &random()?, owner, name, now_secs());
    let record = serde_json::to_string(&new.record).map_err(|e| JsValue::from_str(&e.to_string()))?;
    let index = serde_json::to_string(&IndexEntry { hash: new.hash.clone() }).map_err(|e| JsValue::from_str(&e.to_string()))?;
    // The record first: a key is usable only once its record exists, and the
    // index (what list and revoke see) follows.
    kv_put(kv, &api_keys::record_key(&new.hash), &record, None).await?;
    let metadata = js_sys::JSON::parse(&record)?;
    kv_put(kv, &api_keys::index_key(owner, &new.record.id), &index, Some(&metadata)).await?;
    store.negative.borrow_mut().remove(&new.hash);
    console_log(&event_log("info", "api_key_created", rid.get(), json!({ "key_id": new.record.id })));

    let mut view = api_keys::public_view(&new.record);
    view["key"] = new.plaintext.secret().into();
    Ok(Reply::json(201, view))
}

async fn revoke(kv: &KvNamespace, owner: &str, id: &str, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    if !api_keys::valid_id(id) {
        return Ok(reject::not_found());
    }
    let index_key = api_keys::index_key(owner, id);
    let Some(text) = kv_get(kv, &index_key).await? else {
        return Ok(reject::not_found());
    };
    if let Ok(entry) = serde_json::from_str::<IndexEntry>(&text) {
        kv_delete(kv, &api_keys::record_key(&entry.hash)).await?;
    }
    kv_delete(kv, &index_key).await?;
    console_log(&event_log("info", "api_key_revoked", rid.get(), json!({ "key_id": id })));
    Ok(Reply::empty(204))
}
