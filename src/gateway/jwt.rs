//! JWT checks that do not need a key store: size cap, strict decoding, the
//! JOSE header rules, HS256 in Rust, and the claim rules.
//!
//! The order is fixed and is the point of this module:
//! 1. [`parse`]: size cap, three strict base64url segments, a header that is a
//!    JSON object without duplicate member names, `alg` in the allow-list and
//!    never `none`, no `crit`, no `b64: false`. `jku`, `x5u`, `jwk` and `x5c`
//!    are ignored: keys come only from the configured JWKS or secret.
//! 2. The signature, over the exact bytes received: [`verify_hs256`] here, or
//!    WebCrypto in the binding for RS256/ES256 (key chosen in [`super::jwks`]).
//! 3. Only then [`check_claims`]: `exp`, `nbf`, `iss`, `aud`, `sub`, with the
//!    skew, against `now` given by the caller.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::config::{Alg, GatewaySecret, JwtConfig};
use super::headers::is_safe_header_value;

/// Tokens longer than this are refused before anything is decoded.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest `kid` accepted (and logged).
pub const MAX_KID_BYTES: usize = 256;
/// Longest `sub` accepted (OpenID Connect: at most 255 ASCII characters).
pub const MAX_SUB_BYTES: usize = 255;

/// Why a credential was refused. `code()` is stable: it goes to the log.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No credential of the route's kind was sent.
    MissingCredential,
    /// A credential of another kind was sent (API key on a jwt route, JWT on
    /// an api_key route).
    WrongCredentialType,
    TokenTooLarge,
    /// Not three base64url segments.
    Malformed,
    /// A segment is not strict base64url (padding, stray bits, other chars).
    BadBase64,
    /// A segment is not a JSON object.
    BadJson,
    DuplicateMember,
    AlgNone,
    AlgNotAllowed,
    CritUnsupported,
    B64False,
    /// No key in the JWKS has this `kid` (after the refetch the cooldown allows).
    UnknownKid,
    /// The key for `kid` cannot verify this `alg` (e.g. an RSA key for ES256).
    KeyTypeMismatch,
    BadSignature,
    Expired,
    NotYetValid,
    BadIssuer,
    BadAudience,
    /// A required claim is missing or has the wrong type.
    MissingClaim,
    /// `sub` is empty, too long or not a safe header value.
    BadSubject,
    /// The API key has the wrong format, is unknown or was revoked.
    UnknownApiKey,
}

impl Reason {
    pub const fn code(self) -> &'static str {
        match self {
            Reason::MissingCredential => "missing_credential",
            Reason::WrongCredentialType => "wrong_credential_type",
            Reason::TokenTooLarge => "token_too_large",
            Reason::Malformed => "malformed",
            Reason::BadBase64 => "bad_base64",
            Reason::BadJson => "bad_json",
            Reason::DuplicateMember => "duplicate_member",
            Reason::AlgNone => "alg_none",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::CritUnsupported => "crit_unsupported",
            Reason::B64False => "b64_false",
            Reason::UnknownKid => "unknown_kid",
            Reason::KeyTypeMismatch => "key_type_mismatch",
            Reason::BadSignature => "bad_signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::BadIssuer => "bad_issuer",
            Reason::BadAudience => "bad_audience",
            Reason::MissingClaim => "missing_claim",
            Reason::BadSubject => "bad_subject",
            Reason::UnknownApiKey => "unknown_api_key",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused credential with what the log may say about it (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    /// The token's `kid`, once the header parsed.
    pub kid: Option<String>,
    /// For [`Reason::Expired`]: seconds since `exp`.
    pub expired_secs: Option<i64>,
}

impl From<Reason> for Rejection {
    fn from(reason: Reason) -> Self {
        Rejection { reason, kid: None, expired_secs: None }
    }
}

/// A token whose header passed [`parse`]; the signature is not checked yet.
#[derive(Debug)]
pub struct ParsedJwt<'t> {
    pub alg: Alg,
    pub kid: Option<String>,
    /// `base64url(header) "." base64url(payload)`: the signed bytes.
    pub signing_input: &'t str,
    payload_b64: &'t str,
    pub signature: Vec<u8>,
}

impl ParsedJwt<'_> {
    fn reject(&self, reason: Reason) -> Rejection {
        Rejection { reason, kid: self.kid.clone(), expired_secs: None }
    }
}

