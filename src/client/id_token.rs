//! The ID token's checks (OpenID Connect Core 1.0 §3.1.3.7) for the redirect
//! login, and the user it names.
//!
//! The browser build carries no signature crypto: the binding verifies the
//! signature with WebCrypto against the provider's JWKS. The core decides
//! everything else: which algorithms are allowed (never `none`, never an
//! HMAC keyed by the client id), which key of the set may verify
//! (`kid`, `kty`, `crv`, `use`, `alg`), what the verdict means, and the
//! claims (`iss`, `aud`, `azp`, `exp`, `iat`, `nonce`). Every refusal is
//! `invalid_id_token`, and its message says which check failed.

use serde::{Deserialize, Deserializer};

use crate::error::{Error, ErrorKind, Result};

use super::token::{base64url_decode, de_opt_seconds};

/// Clock tolerance for `exp` and `iat`.
pub const ID_TOKEN_LEEWAY_SECS: i64 = 60;
/// How far in the future an `iat` may lie before the token is refused.
pub const MAX_IAT_AHEAD_SECS: i64 = 300;

/// The signature algorithms the client accepts, each verifiable with
/// WebCrypto in every browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSA-PSS with SHA-256 (salt length 32).
    Ps256,
    /// ECDSA on P-256 with SHA-256 (raw `r || s` signature, 64 bytes).
    Es256,
}

impl IdTokenAlg {
    pub fn name(self) -> &'static str {
        match self {
            IdTokenAlg::Rs256 => "RS256",
            IdTokenAlg::Ps256 => "PS256",
            IdTokenAlg::Es256 => "ES256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [IdTokenAlg::Rs256, IdTokenAlg::Ps256, IdTokenAlg::Es256].into_iter().find(|a| a.name() == name)
    }

    /// The JWK `kty` (and `crv`) a key for this algorithm has.
    fn fits(self, key: &JwkInfo) -> bool {
        match self {
            IdTokenAlg::Rs256 | IdTokenAlg::Ps256 => key.kty == "RSA",
            IdTokenAlg::Es256 => key.kty == "EC" && key.crv.as_deref() == Some("P-256"),
        }
    }
}

/// The JOSE header members the client reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IdTokenHeader {
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 §4.1.11); the
    /// client understands none.
    #[serde(default)]
    pub crit: Option<serde::de::IgnoredAny>,
}

/// The identifying members of one JWK of the provider's set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JwkInfo {
    #[serde(default)]
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
}

/// The ID token's claims the client checks and shows.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IdTokenClaims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "de_audience")]
    pub aud: Vec<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default, deserialize_with = "de_opt_seconds")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_seconds")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
}

/// `session.user`: who signed in, from the verified ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

/// A compact JWS taken apart: the binding `JSON.parse`s the header and the
/// payload, and verifies `signature` over `signing_input`.
#[derive(Debug)]
pub struct IdTokenParts<'a> {
    pub header_json: String,
    pub payload_json: String,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

fn invalid(check: &str) -> Error {
    let mut message = String::from("the ID token was refused: ");
    message.push_str(check);
    Error::new(ErrorKind::InvalidIdToken, message)
}

/// Splits a compact JWS (three base64url parts, JSON header and payload).
pub fn split_id_token(token: &str) -> Result<IdTokenParts<'_>> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(|| invalid("not a signed JWT"))?;
    let (header, payload) = signing_input.split_once('.').ok_or_else(|| invalid("not a signed JWT"))?;
    let text = |part: &str| base64url_decode(part).and_then(|b| String::from_utf8(b).ok());
    let (header_json, payload_json) = text(header).zip(text(payload)).ok_or_else(|| invalid("not a signed JWT"))?;
    let signature = base64url_decode(signature).filter(|s| !s.is_empty()).ok_or_else(|| invalid("no signature"))?;
    Ok(IdTokenParts { header_json, payload_json, signing_input, signature })
}

