//! Token-endpoint answers as the client core takes them (`client::token`,
//! `client::oauth`): the success body (`TokenResponse`), the OAuth error
//! body, the unverified JWT claims read when `expires_in` is absent, and
//! what the refresh machine and the device poller make of the whole answer.
//!
//! Input: two bytes of HTTP status, then `Retry-After` text, NUL, body text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::device::{DeviceAuthorization, DevicePoller, DeviceStep};
use mesh_sdk::client::oauth::retry_after_ms;
use mesh_sdk::client::token::{ExpirySource, TokenSet};
use mesh_sdk::client::{
    decode_jwt_payload, JwtClaims, OAuthErrorBody, RefreshOutcome, RefreshPolicy, SendStep, Session, TokenAnswer,
    TokenReply, TokenResponse, TokenStep,
};
use mesh_sdk::secret::{AccessToken, RefreshToken};
use mesh_sdk::{Error, ErrorKind};
use mesh_sdk_fuzz::{assert_code, assert_not_leaked, fields, NOW_MS, NOW_SECS};

/// The binding's reading of a body: tokens, else an OAuth error, else neither.
fn reply(body: &str) -> TokenReply {
    if let Ok(t) = serde_json::from_str::<TokenResponse>(body) {
        TokenReply::Tokens(t)
    } else if let Ok(e) = serde_json::from_str::<OAuthErrorBody>(body) {
        TokenReply::Error(e)
    } else {
        TokenReply::Unparseable
    }
}

fn claims_of(reply: &TokenReply) -> Option<JwtClaims> {
    match reply {
        TokenReply::Tokens(t) if t.needs_jwt_claims() => {
            serde_json::from_str(&decode_jwt_payload(t.access_token.secret())?).ok()
        }
        _ => None,
    }
}

/// An error shown to the application: a stable code, and nothing the
/// server wrote in `error_description` (it may echo anything).
fn check_error(e: &Error, answer: &TokenAnswer) {
    assert_code(e.code());
    if let TokenReply::Error(body) = &answer.reply {
        if let Some(d) = &body.error_description {
            let mut text = e.message().to_string();
            let mut cause = e.cause();
            while let Some(c) = cause {
                text.push_str(c.message());
                cause = c.cause();
            }
            assert_not_leaked(&text, d, &[&body.error]);
        }
    }
}

fn token_set(answer: &TokenAnswer) {
    let TokenReply::Tokens(resp) = &answer.reply else { return };
    match TokenSet::from_response(resp.clone(), answer.claims.as_ref(), None, NOW_MS) {
        Ok(ts) => {
            assert!(resp.check().is_ok());
            assert_eq!(ts.access_token.secret(), resp.access_token.secret());
            assert_eq!(ts.expires_at_ms.is_none(), ts.expiry_source == ExpirySource::Unknown);
            // A token that just arrived has life left, whatever its source.
            assert!(ts.expires_at_ms.is_none_or(|e| e > NOW_MS), "{:?}", ts.expires_at_ms);
            if let Some(secs) = resp.lifetime_secs() {
                assert_eq!(ts.expiry_source, ExpirySource::ExpiresIn);
                assert_eq!(ts.expires_at_ms, Some(NOW_MS.saturating_add(secs.saturating_mul(1000))));
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse);
            assert!(resp.check().is_err());
        }
    }
}

fn refresh(answer: &TokenAnswer) {
    let mut s = Session::new(RefreshPolicy::default());
    let expired = TokenSet::explicit(AccessToken::new("old"), Some(RefreshToken::new("rt")), Some(NOW_SECS - 10), NOW_MS - 60_000);
    s.set_session(expired);
    let TokenStep::StartRefresh { .. } = s.get_token(NOW_MS) else { panic!("an expired session refreshes") };
    let SendStep::Send { .. } = s.before_send(None, NOW_MS) else { panic!("the lock holder sends") };
    let generation = s.generation();
    match s.on_token_response(answer.clone(), NOW_MS, 0.5) {
        RefreshOutcome::Done(ready) => {
            assert!(answer.is_success() && matches!(answer.reply, TokenReply::Tokens(_)));
            assert!(ready.generation > generation);
            assert_eq!(s.tokens().map(|t| &t.access_token), Some(&ready.token));
            assert!(!s.is_refreshing());
        }
        RefreshOutcome::RetryIn { ms } => {
            assert!(!answer.is_success());
            assert!(ms >= 0 && ms <= RefreshPolicy::default().timeout_ms, "{ms}");
            assert!(s.is_refreshing());
        }
        RefreshOutcome::Failed { error, still_valid } => {
            check_error(&error, answer);
            assert!(still_valid.is_none(), "the old token had expired");
            assert!(!s.is_refreshing());
        }
        RefreshOutcome::Ended(e) => {
            assert_eq!(e.kind(), ErrorKind::SessionEnded);
            assert!(matches!(answer.oauth_error(), Some("invalid_grant" | "invalid_token")));
            assert!(s.tokens().is_none());
        }
    }
}

fn device(answer: &TokenAnswer) {
    let auth = DeviceAuthorization {
        device_code: mesh_sdk::secret::DeviceCode::new("dc"),
        user_code: "ABCD-EFGH".into(),
        verification_uri: "https://issuer.example/device".into(),
        verification_uri_complete: None,
        expires_in: 600,
        interval: Some(5),
    };
    let mut p = DevicePoller::new(&auth, NOW_MS).unwrap();
    let deadline = p.deadline_ms();
    let _ = p.poll(NOW_MS + 5_000);
    match p.on_response(answer.clone(), NOW_MS + 5_000) {
        DeviceStep::Wait { ms } => assert!(ms > 0 && NOW_MS + 5_000 + ms < deadline, "{ms}"),
        DeviceStep::Done(ts) => assert!(answer.is_success() && ts.received_at_ms == NOW_MS + 5_000),
        DeviceStep::Fail(e) => check_error(&e, answer),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((status, rest)) = data.split_first_chunk::<2>() else { return };
    let Some([retry_after, body]) = fields::<2>(rest) else { return };
    let status = 100 + u16::from_le_bytes(*status) % 500;
    let reply = reply(body);
    let answer = TokenAnswer {
        status,
        claims: claims_of(&reply),
        reply,
        retry_after_ms: (!retry_after.is_empty()).then(|| retry_after_ms(retry_after, NOW_MS)).flatten(),
    };
    token_set(&answer);
    refresh(&answer);
    device(&answer);
});