/// Strict base64url without padding: RFC 7515 §2; no stray trailing bits.
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, Reason> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| Reason::BadBase64)
}

pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

const DUPLICATE: &str = "duplicate member name";
/// Up to this many members, duplicates are found by comparing names pairwise.
const PAIRWISE_MAX: usize = 16;

/// The header members the gateway reads.
const HEADER: &[&str] = &["alg", "kid", "crit", "b64"];
/// The claims the gateway reads.
const CLAIMS: &[&str] = &["exp", "nbf", "iss", "aud", "sub"];

/// Reads the members named in `.0` (at most 5) of a JSON object, in that
/// order, each as a [`Value`]; every other member is checked as JSON and
/// skipped without building it. Member names must be unique (RFC 7515 §4: a
/// JWS with duplicate header names must be rejected, or parsers disagree on
/// it; the same holds for the claims). One type for both objects: one copy of
/// the parser in the wasm.
struct Members(&'static [&'static str]);

type Read = [Option<Value>; 5];

/// A member name, borrowed from the input unless it holds escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_owned().into()))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> DeserializeSeed<'de> for Members {
    type Value = Read;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members {
    type Value = Read;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        let mut out = Read::default();
        let mut names: Vec<Key<'de>> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.0.iter().position(|n| *n == key.0) {
                Some(i) => out[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            // A token's objects hold a handful of members: compare each name
            // with the earlier ones while there are few.
            if names.len() < PAIRWISE_MAX && names.iter().any(|k| k.0 == key.0) {
                return Err(serde::de::Error::custom(DUPLICATE));
            }
            names.push(key);
        }
        // Many members (a hostile token): sorted, a duplicate sits next to its
        // twin, O(n log n) where the pairwise scan would be O(n²).
        if names.len() > PAIRWISE_MAX {
            names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            if names.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(serde::de::Error::custom(DUPLICATE));
            }
        }
        Ok(out)
    }
}

/// The members `wanted` of a JSON object with unique member names.
fn parse_members(bytes: &[u8], wanted: &'static [&'static str]) -> Result<Read, Reason> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match Members(wanted).deserialize(&mut de).and_then(|read| de.end().map(|()| read)) {
        Ok(read) => Ok(read),
        Err(e) if e.to_string().starts_with(DUPLICATE) => Err(Reason::DuplicateMember),
        Err(_) => Err(Reason::BadJson),
    }
}

/// Step 1: the token's shape and header. See the module docs.
pub fn parse<'t>(token: &'t str, cfg: &JwtConfig) -> Result<ParsedJwt<'t>, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Reason::TokenTooLarge.into());
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Reason::Malformed.into());
    };
    if h.is_empty() || p.is_empty() {
        return Err(Reason::Malformed.into());
    }
    let header_json = b64url_decode(h)?;
    let [alg, kid, crit, b64, _] = parse_members(&header_json, HEADER)?;

    let kid = match kid {
        None => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k),
        Some(_) => return Err(Reason::Malformed.into()),
    };
    let with_kid = |reason| Rejection { reason, kid: kid.clone(), expired_secs: None };
    let alg = match alg {
        Some(Value::String(a)) if a.eq_ignore_ascii_case("none") => return Err(with_kid(Reason::AlgNone)),
        Some(Value::String(a)) => Alg::parse(&a).filter(|a| cfg.allows(*a)).ok_or(with_kid(Reason::AlgNotAllowed))?,
        _ => return Err(with_kid(Reason::Malformed)),
    };
    // We implement no extension, so any `crit` is one we do not understand
    // (RFC 7515 §4.1.11); `b64: false` (RFC 7797) changes the signed bytes.
    if crit.is_some() {
        return Err(with_kid(Reason::CritUnsupported));
    }
    if b64.is_some_and(|b| b != Value::Bool(true)) {
        return Err(with_kid(Reason::B64False));
    }

    let signature = b64url_decode(s).map_err(with_kid)?;
    let len_ok = match alg {
        Alg::Hs256 => signature.len() == 32,
        Alg::Es256 => signature.len() == 64,
        Alg::Rs256 => (256..=1024).contains(&signature.len()),
    };
    if !len_ok {
        return Err(with_kid(Reason::BadSignature));
    }
    Ok(ParsedJwt { alg, kid, signing_input: &token[..h.len() + 1 + p.len()], payload_b64: p, signature })
}

