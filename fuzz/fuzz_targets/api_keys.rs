//! API keys (`gateway::api_keys`): the key format check, the bodies of
//! `POST <keys path>` and of `{id}/rotate`, key ids, the records KV hands
//! back (old ones without scopes, expiry, last use or limit included),
//! rotation, the last-use write-back, and minting.
//!
//! Input: a mode byte, then fields separated by NUL: a presented key, a
//! prefix, a request body, and a KV record (JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::api_keys::{
    iso8601, mint, parse_create_body, parse_iso8601, parse_rotate_body, public_view, rotate, sha256_hex, touched, ungranted,
    valid_id, validate_name, well_formed, KeyRecord, KeySpec, ID_RANDOM_BYTES, KEY_RANDOM_BYTES, MAX_CREATE_BODY_BYTES,
    MAX_EXPIRY_SECS, MAX_GRACE_SECS, MAX_KEY_SCOPES, MAX_KEY_SCOPES_BYTES, RATE_LIMIT_RANGE,
};
use mesh_sdk::gateway::authorize::is_scope_token;
use mesh_sdk::key_name::MAX_KEY_NAME_CHARS;
use mesh_sdk_fuzz::{b64url, fields, NOW_SECS};

fn check_name(name: &str) {
    let n = name.chars().count();
    assert!((1..=MAX_KEY_NAME_CHARS).contains(&n));
    assert_eq!(name, name.trim());
    assert!(!name.chars().any(char::is_control));
}

fuzz_target!(|data: &[u8]| {
    let Some([presented, prefix, body, record]) = fields::<4>(data) else { return };

    if well_formed(presented, prefix) {
        assert!(presented.starts_with(prefix) && presented.len() == prefix.len() + 43);
    }
    if valid_id(presented) {
        assert!(presented.len() == 20 && presented.starts_with("key_"));
    }

    match parse_create_body(body.as_bytes(), NOW_SECS) {
        Ok(spec) => {
            let name = spec.name.clone();
            check_name(&name);
            assert!(body.len() <= MAX_CREATE_BODY_BYTES);
            // What the body named, trimmed: nothing else.
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["name"].as_str().map(str::trim), Some(name.as_str()));
            assert_eq!(validate_name(&name), Ok(name.clone()));
            assert!(spec.scopes.len() <= MAX_KEY_SCOPES && spec.scopes.iter().all(|s| is_scope_token(s)));
            assert!(spec.scopes.iter().map(String::len).sum::<usize>() <= MAX_KEY_SCOPES_BYTES);
            assert!(spec.expires.is_none_or(|t| t > NOW_SECS && t <= MAX_EXPIRY_SECS));
            assert!(spec.rate_limit.is_none_or(|r| RATE_LIMIT_RANGE.contains(&r)));
            // Every scope granted by a creator holding exactly those; one
            // lacking the first is refused it.
            assert!(ungranted(&spec.scopes, &spec.scopes).is_empty());
            if let Some(first) = spec.scopes.first() {
                assert_eq!(ungranted(&spec.scopes, &spec.scopes[1..]), vec![first.clone()]);
            }
        }
        Err(message) => assert!(!message.is_empty()),
    }
    if let Ok(grace) = parse_rotate_body(body.as_bytes()) {
        assert!((0..=MAX_GRACE_SECS).contains(&grace));
    }
    // A time that parses prints back to the same instant.
    if let Some(t) = parse_iso8601(presented) {
        assert_eq!(parse_iso8601(&iso8601(t)), Some(t));
    }

    // A record as KV returns it: the public view never shows the owner.
    if let Ok(r) = serde_json::from_str::<KeyRecord>(record) {
        let view = public_view(&r);
        assert!(view.get("owner").is_none() && view.get("hash").is_none());
        let created = view["createdAt"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.contains('T'), "{created}");
        let again: KeyRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(again, r);
        // A rotation never lengthens the old key's life, and copies the rest.
        if let Ok((spec, until)) = rotate(&r, NOW_SECS, 600) {
            assert!(until <= NOW_SECS + 600 && r.expires.is_none_or(|t| until <= t));
            assert_eq!((spec.scopes, spec.expires, spec.rate_limit), (r.scopes.clone(), r.expires, r.rate_limit));
        }
        // The write-back changes the last use only, never backwards.
        let t = touched(record, NOW_SECS).unwrap();
        assert_eq!(KeyRecord { last_used: r.last_used, ..t.clone() }, r);
        assert!(t.last_used >= r.last_used && t.last_used >= Some(NOW_SECS));
    }

    // A minted key is well formed for its prefix, and its record matches it.
    let mut key_bytes = [0u8; KEY_RANDOM_BYTES];
    let mut id_bytes = [0u8; ID_RANDOM_BYTES];
    for (i, b) in data.iter().enumerate() {
        key_bytes[i % KEY_RANDOM_BYTES] ^= b;
        id_bytes[i % ID_RANDOM_BYTES] = id_bytes[i % ID_RANDOM_BYTES].wrapping_add(*b);
    }
    let owner = if presented.is_empty() { "user-1" } else { presented };
    let key = mint(prefix, &key_bytes, &id_bytes, owner, KeySpec::named("ci"), NOW_SECS);
    let plaintext = key.plaintext.secret();
    assert_eq!(*plaintext, format!("{prefix}{}", b64url(&key_bytes)));
    assert!(well_formed(plaintext, prefix));
    assert!(valid_id(&key.record.id));
    assert_eq!(key.hash, sha256_hex(plaintext));
    assert!(key.hash.len() == 64 && key.hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(plaintext.ends_with(&key.record.last4) && key.record.last4.len() == 4);
    assert_eq!((key.record.owner.as_str(), key.record.prefix.as_str()), (owner, prefix));
});
