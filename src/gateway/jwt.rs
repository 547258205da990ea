//! JWT checks that do not need a key store. `jsonwebtoken` decodes the header
//! and validates the claims (`decode`, `Validation`); this module is the short
//! pre- and post-check around it for what jsonwebtoken does not refuse.
//!
//! The order is fixed and is the point of this module:
//! 1. [`parse`]: size cap, three strict base64url segments, a header that is a
//!    JSON object without duplicate member names, `alg` never `none` and in
//!    the allow-list (one jsonwebtoken `Validation` per allowed algorithm), no
//!    `crit`, no `b64: false`, and the `kid` to look the key up by. `jku`,
//!    `x5u`, `jwk` and `x5c` are ignored: keys come only from the configured
//!    JWKS or secret. jsonwebtoken decodes the whole header in step 2, before
//!    the signature; it is not asked to here as well because a token that
//!    waits for WebCrypto passes here twice, and each of its header reads
//!    cost more than this whole pre-check.
//! 2. The signature, over the exact bytes received, then the claims, in one
//!    `jsonwebtoken::jws::decode`: [`decode_hs256`] (HMAC through the gateway's
//!    `CryptoProvider`, [`super::crypto_provider`]), or [`attested_claims`]
//!    for RS256/ES256, whose signature WebCrypto verified in the binding.
//! 3. Then what jsonwebtoken leaves to us: claim names unique, `exp`/`nbf`
//!    against `now` given by the caller with the skew, one `iss` string, a
//!    `sub` that is a safe header value.

use std::fmt;
use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::authorize::{claims_at, scopes_of, ClaimValue, Grants};
use super::config::{Alg, JwtConfig};
use super::crypto_provider;
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

/// What a claims object that is not JSON becomes, so that it tells apart
/// from a header member of the wrong type inside jsonwebtoken's error.
const BAD_JSON: &str = "claims are not a JSON object";

/// The header members the pre-check reads: what jsonwebtoken parses but
/// does not refuse (`crit`, `b64`), `alg` to tell `none` apart and pick the
/// `Validation`, `kid` for the key and the log.
const HEADER: &[&str] = &["alg", "kid", "crit", "b64"];
/// The claims the post-check reads (jsonwebtoken checks `iss` and `aud`
/// against the configuration and requires `exp`).
const CLAIMS: &[&str] = &["exp", "nbf", "iss", "sub", "scope", "scp"];
/// What the pre-check reads of the claims of a token whose key is fetched.
const ISSUER: &[&str] = &["iss"];

/// Reads the members named in `.0` (at most 6) of a JSON object, in that
/// order, each as a [`Value`]; every other member is checked as JSON and
/// skipped without building it. Member names must be unique (RFC 7515 §4: a
/// JWS with duplicate header names must be rejected, or parsers disagree on
/// it; the same holds for the claims). One type for both objects: one copy of
/// the parser in the wasm.
struct Members(&'static [&'static str]);

type Read = [Option<Value>; 6];

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


/// The claims as jsonwebtoken hands them to us: the members [`CLAIMS`] names,
/// from an object whose member names are unique.
struct Payload(Read);

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        Members(CLAIMS).deserialize(d).map(Payload).map_err(|e| {
            if e.to_string().starts_with(DUPLICATE) { e } else { D::Error::custom(BAD_JSON) }
        })
    }
}

/// Our name for a jsonwebtoken algorithm.
fn jws_alg(alg: Alg) -> Algorithm {
    match alg {
        Alg::Rs256 => Algorithm::RS256,
        Alg::Es256 => Algorithm::ES256,
        Alg::Ps256 => Algorithm::PS256,
        Alg::EdDsa => Algorithm::EdDSA,
        Alg::Hs256 => Algorithm::HS256,
    }
}

/// What a configuration asks of every token, in jsonwebtoken's terms, built
/// once: one `Validation` per allowed algorithm (jsonwebtoken wants the
/// algorithms of one `decode` to be of one family), and the HS256 key.
pub struct JwtRules {
    validations: Vec<(Alg, Validation)>,
    hs256: Option<DecodingKey>,
    skew: i64,
    claim_paths: Vec<String>,
    issuer: String,
}

