//! The signed identity the gateway adds for the origin, and its check.
//!
//! With `MESH_IDENTITY_SECRET` set, each forwarded request carries, beside
//! the identity headers themselves:
//!
//! - `x-mesh-identity-headers`: the names of the signed headers, in order,
//!   comma-separated (`x-user-id,x-auth-method[,x-api-key-id]`);
//! - `x-mesh-identity-timestamp: <unix seconds>`;
//! - `x-mesh-identity-signature: <lowercase hex HMAC-SHA256>` over the
//!   netstrings (`<byte length>:<bytes>,`) of, in this order:
//!   `mesh-identity-v2`, the method (upper case), the path as the origin
//!   receives it, the query (`?...` as sent, or empty), each signed header's
//!   name and value, and the timestamp.
//!
//! Length prefixes make the encoding unambiguous whatever the fields hold.
//! An origin refuses a request whose signature does not match, whose
//! timestamp is more than `max_age` seconds away from its clock either way,
//! or (given a store) whose signature it has already seen.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::config::{GatewayConfig, GatewaySecret};
use super::authorize::Grants;
use super::headers::{
    identity_headers, identity_lines, is_safe_header_value, AuthMethod, Identity, API_KEY_ID, AUTH_METHOD, AUTH_SCOPES,
    IDENTITY_PREFIX, IDENTITY_SIGNED_HEADERS, USER_ID,
};

pub const VERSION: &str = "mesh-identity-v2";
pub const DEFAULT_MAX_AGE_SECS: i64 = 60;
/// The options `verifyIdentity` reads.
pub const VERIFY_OPTIONS: [&str; 2] = ["maxAgeSeconds", "replayStore"];

/// Refuses an option `verifyIdentity` does not read: a misspelt
/// `replayStore` would otherwise turn replay protection off without a word.
pub fn check_verify_option(name: &str) -> crate::error::Result<()> {
    crate::spelling::refuse_unknown(name, &VERIFY_OPTIONS, "is not an option of verifyIdentity", true)
}

/// More signed headers than any configuration sends: a longer list is refused.
pub const MAX_SIGNED_HEADERS: usize = 32;

/// What the signature covers of a request.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    /// As the origin receives it: MESH_UPSTREAM_URL's path + the request's.
    pub path: &'a str,
    /// `?...` as sent, or "".
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub timestamp: i64,
}

/// The bytes the HMAC runs over: each field as a netstring.
pub fn canonical_message(s: &Signed<'_>) -> Vec<u8> {
    let ts = s.timestamp.to_string();
    let method = s.method.to_ascii_uppercase();
    let fields = [VERSION, &method, s.path, s.query].into_iter();
    let headers = s.headers.iter().flat_map(|(n, v)| [*n, *v]);
    let mut out = Vec::with_capacity(64 + s.path.len() + s.query.len() + s.headers.len() * 24);
    for field in fields.chain(headers).chain([ts.as_str()]) {
        out.extend_from_slice(field.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(field.as_bytes());
        out.push(b',');
    }
    out
}

fn mac(secret: &GatewaySecret, message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.secret().as_bytes()).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [HEX[(b >> 4) as usize] as char, HEX[(b & 15) as usize] as char]).collect()
}

/// Lowercase hex only: one spelling per value.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The signature header value over `signed`.
pub fn sign(secret: &GatewaySecret, signed: &Signed<'_>) -> String {
    hex(&mac(secret, &canonical_message(signed)))
}

/// The identity headers a forwarded request carries, as [`identity_lines`]
/// (signed when `MESH_IDENTITY_SECRET` is set): who, then what the caller
/// holds (`grants`): `x-auth-scopes` and each `MESH_FORWARD_CLAIMS` header
/// whose claim it has. `None`: an identity value is not header-safe; the
/// request is refused. A claim that is not header-safe is left out.
pub fn injected(
    cfg: &GatewayConfig,
    (method, path, query): (&str, &str, &str),
    identity: &Identity,
    grants: Option<&Grants>,
    now: i64,
) -> Option<String> {
    let mut headers = identity_headers(identity)?;
    let scopes = grants.filter(|g| !g.scopes.is_empty()).map(|g| g.scopes.join(" ")).filter(|s| is_safe_header_value(s));
    if let Some(scopes) = &scopes {
        headers.push((AUTH_SCOPES, scopes));
    }
    for (claim, header) in &cfg.forward_claims {
        if let Some(value) = grants.and_then(|g| g.claim(claim)).filter(|v| is_safe_header_value(&v.text)) {
            headers.push((header, &value.text));
        }
    }
    let signature = cfg.identity_secret.as_ref().map(|secret| {
        let upstream = cfg.upstream_path();
        let mut signed_path = String::with_capacity(upstream.len() + path.len());
        signed_path.push_str(upstream);
        signed_path.push_str(path);
        let signed = Signed { method, path: &signed_path, query, headers: &headers, timestamp: now };
        (now, sign(secret, &signed))
    });
    Some(identity_lines(&headers, signature.as_ref().map(|(ts, sig)| (*ts, sig.as_str()))))
}

