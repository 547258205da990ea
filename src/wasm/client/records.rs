//! The provider's and storage's JSON records, read from parsed JavaScript
//! objects with `Reflect` into the core's types. (serde-wasm-bindgen did the
//! same, at about a fifth of the browser bundle.)

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::convert::{get, parse_json, seconds_prop, set, string_prop};
use crate::client::pending_login::PendingLogin;
use crate::client::{decode_jwt_payload, retry_after_ms, DeviceAuthorization, JwtClaims, OAuthErrorBody, PollState, StoredSession, TokenAnswer, TokenReply, TokenResponse};
use crate::secret::{AccessToken, DeviceCode, RefreshToken};

/// A token response (RFC 6749 §5.1); `None` without a string `access_token`
/// or with a malformed `expires_in`.
pub fn token_response(v: &JsValue) -> Option<TokenResponse> {
    Some(TokenResponse {
        access_token: AccessToken::new(string_prop(v, "access_token")?),
        token_type: string_prop(v, "token_type"),
        expires_in: seconds_prop(v, "expires_in").ok()?,
        refresh_token: string_prop(v, "refresh_token").map(RefreshToken::new),
        scope: string_prop(v, "scope"),
    })
}

/// An OAuth error body (RFC 6749 §5.2).
pub fn oauth_error(v: &JsValue) -> Option<OAuthErrorBody> {
    Some(OAuthErrorBody { error: string_prop(v, "error")?, error_description: string_prop(v, "error_description") })
}

/// A device authorization response (RFC 8628 §3.2).
pub fn device_authorization(v: &JsValue) -> Option<DeviceAuthorization> {
    Some(DeviceAuthorization {
        device_code: DeviceCode::new(string_prop(v, "device_code")?),
        user_code: string_prop(v, "user_code")?,
        verification_uri: string_prop(v, "verification_uri")?,
        verification_uri_complete: string_prop(v, "verification_uri_complete"),
        expires_in: seconds_prop(v, "expires_in").ok()??,
        interval: seconds_prop(v, "interval").ok()?,
    })
}

/// A JWT payload's claims (unverified; never used for trust).
pub fn jwt_claims(v: &JsValue) -> Option<JwtClaims> {
    if !v.is_object() {
        return None;
    }
    Some(JwtClaims {
        exp: seconds_prop(v, "exp").ok()?,
        iat: seconds_prop(v, "iat").ok()?,
        sub: string_prop(v, "sub"),
    })
}

/// A stored session; `None` when the record is not one.
pub fn stored_session(v: &JsValue) -> Option<StoredSession> {
    let int = |key: &str| get(v, key).as_f64().filter(|n| n.fract() == 0.0).map(|n| n as i64);
    let refresh = get(v, "refreshToken");
    let expires = get(v, "expiresAt");
    Some(StoredSession {
        v: int("v")?.clamp(0, u32::MAX as i64) as u32,
        issuer: string_prop(v, "issuer")?,
        client_id: string_prop(v, "clientId")?,
        access_token: string_prop(v, "accessToken")?,
        refresh_token: if refresh.is_undefined() || refresh.is_null() { None } else { Some(refresh.as_string()?) },
        expires_at: if expires.is_undefined() || expires.is_null() { None } else { Some(int("expiresAt")?) },
        received_at: int("receivedAt")?,
        id_token: string_prop(v, "idToken"),
    })
}

/// The object `JSON.stringify` turns into the stored record.
pub fn stored_session_js(s: &StoredSession) -> JsValue {
    let o = Object::new();
    set(&o, "v", &JsValue::from_f64(s.v as f64));
    set(&o, "issuer", &JsValue::from_str(&s.issuer));
    set(&o, "clientId", &JsValue::from_str(&s.client_id));
    set(&o, "accessToken", &JsValue::from_str(&s.access_token));
    if let Some(r) = &s.refresh_token {
        set(&o, "refreshToken", &JsValue::from_str(r));
    }
    if let Some(e) = s.expires_at {
        set(&o, "expiresAt", &JsValue::from_f64(e as f64));
    }
    set(&o, "receivedAt", &JsValue::from_f64(s.received_at as f64));
    if let Some(t) = &s.id_token {
        set(&o, "idToken", &JsValue::from_str(t));
    }
    o.into()
}

