//! The persisted session format, shared by every storage backend (memory,
//! web storage, a custom `{ get, set, remove }`, the CLI's token file).
//!
//! ```json
//! {"v":1,"issuer":"http://127.0.0.1:9400","clientId":"mesh-demo",
//!  "accessToken":"…","refreshToken":"…","expiresAt":1764000000000,"receivedAt":1763999700000}
//! ```
//! `expiresAt` and `receivedAt` are Unix **milliseconds** on the local clock
//! (`expiresAt` absent when unknown). The binding `JSON.parse`s the stored
//! string and reads the fields with `Reflect` (and `JSON.stringify`s the
//! record it writes). Corrupt or foreign data yields an
//! `ErrorKind::Storage` error and a logged-out client, never a panic.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::{AccessToken, RefreshToken};

use super::token::{ExpirySource, TokenSet};

/// The current format version.
pub const STORAGE_VERSION: u32 = 1;
const KEY_PREFIX: &str = "mesh-sdk.session.v1:";

/// The storage key of a session: one per issuer and client id, so two apps
/// (or two providers) on one origin never read each other's tokens.
pub fn storage_key(issuer: &str, client_id: &str) -> String {
    let mut key = String::from(KEY_PREFIX);
    key.push_str(issuer.trim_end_matches('/'));
    key.push('|');
    key.push_str(client_id);
    key
}

/// One stored session, as serialized.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    pub v: u32,
    pub issuer: String,
    pub client_id: String,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix ms; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Unix ms when the tokens arrived.
    pub received_at: i64,
    /// The verified ID token of a redirect login, kept for logout's
    /// `id_token_hint` and `session.user`. Absent in records written before
    /// it existed, and after a device login: both still load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSession([redacted])")
    }
}

impl StoredSession {
    pub fn from_tokens(tokens: &TokenSet, issuer: &str, client_id: &str) -> Self {
        StoredSession {
            v: STORAGE_VERSION,
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            access_token: tokens.access_token.secret().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
            expires_at: tokens.expires_at_ms,
            received_at: tokens.received_at_ms,
            id_token: None,
        }
    }

    /// Validates the record against this client's issuer and client id.
    pub fn into_tokens(self, issuer: &str, client_id: &str) -> Result<TokenSet> {
        if self.v != STORAGE_VERSION {
            return Err(storage_error("the stored session has an unknown format version"));
        }
        if self.issuer != issuer.trim_end_matches('/') || self.client_id != client_id {
            return Err(storage_error("the stored session belongs to another issuer or client"));
        }
        if self.access_token.is_empty() || self.refresh_token.as_deref() == Some("") || self.id_token.as_deref() == Some("") {
            return Err(storage_error("the stored session has an empty token"));
        }
        // Sane Unix-ms range (2001..2286) catches seconds stored by mistake.
        let plausible = |ms: i64| (1_000_000_000_000..10_000_000_000_000).contains(&ms);
        if !plausible(self.received_at) || self.expires_at.is_some_and(|e| !plausible(e)) {
            return Err(storage_error("the stored session has implausible times (expected Unix milliseconds)"));
        }
        Ok(TokenSet {
            access_token: AccessToken::new(self.access_token),
            refresh_token: self.refresh_token.map(RefreshToken::new),
            received_at_ms: self.received_at,
            expires_at_ms: self.expires_at,
            expiry_source: if self.expires_at.is_some() { ExpirySource::Explicit } else { ExpirySource::Unknown },
            scope: None,
        })
    }
}

/// The `storage` option's value, as the binding sees it.
#[derive(Debug, Clone, Copy)]
pub enum StorageOption<'a> {
    /// `undefined` or `null`.
    Absent,
    Text(&'a str),
    /// An object: an adapter, if it has the methods.
    Object,
    Other,
}

/// Where a client keeps its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageChoice {
    /// Nothing persisted: the default, so tokens reach storage only when asked.
    Memory,
    /// `globalThis[name]`, a Web Storage.
    Web(&'static str),
    /// The caller's `{ get, set, remove }`, whose methods may return promises.
    Adapter,
}

