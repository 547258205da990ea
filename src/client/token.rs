//! Token responses and the token set a session holds, with the expiry math.
//!
//! Expiry is `received_at + expires_in`, where `received_at` is the local
//! clock when the response arrived, so a skewed client clock does not
//! matter. The JWT is used only when `expires_in` is absent (or 0, which no
//! freshly issued token can mean; some providers send it for "not said",
//! and taking it literally would refresh on every call): its lifetime
//! `exp - iat` from the receipt time, or `exp` as-is without `iat` (see
//! `expiry_from_claims` for a skewed clock). With neither, the expiry is
//! [`ExpirySource::Unknown`]: the token is served until the API answers 401,
//! which triggers a refresh (see [`crate::client::refresh::Session::force_refresh`]);
//! no made-up lifetime causes refreshes or rejections of a valid token.

use serde::{Deserialize, Deserializer};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::{AccessToken, RefreshToken};

/// The token endpoint's success body (RFC 6749 §5.1). `expires_in` may be a
/// number or a numeric string (some providers send strings) or absent. The
/// `id_token` is deliberately not kept: the client needs none of it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenResponse {
    #[serde(deserialize_with = "de_access")]
    pub access_token: AccessToken,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default, deserialize_with = "de_opt_seconds")]
    pub expires_in: Option<i64>,
    #[serde(default, deserialize_with = "de_refresh")]
    pub refresh_token: Option<RefreshToken>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// The unverified JWT claims the client uses. The binding fills it with
/// `JSON.parse` of [`decode_jwt_payload`]'s output and serde-wasm-bindgen, so
/// the browser build needs no JSON parser of its own. Never used for trust.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JwtClaims {
    #[serde(default, deserialize_with = "de_opt_seconds")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_seconds")]
    pub iat: Option<i64>,
    #[serde(default)]
    pub sub: Option<String>,
}

/// Unix seconds as a token's `exp` and `iat` and `expiresAt` carry them:
/// ten digits (2001 to 2286). More is a time in milliseconds, which read
/// as seconds would put the expiry some 50,000 years out and turn off
/// proactive refresh; fewer is a duration, not a point in time.
pub const UNIX_SECS: std::ops::RangeInclusive<i64> = 1_000_000_000..=9_999_999_999;

impl JwtClaims {
    /// `exp` when it is Unix seconds ([`UNIX_SECS`]); another magnitude says
    /// nothing the client can trust, so the expiry is then unknown (the
    /// token is served until a 401) rather than guessed.
    pub fn exp_secs(&self) -> Option<i64> {
        self.exp.filter(|s| UNIX_SECS.contains(s))
    }

    fn iat_secs(&self) -> Option<i64> {
        self.iat.filter(|s| UNIX_SECS.contains(s))
    }
}

/// Where a token set's expiry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirySource {
    /// `received_at + expires_in` (local clock; skew-proof).
    ExpiresIn,
    /// The JWT: receipt + `exp - iat`, or `exp` as-is without `iat`.
    JwtExp,
    /// Set by the application or the environment (`expiresAt`).
    Explicit,
    /// Nothing known: served until a 401.
    Unknown,
}

/// The tokens a session holds. Times are Unix milliseconds on the local clock.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    /// Local clock when the response arrived (or the session was set).
    pub received_at_ms: i64,
    /// When the access token expires; `None` if unknown.
    pub expires_at_ms: Option<i64>,
    pub expiry_source: ExpirySource,
    pub scope: Option<String>,
}

impl TokenSet {
    /// Builds the set from a token response that arrived at `now_ms`.
    /// `claims` are the access token's unverified claims (only needed when
    /// `expires_in` is absent; see [`TokenResponse::needs_jwt_claims`]).
    /// `previous_refresh` is kept when a refresh response carries none.
    pub fn from_response(
        response: TokenResponse,
        claims: Option<&JwtClaims>,
        previous_refresh: Option<RefreshToken>,
        now_ms: i64,
    ) -> Result<TokenSet> {
        response.check()?;
        let (expires_at_ms, expiry_source) = match response.lifetime_secs() {
            Some(secs) => (Some(now_ms.saturating_add(secs.saturating_mul(1000))), ExpirySource::ExpiresIn),
            None => expiry_from_claims(claims, now_ms),
        };
        Ok(TokenSet {
            access_token: response.access_token,
            refresh_token: response.refresh_token.or(previous_refresh),
            received_at_ms: now_ms,
            expires_at_ms,
            expiry_source,
            scope: response.scope,
        })
    }

