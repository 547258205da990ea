//! The keys API (`MESH_KEYS_PATH`, default `/api/v1/keys`): list, create,
//! revoke and rotate the caller's API keys, served by the gateway itself
//! after JWT verification. Each user sees, revokes and rotates only the keys
//! under their own index prefix; the plaintext key is returned once, by
//! create or rotate, and never stored. Also the write-back of a key's last
//! use, off the request's path.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::Request;

use crate::gateway::api_keys::{self, IndexEntry, KeyRecord, KeySpec, NegativeCache, MAX_CREATE_BODY_BYTES, MAX_KEYS_PER_USER};
use crate::gateway::key_use::KeyUse;
use crate::gateway::reject::{self, event_log, Reply};
use crate::gateway::request::KeysOp;
use crate::wasm::global::now_secs;

use super::js::{console_log, get_prop, random, read_body, KvNamespace};
use super::keys_do::KeyShards;
use super::kv::{delete as kv_delete, get as kv_get, list as kv_list, put as kv_put};
use super::response::Rid;

/// The API-key store of one configuration: the KV namespace, the key prefix,
/// and the unknown keys remembered (a minted key leaves that cache).
pub(super) struct KeyStore {
    pub kv: KvNamespace,
    pub prefix: String,
    pub negative: RefCell<NegativeCache>,
    /// Rate-limit windows and last-use write-backs of the keys in use.
    pub used: RefCell<KeyUse>,
    /// With `MESH_KEYS_STORE=do`: the key shards, where records are the truth
    /// (KV is then read only to migrate a key on its first use).
    pub shards: Option<KeyShards>,
}

/// `(owner, scopes)`: who calls the keys API, and the scopes a key they make may carry.
type Caller<'c> = (&'c str, &'c [String]);

pub(super) async fn serve(store: Option<&KeyStore>, op: KeysOp, (owner, scopes): Caller<'_>, request: &Request, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let Some(store) = store else { return Ok(reject::unavailable()) };
    let result = match op {
        KeysOp::NotFound => return Ok(reject::not_found()),
        KeysOp::MethodNotAllowed(allow) => return Ok(reject::method_not_allowed(allow)),
        KeysOp::List => list(store, owner).await.map(|keys| Reply::json(200, json!({ "keys": keys }))),
        KeysOp::Create => create(store, (owner, scopes), request, rid).await,
        KeysOp::Revoke(id) => revoke(store, owner, &id, rid).await,
        KeysOp::Rotate(id) => rotate(store, owner, &id, request, rid).await,
    };
    // A KV failure is an outage, not a bad request: 503, detail to the log.
    Ok(result.unwrap_or_else(|e| {
        let detail = json!({ "detail": crate::wasm::error::describe_js(&e) });
        console_log(&event_log("error", "kv_failed", rid.get(), detail));
        reject::unavailable()
    }))
}

async fn list(store: &KeyStore, owner: &str) -> Result<Vec<Value>, JsValue> {
    if let Some(shards) = &store.shards {
        return Ok(shards.list(&store.kv, owner).await?.iter().map(api_keys::public_view).collect());
    }
    let kv = &store.kv;
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

async fn create(store: &KeyStore, (owner, scopes): Caller<'_>, request: &Request, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let Some(body) = read_body(request, MAX_CREATE_BODY_BYTES).await? else {
        return Ok(reject::bad_request("request body is too large"));
    };
    let spec = match api_keys::parse_create_body(&body, now_secs()) {
        Ok(spec) => spec,
        Err(message) => return Ok(reject::bad_request(message)),
    };
    let missing = api_keys::ungranted(&spec.scopes, scopes);
    if !missing.is_empty() {
        console_log(&event_log("warn", "api_key_scopes_refused", rid.get(), json!({ "missing_scopes": missing })));
        return Ok(api_keys::scopes_not_granted(&missing));
    }
    mint_and_store(store, owner, spec, "api_key_created", rid).await
}

