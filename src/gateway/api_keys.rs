//! API keys: format, storage layout, request validation, negative cache.
//!
//! A key is `MESH_API_KEY_PREFIX` + base64url(32 random bytes) (43 chars).
//! KV holds only hashes and records:
//! - `key:<sha256 hex of the key>` -> [`KeyRecord`] JSON (lookup on each request);
//! - `user:<base64url(sub)>:<id>` -> [`IndexEntry`] JSON, with the public
//!   [`KeyRecord`] as KV metadata, so one `list({prefix})` lists a user's keys.
//!   The sub is encoded so that no user's prefix is a prefix of another's.
//!
//! A key carries what its creator chose at creation: scopes (never more than
//! the creator's own), an expiry and a rate limit. Records written before
//! these existed load with none of them (serde defaults): no scopes, no
//! expiry, no limit, never used.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use serde_json::{json, Value};

use super::authorize::is_scope_token;
use super::headers::{is_safe_header_value, AuthMethod, Identity};
use super::jwt::{b64url_decode, b64url_encode};
use super::reject::Reply;
use crate::key_name::{check_key_name, KeyNameProblem};

pub const KEY_RANDOM_BYTES: usize = 32;
pub const ID_RANDOM_BYTES: usize = 12;
/// Keys one user may hold at once.
pub const MAX_KEYS_PER_USER: usize = 100;
/// Largest request body accepted by `POST /api/v1/keys`.
pub const MAX_CREATE_BODY_BYTES: usize = 4096;
/// Unknown API keys are remembered this long (seconds), this many at most.
pub const NEGATIVE_TTL_SECS: i64 = 30;
pub const NEGATIVE_CAPACITY: usize = 4096;
/// Scopes one key may carry, and their bytes together: the record rides as
/// the index entry's KV metadata, which Workers KV caps at 1024 bytes.
pub const MAX_KEY_SCOPES: usize = 16;
pub const MAX_KEY_SCOPES_BYTES: usize = 256;
/// A key's rate limit, in requests per minute.
pub const RATE_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=100_000;
/// How long a rotated key may stay valid, in seconds (0 to 24 h).
pub const MAX_GRACE_SECS: i64 = 86_400;
/// The latest expiry accepted (9999-12-31T23:59:59Z): every date has four digits.
pub const MAX_EXPIRY_SECS: i64 = 253_402_300_799;

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
    /// Scope tokens a route's `scopes` may require of the key.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Unix seconds from which the key is refused; `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Unix seconds of the last use written back (at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    /// Requests per minute, per isolate; `None`: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
}

/// What a key is created with: from `POST <keys path>`, or copied from the
/// key a rotation replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires: Option<i64>,
    pub rate_limit: Option<u32>,
}

impl KeySpec {
    /// A key with a name only: no scopes, no expiry, no limit.
    pub fn named(name: impl Into<String>) -> Self {
        KeySpec { name: name.into(), scopes: Vec::new(), expires: None, rate_limit: None }
    }
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
        "scopes": r.scopes,
        "expiresAt": r.expires.map(iso8601),
        "lastUsedAt": r.last_used.map(iso8601),
        "rateLimit": r.rate_limit,
    })
}

/// A stored record (`key:<hash>`'s JSON) and the identity it grants; `None`
/// for a corrupt record or an owner that cannot travel as a header value.
pub fn record_identity(text: &str) -> Option<(KeyRecord, Identity)> {
    let r: KeyRecord = serde_json::from_str(text).ok()?;
    let identity = Identity { user_id: r.owner.as_str().into(), method: AuthMethod::ApiKey, api_key_id: Some(r.id.clone()) };
    is_safe_header_value(&r.owner).then_some((r, identity))
}

/// Whether the key is past its expiry at `now`.
pub fn expired(r: &KeyRecord, now: i64) -> bool {
    r.expires.is_some_and(|t| now >= t)
}

