//! API keys in Durable Objects (`MESH_KEYS_STORE=do`): what a `KeyShard`
//! holds and decides. A key's record lives in the shard its hash names
//! ([`record_shard`]), under `r:<hash>`, as a [`Slot`]: the record, or the
//! tombstone of a revoked key. A user's list of keys lives in the shard
//! their id's hash names ([`owner_shard`]), under `o:<base64url(owner)>`,
//! as one [`OwnerDoc`], so listing is one read of one object.
//!
//! Revocation is immediate because every lookup asks the record's shard,
//! which is one single-threaded object: once `Revoke` has been answered, no
//! later `Lookup` finds the record.
//!
//! Migration from KV is lazy: a shard with no slot for a hash answers
//! `Missing`, the isolate reads KV and sends the record back with `Adopt`,
//! which the shard keeps unless it already holds something for that hash;
//! a tombstone wins, so a stale KV copy of a revoked key never comes back.

use serde::{Deserialize, Serialize};

use super::api_keys::{sha256_hex, touched, KeyRecord};
use super::jwt::b64url_encode;
use super::shard::{answer_text, shard_name, Outcome, ShardOp, Write};

/// Revoked ids an owner's list remembers (newest kept): a KV index entry of
/// a revoked key stays hidden while KV's stale reads last.
pub const MAX_REVOKED_IDS: usize = 100;

/// The shard of a key's record.
pub fn record_shard(hash: &str) -> String {
    shard_name(hash)
}

/// The shard of an owner's list of keys.
pub fn owner_shard(owner: &str) -> String {
    shard_name(&sha256_hex(owner))
}

/// What a shard stores for a key's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Live(KeyRecord),
    /// Revoked at these Unix seconds; kept so a KV copy is never adopted.
    Revoked(i64),
}

/// An owner's keys (at most `MAX_KEYS_PER_USER`, so a list), and the ids
/// revoked lately.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerDoc {
    #[serde(default)]
    pub keys: Vec<Indexed>,
    #[serde(default)]
    pub revoked: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indexed {
    pub hash: String,
    pub record: KeyRecord,
}

/// A request to a `KeyShard` (the JSON body an isolate POSTs; on the wire
/// one flat object, [`Wire`], whose parser is a fraction of the size of an
/// enum's in the wasm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub enum KeyOp {
    Lookup { hash: String },
    /// A record read from KV, kept unless the shard holds the hash already.
    Adopt { hash: String, record: KeyRecord },
    /// A newly minted key.
    Put { hash: String, record: KeyRecord },
    /// A rotation's shorter life for the old key (never longer than it was).
    Shorten { hash: String, expires: i64 },
    Touch { hash: String, now: i64 },
    Revoke { hash: String, now: i64 },
    List { owner: String },
    /// Where `owner`'s key `id` is: `Indexed`, `Revoked` or `Missing`.
    Find { owner: String, id: String },
    Index { owner: String, id: String, hash: String, record: KeyRecord },
    IndexTouch { owner: String, id: String, now: i64 },
    Unindex { owner: String, id: String },
}

/// The wire form of a [`KeyOp`]: its kind and the fields it uses (`at`:
/// the time of a touch or revoke, or a rotation's expiry).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Wire {
    op: Kind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    hash: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<KeyRecord>,
    #[serde(default)]
    at: i64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    #[default]
    Lookup,
    Adopt,
    Put,
    Shorten,
    Touch,
    Revoke,
    List,
    Find,
    Index,
    IndexTouch,
    Unindex,
}

impl TryFrom<Wire> for KeyOp {
    type Error = &'static str;

    fn try_from(w: Wire) -> Result<Self, Self::Error> {
        let (hash, owner, id, at) = (w.hash, w.owner, w.id, w.at);
        let record = || w.record.ok_or("this request needs a record");
        Ok(match w.op {
            Kind::Lookup => KeyOp::Lookup { hash },
            Kind::Adopt => KeyOp::Adopt { hash, record: record()? },
            Kind::Put => KeyOp::Put { hash, record: record()? },
            Kind::Shorten => KeyOp::Shorten { hash, expires: at },
            Kind::Touch => KeyOp::Touch { hash, now: at },
            Kind::Revoke => KeyOp::Revoke { hash, now: at },
            Kind::List => KeyOp::List { owner },
            Kind::Find => KeyOp::Find { owner, id },
            Kind::Index => KeyOp::Index { owner, id, hash, record: record()? },
            Kind::IndexTouch => KeyOp::IndexTouch { owner, id, now: at },
            Kind::Unindex => KeyOp::Unindex { owner, id },
        })
    }
}