/// Mints a key for `owner`, stores its record and index entry, and answers
/// 201 with the plaintext (the only time it is shown).
async fn mint_and_store(store: &KeyStore, owner: &str, spec: KeySpec, event: &str, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let kv = &store.kv;
    let held = match &store.shards {
        Some(shards) => shards.list(kv, owner).await?.len(),
        None => kv_list(kv, &api_keys::user_prefix(owner)).await?.len(),
    };
    if held >= MAX_KEYS_PER_USER {
        return Ok(reject::bad_request("key limit reached: revoke a key first"));
    }
    let new = api_keys::mint(&store.prefix, &random()?, &random()?, owner, spec, now_secs());
    // The record first: a key is usable only once its record exists, and the
    // index (what list and revoke see) follows.
    match &store.shards {
        Some(shards) => shards.store_new(&new.hash, &new.record).await?,
        None => put_record(kv, &new.hash, &new.record).await?,
    }
    store.negative.borrow_mut().remove(&new.hash);
    console_log(&event_log("info", event, rid.get(), json!({ "key_id": new.record.id })));

    let mut view = api_keys::public_view(&new.record);
    view["key"] = new.plaintext.secret().into();
    Ok(Reply::json(201, view))
}

/// Writes a key's record, then its index entry with the record as metadata.
async fn put_record(kv: &KvNamespace, hash: &str, record: &KeyRecord) -> Result<(), JsValue> {
    let text = serde_json::to_string(record).map_err(|e| JsValue::from_str(&e.to_string()))?;
    kv_put(kv, &api_keys::record_key(hash), &text, None).await?;
    put_index(kv, hash, record, &text).await
}

async fn put_index(kv: &KvNamespace, hash: &str, record: &KeyRecord, text: &str) -> Result<(), JsValue> {
    let index = serde_json::to_string(&IndexEntry { hash: hash.to_string() }).map_err(|e| JsValue::from_str(&e.to_string()))?;
    kv_put(kv, &api_keys::index_key(&record.owner, &record.id), &index, Some(&js_sys::JSON::parse(text)?)).await
}

/// `POST {id}/rotate`: a replacement like the old key, which stays valid
/// for the grace asked for. Someone else's key, like a missing one, is 404.
async fn rotate(store: &KeyStore, owner: &str, id: &str, request: &Request, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let kv = &store.kv;
    let Some(body) = read_body(request, MAX_CREATE_BODY_BYTES).await? else {
        return Ok(reject::bad_request("request body is too large"));
    };
    let grace = match api_keys::parse_rotate_body(&body) {
        Ok(grace) => grace,
        Err(message) => return Ok(reject::bad_request(message)),
    };
    let Some((hash, mut old)) = owned(store, owner, id).await? else { return Ok(reject::not_found()) };
    let (spec, old_expires) = match api_keys::rotate(&old, now_secs(), grace) {
        Ok(rotation) => rotation,
        Err(message) => return Ok(reject::bad_request(message)),
    };
    let reply = mint_and_store(store, owner, spec, "api_key_rotated", rid).await?;
    if reply.status == 201 {
        // Only once the replacement exists does the old key's life shorten.
        match &store.shards {
            Some(shards) => shards.shorten(&hash, old_expires).await?,
            None => {
                old.expires = Some(old_expires);
                put_record(kv, &hash, &old).await?;
            }
        }
        console_log(&event_log("info", "api_key_rotated_out", rid.get(), json!({ "key_id": id, "grace_seconds": grace })));
    }
    Ok(reply)
}

/// The hash and record of `owner`'s key `id`; `None` when they have no such key.
async fn owned(store: &KeyStore, owner: &str, id: &str) -> Result<Option<(String, KeyRecord)>, JsValue> {
    if let Some(shards) = &store.shards {
        return shards.owned(&store.kv, owner, id).await;
    }
    let Some(hash) = owned_hash(&store.kv, owner, id).await? else { return Ok(None) };
    let record = kv_get(&store.kv, &api_keys::record_key(&hash)).await?.and_then(|t| serde_json::from_str::<KeyRecord>(&t).ok());
    Ok(record.map(|r| (hash, r)))
}

