//! mesh-sdk/next's cookies (`client::server_session`): a `Cookie` header as
//! a browser (or an attacker) sends it, the sealed value read from it, and
//! the session payload a sealed cookie opens to.
//!
//! Input: two fields separated by NUL: a `Cookie` header, and a session
//! payload's plaintext.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::server_session::{
    parse_cookie_header, read_cookie, seal, unseal, write_cookie, SessionPayload, CHUNK_CHARS, IV_BYTES, MAX_CHUNKS, SESSION_COOKIE,
    SESSION_MAX_MS,
};
use mesh_sdk_fuzz::{fields, NOW_MS};

fuzz_target!(|data: &[u8]| {
    let Some([header, plaintext]) = fields::<2>(data) else { return };

    let pairs = parse_cookie_header(header);
    assert!(pairs.iter().all(|(name, _)| !name.is_empty() && !name.contains(';')));
    if let Some(value) = read_cookie(&pairs, SESSION_COOKIE) {
        // What was read writes back as cookies that read back the same.
        if let Ok(writes) = write_cookie(SESSION_COOKIE, Some(&value), 60, true, &[]) {
            assert!(writes.len() <= MAX_CHUNKS);
            assert!(writes.iter().all(|w| w.value.len() <= CHUNK_CHARS));
            let back: Vec<(String, String)> = writes.into_iter().map(|w| (w.name, w.value)).collect();
            assert_eq!(read_cookie(&back, SESSION_COOKIE).as_deref(), Some(value.as_str()));
        }
        if let Some((iv, ct)) = unseal(&value) {
            assert_eq!(iv.len(), IV_BYTES);
            assert_eq!(unseal(&seal(&iv, &ct)), Some((iv, ct)), "sealed again, it opens to the same parts");
        }
    }

    for server_store in [false, true] {
        if let Some(p) = SessionPayload::decode(plaintext, server_store, NOW_MS) {
            assert_eq!(p.record.is_none(), server_store);
            assert!(p.ttl_ms(NOW_MS) > 0 && p.ttl_ms(NOW_MS) <= SESSION_MAX_MS + 5 * 60 * 1000);
            assert_eq!(SessionPayload::decode(&p.encode(), server_store, NOW_MS), Some(p.clone()), "encodes to itself");
        }
    }
});