    /// A session given by the application (`setSession`) or the environment.
    /// `expires_at_secs` is Unix seconds, as `MESH_TOKEN_EXPIRES_AT`.
    pub fn explicit(
        access_token: AccessToken,
        refresh_token: Option<RefreshToken>,
        expires_at_secs: Option<i64>,
        now_ms: i64,
    ) -> TokenSet {
        TokenSet {
            access_token,
            refresh_token,
            received_at_ms: now_ms,
            expires_at_ms: expires_at_secs.map(|s| s.saturating_mul(1000)),
            expiry_source: if expires_at_secs.is_some() { ExpirySource::Explicit } else { ExpirySource::Unknown },
            scope: None,
        }
    }

    /// Lifetime as the client saw it (expiry minus receipt), at least 0.
    pub fn lifetime_ms(&self) -> Option<i64> {
        self.expires_at_ms.map(|e| (e - self.received_at_ms).max(0))
    }

    /// The leeway actually used: `min(configured, lifetime / 2)`, so a 5 s
    /// token is refreshed after 2.5 s, not on every call.
    pub fn effective_leeway_ms(&self, leeway_secs: i64) -> i64 {
        let configured = leeway_secs.max(0).saturating_mul(1000);
        match self.lifetime_ms() {
            Some(lifetime) => configured.min(lifetime / 2),
            None => configured,
        }
    }

    /// When a proactive refresh becomes due; `None` when the expiry is unknown.
    pub fn refresh_due_at_ms(&self, leeway_secs: i64) -> Option<i64> {
        self.expires_at_ms.map(|e| e - self.effective_leeway_ms(leeway_secs))
    }

    /// True once `now` is within the effective leeway of the expiry.
    pub fn needs_refresh(&self, now_ms: i64, leeway_secs: i64) -> bool {
        self.refresh_due_at_ms(leeway_secs).is_some_and(|due| now_ms >= due)
    }

    /// True once the access token has expired. Unknown expiry never expires.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|e| now_ms >= e)
    }

    /// Whole seconds left (negative once expired), if known.
    pub fn remaining_secs(&self, now_ms: i64) -> Option<i64> {
        self.expires_at_ms.map(|e| (e - now_ms).div_euclid(1000))
    }

    /// The expiry in Unix seconds (rounded down), as `expiresAt` in events,
    /// `setSession` and `MESH_TOKEN_EXPIRES_AT`.
    pub fn expires_at_secs(&self) -> Option<i64> {
        self.expires_at_ms.map(unix_secs)
    }

    /// Whole seconds since the token was received.
    pub fn age_secs(&self, now_ms: i64) -> i64 {
        (now_ms - self.received_at_ms).div_euclid(1000)
    }
}

/// Expiry from the JWT when `expires_in` is absent. With `iat` too, the
/// lifetime `exp - iat` (both on the server's clock) is applied to the local
/// receipt time, which is as skew-proof as `expires_in`. With `exp` alone it
/// is used as-is, unless our clock already says it passed: a token the
/// server just issued is not expired, so the clock is skewed and the expiry
/// is treated as unknown (served until a 401) instead of causing a refresh
/// on every call.
fn expiry_from_claims(claims: Option<&JwtClaims>, now_ms: i64) -> (Option<i64>, ExpirySource) {
    let Some(exp) = claims.and_then(JwtClaims::exp_secs) else { return (None, ExpirySource::Unknown) };
    match claims.and_then(JwtClaims::iat_secs) {
        Some(iat) if exp > iat => (Some(now_ms.saturating_add((exp - iat).saturating_mul(1000))), ExpirySource::JwtExp),
        _ if exp.saturating_mul(1000) > now_ms => (Some(exp.saturating_mul(1000)), ExpirySource::JwtExp),
        _ => (None, ExpirySource::Unknown),
    }
}

impl TokenResponse {
    /// True when expiry must come from the JWT `exp` claim.
    pub fn needs_jwt_claims(&self) -> bool {
        self.lifetime_secs().is_none()
    }

    /// `expires_in` when it says something: a lifetime of 0 is read as
    /// absent (see the module's notes).
    pub fn lifetime_secs(&self) -> Option<i64> {
        self.expires_in.filter(|&s| s > 0)
    }

