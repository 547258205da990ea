//! The session driver: loads the stored session, runs the core's refresh
//! state machine with real IO, and keeps storage and events in step.
//!
//! A refresh is single-flight per client: the first caller that the core
//! tells to refresh starts one task, kept as a shared `Promise`; every other
//! caller awaits that promise and then asks the core again. The refresh
//! path is: acquire the cross-tab lock (where there is one) -> re-read
//! storage and adopt newer tokens -> refresh if still needed -> store ->
//! notify other tabs. Expiry is checked against `Date.now()` on every call:
//! no timer is needed for correctness.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::convert::{or_null, secs, set};
use super::events::Event;
use super::oauth::{claims_of, endpoints, post_form, base_params};
use super::{Inner, Load};
use crate::client::storage::storage_error;
use crate::client::{Ready, RefreshOutcome, SendStep, StoredSession, TokenSet, TokenStep};
use crate::error::{Error, ErrorKind};
use crate::wasm::global::now_ms;
use crate::wasm::http::{self, parse_json, stringify};
use crate::wasm::timer::{deferred, sleep};

pub fn now() -> i64 {
    now_ms() as i64
}

pub fn jitter() -> f64 {
    js_sys::Math::random()
}

/// Loads the stored session on first use (once, shared by concurrent callers).
pub async fn ensure_loaded(inner: &Rc<Inner>) {
    loop {
        let state = inner.load.borrow().clone();
        match state {
            Load::Done => return,
            Load::Loading(p) => {
                let _ = JsFuture::from(p).await;
            }
            Load::Pending => {
                let (promise, resolve) = deferred();
                *inner.load.borrow_mut() = Load::Loading(promise);
                let generation = inner.session.borrow().generation();
                let stored = read_stored(inner).await;
                // A session set meanwhile (setSession, login) wins.
                if inner.session.borrow().generation() == generation {
                    let mut session = inner.session.borrow_mut();
                    match stored {
                        Ok(Some(tokens)) => {
                            let _ = session.adopt(tokens, now());
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = session.end(e);
                        }
                    }
                }
                *inner.load.borrow_mut() = Load::Done;
                let _ = resolve.call0(&JsValue::UNDEFINED);
                return;
            }
        }
    }
}

/// The stored session, validated against this client's issuer and client id.
pub async fn read_stored(inner: &Inner) -> Result<Option<TokenSet>, Error> {
    let Some(text) = inner.storage.read(&inner.storage_key).await? else { return Ok(None) };
    let value = parse_json(&text).ok_or_else(|| storage_error("it is not JSON"))?;
    let stored = super::records::stored_session(&value).ok_or_else(|| storage_error("it is not a mesh-sdk session"))?;
    stored
        .into_tokens(inner.config.issuer_normalized(), inner.config.client_id.as_deref().unwrap_or(""))
        .map(Some)
}

/// Writes the current tokens to storage (or removes them when there are none).
/// Storage failures do not fail the caller: the session lives on in memory.
pub async fn persist(inner: &Inner) {
    let _ = write_current(inner).await;
}

fn write_current(inner: &Inner) -> Pin<Box<dyn Future<Output = Result<(), Error>>>> {
    let json = inner.session.borrow().tokens().and_then(|t| {
        let record = StoredSession::from_tokens(t, inner.config.issuer_normalized(), inner.config.client_id.as_deref().unwrap_or(""));
        stringify(&super::records::stored_session_js(&record))
    });
    match json {
        Some(json) => Box::pin(inner.storage.write(&inner.storage_key, &json)),
        None => Box::pin(inner.storage.remove(&inner.storage_key)),
    }
}

/// Starts writing the current tokens now (the storage call happens before
/// this returns) and finishes in the background.
pub fn persist_soon(inner: &Inner) {
    let write = write_current(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let _ = write.await;
    });
}

/// The session as the app sees it: no tokens. `null` when logged out.
pub fn session_info(tokens: Option<&TokenSet>) -> JsValue {
    let Some(t) = tokens else { return JsValue::NULL };
    let obj = Object::new();
    let claims = claims_of(t.access_token.secret());
    let user = claims.as_ref().and_then(|c| c.sub.clone()).map(|s| JsValue::from_str(&s));
    set(&obj, "userId", &or_null(user));
    set(&obj, "expiresAt", &or_null(t.expires_at_ms.map(secs)));
    set(&obj, "receivedAt", &secs(t.received_at_ms));
    set(&obj, "hasRefreshToken", &JsValue::from_bool(t.refresh_token.is_some()));
    obj.into()
}

