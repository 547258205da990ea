//! What the token endpoint said: the reply shapes, the classification of
//! error responses, `Retry-After`, and the backoff every retry loop uses.
//! (Request bodies are built by the JavaScript layer, `pkg-template/provider.js`.)

use serde::Deserialize;

use crate::error::{Error, ErrorKind, RequestContext};

use super::token::{JwtClaims, TokenResponse};

/// An OAuth error body (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OAuthErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// A token-endpoint response as the binding parsed it: JSON-parse the body,
/// then try [`TokenResponse`], then [`OAuthErrorBody`], else `Unparseable`.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenReply {
    Tokens(TokenResponse),
    Error(OAuthErrorBody),
    /// Not JSON, or JSON of neither shape.
    Unparseable,
}

/// One answer of the token endpoint, as the refresh and device-flow state
/// machines take it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenAnswer {
    pub status: u16,
    pub reply: TokenReply,
    /// `Retry-After` in ms from now (see [`retry_after_ms`]).
    pub retry_after_ms: Option<i64>,
    /// Unverified claims of the new access token; needed only when the
    /// response has no `expires_in` ([`TokenResponse::needs_jwt_claims`]).
    pub claims: Option<JwtClaims>,
}

impl TokenAnswer {
    pub fn new(status: u16, reply: TokenReply) -> Self {
        TokenAnswer { status, reply, retry_after_ms: None, claims: None }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The OAuth `error` code, if the body carried one.
    pub fn oauth_error(&self) -> Option<&str> {
        match &self.reply {
            TokenReply::Error(e) => Some(e.error.as_str()),
            _ => None,
        }
    }
}

/// How a failed token-endpoint answer should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// May pass: 5xx, 429, 408, `temporarily_unavailable`, `slow_down`.
    Transient,
    /// The grant is dead (`invalid_grant`): end the session, never retry.
    GrantInvalid,
    /// Will not pass by retrying (bad client, scope, request).
    Permanent,
}

