//! API keys with `MESH_KEYS_STORE=do`: the keys API's and the request
//! path's store operations as calls to `KeyShard` objects (the core's
//! [`KeyOp`]s), with KV read only as the source of the lazy migration.
//! Every call is awaited before the caller answers, so a revoke's 204 means
//! the tombstone is stored.

use std::cell::RefCell;

use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::gateway::api_keys::{self, IndexEntry, KeyRecord, TtlCache, NEGATIVE_CAPACITY};
use crate::gateway::key_shard::{self, KeyAnswer, KeyOp};
use crate::gateway::reject::event_log;
use crate::gateway::shard::request_body;
use crate::wasm::global::now_secs;

use super::durable::DurableObjectNamespace;
use super::js::{console_log, KvNamespace};
use super::kv::{delete as kv_delete, get as kv_get, list as kv_list};
use super::objects::call;

/// The `KeyShard` namespace, and the records this isolate may reuse for
/// `MESH_KEYS_CACHE_SECONDS` (none with 0).
pub(super) struct KeyShards {
    namespace: DurableObjectNamespace,
    records: RefCell<TtlCache<String>>,
}

impl KeyShards {
    pub fn new(namespace: DurableObjectNamespace, cache_secs: i64) -> Self {
        KeyShards { namespace, records: RefCell::new(TtlCache::new(cache_secs, NEGATIVE_CAPACITY)) }
    }

    /// A record fetched less than the cache's seconds ago.
    pub fn cached(&self, hash: &str, now: i64) -> Option<String> {
        self.records.borrow().get(hash, now).cloned()
    }

    async fn ask(&self, op: KeyOp) -> Result<KeyAnswer, JsValue> {
        let text = call(&self.namespace, &op.shard(), request_body(&op)).await?;
        key_shard::parse_answer(&text).ok_or_else(|| JsValue::from_str("not a key shard answer"))
    }

    /// A key's record as JSON text by its hash (`None`: unknown or revoked),
    /// adopted from KV on its first use; kept for the cache's seconds.
    pub async fn record(&self, kv: &KvNamespace, hash: &str) -> Result<Option<String>, JsValue> {
        let record = self.lookup(kv, hash).await?;
        let text = record.map(|r| serde_json::to_string(&r).unwrap_or_default());
        if let Some(text) = &text {
            self.records.borrow_mut().insert_value(hash.to_string(), text.clone(), now_secs());
        }
        Ok(text)
    }

    async fn lookup(&self, kv: &KvNamespace, hash: &str) -> Result<Option<KeyRecord>, JsValue> {
        let found = |answer| match answer {
            KeyAnswer::Found { record } => Some(record),
            _ => None,
        };
        match self.ask(KeyOp::Lookup { hash: hash.into() }).await? {
            KeyAnswer::Missing => {}
            answer => return Ok(found(answer)),
        }
        let Some(record) = kv_get(kv, &api_keys::record_key(hash)).await?.and_then(|t| serde_json::from_str(&t).ok()) else {
            return Ok(None);
        };
        Ok(found(self.ask(KeyOp::Adopt { hash: hash.into(), record }).await?))
    }

    /// `owner`'s keys: their list's, and KV's not migrated yet.
    pub async fn list(&self, kv: &KvNamespace, owner: &str) -> Result<Vec<KeyRecord>, JsValue> {
        let KeyAnswer::Listing { keys, revoked } = self.ask(KeyOp::List { owner: owner.into() }).await? else {
            return Err(JsValue::from_str("a key shard did not list"));
        };
        let mut from_kv = Vec::new();
        for (_, metadata) in kv_list(kv, &api_keys::user_prefix(owner)).await? {
            let text = js_sys::JSON::stringify(&metadata).ok().and_then(|s| s.as_string()).unwrap_or_default();
            from_kv.extend(serde_json::from_str::<KeyRecord>(&text).ok());
        }
        Ok(key_shard::merged_listing(owner, keys, &revoked, from_kv))
    }

    /// A new key: its record (usable from here on), then its owner's list.
    pub async fn store_new(&self, hash: &str, record: &KeyRecord) -> Result<(), JsValue> {
        self.ask(KeyOp::Put { hash: hash.into(), record: record.clone() }).await?;
        let (owner, id) = (record.owner.clone(), record.id.clone());
        self.ask(KeyOp::Index { owner, id, hash: hash.into(), record: record.clone() }).await.map(|_| ())
    }

    /// `owner`'s key `id` and its record, from their list or, not migrated
    /// yet, from KV's index (then adopted into the list).
    pub async fn owned(&self, kv: &KvNamespace, owner: &str, id: &str) -> Result<Option<(String, KeyRecord)>, JsValue> {
        if !api_keys::valid_id(id) {
            return Ok(None);
        }
        let (hash, from_kv) = match self.ask(KeyOp::Find { owner: owner.into(), id: id.into() }).await? {
            KeyAnswer::Indexed { hash } => (hash, false),
            KeyAnswer::Missing => {
                let entry = kv_get(kv, &api_keys::index_key(owner, id)).await?;
                match entry.and_then(|t| serde_json::from_str::<IndexEntry>(&t).ok()) {
                    Some(e) => (e.hash, true),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        let Some(record) = self.lookup(kv, &hash).await?.filter(|r| r.owner == owner && r.id == id) else {
            return Ok(None);
        };
        if from_kv {
            let op = KeyOp::Index { owner: owner.into(), id: id.into(), hash: hash.clone(), record: record.clone() };
            self.ask(op).await?;
        }
        Ok(Some((hash, record)))
    }

    /// A rotated-out key's shorter life, in its record and its list entry.
    pub async fn shorten(&self, hash: &str, expires: i64) -> Result<(), JsValue> {
        if let KeyAnswer::Found { record } = self.ask(KeyOp::Shorten { hash: hash.into(), expires }).await? {
            let (owner, id) = (record.owner.clone(), record.id.clone());
            self.ask(KeyOp::Index { owner, id, hash: hash.into(), record }).await?;
        }
        self.records.borrow_mut().remove(hash);
        Ok(())
    }

    /// Tombstones `owner`'s key `id`, unlists it and deletes its KV copies
    /// (if any); `false` when they have no such key.
    pub async fn revoke(&self, kv: &KvNamespace, owner: &str, id: &str) -> Result<bool, JsValue> {
        let Some((hash, _)) = self.owned(kv, owner, id).await? else { return Ok(false) };
        self.ask(KeyOp::Revoke { hash: hash.clone(), now: now_secs() }).await?;
        self.records.borrow_mut().remove(&hash);
        self.ask(KeyOp::Unindex { owner: owner.into(), id: id.into() }).await?;
        kv_delete(kv, &api_keys::record_key(&hash)).await?;
        kv_delete(kv, &api_keys::index_key(owner, id)).await?;
        Ok(true)
    }

    /// The last use, in the record and its list entry (a revoked key's
    /// tombstone and a revoked id stay as they are).
    pub async fn touch(&self, hash: &str, now: i64, rid: &str) {
        let touched = match self.ask(KeyOp::Touch { hash: hash.into(), now }).await {
            Ok(KeyAnswer::Found { record }) => self.ask(KeyOp::IndexTouch { owner: record.owner, id: record.id, now }).await,
            other => other,
        };
        if let Err(e) = touched {
            console_log(&event_log("error", "last_use_write_failed", rid, json!({ "detail": crate::wasm::error::describe_js(&e) })));
        }
    }
}
