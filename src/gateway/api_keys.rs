//! API keys: format, storage layout, request validation, negative cache.
//!
//! A key is `MESH_API_KEY_PREFIX` + base64url(32 random bytes) (43 chars).
//! KV holds only hashes and records:
//! - `key:<sha256 hex of the key>` -> [`KeyRecord`] JSON (lookup on each request);
//! - `user:<base64url(sub)>:<id>` -> [`IndexEntry`] JSON, with the public
//!   [`KeyRecord`] as KV metadata, so one `list({prefix})` lists a user's keys.
//!   The sub is encoded so that no user's prefix is a prefix of another's.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::headers::{is_safe_header_value, AuthMethod, Identity};
use super::jwt::{b64url_decode, b64url_encode};

pub const KEY_RANDOM_BYTES: usize = 32;
pub const ID_RANDOM_BYTES: usize = 12;
pub const MAX_NAME_CHARS: usize = 100;
/// Keys one user may hold at once.
pub const MAX_KEYS_PER_USER: usize = 100;
/// Largest request body accepted by `POST /api/v1/keys`.
pub const MAX_CREATE_BODY_BYTES: usize = 4096;
/// Unknown API keys are remembered this long (seconds), this many at most.
pub const NEGATIVE_TTL_SECS: i64 = 30;
pub const NEGATIVE_CAPACITY: usize = 4096;

/// What KV holds about a key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub owner: String,
    pub name: String,
    /// The key's prefix, e.g. `mesh_sk_`.
    pub prefix: String,
    /// The key's last four characters.
    pub last4: String,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// The per-user index entry: where the record is, for revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub hash: String,
}

/// The JSON shape the keys API returns for a key (no owner, no hash).
pub fn public_view(r: &KeyRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "name": r.name,
        "prefix": r.prefix,
        "last4": r.last4,
        "createdAt": iso8601(r.created),
    })
}

/// The identity a stored record (`key:<hash>`'s JSON) grants; `None` for a
/// corrupt record or an owner that cannot travel as a header value.
pub fn record_identity(text: &str) -> Option<Identity> {
    let r: KeyRecord = serde_json::from_str(text).ok()?;
    is_safe_header_value(&r.owner).then(|| Identity { user_id: r.owner, method: AuthMethod::ApiKey, api_key_id: Some(r.id) })
}

pub fn sha256_hex(s: &str) -> String {
    super::identity::hex(&Sha256::digest(s.as_bytes()))
}

pub fn record_key(hash_hex: &str) -> String {
    format!("key:{hash_hex}")
}

pub fn user_prefix(owner: &str) -> String {
    format!("user:{}:", b64url_encode(owner.as_bytes()))
}

pub fn index_key(owner: &str, id: &str) -> String {
    format!("{}{id}", user_prefix(owner))
}

/// A newly minted key: the plaintext (shown once) and what KV stores.
pub struct NewKey {
    pub plaintext: crate::secret::ApiKey,
    pub hash: String,
    pub record: KeyRecord,
}

/// Mints a key from random bytes the binding drew (getrandom).
pub fn mint(
    prefix: &str,
    key_bytes: &[u8; KEY_RANDOM_BYTES],
    id_bytes: &[u8; ID_RANDOM_BYTES],
    owner: &str,
    name: String,
    now: i64,
) -> NewKey {
    let plaintext = format!("{prefix}{}", b64url_encode(key_bytes));
    let last4 = plaintext[plaintext.len() - 4..].to_string();
    let record = KeyRecord {
        id: format!("key_{}", b64url_encode(id_bytes)),
        owner: owner.to_string(),
        name,
        prefix: prefix.to_string(),
        last4,
        created: now,
    };
    NewKey { hash: sha256_hex(&plaintext), plaintext: crate::secret::ApiKey::new(plaintext), record }
}

/// Whether `presented` has the shape of a key this gateway issues; only such
/// keys are looked up, so junk never reaches KV.
pub fn well_formed(presented: &str, prefix: &str) -> bool {
    presented
        .strip_prefix(prefix)
        .filter(|rest| rest.len() == 43)
        .and_then(|rest| b64url_decode(rest).ok())
        .is_some_and(|b| b.len() == KEY_RANDOM_BYTES)
}

/// Whether `id` could be a key id (checked before it goes into a KV key).
pub fn valid_id(id: &str) -> bool {
    id.strip_prefix("key_").is_some_and(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Validates the body of `POST /api/v1/keys`; the error is the message for 400.
pub fn parse_create_body(body: &[u8]) -> Result<String, &'static str> {
    if body.len() > MAX_CREATE_BODY_BYTES {
        return Err("request body is too large");
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "request body must be JSON like {\"name\": \"ci-agent\"}")?;
    let name = v.get("name").and_then(|n| n.as_str()).ok_or("`name` is required and must be a string")?;
    validate_name(name)
}

pub fn validate_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err("`name` must be 1-100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("`name` must not contain control characters");
    }
    Ok(name.to_string())
}