impl From<KeyOp> for Wire {
    fn from(op: KeyOp) -> Wire {
        let w = Wire::default();
        match op {
            KeyOp::Lookup { hash } => Wire { op: Kind::Lookup, hash, ..w },
            KeyOp::Adopt { hash, record } => Wire { op: Kind::Adopt, hash, record: Some(record), ..w },
            KeyOp::Put { hash, record } => Wire { op: Kind::Put, hash, record: Some(record), ..w },
            KeyOp::Shorten { hash, expires } => Wire { op: Kind::Shorten, hash, at: expires, ..w },
            KeyOp::Touch { hash, now } => Wire { op: Kind::Touch, hash, at: now, ..w },
            KeyOp::Revoke { hash, now } => Wire { op: Kind::Revoke, hash, at: now, ..w },
            KeyOp::List { owner } => Wire { op: Kind::List, owner, ..w },
            KeyOp::Find { owner, id } => Wire { op: Kind::Find, owner, id, ..w },
            KeyOp::Index { owner, id, hash, record } => Wire { op: Kind::Index, owner, id, hash, record: Some(record), ..w },
            KeyOp::IndexTouch { owner, id, now } => Wire { op: Kind::IndexTouch, owner, id, at: now, ..w },
            KeyOp::Unindex { owner, id } => Wire { op: Kind::Unindex, owner, id, ..w },
        }
    }
}

/// A `KeyShard`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAnswer {
    Found { record: KeyRecord },
    Revoked,
    Missing,
    Done,
    Listing { keys: Vec<KeyRecord>, revoked: Vec<String> },
    Indexed { hash: String },
}

impl KeyOp {
    fn hash(&self) -> Option<&str> {
        match self {
            KeyOp::Lookup { hash } | KeyOp::Adopt { hash, .. } | KeyOp::Put { hash, .. } => Some(hash),
            KeyOp::Shorten { hash, .. } | KeyOp::Touch { hash, .. } | KeyOp::Revoke { hash, .. } => Some(hash),
            _ => None,
        }
    }

    fn owner(&self) -> &str {
        match self {
            KeyOp::List { owner } | KeyOp::Find { owner, .. } | KeyOp::Index { owner, .. } => owner,
            KeyOp::IndexTouch { owner, .. } | KeyOp::Unindex { owner, .. } => owner,
            _ => "",
        }
    }

    /// The shard this request goes to.
    pub fn shard(&self) -> String {
        self.hash().map_or_else(|| owner_shard(self.owner()), record_shard)
    }
}

fn put(value: &impl Serialize, answer: KeyAnswer) -> Outcome {
    Outcome { write: Write::Put(serde_json::to_string(value).unwrap_or_default()), answer: answer_text(&answer) }
}

fn keep(answer: KeyAnswer) -> Outcome {
    Outcome { write: Write::Keep, answer: answer_text(&answer) }
}

fn slot_answer(slot: Option<Slot>) -> KeyAnswer {
    match slot {
        Some(Slot::Live(record)) => KeyAnswer::Found { record },
        Some(Slot::Revoked(_)) => KeyAnswer::Revoked,
        None => KeyAnswer::Missing,
    }
}

impl ShardOp for KeyOp {
    fn storage_key(&self) -> String {
        match self.hash() {
            Some(hash) => format!("r:{hash}"),
            None => format!("o:{}", b64url_encode(self.owner().as_bytes())),
        }
    }

    fn apply(self, stored: Option<&str>, _now_ms: i64) -> Outcome {
        if self.hash().is_some() {
            // A corrupt slot reads as none: the key is unknown, never granted.
            let slot = stored.and_then(|s| serde_json::from_str::<Slot>(s).ok());
            return apply_record(self, slot);
        }
        let doc = stored.and_then(|s| serde_json::from_str::<OwnerDoc>(s).ok()).unwrap_or_default();
        apply_owner(self, doc)
    }
}