impl fmt::Debug for JwtRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<Alg> = self.validations.iter().map(|(a, _)| *a).collect();
        f.debug_struct("JwtRules").field("algorithms", &algs).field("hs256", &self.hs256.is_some()).finish()
    }
}

impl JwtRules {
    pub fn new(cfg: &JwtConfig) -> Self {
        let installed = crypto_provider::install();
        debug_assert!(installed, "another jsonwebtoken CryptoProvider was installed first");
        let validation = |alg: Alg| {
            let mut v = Validation::new(jws_alg(alg));
            v.set_issuer(&[&cfg.issuer]);
            v.set_audience(&cfg.audiences);
            v.set_required_spec_claims(&["exp", "iss", "aud"]);
            // jsonwebtoken would compare exp/nbf with the wall clock it reads
            // itself; the core takes `now` from its caller (a manual clock in
            // tests, one `now` for the verdict and the token cache), so
            // `check_times` does it. jsonwebtoken still requires `exp` and
            // checks that it is a NumericDate.
            v.validate_exp = false;
            v.validate_nbf = false;
            v.leeway = 0;
            (alg, v)
        };
        JwtRules {
            validations: cfg.algorithms.iter().map(|a| validation(*a)).collect(),
            hs256: cfg.hs256_secret.as_ref().map(|s| DecodingKey::from_secret(s.secret().as_bytes())),
            skew: cfg.clock_skew_secs,
            claim_paths: cfg.claim_paths.clone(),
            issuer: cfg.issuer.clone(),
        }
    }

    /// The allowed algorithm named `name` (jsonwebtoken's spelling: exact case).
    fn allowed(&self, name: &str) -> Option<Alg> {
        let alg = name.parse::<Algorithm>().ok()?;
        self.validations.iter().map(|(a, _)| *a).find(|a| jws_alg(*a) == alg)
    }

    fn validation(&self, alg: Alg) -> Option<&Validation> {
        self.validations.iter().find(|(a, _)| *a == alg).map(|(_, v)| v)
    }
}

/// What [`parse`] found: an HS256 token, verified and validated in one
/// [`decode_hs256`], or one whose signature WebCrypto must check.
#[derive(Debug)]
pub enum Parsed<'t> {
    Hs256 { kid: Option<String> },
    Signed(ParsedJwt<'t>),
}

/// A token whose header passed [`parse`]; the signature is not checked yet.
#[derive(Debug)]
pub struct ParsedJwt<'t> {
    pub alg: Alg,
    pub kid: Option<String>,
    /// `base64url(header) "." base64url(payload)`: the signed bytes.
    pub signing_input: &'t str,
    pub signature: Vec<u8>,
    token: &'t str,
}

fn with_kid(kid: &Option<String>) -> impl Fn(Reason) -> Rejection + '_ {
    move |reason| Rejection { reason, kid: kid.clone(), expired_secs: None }
}

/// Why jsonwebtoken refused a token, in our terms.
fn reason_of(e: &JwtError) -> Reason {
    match e.kind() {
        ErrorKind::InvalidSignature => Reason::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::MissingAlgorithm => Reason::AlgNotAllowed,
        ErrorKind::InvalidIssuer => Reason::BadIssuer,
        ErrorKind::InvalidAudience => Reason::BadAudience,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => Reason::MissingClaim,
        ErrorKind::ExpiredSignature => Reason::Expired,
        ErrorKind::ImmatureSignature => Reason::NotYetValid,
        ErrorKind::Base64(_) => Reason::BadBase64,
        ErrorKind::Json(e) if e.to_string().starts_with(DUPLICATE) => Reason::DuplicateMember,
        ErrorKind::Json(e) if e.is_syntax() || e.is_eof() || e.to_string().starts_with(BAD_JSON) => Reason::BadJson,
        ErrorKind::Utf8(_) => Reason::BadJson,
        // A header member of the wrong type (the pre-check saw valid JSON),
        // a token of the wrong shape.
        _ => Reason::Malformed,
    }
}