/// The session with its tokens (what `completeDeviceLogin` resolves with).
pub fn session_with_tokens(t: &TokenSet) -> JsValue {
    let obj: Object = session_info(Some(t)).unchecked_into();
    set(&obj, "accessToken", &JsValue::from_str(t.access_token.secret()));
    let refresh = t.refresh_token.as_ref().map(|r| JsValue::from_str(r.secret()));
    set(&obj, "refreshToken", &or_null(refresh));
    obj.into()
}

fn error_payload(error: &Error) -> JsValue {
    let obj = Object::new();
    set(&obj, "error", &JsValue::from(error.clone()));
    obj.into()
}

/// A fresh access token: the core decides; this does the IO.
pub async fn access_token(inner: &Rc<Inner>) -> Result<Ready, JsValue> {
    inner.alive()?;
    ensure_loaded(inner).await;
    let step = inner.session.borrow_mut().get_token(now());
    drive(inner, step).await
}

/// After the API rejected a token of `stale_generation`.
pub async fn force_refresh(inner: &Rc<Inner>, stale_generation: u64) -> Result<Ready, JsValue> {
    inner.alive()?;
    let step = inner.session.borrow_mut().force_refresh(stale_generation, now());
    drive(inner, step).await
}

/// Runs a token step to a usable token, joining or starting the refresh.
async fn drive(inner: &Rc<Inner>, mut step: TokenStep) -> Result<Ready, JsValue> {
    // Each round either returns or waits for one refresh; a few rounds cover
    // a refresh that ends just as a token becomes due again.
    for _ in 0..4 {
        match step {
            TokenStep::Ready(r) | TokenStep::ServeWhileCoolingDown(r) => return Ok(r),
            TokenStep::JoinInFlight => join(inner).await?,
            TokenStep::StartRefresh { .. } => {
                start_refresh(inner);
                join(inner).await?;
            }
            TokenStep::Ended(e) => {
                if !session_ended(inner, "expired", &e).await {
                    return Err(e.into());
                }
            }
            TokenStep::Fail(e) => return Err(e.into()),
        }
        inner.alive()?;
        step = inner.session.borrow_mut().get_token(now());
    }
    Err(Error::new(ErrorKind::RefreshFailed, "no usable access token after refreshing").into())
}

async fn join(inner: &Inner) -> Result<(), JsValue> {
    let flight = inner.inflight.borrow().clone();
    match flight {
        Some(p) => JsFuture::from(p).await.map(|_| ()),
        None => Ok(()),
    }
}

/// Starts the one refresh task; its promise resolves when a token is usable
/// (refreshed, adopted, or still valid after a failure) and rejects with the
/// one failure every waiter shares.
fn start_refresh(inner: &Rc<Inner>) {
    let task = inner.clone();
    let promise: Promise = super::promise(async move {
        let result = match super::tabs::lock_name(&task) {
            Some(name) => super::tabs::with_lock(&task, &name, refresh_locked(task.clone())).await,
            None => refresh_locked(task.clone()).await,
        };
        task.inflight.borrow_mut().take();
        result.map(|_| JsValue::UNDEFINED)
    });
    *inner.inflight.borrow_mut() = Some(promise);
}