/// A persisted pending device login (`client::pending_login`): the device
/// authorization's own fields beside `v`, `issuer`, `clientId`, `startedAt`.
pub fn pending_login(v: &JsValue) -> Option<PendingLogin> {
    let int = |key: &str| get(v, key).as_f64().filter(|n| n.fract() == 0.0).map(|n| n as i64);
    Some(PendingLogin {
        v: int("v")?.clamp(0, u32::MAX as i64) as u32,
        issuer: string_prop(v, "issuer")?,
        client_id: string_prop(v, "clientId")?,
        started_at_ms: int("startedAt")?,
        authorization: device_authorization(v)?,
        poll: match (int("pollIntervalMs"), int("nextPollAt")) {
            (Some(interval_ms), Some(next_poll_at_ms)) => {
                Some(PollState { interval_ms, next_poll_at_ms, failures: int("pollFailures").unwrap_or(0).clamp(0, u32::MAX as i64) as u32 })
            }
            _ => None,
        },
    })
}

/// The object `JSON.stringify` turns into the pending login's record.
pub fn pending_login_js(p: &PendingLogin) -> JsValue {
    let o = Object::new();
    let a = &p.authorization;
    set(&o, "v", &JsValue::from_f64(p.v as f64));
    set(&o, "issuer", &JsValue::from_str(&p.issuer));
    set(&o, "clientId", &JsValue::from_str(&p.client_id));
    set(&o, "startedAt", &JsValue::from_f64(p.started_at_ms as f64));
    set(&o, "device_code", &JsValue::from_str(a.device_code.secret()));
    set(&o, "user_code", &JsValue::from_str(&a.user_code));
    set(&o, "verification_uri", &JsValue::from_str(&a.verification_uri));
    if let Some(u) = &a.verification_uri_complete {
        set(&o, "verification_uri_complete", &JsValue::from_str(u));
    }
    set(&o, "expires_in", &JsValue::from_f64(a.expires_in as f64));
    if let Some(i) = a.interval {
        set(&o, "interval", &JsValue::from_f64(i as f64));
    }
    if let Some(poll) = p.poll {
        set(&o, "pollIntervalMs", &JsValue::from_f64(poll.interval_ms as f64));
        set(&o, "nextPollAt", &JsValue::from_f64(poll.next_poll_at_ms as f64));
        set(&o, "pollFailures", &JsValue::from_f64(poll.failures as f64));
    }
    o.into()
}

/// The unverified claims of a JWT access token (`None` for opaque tokens).
pub fn claims_of(token: &str) -> Option<JwtClaims> {
    jwt_claims(&parse_json(&decode_jwt_payload(token)?)?)
}

/// A token endpoint's answer as the core takes it: `body` is the parsed
/// JSON (or `undefined`), `retry_after` the raw header.
pub fn token_answer(status: u16, body: &JsValue, retry_after: Option<String>, now_ms: i64) -> TokenAnswer {
    let reply = if !body.is_object() {
        TokenReply::Unparseable
    } else if let Some(tokens) = (200..300).contains(&status).then(|| token_response(body)).flatten() {
        TokenReply::Tokens(tokens)
    } else {
        oauth_error(body).map(TokenReply::Error).unwrap_or(TokenReply::Unparseable)
    };
    let claims = match &reply {
        TokenReply::Tokens(t) if t.needs_jwt_claims() => claims_of(t.access_token.secret()),
        _ => None,
    };
    TokenAnswer { status, reply, retry_after_ms: retry_after.and_then(|h| retry_after_ms(&h, now_ms)), claims }
}