fn apply_record(op: KeyOp, slot: Option<Slot>) -> Outcome {
    match (op, slot) {
        (KeyOp::Lookup { .. }, slot) => keep(slot_answer(slot)),
        (KeyOp::Adopt { record, .. } | KeyOp::Put { record, .. }, None) => {
            put(&Slot::Live(record.clone()), KeyAnswer::Found { record })
        }
        // A hash already held (or a tombstone) wins over a copy.
        (KeyOp::Adopt { .. } | KeyOp::Put { .. }, slot) => keep(slot_answer(slot)),
        (KeyOp::Shorten { expires, .. }, Some(Slot::Live(mut record))) => {
            record.expires = Some(record.expires.map_or(expires, |t| t.min(expires)));
            put(&Slot::Live(record.clone()), KeyAnswer::Found { record })
        }
        (KeyOp::Touch { now, .. }, Some(Slot::Live(record))) => {
            let text = serde_json::to_string(&record).unwrap_or_default();
            match touched(&text, now) {
                Some(record) => put(&Slot::Live(record.clone()), KeyAnswer::Found { record }),
                None => keep(KeyAnswer::Missing),
            }
        }
        // Tombstoned whether or not the shard held it: KV may.
        (KeyOp::Revoke { now, .. }, _) => put(&Slot::Revoked(now), KeyAnswer::Done),
        (_, slot) => keep(slot_answer(slot)),
    }
}

fn apply_owner(op: KeyOp, mut doc: OwnerDoc) -> Outcome {
    match op {
        KeyOp::List { .. } => {
            let keys = doc.keys.into_iter().map(|i| i.record).collect();
            keep(KeyAnswer::Listing { keys, revoked: doc.revoked })
        }
        KeyOp::Find { id, .. } => keep(match doc.keys.iter().find(|i| i.record.id == id) {
            Some(i) => KeyAnswer::Indexed { hash: i.hash.clone() },
            None if doc.revoked.contains(&id) => KeyAnswer::Revoked,
            None => KeyAnswer::Missing,
        }),
        KeyOp::Index { id, .. } if doc.revoked.contains(&id) => keep(KeyAnswer::Revoked),
        KeyOp::Index { id, hash, record, .. } => {
            doc.keys.retain(|i| i.record.id != id);
            doc.keys.push(Indexed { hash, record });
            put(&doc, KeyAnswer::Done)
        }
        KeyOp::IndexTouch { id, now, .. } => match doc.keys.iter_mut().find(|i| i.record.id == id) {
            Some(i) => {
                i.record.last_used = Some(i.record.last_used.map_or(now, |t| t.max(now)));
                put(&doc, KeyAnswer::Done)
            }
            None => keep(KeyAnswer::Missing),
        },
        KeyOp::Unindex { id, .. } => {
            doc.keys.retain(|i| i.record.id != id);
            if !doc.revoked.contains(&id) {
                doc.revoked.push(id);
            }
            let extra = doc.revoked.len().saturating_sub(MAX_REVOKED_IDS);
            doc.revoked.drain(..extra);
            put(&doc, KeyAnswer::Done)
        }
        _ => keep(KeyAnswer::Missing),
    }
}

/// A shard's answer to an isolate; `None` for a body that is not one (the
/// object was not reached, or answered something else): an outage.
pub fn parse_answer(body: &str) -> Option<KeyAnswer> {
    serde_json::from_str(body).ok()
}