/// A stored record with its last use set to `now`, for the write-back; `None`
/// for a corrupt record (left as it is). It is applied to the record as KV
/// holds it just before the write, so a rotation's shortened expiry read
/// there is kept.
pub fn touched(text: &str, now: i64) -> Option<KeyRecord> {
    let mut r: KeyRecord = serde_json::from_str(text).ok()?;
    r.last_used = Some(r.last_used.map_or(now, |t| t.max(now)));
    Some(r)
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
    spec: KeySpec,
    now: i64,
) -> NewKey {
    let plaintext = format!("{prefix}{}", b64url_encode(key_bytes));
    let last4 = plaintext[plaintext.len() - 4..].to_string();
    let record = KeyRecord {
        id: format!("key_{}", b64url_encode(id_bytes)),
        owner: owner.to_string(),
        name: spec.name,
        prefix: prefix.to_string(),
        last4,
        created: now,
        scopes: spec.scopes,
        expires: spec.expires,
        last_used: None,
        rate_limit: spec.rate_limit,
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

/// Validates the body of `POST <keys path>`, `{ name, scopes?, expiresAt?,
/// rateLimit? }`, at `now`; the error is the message for 400. Whether the
/// creator may grant the scopes is [`ungranted`]'s question.
pub fn parse_create_body(body: &[u8], now: i64) -> Result<KeySpec, &'static str> {
    if body.len() > MAX_CREATE_BODY_BYTES {
        return Err("request body is too large");
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| "request body must be JSON like {\"name\": \"ci-agent\"}")?;
    let name = v.get("name").and_then(|n| n.as_str()).ok_or("`name` is required and must be a string")?;
    let name = validate_name(name)?;
    let scopes = match v.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => {
            let mut scopes: Vec<String> = Vec::new();
            for s in list {
                let s = s.as_str().filter(|s| is_scope_token(s)).ok_or(
                    "`scopes` must be a list of scope tokens (no spaces, quotes or backslashes)",
                )?;
                if !scopes.iter().any(|have| have == s) {
                    scopes.push(s.to_string());
                }
            }
            if scopes.len() > MAX_KEY_SCOPES || scopes.iter().map(String::len).sum::<usize>() > MAX_KEY_SCOPES_BYTES {
                return Err("`scopes` may list at most 16 scopes of 256 bytes together");
            }
            scopes
        }
        Some(_) => return Err("`scopes` must be a list of scope tokens (no spaces, quotes or backslashes)"),
    };
    let expires = match v.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_iso8601(s).ok_or("`expiresAt` must be a UTC time like 2030-01-31T12:00:00Z")?),
        Some(Value::Number(n)) => Some(n.as_i64().ok_or("`expiresAt` in seconds must be a whole number")?),
        Some(_) => return Err("`expiresAt` must be a UTC time like 2030-01-31T12:00:00Z, or Unix seconds"),
    };
    if expires.is_some_and(|t| t <= now || t > MAX_EXPIRY_SECS) {
        return Err("`expiresAt` must be in the future (and before the year 10000)");
    }
    let rate_limit = match v.get("rateLimit") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| RATE_LIMIT_RANGE.contains(n))
                .ok_or("`rateLimit` must be a whole number of requests per minute, 1-100000")?,
        ),
    };
    Ok(KeySpec { name, scopes, expires, rate_limit })
}

/// The requested scopes the creator does not hold (in the request's order):
/// a key never grants more than the person who made it. Empty: allowed.
pub fn ungranted(requested: &[String], creator: &[String]) -> Vec<String> {
    requested.iter().filter(|s| !creator.contains(s)).cloned().collect()
}

/// The 403 of a create that asks for scopes its creator lacks, naming them.
pub fn scopes_not_granted(missing: &[String]) -> Reply {
    let message = "a key cannot carry scopes its creator does not hold";
    Reply::json(403, json!({ "error": "insufficient_scope", "message": message, "missing_scopes": missing }))
}

/// Validates the body of `POST <keys path>/{id}/rotate`,
/// `{ gracePeriodSeconds? }` (an empty body is `{}`): the grace in seconds.
pub fn parse_rotate_body(body: &[u8]) -> Result<i64, &'static str> {
    if body.len() > MAX_CREATE_BODY_BYTES {
        return Err("request body is too large");
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(0);
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| "request body must be JSON like {\"gracePeriodSeconds\": 3600}")?;
    if !v.is_object() {
        return Err("request body must be JSON like {\"gracePeriodSeconds\": 3600}");
    }
    match v.get("gracePeriodSeconds") {
        None | Some(Value::Null) => Ok(0),
        Some(n) => n
            .as_i64()
            .filter(|g| (0..=MAX_GRACE_SECS).contains(g))
            .ok_or("`gracePeriodSeconds` must be a whole number of seconds, 0-86400"),
    }
}

