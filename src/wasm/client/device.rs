//! `ClientCore`'s device login (RFC 8628): the logins started, and the
//! steps of `completeDeviceLogin`'s poll loop (`sendPoll`, `pollAfter`,
//! `loggedIn`). The device code never reaches the app's login object.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use super::convert::{extra_params, form_js, get, set, string_prop};
use super::core::{session_with_tokens, step_of, wait, ClientCore};
use super::records::token_answer;
use super::records;
use crate::client::failure::{resumable, stops};
use crate::client::grant::Grant;
use crate::client::oauth::token_endpoint_error;
use crate::client::redirect::check_extra_params;
use crate::client::pending_login::{PendingLogin, PENDING_LOGIN_VERSION};
use crate::client::{DeviceAuthorization, DeviceStep, PollStep};
use crate::error::{Error, ErrorKind};

/// The login object the app sees (no device code in it), for a login
/// started at `started_ms`.
fn login_js(a: &DeviceAuthorization, started_ms: i64) -> JsValue {
    let login = Object::new();
    set(&login, "userCode", &JsValue::from_str(&a.user_code));
    set(&login, "verificationUri", &JsValue::from_str(&a.verification_uri));
    set(&login, "verificationUriComplete", &JsValue::from_str(a.verification_uri_complete.as_deref().unwrap_or(&a.verification_uri)));
    set(&login, "expiresIn", &JsValue::from_f64(a.expires_in as f64));
    set(&login, "interval", &JsValue::from_f64(a.interval_secs() as f64));
    set(&login, "expiresAt", &JsValue::from_f64((started_ms / 1000 + a.expires_in) as f64));
    login.into()
}

impl ClientCore {
    fn pending_record(&self, user_code: &str, with_poll: bool) -> Option<String> {
        let (authorization, started_at_ms, poll) = self.logins.started(user_code)?;
        let poll = if with_poll { poll } else { None };
        let pending = PendingLogin {
            v: PENDING_LOGIN_VERSION,
            issuer: self.config.issuer_normalized().to_string(),
            client_id: self.client_id().to_string(),
            started_at_ms,
            authorization: authorization.clone(),
            poll,
        };
        js_sys::JSON::stringify(&records::pending_login_js(&pending)).ok()?.as_string()
    }

    fn device_step(&mut self, user_code: &str, step: DeviceStep) -> Result<JsValue, Error> {
        match step {
            DeviceStep::Wait { ms } => Ok(wait("pollAfter", ms)),
            DeviceStep::Fail(e) => Err(e),
            DeviceStep::Done(tokens) => {
                self.logins.end(user_code, false);
                self.id_token = None;
                self.session.set_session(tokens);
                let done = step_of("loggedIn");
                set(&done, "session", &self.session.tokens().map(session_with_tokens).unwrap_or(JsValue::NULL));
                Ok(done.into())
            }
        }
    }
}

#[wasm_bindgen]
impl ClientCore {
    /// The device authorization response (RFC 8628 §3.2) arrived at `now`:
    /// the login object the app sees (no device code in it).
    #[wasm_bindgen(js_name = deviceStarted)]
    pub fn device_started(&mut self, status: u16, body: JsValue, now: f64) -> Result<JsValue, JsValue> {
        if !(200..300).contains(&status) {
            let code = get(&body, "error").as_string();
            let what = "the device authorization request was refused";
            return Err(token_endpoint_error(ErrorKind::Http, what, Some(status), code.as_deref()).into());
        }
        if !body.is_object() {
            return Err(Error::new(ErrorKind::InvalidResponse, "the device authorization response is not JSON").into());
        }
        let authorization = records::device_authorization(&body)
            .ok_or_else(|| Error::new(ErrorKind::InvalidResponse, "the device authorization response is malformed"))?;
        authorization.check()?;
        let now = now as i64;
        let login = login_js(&authorization, now);
        self.logins.add(authorization, now);
        Ok(login.into())
    }

    /// The device authorization request's form, with `startDeviceLogin`'s
    /// `options.extraParams` last; throws `invalid_config` for a name the
    /// login sets itself (`client::redirect::check_extra_params`).
    #[wasm_bindgen(js_name = deviceForm)]
    pub fn device_form(&self, options: JsValue) -> Result<Array, JsValue> {
        let extra = extra_params(&get(&options, "extraParams"))?;
        check_extra_params(&extra)?;
        Ok(form_js(&self.grant_client().device_authorization_form(self.config.scope.as_deref(), &extra)))
    }

    /// The token request that polls for the login's tokens (RFC 8628 §3.4).
    #[wasm_bindgen(js_name = devicePollForm)]
    pub fn device_poll_form(&self, device_code: &str) -> Array {
        form_js(&self.grant_client().token_form(Grant::DeviceCode { device_code }))
    }