/// An owner's keys with `do` while KV still holds some: the shard's list,
/// then the KV index's records the shard neither lists nor has revoked (not
/// migrated yet), oldest first.
pub fn merged_listing(owner: &str, shard: Vec<KeyRecord>, revoked: &[String], kv: Vec<KeyRecord>) -> Vec<KeyRecord> {
    let mut out = shard;
    for r in kv {
        if r.owner == owner && !revoked.contains(&r.id) && !out.iter().any(|s| s.id == r.id) {
            out.push(r);
        }
    }
    out.retain(|r| r.owner == owner);
    out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::api_keys::{mint, KeySpec};
    use crate::gateway::shard::{parse_op, request_body};

    /// One object's storage, in memory: what the binding does, minus the IO.
    #[derive(Default)]
    struct Shard(std::collections::HashMap<String, String>);

    impl Shard {
        fn call(&mut self, op: KeyOp) -> KeyAnswer {
            // Through the wire format both ways, as in workerd.
            let op: KeyOp = parse_op(&request_body(&op)).unwrap();
            let key = op.storage_key();
            let out = op.apply(self.0.get(&key).map(String::as_str), 0);
            if let Write::Put(v) = out.write {
                self.0.insert(key, v);
            }
            parse_answer(&out.answer).unwrap()
        }
    }

    fn key(owner: &str, seed: u8) -> (String, KeyRecord) {
        let k = mint("mesh_sk_", &[seed; 32], &[seed; 12], owner, KeySpec::named("n"), 100);
        (k.hash, k.record)
    }

    #[test]
    fn a_revoked_key_is_never_found_again_not_even_from_kv() {
        let mut s = Shard::default();
        let (hash, record) = key("alice", 1);
        assert_eq!(s.call(KeyOp::Lookup { hash: hash.clone() }), KeyAnswer::Missing);
        assert_eq!(s.call(KeyOp::Put { hash: hash.clone(), record: record.clone() }), KeyAnswer::Found { record: record.clone() });
        assert_eq!(s.call(KeyOp::Lookup { hash: hash.clone() }), KeyAnswer::Found { record: record.clone() });
        assert_eq!(s.call(KeyOp::Revoke { hash: hash.clone(), now: 200 }), KeyAnswer::Done);
        assert_eq!(s.call(KeyOp::Lookup { hash: hash.clone() }), KeyAnswer::Revoked);
        // The stale KV copy, adopted after the revoke: the tombstone wins.
        assert_eq!(s.call(KeyOp::Adopt { hash: hash.clone(), record: record.clone() }), KeyAnswer::Revoked);
        assert_eq!(s.call(KeyOp::Put { hash: hash.clone(), record: record.clone() }), KeyAnswer::Revoked);
        assert_eq!(s.call(KeyOp::Touch { hash: hash.clone(), now: 300 }), KeyAnswer::Revoked);
        assert_eq!(s.call(KeyOp::Shorten { hash: hash.clone(), expires: 300 }), KeyAnswer::Revoked);
        assert_eq!(s.call(KeyOp::Lookup { hash }), KeyAnswer::Revoked);
    }

    #[test]
    fn a_kv_key_is_adopted_once_and_a_revoke_of_an_unseen_key_still_holds() {
        let mut s = Shard::default();
        let (hash, mut record) = key("bob", 2);
        assert_eq!(s.call(KeyOp::Adopt { hash: hash.clone(), record: record.clone() }), KeyAnswer::Found { record: record.clone() });
        // A second (older) copy does not overwrite what the shard holds.
        let mut stale = record.clone();
        stale.name = "stale".into();
        assert_eq!(s.call(KeyOp::Adopt { hash: hash.clone(), record: stale }), KeyAnswer::Found { record: record.clone() });
        record.last_used = Some(500);
        assert_eq!(s.call(KeyOp::Touch { hash: hash.clone(), now: 500 }), KeyAnswer::Found { record: record.clone() });
        let (other, other_record) = key("bob", 3);
        assert_eq!(s.call(KeyOp::Revoke { hash: other.clone(), now: 1 }), KeyAnswer::Done);
        assert_eq!(s.call(KeyOp::Adopt { hash: other, record: other_record }), KeyAnswer::Revoked);
    }

    #[test]
    fn a_rotation_only_shortens_and_a_corrupt_slot_is_unknown() {
        let mut s = Shard::default();
        let (hash, record) = key("carol", 4);
        s.call(KeyOp::Put { hash: hash.clone(), record });
        let expires = |a: KeyAnswer| match a {
            KeyAnswer::Found { record } => record.expires,
            other => panic!("{other:?}"),
        };
        assert_eq!(expires(s.call(KeyOp::Shorten { hash: hash.clone(), expires: 900 })), Some(900));
        assert_eq!(expires(s.call(KeyOp::Shorten { hash: hash.clone(), expires: 1900 })), Some(900), "never longer");
        assert_eq!(s.call(KeyOp::Shorten { hash: "0".repeat(64), expires: 1 }), KeyAnswer::Missing);
        s.0.insert(format!("r:{hash}"), "{".into());
        assert_eq!(s.call(KeyOp::Lookup { hash }), KeyAnswer::Missing);
        assert_eq!(parse_answer("<html>"), None, "not an answer: an outage");
    }

    #[test]
    fn an_owners_list_indexes_finds_and_forgets_revoked_ids() {
        let mut s = Shard::default();
        let (h1, r1) = key("dave", 5);
        let (h2, r2) = key("dave", 6);
        for (h, r) in [(&h1, &r1), (&h2, &r2)] {
            let op = KeyOp::Index { owner: "dave".into(), id: r.id.clone(), hash: h.clone(), record: r.clone() };
            assert_eq!(s.call(op), KeyAnswer::Done);
        }
        let find = |s: &mut Shard, id: &str| s.call(KeyOp::Find { owner: "dave".into(), id: id.into() });
        assert_eq!(find(&mut s, &r1.id), KeyAnswer::Indexed { hash: h1.clone() });
        assert_eq!(s.call(KeyOp::IndexTouch { owner: "dave".into(), id: r1.id.clone(), now: 700 }), KeyAnswer::Done);
        assert_eq!(s.call(KeyOp::Unindex { owner: "dave".into(), id: r2.id.clone() }), KeyAnswer::Done);
        assert_eq!(find(&mut s, &r2.id), KeyAnswer::Revoked);
        assert_eq!(find(&mut s, "key_nope"), KeyAnswer::Missing);
        let again = KeyOp::Index { owner: "dave".into(), id: r2.id.clone(), hash: h2, record: r2.clone() };
        assert_eq!(s.call(again), KeyAnswer::Revoked, "a revoked id is not indexed again");
        let KeyAnswer::Listing { keys, revoked } = s.call(KeyOp::List { owner: "dave".into() }) else { panic!() };
        assert_eq!((keys.len(), keys[0].last_used, revoked), (1, Some(700), vec![r2.id.clone()]));
        // Someone else's list is theirs alone.
        assert_eq!(s.call(KeyOp::List { owner: "eve".into() }), KeyAnswer::Listing { keys: vec![], revoked: vec![] });
        for i in 0..(MAX_REVOKED_IDS + 5) {
            s.call(KeyOp::Unindex { owner: "dave".into(), id: format!("key_{i}") });
        }
        let KeyAnswer::Listing { revoked, .. } = s.call(KeyOp::List { owner: "dave".into() }) else { panic!() };
        assert_eq!((revoked.len(), revoked.last().map(String::as_str)), (MAX_REVOKED_IDS, Some("key_104")), "bounded, newest kept");
    }

    #[test]
    fn requests_travel_as_one_flat_object() {
        let (hash, record) = key("ivy", 12);
        let body = request_body(&KeyOp::Revoke { hash: hash.clone(), now: 9 });
        assert_eq!(body, format!(r#"{{"op":"revoke","hash":"{hash}","at":9}}"#));
        assert_eq!(parse_op::<KeyOp>(r#"{"op":"adopt","hash":"h"}"#), None, "an adopt without its record");
        assert_eq!(parse_op::<KeyOp>(r#"{"op":"drop"}"#), None);
        let index = KeyOp::Index { owner: "ivy".into(), id: record.id.clone(), hash, record };
        assert_eq!(parse_op::<KeyOp>(&request_body(&index)), Some(index));
    }

    #[test]
    fn records_and_lists_go_to_their_shards() {
        let (hash, record) = key("frank", 7);
        assert_eq!(KeyOp::Lookup { hash: hash.clone() }.shard(), format!("keys-{}", &hash[..3]));
        assert_eq!(KeyOp::Revoke { hash: hash.clone(), now: 0 }.storage_key(), format!("r:{hash}"));
        let list = KeyOp::List { owner: "frank".into() };
        assert_eq!(list.shard(), record_shard(&sha256_hex("frank")));
        assert_eq!(list.storage_key(), "o:ZnJhbms");
        assert_eq!(KeyOp::Unindex { owner: "frank".into(), id: record.id }.shard(), list.shard());
    }

    #[test]
    fn a_listing_merges_keys_not_yet_migrated_from_kv() {
        let (_, a) = key("gina", 8);
        let (_, mut b) = key("gina", 9);
        let (_, c) = key("gina", 10);
        let (_, other) = key("hal", 11);
        b.created = 50;
        let merged = merged_listing("gina", vec![a.clone()], &[c.id.clone()], vec![a.clone(), b.clone(), c, other]);
        assert_eq!(merged, vec![b, a], "a KV-only key listed, a revoked one not, someone else's never, oldest first");
    }
}