/// Step 1: the token's shape and header. See the module docs.
pub fn parse<'t>(token: &'t str, rules: &JwtRules) -> Result<Parsed<'t>, Rejection> {
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
    let [alg, kid, crit, b64, ..] = parse_members(&b64url_decode(h)?, HEADER)?;
    let kid = match kid {
        None => None,
        Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Some(k),
        Some(_) => return Err(Reason::Malformed.into()),
    };
    let reject = |reason| Rejection { reason, kid: kid.clone(), expired_secs: None };
    let alg = match alg {
        Some(Value::String(a)) if a.eq_ignore_ascii_case("none") => return Err(reject(Reason::AlgNone)),
        Some(Value::String(a)) => a,
        _ => return Err(reject(Reason::Malformed)),
    };
    // We implement no extension, so any `crit` is one we do not understand
    // (RFC 7515 §4.1.11); `b64: false` (RFC 7797) changes the signed bytes.
    if crit.is_some() {
        return Err(reject(Reason::CritUnsupported));
    }
    if b64.is_some_and(|b| b != Value::Bool(true)) {
        return Err(reject(Reason::B64False));
    }
    let Some(alg) = rules.allowed(&alg) else { return Err(reject(Reason::AlgNotAllowed)) };
    if alg == Alg::Hs256 {
        return Ok(Parsed::Hs256 { kid });
    }
    let signature = b64url_decode(s).map_err(with_kid(&kid))?;
    let len_ok = match alg {
        Alg::Es256 | Alg::EdDsa => signature.len() == 64,
        Alg::Rs256 | Alg::Ps256 | Alg::Hs256 => (256..=1024).contains(&signature.len()),
    };
    if !len_ok {
        return Err(with_kid(&kid)(Reason::BadSignature));
    }
    // The issuer picks the keys: a token that names another one is refused
    // before its key is looked up, so a flood of them never fetches a key
    // set. (Read unverified here; `decode` checks it again after the
    // signature.)
    let [iss, ..] = parse_members(&b64url_decode(p).map_err(with_kid(&kid))?, ISSUER).map_err(with_kid(&kid))?;
    if !matches!(&iss, Some(Value::String(i)) if *i == rules.issuer) {
        return Err(with_kid(&kid)(Reason::BadIssuer));
    }
    Ok(Parsed::Signed(ParsedJwt { alg, kid, signing_input: &token[..h.len() + 1 + p.len()], signature, token }))
}

/// The `iss` a token names, read unverified: which configured issuer's keys
/// and rules to verify it with ([`super::verify::pick_issuer`]).
pub fn issuer_of(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    match parse_members(&b64url_decode(payload).ok()?, ISSUER).ok()? {
        [Some(Value::String(iss)), ..] => Some(iss),
        _ => None,
    }
}

/// What a verified token says, as far as the gateway needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Shared: a cache hit hands out the cached `sub`, not a copy.
    pub sub: Rc<str>,
    pub exp: i64,
    pub nbf: Option<i64>,
    /// Issuer, scopes and the configured claims' values: what route rules
    /// and forwarded claims read, cached with the token. Shared: a cache hit
    /// hands out the cached grants, not a copy.
    pub grants: Rc<Grants>,
}

/// A token whose signature and claims passed, with the `kid` it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub claims: Claims,
    pub kid: Option<String>,
}

/// Steps 2 and 3 for HS256: `jsonwebtoken::jws::decode` checks the HMAC with the
/// configured secret over the exact signed bytes (the gateway's provider,
/// constant-time) before the claims.
pub fn decode_hs256(token: &str, kid: Option<String>, rules: &JwtRules, now: i64) -> Result<Verified, Rejection> {
    match (&rules.hs256, rules.validation(Alg::Hs256)) {
        (Some(key), Some(validation)) => decode_checked(token, key, validation, kid, rules, now),
        _ => Err(with_kid(&kid)(Reason::AlgNotAllowed)),
    }
}

