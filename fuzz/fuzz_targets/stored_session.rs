//! The stored session record (`client::storage::StoredSession`), as a
//! storage backend hands it back: possibly corrupt, foreign or old.
//!
//! Input: the stored JSON text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::storage::STORAGE_VERSION;
use mesh_sdk::client::{storage_key, StoredSession};
use mesh_sdk::ErrorKind;

const ISSUER: &str = "http://127.0.0.1:9400/";
const CLIENT_ID: &str = "mesh-demo";

fn plausible(ms: i64) -> bool {
    (1_000_000_000_000..10_000_000_000_000).contains(&ms)
}

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<StoredSession>(data) else { return };
    assert!(storage_key(&record.issuer, &record.client_id).starts_with("mesh-sdk.session.v1:"));
    match record.clone().into_tokens(ISSUER, CLIENT_ID) {
        Ok(ts) => {
            assert_eq!(record.v, STORAGE_VERSION);
            assert!(!ts.access_token.secret().is_empty());
            assert!(ts.refresh_token.as_ref().is_none_or(|r| !r.secret().is_empty()));
            assert!(plausible(ts.received_at_ms) && ts.expires_at_ms.is_none_or(plausible));
            // Written back and read again, the session is the same.
            let written = serde_json::to_string(&StoredSession::from_tokens(&ts, ISSUER, CLIENT_ID)).unwrap();
            let read: StoredSession = serde_json::from_str(&written).unwrap();
            assert_eq!(read.into_tokens(ISSUER, CLIENT_ID), Ok(ts));
        }
        Err(e) => {
            // Corrupt or foreign data is a storage error (a logged-out
            // client), and the message never quotes a token.
            assert_eq!(e.kind(), ErrorKind::Storage);
            assert!(e.message().starts_with("stored session ignored: "));
            for t in [Some(&record.access_token), record.refresh_token.as_ref()].into_iter().flatten() {
                mesh_sdk_fuzz::assert_not_leaked(e.message(), t, &[]);
            }
        }
    }
});