/// Classifies a non-2xx answer of the token endpoint.
pub fn classify(status: u16, oauth_error: Option<&str>) -> ErrorClass {
    match oauth_error {
        Some("invalid_grant") | Some("invalid_token") => return ErrorClass::GrantInvalid,
        Some("temporarily_unavailable") | Some("slow_down") => return ErrorClass::Transient,
        _ => {}
    }
    match status {
        408 | 429 | 500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// A human message plus context for a token-endpoint failure. Only the
/// OAuth `error` code is kept (not the description), and only if it looks
/// like a code, so nothing the server echoes reaches a message.
pub fn token_endpoint_error(kind: ErrorKind, what: &str, status: Option<u16>, oauth_error: Option<&str>) -> Error {
    let code = oauth_error.filter(|c| is_error_code(c));
    let mut message = String::from(what);
    if let Some(s) = status {
        message.push_str(" (HTTP ");
        message.push_str(itoa(s as i64).as_str());
        if super::request::is_redirect(s) {
            message.push_str(super::request::REDIRECT_NOT_FOLLOWED);
        }
        message.push(')');
    }
    if let Some(c) = code {
        message.push_str(": ");
        message.push_str(c);
    }
    Error::new(kind, message).with_context(RequestContext {
        method: "POST".into(),
        path: "token endpoint".into(),
        status,
        oauth_error: code.map(str::to_owned),
        ..RequestContext::default()
    })
}

fn is_error_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// Integer to decimal without `core::fmt` (keeps the browser build small).
pub(crate) fn itoa(mut v: i64) -> String {
    if v == 0 {
        return "0".into();
    }
    let neg = v < 0;
    let mut digits = Vec::with_capacity(20);
    while v != 0 {
        digits.push(b'0' + (v % 10).unsigned_abs() as u8);
        v /= 10;
    }
    if neg {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// `Retry-After` as milliseconds from `now_ms`: delta-seconds or an
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). A date in the past gives 0;
/// anything else gives `None`. Capped at one day.
pub fn retry_after_ms(header: &str, now_ms: i64) -> Option<i64> {
    let h = header.trim();
    let ms = if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()) {
        h.parse::<i64>().unwrap_or(i64::MAX).saturating_mul(1000)
    } else {
        (parse_imf_fixdate(h)? * 1000 - now_ms).max(0)
    };
    Some(ms.min(86_400_000))
}

/// Unix seconds of an IMF-fixdate, the preferred HTTP-date form (RFC 9110).
pub fn parse_imf_fixdate(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
    };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == s.get(8..11).unwrap_or(""))? as i64 + 1;
    let (day, year) = (num(5..7)?, num(12..16)?);
    let (hh, mm, ss) = (num(17..19)?, num(20..22)?, num(23..25)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// True when a failed fetch's error code proves the request never reached
/// the server, so a refresh token in it was not spent and may be re-sent
/// (see [`crate::client::refresh::Session::on_network_error`]). The codes are
/// Node's (`err.cause.code` of undici's `TypeError: fetch failed`); browsers
/// give no code, so their network errors count as "maybe sent".
pub fn is_unsent_network_error(code: &str) -> bool {
    matches!(
        code,
        "ECONNREFUSED" | "ENOTFOUND" | "EAI_AGAIN" | "EHOSTUNREACH" | "ENETUNREACH" | "EADDRNOTAVAIL" | "UND_ERR_CONNECT_TIMEOUT"
    )
}

/// Exponential backoff with "equal jitter": half of `base * 2^attempt`
/// (capped at `max_ms`) plus a random share of the other half. `jitter` is
/// a uniform random number in `[0, 1)` from the binding.
pub fn backoff_ms(attempt: u32, base_ms: i64, max_ms: i64, jitter: f64) -> i64 {
    let exp = base_ms.saturating_mul(1i64 << attempt.min(30)).min(max_ms);
    let half = exp / 2;
    let j = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.5 };
    half + (half as f64 * j) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_rfc_codes_and_statuses() {
        assert_eq!(classify(400, Some("invalid_grant")), ErrorClass::GrantInvalid);
        assert_eq!(classify(401, Some("invalid_token")), ErrorClass::GrantInvalid);
        assert_eq!(classify(400, Some("invalid_client")), ErrorClass::Permanent);
        assert_eq!(classify(400, Some("invalid_scope")), ErrorClass::Permanent);
        assert_eq!(classify(503, Some("temporarily_unavailable")), ErrorClass::Transient);
        assert_eq!(classify(429, None), ErrorClass::Transient);
        assert_eq!(classify(500, None), ErrorClass::Transient);
        assert_eq!(classify(502, Some("whatever")), ErrorClass::Transient);
        assert_eq!(classify(400, None), ErrorClass::Permanent);
        assert_eq!(classify(404, None), ErrorClass::Permanent);
    }

    #[test]
    fn error_messages_keep_only_code_shaped_oauth_errors() {
        let e = token_endpoint_error(ErrorKind::SessionEnded, "refresh rejected", Some(400), Some("invalid_grant"));
        assert_eq!(e.to_string(), "refresh rejected (HTTP 400): invalid_grant");
        assert_eq!(e.context().unwrap().oauth_error.as_deref(), Some("invalid_grant"));
        let e = token_endpoint_error(ErrorKind::RefreshFailed, "x", None, Some("token eyJabc.def leaked"));
        assert_eq!(e.to_string(), "x");
        assert_eq!(e.context().unwrap().oauth_error, None);
    }

    #[test]
    fn itoa_formats_integers() {
        assert_eq!(itoa(0), "0");
        assert_eq!(itoa(429), "429");
        assert_eq!(itoa(-17), "-17");
        assert_eq!(itoa(i64::MIN), i64::MIN.to_string());
    }

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = 784_111_777_000; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(retry_after_ms("120", now), Some(120_000));
        assert_eq!(retry_after_ms(" 0 ", now), Some(0));
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:50:07 GMT", now), Some(30_000));
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(0));
        assert_eq!(retry_after_ms("99999999999999999999", now), Some(86_400_000));
        for bad in ["", "-5", "1.5", "soon", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"] {
            assert_eq!(retry_after_ms(bad, now), None, "{bad}");
        }
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_imf_fixdate("Tue, 29 Feb 2028 12:00:00 GMT"), Some(1_835_438_400));
    }

    #[test]
    fn only_connection_setup_failures_count_as_unsent() {
        assert!(is_unsent_network_error("ECONNREFUSED"));
        assert!(is_unsent_network_error("UND_ERR_CONNECT_TIMEOUT"));
        for maybe in ["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT", "", "econnrefused"] {
            assert!(!is_unsent_network_error(maybe), "{maybe}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        assert_eq!(backoff_ms(0, 500, 10_000, 0.0), 250);
        assert_eq!(backoff_ms(0, 500, 10_000, 0.999_999), 499);
        assert_eq!(backoff_ms(1, 500, 10_000, 0.0), 500);
        assert_eq!(backoff_ms(3, 500, 10_000, 0.5), 3_000);
        assert_eq!(backoff_ms(10, 500, 10_000, 0.0), 5_000);
        assert_eq!(backoff_ms(63, 500, 10_000, 1.0), 10_000);
        assert_eq!(backoff_ms(2, 500, 10_000, f64::NAN), 1_500);
    }
}