/// A rotation of `old` at `now` with `grace` seconds: the replacement's spec
/// (same name, scopes, limit and expiry) and the old key's new expiry, never
/// later than it already was. An expired key is not rotated: its
/// replacement would be born expired.
pub fn rotate(old: &KeyRecord, now: i64, grace: i64) -> Result<(KeySpec, i64), &'static str> {
    if expired(old, now) {
        return Err("the key has expired: create a new one");
    }
    let spec = KeySpec { name: old.name.clone(), scopes: old.scopes.clone(), expires: old.expires, rate_limit: old.rate_limit };
    let until = now.saturating_add(grace.clamp(0, MAX_GRACE_SECS));
    Ok((spec, old.expires.map_or(until, |t| t.min(until))))
}

/// The name as stored, by the one rule the client shares ([`check_key_name`]).
pub fn validate_name(name: &str) -> Result<String, &'static str> {
    check_key_name(name).map(str::to_string).map_err(KeyNameProblem::message)
}

/// Unknown key hashes remembered for a short while, so a client retrying a bad
/// key does not cost a KV read each time. Bounded; a freshly minted key's hash
/// is removed from it.
pub type NegativeCache = TtlCache<()>;

/// Key hashes remembered with a value until a deadline, at most `capacity`
/// of them (the oldest insert goes first): unknown keys ([`NegativeCache`]),
/// and with `MESH_KEYS_STORE=do` the records an isolate may reuse for
/// `MESH_KEYS_CACHE_SECONDS`. A TTL of 0 remembers nothing.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl_secs: i64,
    capacity: usize,
    until: HashMap<String, (i64, V)>,
    order: VecDeque<String>,
}

impl<V> TtlCache<V> {
    pub fn new(ttl_secs: i64, capacity: usize) -> Self {
        TtlCache { ttl_secs, capacity: capacity.max(1), until: HashMap::new(), order: VecDeque::new() }
    }

    pub fn contains(&self, hash: &str, now: i64) -> bool {
        self.get(hash, now).is_some()
    }

    /// The value, while `now` is before its deadline.
    pub fn get(&self, hash: &str, now: i64) -> Option<&V> {
        self.until.get(hash).filter(|(t, _)| now < *t).map(|(_, v)| v)
    }