/// Step 2 for HS256: HMAC-SHA-256 with the configured secret over the exact
/// signed bytes, compared in constant time (`hmac`'s `verify_slice`).
///
/// This is the HMAC that jsonwebtoken's RustCrypto provider runs, called
/// directly: going through jsonwebtoken's provider table links its RSA and
/// ECDSA code too (about 150 KB gzipped of wasm, and start-up time), which the
/// gateway never uses (RS256/ES256 go to WebCrypto).
pub fn verify_hs256(jwt: &ParsedJwt<'_>, key: &Hs256Key) -> bool {
    use hmac::Mac;
    debug_assert_eq!(jwt.alg, Alg::Hs256);
    let mut mac = key.0.clone();
    mac.update(jwt.signing_input.as_bytes());
    mac.verify_slice(&jwt.signature).is_ok()
}

/// The HS256 secret as HMAC keys it: the two padded key blocks already
/// hashed, once per configuration. Each verify clones this state instead of
/// hashing them again (two of the few SHA-256 blocks a token needs).
#[derive(Clone)]
pub struct Hs256Key(hmac::Hmac<sha2::Sha256>);

impl Hs256Key {
    pub fn new(secret: &GatewaySecret) -> Self {
        use hmac::Mac;
        // HMAC takes a key of any length (a long one is hashed first).
        Hs256Key(hmac::Hmac::new_from_slice(secret.secret().as_bytes()).expect("HMAC accepts any key length"))
    }
}

impl fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hs256Key([redacted])")
    }
}

/// What a verified token says, as far as the gateway needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub nbf: Option<i64>,
}

fn numeric_date(v: &Value) -> Option<i64> {
    // NumericDate may have a fraction (RFC 7519 §2); whole seconds are enough.
    let f = v.as_f64()?;
    (f.is_finite() && f.abs() < 1e12).then(|| f.floor() as i64)
}

/// Checks `exp` and `nbf` against `now` with `skew`; used again on every cache hit.
pub fn check_times(exp: i64, nbf: Option<i64>, now: i64, skew: i64) -> Result<(), (Reason, Option<i64>)> {
    if now >= exp.saturating_add(skew) {
        return Err((Reason::Expired, Some(now - exp)));
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err((Reason::NotYetValid, None));
    }
    Ok(())
}

