//! Sessions given from outside the client (`client::env`): the `MESH_*`
//! environment variables (`EnvVars`) and the `setSession({...})` argument
//! (`SessionInput`).
//!
//! Input: a mode byte, then a JSON object: `process.env`'s variables (mode
//! even) or `setSession`'s argument (mode odd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::token::TokenSet;
use mesh_sdk::client::{decode_jwt_payload, EnvVars, JwtClaims, OptionValue, SessionInput};
use mesh_sdk::{Error, ErrorKind};
use mesh_sdk_fuzz::{assert_not_leaked, NOW_MS};

/// Unix seconds 2001..2286, in milliseconds.
fn plausible_ms(ms: i64) -> bool {
    (1_000_000_000_000..10_000_000_000_000).contains(&ms) && ms % 1000 == 0
}

fn check_tokens(ts: &TokenSet) {
    let access = ts.access_token.secret();
    assert!(!access.is_empty() && access.bytes().all(|b| b.is_ascii_graphic()));
    assert!(ts.refresh_token.as_ref().is_none_or(|r| {
        let r = r.secret();
        !r.is_empty() && r.bytes().all(|b| b.is_ascii_graphic())
    }));
    assert_eq!(ts.received_at_ms, NOW_MS);
}

fn check_error(e: &Error, secrets: &[Option<&str>], inputs: &[&str]) {
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.message().starts_with("option `"), "{}", e.message());
    for s in secrets.iter().flatten() {
        let others: Vec<&str> = inputs.iter().copied().filter(|i| i != s).collect();
        assert_not_leaked(e.message(), s.trim(), &others);
    }
}

fn env_vars(data: &[u8]) {
    let Ok(vars) = serde_json::from_slice::<EnvVars>(data) else { return };
    let opt = |v: &Option<String>| v.as_deref().unwrap_or("").to_string();
    let inputs = [opt(&vars.access_token), opt(&vars.refresh_token), opt(&vars.expires_at), opt(&vars.from_env)];
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    match vars.to_tokens(NOW_MS) {
        Ok(Some(ts)) => {
            check_tokens(&ts);
            assert!(ts.expires_at_ms.is_none_or(plausible_ms));
            // exportEnv() then fromEnv gives the same session back.
            let again = EnvVars::from_tokens(&ts).require_tokens(NOW_MS).expect("exported variables read back");
            assert_eq!(again, ts);
            assert_eq!(vars.require_tokens(NOW_MS), Ok(ts));
        }
        Ok(None) => assert!(vars.require_tokens(NOW_MS).is_err()),
        Err(e) => check_error(&e, &[vars.access_token.as_deref(), vars.refresh_token.as_deref()], &inputs),
    }
}

fn session_input(data: &[u8]) {
    let Ok(input) = serde_json::from_slice::<SessionInput>(data) else { return };
    // The caller's reading of a JWT's claims, as the binding does it.
    let claims = |t: &str| serde_json::from_str::<JwtClaims>(&decode_jwt_payload(t)?).ok();
    // Read from the parsed input: serde also takes a struct as an array.
    let text_of = |v: &Option<OptionValue>| match v {
        Some(OptionValue::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let (access, refresh) = (text_of(&input.access_token), text_of(&input.refresh_token));
    let inputs: Vec<String> = [&input.access_token, &input.refresh_token, &input.expires_at]
        .into_iter()
        .map(|v| match v {
            Some(OptionValue::Str(s)) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    match input.to_tokens(NOW_MS, claims) {
        Ok(ts) => {
            check_tokens(&ts);
            assert_eq!(Some(ts.access_token.secret()), access.as_deref());
            if input.expires_at.as_ref().is_some_and(|e| *e != OptionValue::Null) {
                assert!(ts.expires_at_ms.is_some_and(plausible_ms));
            }
            // Given or read from the token, an expiry is a time in seconds:
            // never one a millisecond `exp` would put millennia out.
            assert!(ts.expires_at_ms.is_none_or(plausible_ms));
        }
        Err(e) => {
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            check_error(&e, &[access.as_deref(), refresh.as_deref()], &inputs)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 { env_vars(rest) } else { session_input(rest) }
});