    pub fn insert_value(&mut self, hash: String, value: V, now: i64) {
        if self.ttl_secs <= 0 {
            return;
        }
        while self.until.len() >= self.capacity && !self.until.contains_key(&hash) {
            match self.order.pop_front() {
                Some(old) => {
                    self.until.remove(&old);
                }
                None => break,
            }
        }
        if self.until.insert(hash.clone(), (now + self.ttl_secs, value)).is_none() {
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

impl TtlCache<()> {
    pub fn insert(&mut self, hash: String, now: i64) {
        self.insert_value(hash, (), now);
    }
}

/// Unix seconds of an RFC 3339 UTC time, `YYYY-MM-DDTHH:MM:SS[.fff]Z` (also
/// `+00:00`; a fraction is dropped); `None` for any other shape or an
/// impossible date.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, m, d, hh, mm, ss) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        rest = &frac[digits..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
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
        let identity = Identity { user_id: "u1".into(), method: AuthMethod::ApiKey, api_key_id: Some("k1".into()) };
        assert_eq!(record_identity(r).map(|(_, i)| i), Some(identity));
        assert_eq!(record_identity(&r.replace("\"u1\"", "\"u\\n1\"")), None, "an owner that is not header-safe");
        assert_eq!(record_identity("{"), None);
    }

    use super::*;

    #[test]
    fn minted_keys_have_the_documented_shape() {
        let k = mint("mesh_sk_", &[0xab; 32], &[1; 12], "alice", KeySpec::named("ci"), 1_700_000_000);
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

    const NOW: i64 = 1_800_000_000;

    fn create(body: &str) -> Result<KeySpec, &'static str> {
        parse_create_body(body.as_bytes(), NOW)
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(create(r#"{"name":" ci-agent "}"#), Ok(KeySpec::named("ci-agent")));
        assert_eq!(create(&format!(r#"{{"name":"{}"}}"#, "é".repeat(100))).map(|k| k.name.chars().count()), Ok(100));
        assert!(create(&format!(r#"{{"name":"{}"}}"#, "a".repeat(101))).is_err());
        for bad in [r#"{"name":""}"#, r#"{"name":"   "}"#, r#"{"name":"a\nb"}"#, r#"{"name":5}"#, "{}", "name=x"] {
            assert!(create(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_create_body_sets_scopes_expiry_and_rate_limit() {
        let k = create(r#"{"name":"ci","scopes":["memories:read","memories:read","x"],"expiresAt":"2030-01-31T12:00:00Z","rateLimit":60}"#);
        let want = KeySpec {
            name: "ci".into(),
            scopes: vec!["memories:read".into(), "x".into()],
            expires: Some(1_896_091_200),
            rate_limit: Some(60),
        };
        assert_eq!(k, Ok(want));
        // Seconds, fractions and nulls.
        assert_eq!(create(r#"{"name":"a","expiresAt":1800000001}"#).unwrap().expires, Some(NOW + 1));
        assert_eq!(create(r#"{"name":"a","expiresAt":"2030-01-31T12:00:00.250Z"}"#).unwrap().expires, Some(1_896_091_200));
        assert_eq!(create(r#"{"name":"a","scopes":null,"expiresAt":null,"rateLimit":null}"#), Ok(KeySpec::named("a")));
        assert_eq!(create(r#"{"name":"a","rateLimit":1}"#).unwrap().rate_limit, Some(1));
        assert_eq!(create(r#"{"name":"a","rateLimit":100000}"#).unwrap().rate_limit, Some(100_000));
        let scopes = |n: usize, len: usize| format!(r#"{{"name":"a","scopes":[{}]}}"#, (0..n).map(|i| format!("\"{i:0len$}\"")).collect::<Vec<_>>().join(","));
        assert_eq!(create(&scopes(16, 16)).map(|k| k.scopes.len()), Ok(16), "16 scopes of 256 bytes together");
        let (too_many, too_long) = (scopes(17, 2), scopes(2, 129));
        let bad = [
            r#"{"name":"a","scopes":"read write"}"#,
            r#"{"name":"a","scopes":["a b"]}"#,
            r#"{"name":"a","scopes":[""]}"#,
            r#"{"name":"a","scopes":["a\"b"]}"#,
            r#"{"name":"a","scopes":[5]}"#,
            too_many.as_str(),
            too_long.as_str(),
            r#"{"name":"a","expiresAt":"2020-01-01T00:00:00Z"}"#,
            r#"{"name":"a","expiresAt":1800000000}"#,
            r#"{"name":"a","expiresAt":"tomorrow"}"#,
            r#"{"name":"a","expiresAt":"2030-02-30T00:00:00Z"}"#,
            r#"{"name":"a","expiresAt":"2030-01-31T12:00:00+02:00"}"#,
            r#"{"name":"a","expiresAt":1.5e9}"#,
            r#"{"name":"a","expiresAt":true}"#,
            r#"{"name":"a","expiresAt":99999999999999}"#,
            r#"{"name":"a","rateLimit":0}"#,
            r#"{"name":"a","rateLimit":100001}"#,
            r#"{"name":"a","rateLimit":-1}"#,
            r#"{"name":"a","rateLimit":2.5}"#,
            r#"{"name":"a","rateLimit":"60"}"#,
        ];
        for body in bad {
            let e = create(body).unwrap_err();
            assert!(e.contains('`'), "{body}: {e}");
        }
    }

    #[test]
    fn a_key_never_carries_a_scope_its_creator_lacks() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let creator = s(&["read", "write"]);
        assert!(ungranted(&s(&["read"]), &creator).is_empty(), "a subset");
        assert!(ungranted(&s(&["read", "write"]), &creator).is_empty(), "all of them");
        assert!(ungranted(&[], &creator).is_empty(), "none");
        assert!(ungranted(&[], &[]).is_empty());
        assert_eq!(ungranted(&s(&["read", "admin", "x"]), &creator), s(&["admin", "x"]), "a superset");
        assert_eq!(ungranted(&s(&["read"]), &[]), s(&["read"]), "a creator with no scopes grants none");
        let r = scopes_not_granted(&s(&["admin"]));
        assert_eq!(r.status, 403);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((body["error"].as_str(), &body["missing_scopes"]), (Some("insufficient_scope"), &json!(["admin"])));
    }

    #[test]
    fn old_records_load_without_the_new_fields_and_new_ones_round_trip() {
        let old = r#"{"id":"key_AAAAAAAAAAAAAAAA","owner":"u","name":"n","prefix":"mesh_sk_","last4":"abcd","created":5}"#;
        let r: KeyRecord = serde_json::from_str(old).unwrap();
        assert_eq!((r.scopes.len(), r.expires, r.last_used, r.rate_limit), (0, None, None, None));
        assert_eq!(serde_json::to_string(&r).unwrap(), old.replace('}', r#","scopes":[]}"#));
        let view = public_view(&r);
        assert_eq!((&view["scopes"], &view["expiresAt"], &view["lastUsedAt"], &view["rateLimit"]), (&json!([]), &Value::Null, &Value::Null, &Value::Null));
        let spec = KeySpec { name: "n".into(), scopes: vec!["a".into()], expires: Some(NOW + 60), rate_limit: Some(5) };
        let mut k = mint("mesh_sk_", &[1; 32], &[2; 12], "u", spec, NOW).record;
        k.last_used = Some(NOW);
        let again: KeyRecord = serde_json::from_str(&serde_json::to_string(&k).unwrap()).unwrap();
        assert_eq!(again, k);
        let view = public_view(&k);
        assert_eq!((&view["scopes"], &view["rateLimit"]), (&json!(["a"]), &json!(5)));
        assert_eq!((view["expiresAt"].as_str(), view["lastUsedAt"].as_str()), (Some("2027-01-15T08:01:00Z"), Some("2027-01-15T08:00:00Z")));
    }

    #[test]
    fn a_touch_sets_the_last_use_on_the_record_as_stored() {
        let stored = r#"{"id":"k","owner":"u","name":"n","prefix":"p","last4":"abcd","created":1,"expires":500,"last_used":100}"#;
        let r = touched(stored, 200).unwrap();
        assert_eq!((r.last_used, r.expires), (Some(200), Some(500)), "the stored (perhaps shortened) expiry is kept");
        assert_eq!(touched(stored, 50).unwrap().last_used, Some(100), "never moved back");
        assert!(touched("{", 1).is_none());
    }

    #[test]
    fn rotation_copies_the_key_and_shortens_the_old_ones_life() {
        let spec = KeySpec { name: "ci".into(), scopes: vec!["a".into()], expires: Some(NOW + 1000), rate_limit: Some(9) };
        let old = mint("mesh_sk_", &[1; 32], &[2; 12], "u", spec.clone(), NOW - 10).record;
        assert_eq!(rotate(&old, NOW, 0), Ok((spec.clone(), NOW)));
        assert_eq!(rotate(&old, NOW, 300), Ok((spec.clone(), NOW + 300)));
        assert_eq!(rotate(&old, NOW, 86_400), Ok((spec, NOW + 1000)), "never later than it was");
        let forever = mint("mesh_sk_", &[1; 32], &[2; 12], "u", KeySpec::named("f"), NOW).record;
        assert_eq!(rotate(&forever, NOW, 60).map(|(_, t)| t), Ok(NOW + 60));
        assert!(rotate(&old, NOW + 1000, 60).is_err(), "an expired key is not rotated");
        assert!(expired(&old, NOW + 1000) && !expired(&old, NOW + 999) && !expired(&forever, i64::MAX));
    }

    #[test]
    fn rotate_bodies() {
        assert_eq!(parse_rotate_body(b""), Ok(0));
        assert_eq!(parse_rotate_body(b"{}"), Ok(0));
        assert_eq!(parse_rotate_body(br#"{"gracePeriodSeconds":3600}"#), Ok(3600));
        assert_eq!(parse_rotate_body(br#"{"gracePeriodSeconds":86400}"#), Ok(86_400));
        for bad in [&br#"{"gracePeriodSeconds":86401}"#[..], br#"{"gracePeriodSeconds":-1}"#, br#"{"gracePeriodSeconds":"60"}"#, b"[]", b"x"] {
            assert!(parse_rotate_body(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn iso_times_parse_back() {
        for t in [0, 951_782_400, 1_795_000_000, 1_896_091_200, MAX_EXPIRY_SECS] {
            assert_eq!(parse_iso8601(&iso8601(t)), Some(t), "{t}");
        }
        assert_eq!(parse_iso8601("2000-02-29T00:00:00+00:00"), Some(951_782_400));
        for bad in ["2001-02-29T00:00:00Z", "2000-13-01T00:00:00Z", "2000-01-01T24:00:00Z", "2000-01-01 00:00:00Z", "2000-01-01T00:00:00", "2000-01-01T00:00:00.Z", "+200-01-01T00:00:00Z", "２000-01-01T00:00:00Z"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
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
        let mut none = NegativeCache::new(0, 3);
        none.insert("a".into(), 0);
        assert!(!none.contains("a", 0), "a TTL of 0 remembers nothing");
        let mut records = TtlCache::new(5, 2);
        records.insert_value("h".into(), "r1".to_string(), 10);
        records.insert_value("h".into(), "r2".to_string(), 12);
        assert_eq!((records.get("h", 16), records.get("h", 17)), (Some(&"r2".to_string()), None), "a refresh restarts the TTL");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