/// Unknown key hashes remembered for a short while, so a client retrying a bad
/// key does not cost a KV read each time. Bounded; a freshly minted key's hash
/// is removed from it.
#[derive(Debug)]
pub struct NegativeCache {
    ttl_secs: i64,
    capacity: usize,
    until: HashMap<String, i64>,
    order: VecDeque<String>,
}

impl NegativeCache {
    pub fn new(ttl_secs: i64, capacity: usize) -> Self {
        NegativeCache { ttl_secs, capacity: capacity.max(1), until: HashMap::new(), order: VecDeque::new() }
    }

    pub fn contains(&self, hash: &str, now: i64) -> bool {
        self.until.get(hash).is_some_and(|&t| now < t)
    }

    pub fn insert(&mut self, hash: String, now: i64) {
        while self.until.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.until.remove(&old);
                }
                None => break,
            }
        }
        if self.until.insert(hash.clone(), now + self.ttl_secs).is_none() {
            self.order.push_back(hash);
        }
        if self.order.len() > 2 * self.capacity {
            let until = &self.until;
            self.order.retain(|h| until.contains_key(h));
        }
    }

    pub fn remove(&mut self, hash: &str) {
        self.until.remove(hash);
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (proleptic Gregorian, UTC).
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_grants_its_owner_and_key_id_unless_corrupt() {
        let r = r#"{"id":"k1","owner":"u1","name":"n","prefix":"mesh_sk_","last4":"abcd","created":1}"#;
        assert_eq!(record_identity(r), Some(Identity { user_id: "u1".into(), method: AuthMethod::ApiKey, api_key_id: Some("k1".into()) }));
        assert_eq!(record_identity(&r.replace("\"u1\"", "\"u\\n1\"")), None, "an owner that is not header-safe");
        assert_eq!(record_identity("{"), None);
    }

    use super::*;

    #[test]
    fn minted_keys_have_the_documented_shape() {
        let k = mint("mesh_sk_", &[0xab; 32], &[1; 12], "alice", "ci".into(), 1_700_000_000);
        let plain = k.plaintext.secret();
        assert!(plain.starts_with("mesh_sk_") && plain.len() == 8 + 43);
        assert!(well_formed(plain, "mesh_sk_"));
        assert_eq!(k.hash, sha256_hex(plain));
        assert_eq!(k.record.last4, &plain[plain.len() - 4..]);
        assert!(valid_id(&k.record.id), "{}", k.record.id);
        let view = public_view(&k.record);
        assert_eq!(view["createdAt"], "2023-11-14T22:13:20Z");
        assert!(view.get("owner").is_none());
        assert!(!format!("{:?}", k.plaintext).contains("mesh_sk_"));
    }

    #[test]
    fn malformed_keys_are_not_looked_up() {
        let good = format!("mesh_sk_{}", b64url_encode(&[9; 32]));
        assert!(well_formed(&good, "mesh_sk_"));
        assert!(!well_formed(&good, "other_"));
        assert!(!well_formed("mesh_sk_short", "mesh_sk_"));
        assert!(!well_formed(&format!("{good}A"), "mesh_sk_"));
        assert!(!well_formed(&good.replace('J', "+"), "mesh_sk_"));
        assert!(!valid_id("key_../../x"));
    }

    #[test]
    fn user_prefixes_never_nest() {
        assert!(!index_key("alice:x", "key_1").starts_with(&user_prefix("alice")));
        assert!(!user_prefix("alic").starts_with(&user_prefix("alice")) && !user_prefix("alice").starts_with(&user_prefix("alic")));
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(parse_create_body(br#"{"name":" ci-agent "}"#), Ok("ci-agent".into()));
        assert_eq!(parse_create_body(&format!(r#"{{"name":"{}"}}"#, "é".repeat(100)).into_bytes()).map(|n| n.chars().count()), Ok(100));
        assert!(parse_create_body(&format!(r#"{{"name":"{}"}}"#, "a".repeat(101)).into_bytes()).is_err());
        assert!(parse_create_body(br#"{"name":""}"#).is_err());
        assert!(parse_create_body(br#"{"name":"   "}"#).is_err());
        assert!(parse_create_body(br#"{"name":"a\nb"}"#).is_err());
        assert!(parse_create_body(br#"{"name":5}"#).is_err());
        assert!(parse_create_body(br#"{}"#).is_err());
        assert!(parse_create_body(b"name=x").is_err());
    }

    #[test]
    fn negative_cache_expires_and_is_bounded() {
        let mut c = NegativeCache::new(30, 3);
        c.insert("a".into(), 0);
        assert!(c.contains("a", 29) && !c.contains("a", 30));
        for h in ["b", "c", "d", "e"] {
            c.insert(h.into(), 0);
        }
        assert!(!c.contains("a", 1) && !c.contains("b", 1) && c.contains("e", 1));
        c.remove("e");
        assert!(!c.contains("e", 1));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