/// The algorithm to verify with and the index in `keys` of the one key
/// that may verify it. With a `kid`, the key of that id; without, the only
/// key that fits (several would make the choice the attacker's).
pub fn choose_key(header: &IdTokenHeader, keys: &[JwkInfo], signature_len: usize) -> Result<(IdTokenAlg, usize)> {
    if header.crit.is_some() {
        return Err(invalid("the header has critical extensions"));
    }
    let alg = header.alg.as_deref().and_then(IdTokenAlg::from_name).ok_or_else(|| invalid("its alg is not RS256, PS256 or ES256"))?;
    if alg == IdTokenAlg::Es256 && signature_len != 64 {
        return Err(invalid("an ES256 signature is 64 bytes"));
    }
    let usable = |k: &&JwkInfo| {
        alg.fits(k) && k.use_.as_deref().is_none_or(|u| u == "sig") && k.alg.as_deref().is_none_or(|a| a == alg.name())
    };
    let mut candidates = keys.iter().enumerate().filter(|(_, k)| usable(k));
    let found = match header.kid.as_deref() {
        Some(kid) => candidates.find(|(_, k)| k.kid.as_deref() == Some(kid)),
        None => candidates.next().filter(|_| keys.iter().filter(usable).count() == 1),
    };
    found.map(|(i, _)| (alg, i)).ok_or_else(|| invalid("no key of the provider's JWKS fits its kid and alg"))
}

/// The meaning of WebCrypto's `verify` answer.
pub fn signature_verdict(verified: bool) -> Result<()> {
    if verified {
        Ok(())
    } else {
        Err(invalid("its signature does not verify with the provider's key"))
    }
}

/// The nonce an ID token must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nonce<'a> {
    /// The login's (authorization code): the token must carry exactly it.
    Sent(&'a str),
    /// The device authorization grant (RFC 8628) has no authorization
    /// request, so no nonce was sent and none is checked; every other
    /// claim is.
    NoneSent,
}

/// Checks the claims of a token whose signature verified, and returns the
/// user. `issuer` is the client's (normalized, no trailing slash).
pub fn check_claims(claims: &IdTokenClaims, issuer: &str, client_id: &str, nonce: Nonce<'_>, now_ms: i64) -> Result<User> {
    let now = now_ms.div_euclid(1000);
    if claims.iss.as_deref().map(|i| i.trim_end_matches('/')) != Some(issuer.trim_end_matches('/')) {
        return Err(invalid("iss is not the issuer"));
    }
    if !claims.aud.iter().any(|a| a == client_id) {
        return Err(invalid("aud does not contain the client id"));
    }
    let azp_ok = match claims.azp.as_deref() {
        Some(azp) => azp == client_id,
        None => claims.aud.len() == 1,
    };
    if !azp_ok {
        return Err(invalid("azp is not the client id"));
    }
    match claims.exp {
        Some(exp) if now < exp.saturating_add(ID_TOKEN_LEEWAY_SECS) => {}
        _ => return Err(invalid("it has expired (exp)")),
    }
    match claims.iat {
        Some(iat) if iat <= now.saturating_add(MAX_IAT_AHEAD_SECS) => {}
        _ => return Err(invalid("iat is missing or in the future")),
    }
    if let Nonce::Sent(nonce) = nonce {
        if nonce.is_empty() || claims.nonce.as_deref() != Some(nonce) {
            return Err(invalid("nonce is not the login's"));
        }
    }
    let sub = claims.sub.clone().filter(|s| !s.is_empty()).ok_or_else(|| invalid("sub is missing"))?;
    Ok(User { sub, name: claims.name.clone(), email: claims.email.clone(), picture: claims.picture.clone() })
}

/// `aud` is one string or an array of strings (RFC 7519 §4.1.3).
fn de_audience<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(v) => v,
    })
}

#[cfg(test)]
#[path = "id_token_tests.rs"]
mod tests;