    /// Protocol sanity: a non-empty token of type Bearer (or no type), a
    /// non-negative lifetime.
    pub fn check(&self) -> Result<()> {
        let invalid = |m: &str| Err(Error::new(ErrorKind::InvalidResponse, m));
        if self.access_token.secret().is_empty() {
            return invalid("token response has an empty access_token");
        }
        // It travels in an `Authorization` header: one that cannot would
        // fail every call later, as if the network did, with the header's
        // value (the token) in the runtime's message.
        if !self.access_token.secret().bytes().all(|b| b.is_ascii_graphic()) {
            return invalid("token response has an access_token that is not printable ASCII without spaces");
        }
        if let Some(t) = &self.token_type {
            if !t.eq_ignore_ascii_case("bearer") {
                return invalid("token response has a token_type other than Bearer");
            }
        }
        if self.expires_in.is_some_and(|s| s < 0) {
            return invalid("token response has a negative expires_in");
        }
        if self.refresh_token.as_ref().is_some_and(|r| r.secret().is_empty()) {
            return invalid("token response has an empty refresh_token");
        }
        Ok(())
    }
}

/// Decodes the payload (middle part) of a JWT without verifying anything,
/// returning its JSON text. `None` if the token is not a three-part JWT with
/// a base64url payload.
pub fn decode_jwt_payload(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    String::from_utf8(base64url_decode(payload)?).ok()
}

/// Unpadded (or padded) base64url decoding; `None` on any invalid input.
pub fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let input = input.trim_end_matches('=');
    if input.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in input.bytes() {
        acc = (acc << 6) | base64url_value(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn base64url_value(b: u8) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    } as u32)
}

fn de_access<'de, D: Deserializer<'de>>(d: D) -> Result<AccessToken, D::Error> {
    String::deserialize(d).map(AccessToken::new)
}

fn de_refresh<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RefreshToken>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(RefreshToken::new))
}

