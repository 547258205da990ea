//! Device login (RFC 8628): start, then poll per the core's state machine
//! with an abortable sleep in between. The device code stays inside the
//! client; the login object the app sees carries no secret.

use std::rc::Rc;

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::convert::{get, set};
use super::oauth::{base_params, endpoints, post_form, DEVICE_GRANT};
use super::session::{now, persist, session_with_tokens};
use super::{Inner, Load};
use crate::client::oauth::token_endpoint_error;
use crate::client::{DeviceAuthorization, DevicePoller, DeviceStep, PollStep};
use crate::error::{Error, ErrorKind};
use crate::wasm::timer::sleep;
use web_sys::AbortSignal;

/// A started login, kept until it completes or fails.
pub struct PendingLogin {
    user_code: String,
    authorization: DeviceAuthorization,
    started_at_ms: i64,
    /// A `completeDeviceLogin` is polling: a second one would double the polls.
    polling: bool,
}

/// The most logins kept at once (each restart adds one).
const MAX_PENDING: usize = 8;

pub async fn start(inner: &Rc<Inner>, signal: Option<AbortSignal>) -> Result<JsValue, Error> {
    inner.alive()?;
    let cancel = inner.cancel(signal);
    let ep = endpoints(inner, &cancel).await?;
    let url = ep.device_authorization.as_deref().ok_or_else(|| {
        Error::config("issuer", "the provider does not advertise a device_authorization_endpoint")
    })?;
    let mut params = base_params(inner);
    if let Some(scope) = inner.config.scope.as_deref() {
        params.push(("scope", scope));
    }
    let body = post_device_authorization(inner, url, &params, &cancel).await?;
    let started_at_ms = now();
    let authorization = super::records::device_authorization(&body)
        .ok_or_else(|| Error::new(ErrorKind::InvalidResponse, "the device authorization response is malformed"))?;
    authorization.check()?;

    let login = Object::new();
    set(&login, "userCode", &JsValue::from_str(&authorization.user_code));
    set(&login, "verificationUri", &JsValue::from_str(&authorization.verification_uri));
    let complete = authorization.verification_uri_complete.as_deref().unwrap_or(&authorization.verification_uri);
    set(&login, "verificationUriComplete", &JsValue::from_str(complete));
    set(&login, "expiresIn", &JsValue::from_f64(authorization.expires_in as f64));
    set(&login, "interval", &JsValue::from_f64(authorization.interval_secs() as f64));
    set(&login, "expiresAt", &JsValue::from_f64((started_at_ms / 1000 + authorization.expires_in) as f64));

    let mut logins = inner.logins.borrow_mut();
    if logins.len() >= MAX_PENDING {
        logins.remove(0);
    }
    logins.push(PendingLogin { user_code: authorization.user_code.clone(), authorization, started_at_ms, polling: false });
    Ok(login.into())
}

async fn post_device_authorization(inner: &Inner, url: &str, params: &[(&str, &str)], cancel: &crate::wasm::timer::Cancel) -> Result<JsValue, Error> {
    // post_form parses an OAuth reply; the authorization response is not a
    // token response, so read the raw JSON here.
    let body = crate::wasm::http::form_body(params);
    let request = crate::wasm::http::build(
        "POST",
        url,
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
        Some(&body),
    )?;
    let response = crate::wasm::http::send(&request, &[], inner.timeout_ms(), cancel, "device authorization request").await?;
    let status = response.status;
    let ok = response.ok();
    let json = response.json().await?;
    if !ok {
        let code = json.as_ref().and_then(|j| get(j, "error").as_string());
        let what = "the device authorization request was refused";
        return Err(token_endpoint_error(ErrorKind::Http, what, Some(status), code.as_deref()));
    }
    json.ok_or_else(|| Error::new(ErrorKind::InvalidResponse, "the device authorization response is not JSON"))
}

/// Polls until the user approves, denies, the code expires or `signal` fires.
pub async fn complete(inner: &Rc<Inner>, login: &JsValue, signal: Option<AbortSignal>) -> Result<JsValue, Error> {
    inner.alive()?;
    let user_code = get(login, "userCode")
        .as_string()
        .ok_or_else(|| Error::config("login", "must be the object startDeviceLogin() returned"))?;
    let (authorization, started_at_ms) = {
        let mut logins = inner.logins.borrow_mut();
        let p = logins.iter_mut().find(|p| p.user_code == user_code).ok_or_else(|| {
            Error::config("login", "is unknown to this client: pass what its startDeviceLogin() returned")
        })?;
        if p.polling {
            return Err(Error::config("login", "is already being completed: await the first completeDeviceLogin()"));
        }
        p.polling = true;
        (p.authorization.clone(), p.started_at_ms)
    };
    let result = poll(inner, &authorization, started_at_ms, signal).await;
    {
        // An aborted login may be completed again; any other end is final.
        let mut logins = inner.logins.borrow_mut();
        match &result {
            Err(e) if e.kind() == ErrorKind::Aborted => logins.iter_mut().filter(|p| p.user_code == user_code).for_each(|p| p.polling = false),
            _ => logins.retain(|p| p.user_code != user_code),
        }
    }
    let tokens = result?;

    inner.session.borrow_mut().set_session(tokens);
    *inner.load.borrow_mut() = Load::Done;
    persist(inner).await;
    super::tabs::announce_tokens(inner);
    let session = inner.session.borrow();
    Ok(session.tokens().map(session_with_tokens).unwrap_or(JsValue::NULL))
}

async fn poll(
    inner: &Rc<Inner>,
    authorization: &DeviceAuthorization,
    started_at_ms: i64,
    signal: Option<AbortSignal>,
) -> Result<crate::client::TokenSet, Error> {
    let cancel = inner.cancel(signal);
    let mut poller = DevicePoller::new(authorization, started_at_ms)?;
    let ep = endpoints(inner, &cancel).await?;
    let mut params = base_params(inner);
    params.push(("grant_type", DEVICE_GRANT));
    params.push(("device_code", authorization.device_code.secret()));
    // Each round sleeps at least the interval (>= 1 s) until the code's
    // expiry, so the loop is bounded by the poller; the cap is a backstop.
    for _ in 0..100_000 {
        match poller.poll(now()) {
            PollStep::Wait { ms } => sleep(ms.clamp(0, u32::MAX as i64) as u32, &cancel).await?,
            PollStep::Fail(e) => return Err(e),
            PollStep::Busy => return Err(Error::new(ErrorKind::InvalidResponse, "a device poll is already outstanding")),
            PollStep::Send => {
                let step = match post_form(&ep.token, &params, inner.timeout_ms(), &cancel, "device token request").await {
                    Ok(answer) => poller.on_response(answer, now()),
                    Err(e) if matches!(e.kind(), ErrorKind::Disposed | ErrorKind::Aborted) => return Err(e),
                    Err(_) => poller.on_network_error(now()),
                };
                match step {
                    DeviceStep::Wait { ms } => sleep(ms.clamp(0, u32::MAX as i64) as u32, &cancel).await?,
                    DeviceStep::Done(tokens) => return Ok(tokens),
                    DeviceStep::Fail(e) => return Err(e),
                }
            }
        }
    }
    Err(Error::new(ErrorKind::DeviceCodeExpired, "the device login gave up after too many polls"))
}