/// The refresh, run while holding the cross-tab lock (if any).
pub async fn refresh_locked(inner: Rc<Inner>) -> Result<(), JsValue> {
    let stored = if inner.storage.is_memory() { None } else { read_stored(&inner).await.ok().flatten() };
    let step = inner.session.borrow_mut().before_send(stored, now());
    let mut refresh_token = match step {
        SendStep::Skip(_) => {
            // Another tab stored fresh tokens: use them.
            inner.events.emit(Event::Refreshed, &session_info(inner.session.borrow().tokens()));
            return Ok(());
        }
        SendStep::Ended(e) => {
            return if session_ended(&inner, "expired", &e).await { Ok(()) } else { Err(e.into()) };
        }
        SendStep::Send { refresh_token } => refresh_token,
    };
    let cancel = inner.cancel(None);
    // Bounded by the core: it allows `maxRefreshRetries` retries within `timeoutMs`.
    loop {
        let outcome = match endpoints(&inner, &cancel).await {
            Err(e) if matches!(e.kind(), ErrorKind::Disposed | ErrorKind::Aborted) => {
                inner.session.borrow_mut().abandon_refresh(false);
                return Err(e.into());
            }
            // Discovery failed: the refresh token was never sent.
            Err(_) => inner.session.borrow_mut().on_network_error(false, now(), jitter()),
            Ok(ep) => {
                let mut params = base_params(&inner);
                params.push(("grant_type", "refresh_token"));
                params.push(("refresh_token", refresh_token.secret()));
                // What is left of the refresh's `timeoutMs` budget bounds this attempt.
                let budget = inner.session.borrow().attempt_timeout_ms(now()).unwrap_or(0);
                let timeout = budget.max(1000).min(inner.timeout_ms() as i64) as u32;
                let answer = post_form(&ep.token, &params, timeout, &cancel, "token request").await;
                let mut session = inner.session.borrow_mut();
                match answer {
                    Ok(a) => session.on_token_response(a, now(), jitter()),
                    Err(e) => match e.kind() {
                        ErrorKind::Disposed | ErrorKind::Aborted => {
                            session.abandon_refresh(!http::never_sent(&e));
                            return Err(e.into());
                        }
                        ErrorKind::Timeout => session.on_timeout(now(), jitter()),
                        _ => session.on_network_error(!http::never_sent(&e), now(), jitter()),
                    },
                }
            }
        };
        match outcome {
            RefreshOutcome::RetryIn { ms } => {
                if let Err(e) = sleep(ms.clamp(0, u32::MAX as i64) as u32, &cancel).await {
                    inner.session.borrow_mut().abandon_refresh(false);
                    return Err(e.into());
                }
                // The core keeps the same token for the retry, or a newer one
                // another tab stored meanwhile.
                let stored = if inner.storage.is_memory() { None } else { read_stored(&inner).await.ok().flatten() };
                match inner.session.borrow_mut().before_send(stored, now()) {
                    SendStep::Send { refresh_token: rt } => refresh_token = rt,
                    SendStep::Skip(_) => return Ok(()),
                    SendStep::Ended(e) => return Err(e.into()),
                }
            }
            RefreshOutcome::Done(_) => {
                persist(&inner).await;
                let info = session_info(inner.session.borrow().tokens());
                super::tabs::announce_tokens(&inner);
                inner.events.emit(Event::Refreshed, &info);
                return Ok(());
            }
            RefreshOutcome::Failed { error, still_valid } => {
                inner.events.emit(Event::RefreshFailed, &error_payload(&error));
                return if still_valid.is_some() { Ok(()) } else { Err(error.into()) };
            }
            RefreshOutcome::Ended(e) => {
                return if session_ended(&inner, "invalid_grant", &e).await { Ok(()) } else { Err(e.into()) };
            }
        }
    }
}

/// The core ended the session. If another tab stored a newer session, it is
/// adopted instead (returns true: ask the core again). Otherwise storage is
/// cleared, other tabs are told, and `sessionEnded` fires (returns false).
pub async fn session_ended(inner: &Rc<Inner>, reason: &str, error: &Error) -> bool {
    if inner.storage.is_shared() {
        if let Ok(Some(stored)) = read_stored(inner).await {
            if inner.session.borrow_mut().adopt(stored, now()) {
                return true;
            }
        }
    }
    let _ = inner.storage.remove(&inner.storage_key).await;
    super::tabs::announce_end(inner, reason);
    emit_ended(inner, reason, Some(error));
    false
}

pub fn emit_ended(inner: &Inner, reason: &str, error: Option<&Error>) {
    let payload = Object::new();
    set(&payload, "reason", &JsValue::from_str(reason));
    if let Some(e) = error {
        set(&payload, "error", &JsValue::from(e.clone()));
    }
    inner.events.emit(Event::SessionEnded, &payload.into());
}