    /// The record that lets the login of `userCode` survive a reload (JSON
    /// text for `settings().deviceLoginKey`), or `undefined` if unknown. It
    /// is the same record from start to end (the tab forgets it by value).
    #[wasm_bindgen(js_name = devicePending)]
    pub fn device_pending(&self, user_code: &str) -> Option<String> {
        self.pending_record(user_code, false)
    }

    /// The record with where polling stands (`mesh-sdk/next` polls once
    /// per request and resumes the poller from it).
    #[wasm_bindgen(js_name = devicePolled)]
    pub fn device_polled(&self, user_code: &str) -> Option<String> {
        self.pending_record(user_code, true)
    }

    /// A record `devicePending` wrote, read back after a reload: the login
    /// object again (and the login known to this client), or `undefined`
    /// when it is not this client's, malformed or expired at `now`.
    #[wasm_bindgen(js_name = deviceRestore)]
    pub fn device_restore(&mut self, stored: Option<String>, now: f64) -> JsValue {
        let parsed = stored.and_then(|text| js_sys::JSON::parse(&text).ok());
        let Some(pending) = parsed.as_ref().and_then(records::pending_login) else { return JsValue::UNDEFINED };
        if pending.resumable(self.config.issuer_normalized(), self.client_id(), now as i64).is_err() {
            return JsValue::UNDEFINED;
        }
        let login = login_js(&pending.authorization, pending.started_at_ms);
        self.logins.restore(pending.authorization, pending.started_at_ms, pending.poll);
        login
    }

    /// `cancelDeviceLogin(login)`: the login ends here, polled or not (a
    /// poll loop still running fails at its next step). Its pending record
    /// as `devicePending` wrote it, for the layer to remove.
    #[wasm_bindgen(js_name = deviceCancel)]
    pub fn device_cancel(&mut self, login: &JsValue) -> Result<Option<String>, JsValue> {
        let user_code = string_prop(login, "userCode").ok_or_else(|| Error::config("login", "must be the object startDeviceLogin() returned"))?;
        let record = self.device_pending(&user_code);
        self.logins.cancel(&user_code);
        Ok(record)
    }

    /// `completeDeviceLogin(login)` begins polling: the user code to pass
    /// to the other `device*` methods, and the device code to send.
    #[wasm_bindgen(js_name = deviceBegin)]
    pub fn device_begin(&mut self, login: &JsValue) -> Result<Array, JsValue> {
        let user_code = string_prop(login, "userCode").ok_or_else(|| Error::config("login", "must be the object startDeviceLogin() returned"))?;
        let device_code = JsValue::from_str(self.logins.begin(&user_code)?.secret());
        Ok(Array::of2(&JsValue::from_str(&user_code), &device_code))
    }

    /// May a poll be sent now (`PollStep`); throws when the code expired.
    #[wasm_bindgen(js_name = devicePoll)]
    pub fn device_poll(&mut self, user_code: &str, now: f64) -> Result<JsValue, JsValue> {
        let poller = self.logins.poller(user_code)?;
        match poller.poll(now as i64) {
            PollStep::Send => Ok(step_of("sendPoll").into()),
            PollStep::Wait { ms } => Ok(wait("pollAfter", ms)),
            PollStep::Busy => Err(Error::new(ErrorKind::InvalidResponse, "a device poll is already outstanding").into()),
            PollStep::Fail(e) => Err(e.into()),
        }
    }

    /// The token endpoint answered a poll (`PollAnswer`); throws on denial,
    /// expiry or a refusal. `loggedIn` means the tokens are the session's.
    #[wasm_bindgen(js_name = deviceAnswer)]
    pub fn device_answer(&mut self, user_code: &str, status: u16, body: JsValue, retry_after: Option<String>, now: f64) -> Result<JsValue, JsValue> {
        let answer = token_answer(status, &body, retry_after, now as i64);
        let poller = self.logins.poller(user_code)?;
        let step = poller.on_response(answer, now as i64);
        Ok(self.device_step(user_code, step)?)
    }

    /// A poll got no answer: by its error's `code`, `stopped` (dispose,
    /// abort: rethrow it) or the next step.
    #[wasm_bindgen(js_name = deviceNetworkError)]
    pub fn device_network_error(&mut self, user_code: &str, code: Option<String>, now: f64) -> Result<JsValue, JsValue> {
        if stops(code.as_deref()) {
            return Ok(step_of("stopped").into());
        }
        let poller = self.logins.poller(user_code)?;
        let step = poller.on_network_error(now as i64);
        Ok(self.device_step(user_code, step)?)
    }

    /// Polling stopped without tokens, with the error's `code`: whether the
    /// login is kept to complete again (only an aborted one).
    #[wasm_bindgen(js_name = deviceEnd)]
    pub fn device_end(&mut self, user_code: &str, code: Option<String>) -> bool {
        let kept = resumable(code.as_deref());
        self.logins.end(user_code, kept);
        kept
    }
}

