//! The signed identity the gateway adds for the origin, and its check.
//!
//! With `MESH_IDENTITY_SECRET` set, each forwarded request carries
//! `x-mesh-identity-timestamp: <unix seconds>` and
//! `x-mesh-identity-signature: <lowercase hex HMAC-SHA256>` over this exact
//! string (fields joined by `\n`, no trailing newline):
//!
//! ```text
//! mesh-identity-v1
//! <METHOD, upper case>
//! <path as the origin receives it, without the query>
//! <x-user-id>
//! <x-auth-method: jwt | api_key>
//! <x-api-key-id, or empty>
//! <timestamp>
//! ```
//!
//! None of the fields can contain `\n` (the gateway refuses such a `sub`, and
//! paths and methods cannot hold one), so the string is unambiguous. An origin
//! refuses a request whose signature does not match or whose timestamp is more
//! than `max_age` seconds away from its clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::config::{GatewayConfig, GatewaySecret};
use super::headers::{identity_lines, AuthMethod, Identity};

pub const VERSION: &str = "mesh-identity-v1";
pub const DEFAULT_MAX_AGE_SECS: i64 = 60;

pub fn canonical_string(method: &str, path: &str, identity: &Identity, timestamp: i64) -> String {
    format!(
        "{VERSION}\n{}\n{path}\n{}\n{}\n{}\n{timestamp}",
        method.to_ascii_uppercase(),
        identity.user_id,
        identity.method.name(),
        identity.api_key_id.as_deref().unwrap_or(""),
    )
}

fn mac(secret: &GatewaySecret, message: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.secret().as_bytes()).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
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

/// The identity headers a forwarded request carries, as
/// [`identity_lines`] (signed when `MESH_IDENTITY_SECRET` is set, over the
/// path as the origin receives it: MESH_UPSTREAM_URL's path plus the
/// request's). `None`: a value is not header-safe; the request is refused.
pub fn injected(cfg: &GatewayConfig, method: &str, path: &str, identity: &Identity, now: i64) -> Option<String> {
    let signature = cfg.identity_secret.as_ref().map(|secret| {
        let upstream = cfg.upstream_path();
        let mut signed_path = String::with_capacity(upstream.len() + path.len());
        signed_path.push_str(upstream);
        signed_path.push_str(path);
        sign(secret, method, &signed_path, identity, now)
    });
    identity_lines(identity, signature.as_deref().map(|sig| (now, sig)))
}

/// The signature header value for `identity` on `method path` at `timestamp`.
pub fn sign(secret: &GatewaySecret, method: &str, path: &str, identity: &Identity, timestamp: i64) -> String {
    hex(&mac(secret, &canonical_string(method, path, identity, timestamp)))
}

/// Why an identity did not verify. `code()` is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityError {
    /// A header is missing or malformed.
    Missing,
    /// The timestamp is further than `max_age` from now.
    Stale,
    BadSignature,
}

impl IdentityError {
    pub const fn code(self) -> &'static str {
        match self {
            IdentityError::Missing => "identity_missing",
            IdentityError::Stale => "identity_stale",
            IdentityError::BadSignature => "identity_bad_signature",
        }
    }
}

/// The identity headers an origin received (values as they arrived).
#[derive(Debug, Default, Clone)]
pub struct ReceivedIdentity<'a> {
    pub user_id: Option<&'a str>,
    pub auth_method: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks the headers of a request the origin received, at `now`.
