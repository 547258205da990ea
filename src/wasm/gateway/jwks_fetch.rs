//! The JWKS and discovery fetches: GET through `gloo-net` (the global
//! `fetch`, so workerd and Node as well as browsers) with a timeout, no
//! redirects and a body cap; each body goes to the core's key-set cache,
//! which decides what it means and what to fetch next.

use std::cell::RefCell;

use gloo_net::http::Request;
use serde_json::json;
use web_sys::RequestRedirect;

use crate::gateway::jwks::{FetchStep, FETCH_TIMEOUT_MS, MAX_BODY_BYTES};
use crate::gateway::reject::event_log;
use crate::gateway::verify::JwtVerifier;
use crate::wasm::error::describe_js;
use crate::wasm::global::now_secs;

use super::js::{abort_signal_timeout, console_log, declared_over, read_capped, PastCap, ReadError};
use super::response::Rid;
use super::webcrypto::WebCrypto;

/// One refresh of the key set (discovery first when the JWKS URL is not
/// known yet); imported keys that left the set are forgotten.
pub(super) async fn refresh(jwt: &RefCell<Vec<JwtVerifier>>, crypto: &RefCell<WebCrypto>, issuer: usize, rid: &Rid<'_>) {
    let step = match jwt.borrow_mut().get_mut(issuer).and_then(|v| v.jwks.as_mut()) {
        Some(jwks) => jwks.begin_fetch(now_secs()),
        None => return,
    };
    let log_failure = |what: &str, detail: String| {
        console_log(&event_log("error", "jwks_fetch_failed", rid.get(), json!({ "step": what, "detail": detail })));
    };
    let fail = |what: &str, detail: String| {
        log_failure(what, detail);
        if let Some(jwks) = jwt.borrow_mut().get_mut(issuer).and_then(|v| v.jwks.as_mut()) {
            jwks.on_failure(now_secs());
        }
    };
    let url = match step {
        FetchStep::Jwks(url) => url,
        FetchStep::Discovery(url) => match get_capped(&url).await {
            Err(e) => return fail("discovery", e),
            Ok(body) => {
                let result = match jwt.borrow_mut().get_mut(issuer).and_then(|v| v.jwks.as_mut()) {
                    Some(jwks) => jwks.on_discovery(&body, now_secs()),
                    None => return,
                };
                match result {
                    Ok(url) => url,
                    Err(e) => return log_failure("discovery", e.detail().to_owned()),
                }
            }
        },
    };
    match get_capped(&url).await {
        Err(e) => fail("jwks", e),
        Ok(body) => {
            let result = match jwt.borrow_mut().get_mut(issuer) {
                Some(v) => v.on_jwks(&body, now_secs()).map(|gone| (gone, v.jwks.as_ref().map(|j| j.keys().to_vec()))),
                None => return,
            };
            match result {
                Ok((gone, keys)) => {
                    let keys = keys.unwrap_or_default();
                    crypto.borrow_mut().retain(issuer, &keys);
                    let detail = json!({ "keys": keys.len(), "kids_dropped": gone });
                    console_log(&event_log("info", "jwks_refreshed", rid.get(), detail));
                }
                Err(e) => log_failure("jwks", e.detail().to_owned()),
            }
        }
    }
}

/// GETs `url`. Any status but 200 (a redirect included) is a failure; the
/// request is aborted after `FETCH_TIMEOUT_MS`.
async fn get_capped(url: &str) -> Result<Vec<u8>, String> {
    let signal = abort_signal_timeout(FETCH_TIMEOUT_MS).map_err(|e| describe_js(&e))?;
    let response = Request::get(url)
        .redirect(RequestRedirect::Manual)
        .abort_signal(Some(&signal))
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let cancel = || {
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
    };
    if response.status() != 200 {
        cancel();
        return Err(format!("status {}", response.status()));
    }
    if declared_over(response.headers().get("content-length"), MAX_BODY_BYTES) {
        cancel();
        return Err("body over the size cap".into());
    }
    match read_capped(response.body(), MAX_BODY_BYTES, PastCap::Cancel).await {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::TooLarge) => Err("body over the size cap".into()),
        Err(ReadError::Failed(e)) => Err(describe_js(&e)),
    }
}