/// A number of seconds given as an integer, a float (truncated) or a
/// numeric string; `null` counts as absent.
pub(crate) fn de_opt_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number of seconds")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() {
                Ok(Some(v as i64))
            } else {
                Err(E::custom("seconds must be finite"))
            }
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse::<i64>().map(Some).map_err(|_| E::custom("seconds must be numeric"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_any(V)
}

/// Unix seconds from Unix milliseconds, rounded down (also before 1970): the
/// one rounding every `expiresAt`/`receivedAt` the SDK reports uses.
pub fn unix_secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn response(json: &str) -> TokenResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn expiry_comes_from_expires_in_against_the_local_clock() {
        let r = response(r#"{"access_token":"a","token_type":"Bearer","expires_in":300,"refresh_token":"r"}"#);
        let claims = JwtClaims { exp: Some(1), ..JwtClaims::default() };
        let ts = TokenSet::from_response(r, Some(&claims), None, T0).unwrap();
        assert_eq!(ts.expires_at_ms, Some(T0 + 300_000));
        assert_eq!(ts.expiry_source, ExpirySource::ExpiresIn);
        assert_eq!(ts.refresh_token.as_ref().unwrap().secret(), "r");
    }

    #[test]
    fn zero_expires_in_is_read_as_absent() {
        let r = response(r#"{"access_token":"a","expires_in":0}"#);
        assert!(r.needs_jwt_claims());
        let claims = JwtClaims { exp: Some(T0 / 1000 + 600), iat: Some(T0 / 1000), ..JwtClaims::default() };
        let ts = TokenSet::from_response(r.clone(), Some(&claims), None, T0).unwrap();
        assert_eq!((ts.expires_at_ms, ts.expiry_source), (Some(T0 + 600_000), ExpirySource::JwtExp));
        let ts = TokenSet::from_response(r, None, None, T0).unwrap();
        assert_eq!((ts.expires_at_ms, ts.expiry_source), (None, ExpirySource::Unknown));
        assert!(!ts.needs_refresh(T0 + 3_600_000, 60), "an opaque token with no lifetime is served until a 401");
    }

    #[test]
    fn skewed_client_clock_does_not_change_the_refresh_moment() {
        // The server's clock says 2023; the client's is an hour ahead. Only
        // elapsed local time matters.
        for skew in [0, 3_600_000, -3_600_000] {
            let now = T0 + skew;
            let r = response(r#"{"access_token":"a","expires_in":600}"#);
            let ts = TokenSet::from_response(r, None, None, now).unwrap();
            assert!(!ts.needs_refresh(now + 539_000, 60));
            assert!(ts.needs_refresh(now + 540_000, 60));
        }
    }

    #[test]
    fn jwt_exp_is_used_only_without_expires_in() {
        let r = response(r#"{"access_token":"a"}"#);
        assert!(r.needs_jwt_claims());
        let claims = JwtClaims { exp: Some(T0 / 1000 + 120), iat: None, sub: None };
        let ts = TokenSet::from_response(r, Some(&claims), None, T0).unwrap();
        assert_eq!(ts.expires_at_ms, Some(T0 + 120_000));
        assert_eq!(ts.expiry_source, ExpirySource::JwtExp);
    }

    #[test]
    fn jwt_lifetime_from_iat_is_applied_to_the_local_clock() {
        // Server clock an hour behind ours: exp is "in the past" for us.
        let server_now = T0 / 1000 - 3600;
        let claims = JwtClaims { exp: Some(server_now + 300), iat: Some(server_now), sub: None };
        let ts = TokenSet::from_response(response(r#"{"access_token":"a"}"#), Some(&claims), None, T0).unwrap();
        assert_eq!(ts.expires_at_ms, Some(T0 + 300_000));
        assert!(!ts.needs_refresh(T0 + 239_999, 60));
    }

    #[test]
    fn jwt_exp_already_past_on_our_clock_without_iat_is_unknown_not_a_refresh_storm() {
        let claims = JwtClaims { exp: Some(T0 / 1000 - 10), iat: None, sub: None };
        let ts = TokenSet::from_response(response(r#"{"access_token":"a"}"#), Some(&claims), None, T0).unwrap();
        assert_eq!(ts.expiry_source, ExpirySource::Unknown);
        assert!(!ts.is_expired(T0) && !ts.needs_refresh(T0, 60));
    }

    #[test]
    fn jwt_times_in_milliseconds_are_unknown_not_fifty_thousand_years() {
        let ms = JwtClaims { exp: Some(T0 + 300_000), iat: None, sub: None };
        let ts = TokenSet::from_response(response(r#"{"access_token":"a"}"#), Some(&ms), None, T0).unwrap();
        assert_eq!((ts.expires_at_ms, ts.expiry_source), (None, ExpirySource::Unknown));
        // Both in milliseconds: their difference read as seconds would be a
        // lifetime a thousand times too long.
        let both = JwtClaims { exp: Some(T0 + 300_000), iat: Some(T0), sub: None };
        let ts = TokenSet::from_response(response(r#"{"access_token":"a"}"#), Some(&both), None, T0).unwrap();
        assert_eq!(ts.expiry_source, ExpirySource::Unknown);
        // `iat` alone in milliseconds: `exp` in seconds is still used as-is.
        let iat_ms = JwtClaims { exp: Some(T0 / 1000 + 300), iat: Some(T0), sub: None };
        let ts = TokenSet::from_response(response(r#"{"access_token":"a"}"#), Some(&iat_ms), None, T0).unwrap();
        assert_eq!(ts.expires_at_ms, Some(T0 + 300_000));
    }

    #[test]
    fn unknown_expiry_never_expires_or_refreshes_proactively() {
        let r = response(r#"{"access_token":"opaque"}"#);
        let ts = TokenSet::from_response(r, None, None, T0).unwrap();
        assert_eq!(ts.expiry_source, ExpirySource::Unknown);
        assert!(!ts.is_expired(T0 + 10 * 86_400_000));
        assert!(!ts.needs_refresh(T0 + 10 * 86_400_000, 60));
        assert_eq!(ts.remaining_secs(T0), None);
    }

    #[test]
    fn refresh_response_without_refresh_token_keeps_the_previous_one() {
        let r = response(r#"{"access_token":"a2","expires_in":60}"#);
        let ts = TokenSet::from_response(r, None, Some(RefreshToken::new("r1")), T0).unwrap();
        assert_eq!(ts.refresh_token.unwrap().secret(), "r1");
        let r = response(r#"{"access_token":"a3","expires_in":60,"refresh_token":"r2"}"#);
        let ts = TokenSet::from_response(r, None, Some(RefreshToken::new("r1")), T0).unwrap();
        assert_eq!(ts.refresh_token.unwrap().secret(), "r2");
    }

    #[test]
    fn leeway_is_capped_at_half_the_lifetime() {
        let short = TokenSet::from_response(response(r#"{"access_token":"a","expires_in":5}"#), None, None, T0).unwrap();
        assert_eq!(short.effective_leeway_ms(60), 2_500);
        assert!(!short.needs_refresh(T0 + 2_499, 60));
        assert!(short.needs_refresh(T0 + 2_500, 60));
        let long = TokenSet::from_response(response(r#"{"access_token":"a","expires_in":3600}"#), None, None, T0).unwrap();
        assert_eq!(long.effective_leeway_ms(60), 60_000);
        assert_eq!(long.refresh_due_at_ms(60), Some(T0 + 3_540_000));
        assert_eq!(long.effective_leeway_ms(0), 0);
    }

    #[test]
    fn remaining_and_age_are_whole_seconds() {
        let ts = TokenSet::explicit(AccessToken::new("a"), None, Some(T0 / 1000 + 10), T0);
        assert_eq!(ts.remaining_secs(T0 + 500), Some(9));
        assert_eq!(ts.expires_at_secs(), Some(T0 / 1000 + 10));
        assert_eq!(ts.remaining_secs(T0 + 10_500), Some(-1));
        assert_eq!(ts.age_secs(T0 + 2_999), 2);
        assert!(ts.is_expired(T0 + 10_000));
        assert!(!ts.is_expired(T0 + 9_999));
    }

    #[test]
    fn expires_in_accepts_strings_floats_and_null() {
        assert_eq!(response(r#"{"access_token":"a","expires_in":"3600"}"#).expires_in, Some(3600));
        assert_eq!(response(r#"{"access_token":"a","expires_in":59.9}"#).expires_in, Some(59));
        assert_eq!(response(r#"{"access_token":"a","expires_in":null}"#).expires_in, None);
        assert!(serde_json::from_str::<TokenResponse>(r#"{"access_token":"a","expires_in":"soon"}"#).is_err());
        assert!(serde_json::from_str::<TokenResponse>(r#"{"token_type":"Bearer"}"#).is_err());
    }

    #[test]
    fn protocol_violations_are_invalid_responses() {
        for json in [
            r#"{"access_token":""}"#,
            r#"{"access_token":"a","token_type":"mac"}"#,
            r#"{"access_token":"a","expires_in":-5}"#,
            r#"{"access_token":"a","refresh_token":""}"#,
            r#"{"access_token":"SECRET\r\nX: 1"}"#,
            r#"{"access_token":"two words"}"#,
            r#"{"access_token":"caf\u00e9"}"#,
        ] {
            let e = TokenSet::from_response(response(json), None, None, T0).unwrap_err();
            assert_eq!(e.code(), "invalid_response", "{json}");
            assert!(!e.message().contains("SECRET"), "the token is not quoted");
        }
        assert!(response(r#"{"access_token":"a","token_type":"bearer"}"#).check().is_ok());
    }

    #[test]
    fn jwt_payload_is_decoded_without_verification() {
        // {"sub":"u1","exp":1700000120} with and without padding.
        let payload = "eyJzdWIiOiJ1MSIsImV4cCI6MTcwMDAwMDEyMH0";
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        let json = decode_jwt_payload(&token).unwrap();
        assert_eq!(json, r#"{"sub":"u1","exp":1700000120}"#);
        let claims: JwtClaims = serde_json::from_str(&json).unwrap();
        assert_eq!(claims.exp, Some(1_700_000_120));
        assert_eq!(claims.sub.as_deref(), Some("u1"));
        assert_eq!(decode_jwt_payload(&format!("h.{payload}=.s")).as_deref(), Some(json.as_str()));
        assert_eq!(decode_jwt_payload("opaque-token"), None);
        assert_eq!(decode_jwt_payload("a.b.c.d"), None);
        assert_eq!(decode_jwt_payload("a.b+c.d"), None);
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url_decode("").unwrap(), b"");
        assert_eq!(base64url_decode("Zg").unwrap(), b"f");
        assert_eq!(base64url_decode("Zm8").unwrap(), b"fo");
        assert_eq!(base64url_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64url_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(base64url_decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(base64url_decode("Z"), None);
        assert_eq!(base64url_decode("Zm9v/w"), None);
    }

    #[test]
    fn debug_of_a_token_set_shows_no_secret() {
        let ts = TokenSet::explicit(AccessToken::new("SECRET-A"), Some(RefreshToken::new("SECRET-R")), None, T0);
        let dbg = format!("{ts:?}");
        assert!(!dbg.contains("SECRET"), "{dbg}");
    }
}
