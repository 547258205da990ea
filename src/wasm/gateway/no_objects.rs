//! The gateway module without Durable Objects (`mesh-sdk/gateway`, the
//! default): stand-ins for the isolate's calls to the objects, so that the
//! handler is one code for both modules. None is reached: the core refuses a
//! configuration that needs an object on this module
//! ([`crate::gateway::stores::Stores::check_build`], 500
//! `gateway_misconfigured` from the first request), so no `KeyShards` is
//! made and no object is asked. Were one asked, it answers an error, never a
//! decision.

use wasm_bindgen::JsValue;

use crate::gateway::api_keys::KeyRecord;
use crate::gateway::rate_limit::TakeAnswer;
use crate::gateway::token_broker::Answer;

use super::durable::DurableObjectNamespace;
use super::js::KvNamespace;
use super::response::Rid;

fn absent() -> JsValue {
    JsValue::from_str("this gateway module has no Durable Objects")
}

/// `MESH_KEYS_STORE=do`'s shards: absent from this module.
pub(super) struct KeyShards;

impl KeyShards {
    pub fn new(_namespace: DurableObjectNamespace, _cache_secs: i64) -> Self {
        KeyShards
    }

    pub fn cached(&self, _hash: &str, _now: i64) -> Option<String> {
        None
    }

    pub async fn record(&self, _kv: &KvNamespace, _hash: &str) -> Result<Option<String>, JsValue> {
        Err(absent())
    }

    pub async fn list(&self, _kv: &KvNamespace, _owner: &str) -> Result<Vec<KeyRecord>, JsValue> {
        Err(absent())
    }

    pub async fn store_new(&self, _hash: &str, _record: &KeyRecord) -> Result<(), JsValue> {
        Err(absent())
    }

    pub async fn owned(&self, _kv: &KvNamespace, _owner: &str, _id: &str) -> Result<Option<(String, KeyRecord)>, JsValue> {
        Err(absent())
    }

    pub async fn shorten(&self, _hash: &str, _expires: i64) -> Result<(), JsValue> {
        Err(absent())
    }

    pub async fn revoke(&self, _kv: &KvNamespace, _owner: &str, _id: &str) -> Result<bool, JsValue> {
        Err(absent())
    }

    pub async fn touch(&self, _hash: &str, _now: i64, _rid: &str) {}
}

/// `MESH_RATE_LIMIT_STORE=do`'s count: unreachable here.
pub(super) async fn take(_namespace: &DurableObjectNamespace, _subject: String, _limit: u32) -> Result<TakeAnswer, JsValue> {
    Err(absent())
}

/// The service token's broker: unavailable here.
pub(super) async fn ask(_namespace: &DurableObjectNamespace, _name: &str, _rid: &Rid<'_>) -> Answer {
    Answer::Unavailable { retry_after_secs: 1 }
}
