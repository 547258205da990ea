//! What the gateway's sharded Durable Objects (`KeyShard`,
//! `RateLimitShard`) have in common: an isolate POSTs one JSON request to
//! the object chosen by name; the object reads one value of its storage,
//! hands it to the core with the request, writes what the core says and
//! answers with the core's JSON. The object is single-threaded, so each
//! read-decide-write is atomic without locks.
//!
//! How many shards there are is a rule of its own ([`shard_name`]): a record
//! is always looked for in the shard its hash names, so changing the count
//! would strand every record stored under the old one.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Hex digits of a SHA-256 that name a key shard: 3 digits, 4096 shards, so
/// 1M lookups per second stay near 250 per second per shard, under the
/// ~1,000 requests per second Cloudflare documents for one object.
pub const SHARD_HEX_CHARS: usize = 3;

/// The name of the shard a SHA-256 hex digest falls in (`keys-a3f`).
pub fn shard_name(hash_hex: &str) -> String {
    format!("keys-{}", hash_hex.get(..SHARD_HEX_CHARS).unwrap_or("000"))
}

/// The URL of the POST an isolate sends an object (only the object sees it).
pub const OBJECT_URL: &str = "https://mesh-gateway.internal/";
/// How long an isolate waits for an object before it counts as unreachable.
pub const OBJECT_TIMEOUT_MS: u32 = 3000;

/// What the object does to the value it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Keep,
    Put(String),
}

/// An object's decision: the write, and the JSON answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub write: Write,
    pub answer: String,
}

/// A request an object serves: which stored value it reads, and what it
/// makes of it at `now_ms` (the object's clock).
pub trait ShardOp: DeserializeOwned + Serialize {
    fn storage_key(&self) -> String;
    fn apply(self, stored: Option<&str>, now_ms: i64) -> Outcome;
}

/// The object's side: the request it was sent; `None` for a body that is
/// not one of its requests (answered 400 by the binding).
pub fn parse_op<Op: ShardOp>(body: &str) -> Option<Op> {
    serde_json::from_str(body).ok()
}

/// A request's storage key, and what decides its outcome from the stored
/// value and the object's clock.
pub type Prepared = (String, Box<dyn FnOnce(Option<&str>, i64) -> Outcome>);

/// [`parse_op`] and the storage key, with the decision boxed: the object's
/// binding then runs one loop for every kind of object.
pub fn prepare<Op: ShardOp + 'static>(body: &str) -> Option<Prepared> {
    let op = parse_op::<Op>(body)?;
    let key = op.storage_key();
    Some((key, Box::new(move |stored, now_ms| op.apply(stored, now_ms))))
}

/// The isolate's side: the body of a request.
pub fn request_body<Op: ShardOp>(op: &Op) -> String {
    serde_json::to_string(op).unwrap_or_default()
}

/// An answer as JSON text (the object's response body).
pub fn answer_text(answer: &impl Serialize) -> String {
    serde_json::to_string(answer).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_named_by_a_hash_prefix() {
        assert_eq!(shard_name("a3f9c0"), "keys-a3f");
        assert_eq!(shard_name("ab"), "keys-000", "never a panic on a short digest");
        let names: std::collections::HashSet<String> =
            (0..5000u32).map(|i| shard_name(&crate::gateway::api_keys::sha256_hex(&i.to_string()))).collect();
        assert!(names.len() > 2000 && names.len() <= 4096, "{}", names.len());
    }
}