/// Proof that the signature of one token was verified over exactly its
/// signed bytes: made only by [`ParsedJwt::verdict`] from a verdict of
/// `true`, and only [`attested_claims`] takes it. Its fields are private, so
/// no other code can make one:
///
/// ```compile_fail,E0451
/// use mesh_sdk::gateway::{config::Alg, jwt::VerifiedSignature};
/// let key = jsonwebtoken::DecodingKey::from_rsa_der(b"");
/// let forged = VerifiedSignature { token: "a.b.c", alg: Alg::Rs256, kid: None, key };
/// ```
pub struct VerifiedSignature<'t> {
    token: &'t str,
    alg: Alg,
    kid: Option<String>,
    key: DecodingKey,
}

impl<'t> ParsedJwt<'t> {
    /// The signature's verdict (WebCrypto's, over `signing_input`): the proof
    /// [`attested_claims`] needs, or the refusal.
    pub fn verdict(self, signature_ok: bool) -> Result<VerifiedSignature<'t>, Rejection> {
        if !signature_ok {
            return Err(with_kid(&self.kid)(Reason::BadSignature));
        }
        let attested = crypto_provider::attestation(&self.signature, self.signing_input.as_bytes());
        let key = match self.alg {
            Alg::Es256 => DecodingKey::from_ec_der(&attested),
            Alg::EdDsa => DecodingKey::from_ed_der(&attested),
            Alg::Rs256 | Alg::Ps256 | Alg::Hs256 => DecodingKey::from_rsa_der(&attested),
        };
        Ok(VerifiedSignature { token: self.token, alg: self.alg, kid: self.kid, key })
    }
}

/// Steps 2 and 3 for a token whose signature WebCrypto verified: the one
/// place a token is decoded without its signature being checked in Rust.
///
/// Safe because the key handed to `jsonwebtoken::jws::decode` is the proof
/// itself: the gateway's provider accepts with it exactly the signature and
/// signed bytes WebCrypto verified (nothing else, not another token), and a
/// proof exists only after a verdict of `true` ([`ParsedJwt::verdict`]). The
/// header, the algorithm allow-list and the claims go through `decode` as
/// for HS256.
pub fn attested_claims(proof: VerifiedSignature<'_>, rules: &JwtRules, now: i64) -> Result<Verified, Rejection> {
    let Some(validation) = rules.validation(proof.alg) else { return Err(with_kid(&proof.kid)(Reason::AlgNotAllowed)) };
    decode_checked(proof.token, &proof.key, validation, proof.kid, rules, now)
}

/// jsonwebtoken's JWS `decode` (the header, the signature, the claims), then
/// the post-check. `kid` is the pre-check's reading of the same header.
///
/// `jws::decode`, not the compact `decode`: the two check the same things,
/// but the compact one decodes the whole header twice (once to pick the
/// verifier, once beside the signature), and jsonwebtoken's `Header`, with
/// its flattened extras, is the dearest part of a distinct token's checks.
/// The three segments are copied into the `Jws` it takes; `parse` already
/// split the token into exactly three.
fn decode_checked(token: &str, key: &DecodingKey, validation: &Validation, kid: Option<String>, rules: &JwtRules, now: i64) -> Result<Verified, Rejection> {
    let mut parts = token.splitn(3, '.').map(str::to_owned);
    let (Some(protected), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(with_kid(&kid)(Reason::Malformed));
    };
    let jws = jsonwebtoken::jws::Jws { protected, payload, signature, _pd: std::marker::PhantomData };
    let claims = match jsonwebtoken::jws::decode::<Payload>(&jws, key, validation) {
        Ok(data) => post_check(data.claims, &kid, (rules.skew, now), || configured_claims(token, &rules.claim_paths))?,
        Err(e) => return Err(with_kid(&kid)(reason_of(&e))),
    };
    Ok(Verified { claims, kid })
}