/// Step 3: the claims of a token whose signature has been verified.
pub fn check_claims(jwt: &ParsedJwt<'_>, cfg: &JwtConfig, now: i64) -> Result<Claims, Rejection> {
    let json = b64url_decode(jwt.payload_b64).map_err(|r| jwt.reject(r))?;
    let [exp, nbf, iss, aud, sub] = parse_members(&json, CLAIMS).map_err(|r| jwt.reject(r))?;

    let exp = exp.as_ref().and_then(numeric_date).ok_or_else(|| jwt.reject(Reason::MissingClaim))?;
    let nbf = match &nbf {
        None => None,
        Some(v) => Some(numeric_date(v).ok_or_else(|| jwt.reject(Reason::MissingClaim))?),
    };
    check_times(exp, nbf, now, cfg.clock_skew_secs)
        .map_err(|(reason, expired_secs)| Rejection { reason, kid: jwt.kid.clone(), expired_secs })?;

    match iss {
        Some(Value::String(iss)) if iss == cfg.issuer => {}
        Some(Value::String(_)) => return Err(jwt.reject(Reason::BadIssuer)),
        _ => return Err(jwt.reject(Reason::MissingClaim)),
    }
    let accepted = |a: &Value| a.as_str().is_some_and(|a| cfg.audiences.iter().any(|c| c == a));
    match &aud {
        Some(a @ Value::String(_)) if accepted(a) => {}
        Some(Value::Array(list)) if list.iter().any(accepted) => {}
        Some(Value::String(_) | Value::Array(_)) => return Err(jwt.reject(Reason::BadAudience)),
        _ => return Err(jwt.reject(Reason::MissingClaim)),
    }
    let sub = match sub {
        Some(Value::String(s)) if s.len() <= MAX_SUB_BYTES && is_safe_header_value(&s) => s,
        Some(Value::String(_)) => return Err(jwt.reject(Reason::BadSubject)),
        _ => return Err(jwt.reject(Reason::MissingClaim)),
    };
    Ok(Claims { sub, exp, nbf })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    pub const SECRET: &str = "0123456789abcdef0123456789abcdef-test";
    pub const NOW: i64 = 1_800_000_000;

    pub fn cfg() -> JwtConfig {
        JwtConfig {
            issuer: "https://issuer.example".into(),
            audiences: vec!["api".into(), "other".into()],
            algorithms: vec![Alg::Rs256, Alg::Es256, Alg::Hs256],
            jwks: None,
            hs256_secret: Some(GatewaySecret::new(SECRET)),
            clock_skew_secs: 30,
        }
    }

    pub fn claims_json(extra: &str) -> String {
        let base = format!(r#""iss":"https://issuer.example","aud":"api","sub":"user-1","exp":{}"#, NOW + 600);
        if extra.is_empty() { format!("{{{base}}}") } else { format!("{{{base},{extra}}}") }
    }

    /// Mints an HS256 token from raw header and payload JSON text.
    pub fn mint_raw(header: &str, payload: &str, secret: &str) -> String {
        let input = format!("{}.{}", b64url_encode(header.as_bytes()), b64url_encode(payload.as_bytes()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64url_encode(&mac.finalize().into_bytes()))
    }

    pub fn mint(payload: &str) -> String {
        mint_raw(r#"{"alg":"HS256","typ":"JWT"}"#, payload, SECRET)
    }

    fn verify(token: &str, now: i64) -> Result<Claims, Rejection> {
        let c = cfg();
        let jwt = parse(token, &c)?;
        if !verify_hs256(&jwt, &Hs256Key::new(c.hs256_secret.as_ref().unwrap())) {
            return Err(jwt.reject(Reason::BadSignature));
        }
        check_claims(&jwt, &c, now)
    }

    fn reason(token: &str) -> Reason {
        verify(token, NOW).unwrap_err().reason
    }

    /// Our minting helper shares the HMAC code under test, so cross-check
    /// against an independent implementation: tokens that jsonwebtoken signs
    /// must verify here, and ones it signs with another secret must not.
    #[test]
    fn tokens_signed_by_jsonwebtoken_verify_and_foreign_ones_do_not() {
        use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
        let claims: Value = serde_json::from_str(&claims_json("")).unwrap();
        let sign = |secret: &str| {
            encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
        };
        let c = verify(&sign(SECRET), NOW).unwrap();
        assert_eq!(c.sub, "user-1");
        assert_eq!(reason(&sign("another-secret-another-secret-!!")), Reason::BadSignature);
    }

    #[test]
    fn a_good_token_verifies() {
        let c = verify(&mint(&claims_json("")), NOW).unwrap();
        assert_eq!(c, Claims { sub: "user-1".into(), exp: NOW + 600, nbf: None });
        let arr = mint(&claims_json("").replace(r#""aud":"api""#, r#""aud":["x","other"]"#));
        assert!(verify(&arr, NOW).is_ok());
    }

    #[test]
    fn header_attacks_are_refused() {
        let p = claims_json("");
        for (header, want) in [
            (r#"{"alg":"none"}"#, Reason::AlgNone),
            (r#"{"alg":"NoNe"}"#, Reason::AlgNone),
            (r#"{"alg":"HS512"}"#, Reason::AlgNotAllowed),
            (r#"{"alg":"hs256"}"#, Reason::AlgNotAllowed),
            (r#"{"alg":"HS256","alg":"HS256"}"#, Reason::DuplicateMember),
            (r#"{"alg":"HS256","kid":"a","kid":"b"}"#, Reason::DuplicateMember),
            // A name spelt with an escape is the same name.
            (r#"{"alg":"HS256","\u0061lg":"none"}"#, Reason::DuplicateMember),
            (r#"{"\u0061lg":"none"}"#, Reason::AlgNone),
            // Members the gateway does not read are still checked: unique, valid JSON.
            (r#"{"typ":"JWT","alg":"HS256","typ":"JWT"}"#, Reason::DuplicateMember),
            (r#"{"alg":"HS256","x":[1,}"#, Reason::BadJson),
            (r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, Reason::CritUnsupported),
            (r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, Reason::CritUnsupported),
            (r#"{"alg":"HS256","b64":false}"#, Reason::B64False),
            (r#"{"alg":"HS256","kid":5}"#, Reason::Malformed),
            (r#"{"alg":5}"#, Reason::Malformed),
            (r#"["alg","HS256"]"#, Reason::BadJson),
            (r#"{"alg":"HS256""#, Reason::BadJson),
        ] {
            assert_eq!(reason(&mint_raw(header, &p, SECRET)), want, "{header}");
        }
        // jku/x5u/jwk/x5c are ignored: the signature still has to match our secret.
        let t = mint_raw(r#"{"alg":"HS256","jku":"http://evil/jwks","jwk":{"kty":"oct","k":"AA"}}"#, &p, SECRET);
        assert!(verify(&t, NOW).is_ok());
        let t = mint_raw(r#"{"alg":"HS256","jku":"http://evil/jwks"}"#, &p, "attacker-secret-attacker-secret!!");
        assert_eq!(reason(&t), Reason::BadSignature);
    }

    #[test]
    fn alg_none_with_empty_signature_is_refused_before_the_signature() {
        let t = format!("{}.{}.", b64url_encode(br#"{"alg":"none"}"#), b64url_encode(claims_json("").as_bytes()));
        assert_eq!(reason(&t), Reason::AlgNone);
    }

    #[test]
    fn shape_and_encoding_attacks_are_refused() {
        let good = mint(&claims_json(""));
        assert_eq!(reason("abc"), Reason::Malformed);
        assert_eq!(reason("a.b"), Reason::Malformed);
        assert_eq!(reason(&format!("{good}.x.y")), Reason::Malformed);
        assert_eq!(reason(&format!("{good}=")), Reason::BadBase64);
        assert_eq!(reason(&good.replacen('e', "+", 1)), Reason::BadBase64);
        assert_eq!(reason(&format!("!!{good}")), Reason::BadBase64);
        let big = format!("{}.{}.{}", "a".repeat(MAX_TOKEN_BYTES), "b", "c");
        assert_eq!(reason(&big), Reason::TokenTooLarge);
        // A payload that is not JSON, with a valid signature.
        let t = mint_raw(r#"{"alg":"HS256"}"#, "not json", SECRET);
        assert_eq!(reason(&t), Reason::BadJson);
        // Duplicate claim names are as ambiguous as duplicate header names.
        let t = mint(&claims_json(r#""sub":"admin""#));
        assert_eq!(reason(&t), Reason::DuplicateMember);
        let t = mint(&claims_json(r#""scope":"a","scope":"b""#));
        assert_eq!(reason(&t), Reason::DuplicateMember);
        // Many members: refused as duplicates without a pairwise scan.
        let many: String = (0..1000).map(|i| format!(r#""m{i}":0,"#)).collect();
        let t = mint(&claims_json(&format!(r#"{many}"m7":1"#)));
        assert_eq!(reason(&t), Reason::DuplicateMember);
        // Around the switch from the pairwise scan to sorting (the claims
        // hold 4 members before these).
        for extra in [PAIRWISE_MAX - 5, PAIRWISE_MAX - 4, PAIRWISE_MAX - 3] {
            let members: String = (0..extra).map(|i| format!(r#""m{i}":0,"#)).collect();
            assert!(verify(&mint(&claims_json(&format!(r#"{members}"last":1"#))), NOW).is_ok(), "{extra}");
            let t = mint(&claims_json(&format!(r#"{members}"sub":"x""#)));
            assert_eq!(reason(&t), Reason::DuplicateMember, "{extra}");
        }
    }

    #[test]
    fn signature_is_checked_before_claims() {
        // An expired token with a bad signature reports the signature.
        let mut t = mint(&claims_json("").replace(&(NOW + 600).to_string(), &(NOW - 3600).to_string()));
        t.pop();
        t.push(if t.ends_with('A') { 'B' } else { 'A' });
        let r = reason(&t);
        assert!(r == Reason::BadSignature || r == Reason::BadBase64, "{r:?}");
        let t = mint_raw(r#"{"alg":"HS256"}"#, &claims_json(""), "another-secret-another-secret-xx");
        assert_eq!(reason(&t), Reason::BadSignature);
    }

    #[test]
    fn claim_rules_with_skew() {
        let with = |exp: i64, extra: &str| {
            let json = claims_json(extra).replace(&(NOW + 600).to_string(), &exp.to_string());
            verify(&mint(&json), NOW)
        };
        assert!(with(NOW + 1, "").is_ok());
        assert!(with(NOW - 29, "").is_ok()); // within the 30 s skew
        let e = with(NOW - 30, "").unwrap_err();
        assert_eq!((e.reason, e.expired_secs), (Reason::Expired, Some(30)));
        assert!(with(NOW + 60, &format!(r#""nbf":{}"#, NOW + 30)).is_ok());
        assert_eq!(with(NOW + 60, &format!(r#""nbf":{}"#, NOW + 31)).unwrap_err().reason, Reason::NotYetValid);
        assert_eq!(with(NOW + 60, r#""nbf":"soon""#).unwrap_err().reason, Reason::MissingClaim);
        assert!(with(NOW + 60, r#""extra":1.5"#).is_ok());
    }

    #[test]
    fn required_claims() {
        let drop = |name: &str| {
            let mut m: serde_json::Map<String, Value> = serde_json::from_str(&claims_json("")).unwrap();
            m.remove(name);
            reason(&mint(&Value::Object(m).to_string()))
        };
        for name in ["exp", "iss", "aud", "sub"] {
            assert_eq!(drop(name), Reason::MissingClaim, "{name}");
        }
        let set = |name: &str, v: Value| {
            let mut m: serde_json::Map<String, Value> = serde_json::from_str(&claims_json("")).unwrap();
            m.insert(name.into(), v);
            reason(&mint(&Value::Object(m).to_string()))
        };
        assert_eq!(set("iss", "https://evil.example".into()), Reason::BadIssuer);
        assert_eq!(set("aud", "nope".into()), Reason::BadAudience);
        assert_eq!(set("aud", serde_json::json!([])), Reason::BadAudience);
        assert_eq!(set("aud", serde_json::json!([1])), Reason::BadAudience);
        assert_eq!(set("exp", "tomorrow".into()), Reason::MissingClaim);
        assert_eq!(set("sub", "".into()), Reason::BadSubject);
        assert_eq!(set("sub", 42.into()), Reason::MissingClaim);
        for bad in ["a\r\nx-user-id: admin", "a\nb", "a\u{0}", "a\u{7f}", "a\u{85}", " admin", "é"] {
            assert_eq!(set("sub", bad.into()), Reason::BadSubject, "{bad:?}");
        }
        assert_eq!(set("sub", "x".repeat(256).into()), Reason::BadSubject);
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(Reason::AlgNone.code(), "alg_none");
        assert_eq!(Reason::UnknownKid.code(), "unknown_kid");
        assert_eq!(Reason::Expired.to_string(), "expired");
    }
}