pub fn verify(
    secret: &GatewaySecret,
    method: &str,
    path: &str,
    got: &ReceivedIdentity<'_>,
    now: i64,
    max_age_secs: i64,
) -> Result<(Identity, i64), IdentityError> {
    let (Some(user_id), Some(method_name), Some(ts), Some(sig)) = (got.user_id, got.auth_method, got.timestamp, got.signature)
    else {
        return Err(IdentityError::Missing);
    };
    let auth = AuthMethod::parse(method_name).ok_or(IdentityError::Missing)?;
    let ts: i64 = ts.parse().map_err(|_| IdentityError::Missing)?;
    let sig = unhex(sig).filter(|s| s.len() == 32).ok_or(IdentityError::Missing)?;
    let identity = Identity {
        user_id: user_id.to_string(),
        method: auth,
        api_key_id: got.api_key_id.filter(|s| !s.is_empty()).map(String::from),
    };
    // Compare the MAC first, in constant time, then the age.
    let expected = mac(secret, &canonical_string(method, path, &identity, ts));
    if !bool::from(expected.ct_eq(sig.as_slice())) {
        return Err(IdentityError::BadSignature);
    }
    // In i128: the signed timestamp may be any i64, and `now - ts` overflow.
    if (i128::from(now) - i128::from(ts)).abs() > i128::from(max_age_secs) {
        return Err(IdentityError::Stale);
    }
    Ok((identity, ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> GatewaySecret {
        GatewaySecret::new("identity-secret-identity-secret-1234")
    }

    fn alice() -> Identity {
        Identity { user_id: "alice".into(), method: AuthMethod::Jwt, api_key_id: None }
    }

    #[test]
    fn the_injected_identity_is_signed_over_the_path_the_origin_receives() {
        let cfg = |secret: Option<&str>| {
            let mut vars = vec![("MESH_UPSTREAM_URL", "https://o.example/base"), ("MESH_ROUTES", r#"[{"prefix":"/","auth":"public"}]"#)];
            vars.extend(secret.map(|s| ("MESH_IDENTITY_SECRET", s)));
            GatewayConfig::from_env(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()), false).unwrap()
        };
        assert_eq!(injected(&cfg(None), "GET", "/x", &alice(), 1000).unwrap(), "x-user-id\nalice\nx-auth-method\njwt\n");
        let lines = injected(&cfg(Some(secret().secret())), "GET", "/x", &alice(), 1000).unwrap();
        let sig = sign(&secret(), "GET", "/base/x", &alice(), 1000);
        assert!(lines.ends_with(&format!("x-mesh-identity-timestamp\n1000\nx-mesh-identity-signature\n{sig}\n")), "{lines}");
        let forged = Identity { user_id: "a\nb".into(), ..alice() };
        assert_eq!(injected(&cfg(None), "GET", "/x", &forged, 1000), None);
    }

    #[test]
    fn canonical_string_is_documented_format() {
        let key = Identity { user_id: "bob".into(), method: AuthMethod::ApiKey, api_key_id: Some("k1".into()) };
        assert_eq!(canonical_string("post", "/agent/v1/x", &key, 7), "mesh-identity-v1\nPOST\n/agent/v1/x\nbob\napi_key\nk1\n7");
        assert_eq!(canonical_string("GET", "/a", &alice(), 7), "mesh-identity-v1\nGET\n/a\nalice\njwt\n\n7");
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let s = secret();
        let sig = sign(&s, "GET", "/api/v1/x", &alice(), 1000);
        assert_eq!(sig.len(), 64);
        let ts = "1000".to_string();
        let got = ReceivedIdentity {
            user_id: Some("alice"),
            auth_method: Some("jwt"),
            api_key_id: None,
            timestamp: Some(&ts),
            signature: Some(&sig),
        };
        assert_eq!(verify(&s, "GET", "/api/v1/x", &got, 1030, 60).unwrap(), (alice(), 1000));
        assert_eq!(verify(&s, "GET", "/api/v1/x", &got, 1061, 60), Err(IdentityError::Stale));
        assert_eq!(verify(&s, "GET", "/api/v1/x", &got, 939, 60), Err(IdentityError::Stale));
        assert_eq!(verify(&s, "POST", "/api/v1/x", &got, 1000, 60), Err(IdentityError::BadSignature));
        assert_eq!(verify(&s, "GET", "/api/v1/y", &got, 1000, 60), Err(IdentityError::BadSignature));
        let mallory = ReceivedIdentity { user_id: Some("mallory"), ..got.clone() };
        assert_eq!(verify(&s, "GET", "/api/v1/x", &mallory, 1000, 60), Err(IdentityError::BadSignature));
        let other = GatewaySecret::new("another-secret-another-secret-123456");
        assert_eq!(verify(&other, "GET", "/api/v1/x", &got, 1000, 60), Err(IdentityError::BadSignature));
        let none = ReceivedIdentity::default();
        assert_eq!(verify(&s, "GET", "/api/v1/x", &none, 1000, 60), Err(IdentityError::Missing));
        let upper = sig.to_ascii_uppercase();
        let upper_hex = ReceivedIdentity { signature: Some(&upper), ..got.clone() };
        assert_eq!(verify(&s, "GET", "/api/v1/x", &upper_hex, 1000, 60), Err(IdentityError::Missing));
        let bad_hex = ReceivedIdentity { signature: Some("zz"), ..got };
        assert_eq!(verify(&s, "GET", "/api/v1/x", &bad_hex, 1000, 60), Err(IdentityError::Missing));
    }

    /// Found by the `identity` fuzz target: `now - ts` overflowed (a panic
    /// with overflow checks) for a validly signed timestamp far from `now`.
    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
        let s = secret();
        for (ts, now) in [(i64::MIN, 1000), (i64::MAX, -1000), (-1, i64::MAX), (i64::MIN + 30, i64::MIN)] {
            let (ts_text, sig) = (ts.to_string(), sign(&s, "GET", "/", &alice(), ts));
            let got = ReceivedIdentity {
                user_id: Some("alice"),
                auth_method: Some("jwt"),
                timestamp: Some(&ts_text),
                signature: Some(&sig),
                ..ReceivedIdentity::default()
            };
            let expected = if ts == i64::MIN + 30 { Ok((alice(), ts)) } else { Err(IdentityError::Stale) };
            assert_eq!(verify(&s, "GET", "/", &got, now, 60), expected, "ts {ts} at {now}");
        }
    }
}