/// The values at the configured claim paths of a verified token's payload.
/// Read apart from [`Payload`], and only when a route rule or a forwarded
/// claim names a path: most configurations name none, and their tokens
/// are then decoded once.
fn configured_claims(token: &str, paths: &[String]) -> Vec<(String, ClaimValue)> {
    if paths.is_empty() {
        return Vec::new();
    }
    let payload = token.split('.').nth(1).and_then(|p| b64url_decode(p).ok());
    let map: Option<serde_json::Map<String, Value>> = payload.and_then(|p| serde_json::from_slice(&p).ok());
    map.map(|m| claims_at(&m, paths.iter().map(String::as_str))).unwrap_or_default()
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

/// Step 3, what jsonwebtoken left: the times against `now`, `nbf`'s format
/// (jsonwebtoken checks it only when it compares it), one `iss` string
/// (jsonwebtoken also takes a list), `sub`.
/// `configured`: the configured claims' values, read once the rest passed.
fn post_check(
    payload: Payload,
    kid: &Option<String>,
    (skew, now): (i64, i64),
    configured: impl FnOnce() -> Vec<(String, ClaimValue)>,
) -> Result<Claims, Rejection> {
    let reject = with_kid(kid);
    let [exp, nbf, iss, sub, scope, scp] = payload.0;
    let exp = exp.as_ref().and_then(numeric_date).ok_or_else(|| reject(Reason::MissingClaim))?;
    let nbf = match &nbf {
        None => None,
        Some(v) => Some(numeric_date(v).ok_or_else(|| reject(Reason::MissingClaim))?),
    };
    check_times(exp, nbf, now, skew).map_err(|(reason, expired_secs)| Rejection { reason, kid: kid.clone(), expired_secs })?;
    let Some(Value::String(issuer)) = iss else {
        return Err(reject(Reason::MissingClaim));
    };
    let sub = match sub {
        Some(Value::String(s)) if s.len() <= MAX_SUB_BYTES && is_safe_header_value(&s) => s,
        Some(Value::String(_)) => return Err(reject(Reason::BadSubject)),
        _ => return Err(reject(Reason::MissingClaim)),
    };
    let grants = Grants { issuer: Some(issuer), scopes: scopes_of(scope.as_ref(), scp.as_ref()), claims: configured() };
    Ok(Claims { sub: sub.into(), exp, nbf, grants: Rc::new(grants) })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gateway::config::GatewaySecret;
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
            claim_paths: vec!["org.id".into(), "email".into()],
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
        let rules = JwtRules::new(&cfg());
        match parse(token, &rules)? {
            Parsed::Hs256 { kid } => decode_hs256(token, kid, &rules, now).map(|v| v.claims),
            Parsed::Signed(p) => panic!("not HS256: {p:?}"),
        }
    }

    /// An ES256 token with the given claims; its signature bytes are opaque
    /// here (WebCrypto checks them in the binding).
    pub fn es256(kid: &str, payload: &str) -> String {
        let raw = mint_raw(&format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#), payload, "x");
        let (head, _) = raw.rsplit_once('.').unwrap();
        format!("{head}.{}", b64url_encode(&[1; 64]))
    }

    fn attested(token: &str, signature_ok: bool) -> Result<Verified, Rejection> {
        let rules = JwtRules::new(&cfg());
        let Parsed::Signed(p) = parse(token, &rules)? else { panic!("HS256") };
        attested_claims(p.verdict(signature_ok)?, &rules, NOW)
    }

    #[test]
    fn a_webcrypto_verdict_is_the_only_way_to_the_claims_of_an_asymmetric_token() {
        let t = es256("e1", &claims_json(""));
        let v = attested(&t, true).unwrap();
        assert_eq!((&*v.claims.sub, v.kid.as_deref()), ("user-1", Some("e1")));
        // No verdict of true, no proof: the claims are never decoded.
        let e = attested(&t, false).unwrap_err();
        assert_eq!((e.reason, e.kid.as_deref()), (Reason::BadSignature, Some("e1")));
        // The proof carries the claims checks with it, and the kid to the log.
        let e = attested(&es256("e1", &claims_json("").replace("issuer.example", "evil.example")), true).unwrap_err();
        assert_eq!((e.reason, e.kid.as_deref()), (Reason::BadIssuer, Some("e1")));
        let e = attested(&es256("e1", &claims_json(r#""sub":"x""#)), true).unwrap_err();
        assert_eq!(e.reason, Reason::DuplicateMember);
        // An attestation is for one signature over one message: jsonwebtoken
        // refuses a token whose bytes differ from the verified ones.
        let rules = JwtRules::new(&cfg());
        let Parsed::Signed(mut p) = parse(&t, &rules).unwrap() else { panic!() };
        p.signature[0] ^= 1;
        assert_eq!(attested_claims(p.verdict(true).unwrap(), &rules, NOW).unwrap_err().reason, Reason::BadSignature);
        let other = es256("e1", &claims_json(r#""scope":"admin""#));
        let Parsed::Signed(mut p) = parse(&t, &rules).unwrap() else { panic!() };
        p.token = &other;
        assert_eq!(attested_claims(p.verdict(true).unwrap(), &rules, NOW).unwrap_err().reason, Reason::BadSignature);
    }

    fn reason(token: &str) -> Reason {
        verify(token, NOW).unwrap_err().reason
    }

    /// Our minting helper shares the HMAC code under test, so cross-check
    /// against an independent implementation: tokens that jsonwebtoken signs
    /// must verify here, and ones it signs with another secret must not.
    #[test]
    fn tokens_signed_by_jsonwebtoken_verify_and_foreign_ones_do_not() {
        use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as RUST_CRYPTO;
        use jsonwebtoken::EncodingKey;
        // Signed with jsonwebtoken's own RustCrypto provider, called directly:
        // the process default is the gateway's provider, which never signs.
        let sign = |secret: &str| {
            let input = format!("{}.{}", b64url_encode(br#"{"typ":"JWT","alg":"HS256"}"#), b64url_encode(claims_json("").as_bytes()));
            let signer = (RUST_CRYPTO.signer_factory)(&Algorithm::HS256, &EncodingKey::from_secret(secret.as_bytes())).unwrap();
            format!("{input}.{}", b64url_encode(&signer.try_sign(input.as_bytes()).unwrap()))
        };
        let c = verify(&sign(SECRET), NOW).unwrap();
        assert_eq!(&*c.sub, "user-1");
        assert_eq!(reason(&sign("another-secret-another-secret-!!")), Reason::BadSignature);
    }

    #[test]
    fn a_verified_token_carries_its_scopes_and_the_configured_claims() {
        let extra = r#""scope":"a b","scp":["b","c"],"org":{"id":"acme","n":1},"email":"u@x.example","role":"admin""#;
        let g = verify(&mint(&claims_json(extra)), NOW).unwrap().grants;
        assert_eq!(g.scopes, ["a", "b", "c"]);
        assert_eq!(g.issuer.as_deref(), Some("https://issuer.example"));
        // Only the configured paths (cfg(): org.id, email) are kept.
        let kept: Vec<(&str, &str)> = g.claims.iter().map(|(p, v)| (p.as_str(), v.text.as_str())).collect();
        assert_eq!(kept, [("org.id", "acme"), ("email", "u@x.example")]);
        // A scope claim of the wrong form grants nothing, and is no reason to refuse.
        let g = verify(&mint(&claims_json(r#""scope":["a"],"scp":7"#)), NOW).unwrap().grants;
        assert!(g.scopes.is_empty());
    }

    #[test]
    fn a_good_token_verifies() {
        let c = verify(&mint(&claims_json("")), NOW).unwrap();
        let grants = Grants { issuer: Some("https://issuer.example".into()), ..Grants::default() };
        assert_eq!(c, Claims { sub: "user-1".into(), exp: NOW + 600, nbf: None, grants: grants.into() });
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
        // An audience list that is not of strings has the wrong type.
        assert_eq!(set("aud", serde_json::json!([1])), Reason::MissingClaim);
        // A JWT has one issuer (RFC 7519 §4.1.1); jsonwebtoken would take a list.
        assert_eq!(set("iss", serde_json::json!(["https://issuer.example"])), Reason::MissingClaim);
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