/// The record hash of `owner`'s key `id`; `None` when they have no such key.
async fn owned_hash(kv: &KvNamespace, owner: &str, id: &str) -> Result<Option<String>, JsValue> {
    if !api_keys::valid_id(id) {
        return Ok(None);
    }
    Ok(kv_get(kv, &api_keys::index_key(owner, id)).await?.and_then(|t| serde_json::from_str::<IndexEntry>(&t).ok()).map(|e| e.hash))
}

/// Writes a key's last use back, off the request's path: through
/// `ctx.waitUntil` in a Worker, else left running with its errors logged.
pub(super) fn touch_later(store: &Rc<KeyStore>, hash: String, now: i64, ctx: &JsValue, rid: &Rid<'_>) {
    let (kv, rid) = (store.kv.clone(), rid.get().to_string());
    let do_store = store.shards.is_some().then(|| store.clone());
    let write = future_to_promise(async move {
        if let Some(store) = do_store {
            store.shards.as_ref().expect("checked above").touch(&hash, now, &rid).await;
            return Ok(JsValue::UNDEFINED);
        }
        if let Err(e) = touch(&kv, &hash, now).await {
            console_log(&event_log("error", "last_use_write_failed", &rid, json!({ "detail": crate::wasm::error::describe_js(&e) })));
        }
        Ok(JsValue::UNDEFINED)
    });
    if let Some(wait_until) = get_prop(ctx, "waitUntil").dyn_ref::<js_sys::Function>() {
        let _ = wait_until.call1(ctx, &write);
    }
}

/// The last use, set on the record as KV holds it now (a rotation's shorter
/// expiry is kept), and on its index entry for list. KV has no
/// compare-and-set: a revoke landing between the read and the writes could
/// be undone, so the index is read again after the record is written, and a
/// record whose index is gone (revoked) is deleted again.
async fn touch(kv: &KvNamespace, hash: &str, now: i64) -> Result<(), JsValue> {
    let Some(record) = kv_get(kv, &api_keys::record_key(hash)).await?.and_then(|t| api_keys::touched(&t, now)) else {
        return Ok(());
    };
    let text = serde_json::to_string(&record).map_err(|e| JsValue::from_str(&e.to_string()))?;
    kv_put(kv, &api_keys::record_key(hash), &text, None).await?;
    if kv_get(kv, &api_keys::index_key(&record.owner, &record.id)).await?.is_none() {
        return kv_delete(kv, &api_keys::record_key(hash)).await;
    }
    put_index(kv, hash, &record, &text).await
}

async fn revoke(store: &KeyStore, owner: &str, id: &str, rid: &Rid<'_>) -> Result<Reply, JsValue> {
    let found = match &store.shards {
        Some(shards) => shards.revoke(&store.kv, owner, id).await?,
        None => revoke_kv(&store.kv, owner, id).await?,
    };
    if !found {
        return Ok(reject::not_found());
    }
    console_log(&event_log("info", "api_key_revoked", rid.get(), json!({ "key_id": id })));
    Ok(Reply::empty(204))
}

async fn revoke_kv(kv: &KvNamespace, owner: &str, id: &str) -> Result<bool, JsValue> {
    if !api_keys::valid_id(id) {
        return Ok(false);
    }
    let index_key = api_keys::index_key(owner, id);
    let Some(text) = kv_get(kv, &index_key).await? else {
        return Ok(false);
    };
    if let Ok(entry) = serde_json::from_str::<IndexEntry>(&text) {
        kv_delete(kv, &api_keys::record_key(&entry.hash)).await?;
    }
    kv_delete(kv, &index_key).await?;
    Ok(true)
}