/// Why an identity did not verify. `code()` is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// A header is missing or malformed.
    Missing,
    /// The timestamp is further than `max_age` from now, either way.
    Stale,
    BadSignature,
    /// The replay store has seen this signature within the window.
    Replayed,
}

impl IdentityError {
    pub const fn code(self) -> &'static str {
        match self {
            IdentityError::Missing => "identity_missing",
            IdentityError::Stale => "identity_stale",
            IdentityError::BadSignature => "identity_bad_signature",
            IdentityError::Replayed => "identity_replayed",
        }
    }
}

/// A verified identity: who, when, and every header the signature covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub identity: Identity,
    pub timestamp: i64,
    pub headers: Vec<(String, String)>,
}

/// How long a replay store must remember a signature: its timestamp is
/// accepted up to `max_age` either side of the origin's clock.
pub fn replay_window_secs(max_age_secs: i64) -> i64 {
    max_age_secs.saturating_mul(2).saturating_add(1)
}

/// The signed-header list as sent: lower-case names, no duplicates, none of
/// the signature's own headers, and the two every identity has.
fn signed_names(list: &str) -> Option<Vec<&str>> {
    let names: Vec<&str> = list.split(',').collect();
    let name_ok = |n: &&str| {
        !n.is_empty() && !n.starts_with(IDENTITY_PREFIX) && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let unique = names.iter().enumerate().all(|(i, n)| !names[..i].contains(n));
    let complete = names.contains(&USER_ID) && names.contains(&AUTH_METHOD);
    (names.len() <= MAX_SIGNED_HEADERS && unique && complete && names.iter().all(name_ok)).then_some(names)
}

/// Checks a request the origin received, at `now`: `header` reads one of
/// its headers by lower-case name (`None` when absent or repeated).
pub fn verify<'h>(
    secret: &GatewaySecret,
    request: (&str, &str, &str),
    header: impl Fn(&str) -> Option<&'h str>,
    now: i64,
    max_age_secs: i64,
) -> Result<Verified, IdentityError> {
    let (method, path, query) = request;
    let names = header(IDENTITY_SIGNED_HEADERS).and_then(signed_names).ok_or(IdentityError::Missing)?;
    let values: Vec<(&str, &str)> = names.iter().map(|n| header(n).map(|v| (*n, v))).collect::<Option<_>>().ok_or(IdentityError::Missing)?;
    let value = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let (Some(ts), Some(sig)) = (header(super::headers::IDENTITY_TIMESTAMP), header(super::headers::IDENTITY_SIGNATURE)) else {
        return Err(IdentityError::Missing);
    };
    let timestamp: i64 = ts.parse().map_err(|_| IdentityError::Missing)?;
    let sig = unhex(sig).filter(|s| s.len() == 32).ok_or(IdentityError::Missing)?;
    // Compare the MAC first, in constant time, then the rest.
    let signed = Signed { method, path, query, headers: &values, timestamp };
    if !bool::from(mac(secret, &canonical_message(&signed)).ct_eq(sig.as_slice())) {
        return Err(IdentityError::BadSignature);
    }
    // In i128: the signed timestamp may be any i64, and `now - ts` overflow.
    if (i128::from(now) - i128::from(timestamp)).abs() > i128::from(max_age_secs) {
        return Err(IdentityError::Stale);
    }
    let identity = Identity {
        user_id: value(USER_ID).ok_or(IdentityError::Missing)?.into(),
        method: value(AUTH_METHOD).and_then(AuthMethod::parse).ok_or(IdentityError::Missing)?,
        api_key_id: value(API_KEY_ID).filter(|s| !s.is_empty()).map(String::from),
    };
    let headers = values.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    Ok(Verified { identity, timestamp, headers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_verify_option_it_does_not_read_is_refused_naming_the_one_meant() {
        assert!(VERIFY_OPTIONS.iter().all(|o| check_verify_option(o).is_ok()));
        let e = check_verify_option("replayStorage").unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert_eq!(e.message(), "option `replayStorage`: is not read; did you mean `replayStore`?");
        assert!(check_verify_option("maxAge").unwrap_err().message().ends_with("maxAgeSeconds, replayStore"));
    }

    fn secret() -> GatewaySecret {
        GatewaySecret::new("identity-secret-identity-secret-1234")
    }

    fn alice() -> Identity {
        Identity { user_id: "alice".into(), method: AuthMethod::Jwt, api_key_id: None }
    }

    /// The headers an origin receives for `identity` signed at `ts` over
    /// `GET /api/v1/x?q=1`, as a map of lower-case names.
    fn received(identity: &Identity, ts: i64) -> HashMap<String, String> {
        let headers = identity_headers(identity).unwrap();
        let signed = Signed { method: "GET", path: "/api/v1/x", query: "?q=1", headers: &headers, timestamp: ts };
        let lines = identity_lines(&headers, Some((ts, &sign(&secret(), &signed))));
        let parts: Vec<&str> = lines.trim_end_matches('\n').split('\n').collect();
        parts.chunks(2).map(|p| (p[0].to_string(), p[1].to_string())).collect()
    }

    fn check(got: &HashMap<String, String>, request: (&str, &str, &str), now: i64) -> Result<Verified, IdentityError> {
        verify(&secret(), request, |n| got.get(n).map(String::as_str), now, 60)
    }

    const REQUEST: (&str, &str, &str) = ("GET", "/api/v1/x", "?q=1");

    #[test]
    fn the_injected_identity_is_signed_over_the_path_and_query_the_origin_receives() {
        let cfg = |secret: Option<&str>| {
            let mut vars = vec![("MESH_UPSTREAM_URL", "https://o.example/base"), ("MESH_ROUTES", r#"[{"prefix":"/","auth":"public"}]"#)];
            vars.extend(secret.map(|s| ("MESH_IDENTITY_SECRET", s)));
            GatewayConfig::from_env(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()), false).unwrap()
        };
        assert_eq!(injected(&cfg(None), ("GET", "/x", "?a=1"), &alice(), None, 1000).unwrap(), "x-user-id\nalice\nx-auth-method\njwt\n");
        let lines = injected(&cfg(Some(secret().secret())), ("GET", "/x", "?a=1"), &alice(), None, 1000).unwrap();
        let who = alice();
        let headers = identity_headers(&who).unwrap();
        let sig = sign(&secret(), &Signed { method: "GET", path: "/base/x", query: "?a=1", headers: &headers, timestamp: 1000 });
        assert!(lines.ends_with(&format!("x-mesh-identity-timestamp\n1000\nx-mesh-identity-signature\n{sig}\n")), "{lines}");
        let forged = Identity { user_id: "a\nb".into(), ..alice() };
        assert_eq!(injected(&cfg(None), ("GET", "/x", ""), &forged, None, 1000), None);
    }

    #[test]
    fn scopes_and_forwarded_claims_are_injected_and_signed() {
        use super::super::authorize::ClaimValue;
        let key = secret();
        let vars = [
            ("MESH_UPSTREAM_URL", "https://o.example"),
            ("MESH_ROUTES", r#"[{"prefix":"/","auth":"public"}]"#),
            ("MESH_IDENTITY_SECRET", key.secret()),
            ("MESH_FORWARD_CLAIMS", "email:x-user-email,org.id:x-org-id,admin:x-admin,bad:x-bad"),
        ];
        let cfg = GatewayConfig::from_env(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()), false).unwrap();
        let value = |t: &str, is_string| ClaimValue { text: t.into(), is_string };
        let grants = Grants {
            scopes: vec!["a:read".into(), "b".into()],
            claims: vec![("email".into(), value("a@x.example", true)), ("admin".into(), value("true", false)), ("bad".into(), value("x\ny", true))],
            ..Grants::default()
        };
        let lines = injected(&cfg, ("GET", "/api/v1/x", "?q=1"), &alice(), Some(&grants), 1000).unwrap();
        let parts: Vec<&str> = lines.trim_end_matches('\n').split('\n').collect();
        let got: HashMap<String, String> = parts.chunks(2).map(|p| (p[0].to_string(), p[1].to_string())).collect();
        assert_eq!(got["x-auth-scopes"], "a:read b");
        assert_eq!((got["x-user-email"].as_str(), got["x-admin"].as_str()), ("a@x.example", "true"));
        // Absent (org.id) and unsafe (bad) claims send no header.
        assert!(!got.contains_key("x-org-id") && !got.contains_key("x-bad"));
        assert_eq!(got["x-mesh-identity-headers"], "x-user-id,x-auth-method,x-auth-scopes,x-user-email,x-admin");
        // The origin's check covers them: a changed email fails.
        let v = check(&got, REQUEST, 1000).unwrap();
        assert_eq!(v.headers.len(), 5);
        let mut forged = got.clone();
        forged.insert("x-user-email".into(), "boss@x.example".into());
        assert_eq!(check(&forged, REQUEST, 1000), Err(IdentityError::BadSignature));
    }

    #[test]
    fn the_message_is_length_prefixed_fields_in_the_documented_order() {
        let headers = [("x-user-id", "bob"), ("x-auth-method", "api_key")];
        let m = canonical_message(&Signed { method: "post", path: "/a", query: "?x=1", headers: &headers, timestamp: 7 });
        assert_eq!(
            String::from_utf8(m).unwrap(),
            "16:mesh-identity-v2,4:POST,2:/a,4:?x=1,9:x-user-id,3:bob,13:x-auth-method,7:api_key,1:7,"
        );
        // Moving a byte between fields changes the message: no two requests share one.
        let a = canonical_message(&Signed { method: "GET", path: "/a?", query: "", headers: &headers, timestamp: 7 });
        let b = canonical_message(&Signed { method: "GET", path: "/a", query: "?", headers: &headers, timestamp: 7 });
        assert_ne!(a, b);
    }

    #[test]
    fn sign_then_verify_and_every_tamper_fails() {
        let got = received(&alice(), 1000);
        let v = check(&got, REQUEST, 1030).unwrap();
        assert_eq!((v.identity, v.timestamp), (alice(), 1000));
        assert_eq!(v.headers, [("x-user-id".to_string(), "alice".to_string()), ("x-auth-method".into(), "jwt".into())]);
        // Stale, either way.
        assert_eq!(check(&got, REQUEST, 1061), Err(IdentityError::Stale));
        assert_eq!(check(&got, REQUEST, 939), Err(IdentityError::Stale));
        // Another method, path or query: the same signature does not cover it.
        for other in [("POST", "/api/v1/x", "?q=1"), ("GET", "/api/v1/y", "?q=1"), ("GET", "/api/v1/x", "?q=2"), ("GET", "/api/v1/x", "")] {
            assert_eq!(check(&got, other, 1000), Err(IdentityError::BadSignature), "{other:?}");
        }
        let with = |name: &str, value: Option<&str>| {
            let mut h = got.clone();
            match value {
                Some(v) => h.insert(name.to_string(), v.to_string()),
                None => h.remove(name),
            };
            check(&h, REQUEST, 1000)
        };
        assert_eq!(with("x-user-id", Some("mallory")), Err(IdentityError::BadSignature));
        assert_eq!(with("x-auth-method", Some("api_key")), Err(IdentityError::BadSignature));
        assert_eq!(with("x-mesh-identity-timestamp", Some("1001")), Err(IdentityError::BadSignature));
        // Dropping a header from the signed list, or adding an unsigned one to it.
        assert_eq!(with("x-mesh-identity-headers", Some("x-user-id,x-auth-method,x-api-key-id")), Err(IdentityError::Missing));
        assert_eq!(with("x-mesh-identity-headers", Some("x-user-id")), Err(IdentityError::Missing));
        assert_eq!(with("x-mesh-identity-headers", Some("x-user-id,x-auth-method,x-user-id")), Err(IdentityError::Missing));
        assert_eq!(with("x-mesh-identity-headers", Some("X-User-Id,x-auth-method")), Err(IdentityError::Missing));
        let sig = got["x-mesh-identity-signature"].clone();
        assert_eq!(with("x-mesh-identity-signature", Some(&sig.to_ascii_uppercase())), Err(IdentityError::Missing));
        assert_eq!(with("x-mesh-identity-signature", Some("zz")), Err(IdentityError::Missing));
        for name in ["x-mesh-identity-signature", "x-mesh-identity-timestamp", "x-mesh-identity-headers", "x-user-id"] {
            assert_eq!(with(name, None), Err(IdentityError::Missing), "{name}");
        }
        let other = GatewaySecret::new("another-secret-another-secret-123456");
        assert_eq!(verify(&other, REQUEST, |n| got.get(n).map(String::as_str), 1000, 60).map(|_| ()), Err(IdentityError::BadSignature));
        // An API key's id is signed too.
        let key = Identity { user_id: "bob".into(), method: AuthMethod::ApiKey, api_key_id: Some("k1".into()) };
        let mut got = received(&key, 1000);
        assert_eq!(check(&got, REQUEST, 1000).unwrap().identity, key);
        got.insert("x-api-key-id".into(), "k2".into());
        assert_eq!(check(&got, REQUEST, 1000), Err(IdentityError::BadSignature));
    }

    /// Found by the `identity` fuzz target: `now - ts` overflowed (a panic
    /// with overflow checks) for a validly signed timestamp far from `now`.
    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
        for (ts, now) in [(i64::MIN, 1000), (i64::MAX, -1000), (-1, i64::MAX), (i64::MIN + 30, i64::MIN)] {
            let got = received(&alice(), ts);
            let verdict = check(&got, REQUEST, now).map(|v| v.timestamp);
            let expected = if ts == i64::MIN + 30 { Ok(ts) } else { Err(IdentityError::Stale) };
            assert_eq!(verdict, expected, "ts {ts} at {now}");
        }
    }

    #[test]
    fn a_replay_store_remembers_a_signature_for_the_whole_window() {
        assert_eq!(replay_window_secs(60), 121);
        assert_eq!(replay_window_secs(i64::MAX), i64::MAX);
    }
}