impl StorageChoice {
    /// Reads the `storage` option; a bad one is the name of its failure
    /// ([`super::failure::failure`]).
    pub fn from_option(option: StorageOption<'_>) -> std::result::Result<StorageChoice, &'static str> {
        match option {
            StorageOption::Absent | StorageOption::Text("memory") => Ok(StorageChoice::Memory),
            StorageOption::Text("localStorage") => Ok(StorageChoice::Web("localStorage")),
            StorageOption::Text("sessionStorage") => Ok(StorageChoice::Web("sessionStorage")),
            StorageOption::Text(_) => Err("storage_option"),
            StorageOption::Object => Ok(StorageChoice::Adapter),
            StorageOption::Other => Err("storage_type"),
        }
    }

    /// The methods the target must have, in the order read, write, remove.
    pub fn methods(self) -> [&'static str; 3] {
        match self {
            StorageChoice::Web(_) => ["getItem", "setItem", "removeItem"],
            _ => ["get", "set", "remove"],
        }
    }

    /// How long one call of its methods may take, in ms: an adapter's may
    /// never settle (a stalled IndexedDB, an unreachable remote store), so
    /// it is bounded like a request, by `timeoutMs`, and fails as `storage`.
    /// A Web Storage is synchronous and memory is no call: `None`.
    pub fn call_deadline_ms(self, timeout_ms: i64) -> Option<i64> {
        (self == StorageChoice::Adapter).then_some(timeout_ms)
    }

    /// Whether the origin's tabs share it, so a write is seen by the others
    /// and the refresh needs the cross-tab lock: localStorage only.
    pub fn shared(self) -> bool {
        self == StorageChoice::Web("localStorage")
    }
}

/// For bindings that got a deserialization error: the uniform storage error.
pub fn storage_error(problem: &str) -> Error {
    let mut message = String::from("stored session ignored: ");
    message.push_str(problem);
    Error::new(ErrorKind::Storage, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_adapters_calls_have_a_deadline() {
        assert_eq!(StorageChoice::Adapter.call_deadline_ms(1500), Some(1500));
        assert_eq!(StorageChoice::Web("localStorage").call_deadline_ms(1500), None);
        assert_eq!(StorageChoice::Memory.call_deadline_ms(1500), None);
    }

    #[test]
    fn the_storage_option_reads_as_memory_web_storage_or_an_adapter() {
        use StorageOption::*;
        assert_eq!(StorageChoice::from_option(Absent).unwrap(), StorageChoice::Memory);
        assert_eq!(StorageChoice::from_option(Text("memory")).unwrap(), StorageChoice::Memory);
        let local = StorageChoice::from_option(Text("localStorage")).unwrap();
        assert_eq!((local.methods()[0], local.shared()), ("getItem", true));
        let session = StorageChoice::from_option(Text("sessionStorage")).unwrap();
        assert_eq!((session.methods()[2], session.shared()), ("removeItem", false));
        let adapter = StorageChoice::from_option(Object).unwrap();
        assert_eq!((adapter.methods(), adapter.shared()), (["get", "set", "remove"], false));
        for (option, problem) in [(Text("LocalStorage"), "must be 'memory'"), (Text(""), "must be 'memory'"), (Other, "must be a string")] {
            let e = super::super::failure::failure(StorageChoice::from_option(option).unwrap_err(), "", "");
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{option:?}");
            assert!(e.message().contains("storage") && e.message().contains(problem), "{option:?}: {}", e.message());
        }
    }

    const T0: i64 = 1_700_000_000_000;
    const ISS: &str = "http://127.0.0.1:9400";

    fn tokens() -> TokenSet {
        TokenSet {
            access_token: AccessToken::new("at-secret"),
            refresh_token: Some(RefreshToken::new("rt-secret")),
            received_at_ms: T0,
            expires_at_ms: Some(T0 + 300_000),
            expiry_source: ExpirySource::ExpiresIn,
            scope: None,
        }
    }

    #[test]
    fn key_is_per_issuer_and_client() {
        assert_eq!(storage_key("http://i/", "c"), "mesh-sdk.session.v1:http://i|c");
        assert_ne!(storage_key("http://i", "a"), storage_key("http://i", "b"));
    }

    #[test]
    fn round_trips_through_json() {
        let s = StoredSession::from_tokens(&tokens(), "http://127.0.0.1:9400/", "mesh-demo");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"issuer":"http://127.0.0.1:9400","clientId":"mesh-demo","accessToken":"at-secret","refreshToken":"rt-secret","expiresAt":1700000300000,"receivedAt":1700000000000}"#
        );
        let back: StoredSession = serde_json::from_str(&json).unwrap();
        let ts = back.into_tokens(ISS, "mesh-demo").unwrap();
        assert_eq!(ts.access_token.secret(), "at-secret");
        assert_eq!(ts.refresh_token.unwrap().secret(), "rt-secret");
        assert_eq!(ts.expires_at_ms, Some(T0 + 300_000));
        assert_eq!(ts.received_at_ms, T0);
    }

    #[test]
    fn foreign_or_corrupt_records_are_storage_errors() {
        let good = StoredSession::from_tokens(&tokens(), ISS, "mesh-demo");
        let cases = [
            StoredSession { v: 2, ..good.clone() },
            StoredSession { issuer: "http://evil".into(), ..good.clone() },
            StoredSession { client_id: "other".into(), ..good.clone() },
            StoredSession { access_token: String::new(), ..good.clone() },
            StoredSession { expires_at: Some(1_700_000_300), ..good.clone() },
            StoredSession { received_at: -1, ..good.clone() },
        ];
        for c in cases {
            let e = c.into_tokens(ISS, "mesh-demo").unwrap_err();
            assert_eq!(e.code(), "storage");
            assert!(!e.to_string().contains("secret"));
        }
        // Shapes that do not even deserialize: the binding maps them to storage_error.
        for junk in ["{}", r#"{"v":1}"#, "[1,2]", r#"{"v":"1","issuer":1}"#] {
            assert!(serde_json::from_str::<StoredSession>(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn the_id_token_is_kept_and_older_records_still_load() {
        let s = StoredSession { id_token: Some("h.p.s".into()), ..StoredSession::from_tokens(&tokens(), ISS, "c") };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.ends_with(r#""receivedAt":1700000000000,"idToken":"h.p.s"}"#), "{json}");
        assert_eq!(serde_json::from_str::<StoredSession>(&json).unwrap(), s);
        let old = r#"{"v":1,"issuer":"http://127.0.0.1:9400","clientId":"c","accessToken":"a","receivedAt":1700000000000}"#;
        let old: StoredSession = serde_json::from_str(old).unwrap();
        assert_eq!(old.id_token, None);
        assert!(old.into_tokens(ISS, "c").is_ok());
        let empty = StoredSession { id_token: Some(String::new()), ..s };
        assert_eq!(empty.into_tokens(ISS, "c").unwrap_err().code(), "storage");
    }

    #[test]
    fn debug_is_redacted() {
        let s = StoredSession::from_tokens(&tokens(), ISS, "c");
        assert_eq!(format!("{s:?}"), "StoredSession([redacted])");
    }
}
