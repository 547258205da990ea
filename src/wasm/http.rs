//! `fetch` with a timeout and abort signals, mapping failures to the crate's
//! error kinds: `timeout` (the deadline passed), `aborted` (the caller's
//! signal), `disposed` (the client's lifetime signal) and `network`
//! (anything else that kept a response from arriving).
//!
//! The global `fetch` is used (see `global.rs`), so the same code runs in
//! browsers, Node, Next.js server code and workerd.

use js_sys::{Array, JsString, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Headers, Request, RequestInit, Response};

use crate::error::{Error, ErrorKind};
use crate::wasm::error::describe_js;
use crate::wasm::global::fetch_with_request;
use crate::wasm::timer::{AbortListener, Cancel, Timeout};

#[wasm_bindgen]
extern "C" {
    /// `AbortSignal.any(signals)`; throws where the runtime lacks it.
    #[wasm_bindgen(catch, js_namespace = AbortSignal, js_name = any)]
    fn abort_signal_any(signals: &Array) -> Result<AbortSignal, JsValue>;
}

/// The timeout and cancellation of one request. While it lives, the request
/// (and the reading of its body) is aborted when the timeout passes or a
/// signal fires; dropping it clears the timer.
struct Deadline {
    /// Aborted by the timer (and, without `AbortSignal.any`, by the links).
    timer_controller: AbortController,
    /// The signal handed to `fetch`.
    signal: AbortSignal,
    cancel: Cancel,
    timeout_ms: u32,
    _timer: Timeout,
    _links: Vec<AbortListener>,
}

impl Deadline {
    fn new(timeout_ms: u32, cancel: &Cancel) -> Result<Deadline, Error> {
        let controller = AbortController::new()
            .map_err(|e| Error::new(ErrorKind::Network, describe_js(&e)))?;
        let on_timeout = controller.clone();
        let timer = Timeout::new(timeout_ms, move || on_timeout.abort());

        // Prefer AbortSignal.any: the caller's signal then also covers the
        // body of a Response handed back to the caller after this is dropped.
        let all: Array = cancel.signals().cloned().collect();
        all.push(&controller.signal());
        let (signal, links) = match abort_signal_any(&all) {
            Ok(signal) => (signal, Vec::new()),
            Err(_) => {
                let links = cancel
                    .signals()
                    .map(|s| {
                        let c = controller.clone();
                        AbortListener::new(s, move || c.abort())
                    })
                    .collect();
                (controller.signal(), links)
            }
        };
        Ok(Deadline { timer_controller: controller, signal, cancel: cancel.clone(), timeout_ms, _timer: timer, _links: links })
    }

    /// Why a request or body read failed with `err`.
    fn failure(&self, what: &str, err: &JsValue) -> Error {
        if let Err(e) = self.cancel.check() {
            return e;
        }
        if self.timer_controller.signal().aborted() {
            return Error::new(ErrorKind::Timeout, format!("{what} timed out after {} ms", self.timeout_ms));
        }
        let mut message = String::from(what);
        message.push_str(" failed: ");
        message.push_str(&describe_js(err));
        // Node puts the reason (`connect ECONNREFUSED ...`) in `cause`.
        let cause = js_sys::Reflect::get(err, &JsValue::from_str("cause")).unwrap_or(JsValue::UNDEFINED);
        if cause.is_object() {
            message.push_str(": ");
            message.push_str(&describe_js(&cause));
            let code = js_sys::Reflect::get(&cause, &JsValue::from_str("code")).ok().and_then(|c| c.as_string());
            if code.is_some_and(|c| NOT_SENT_CODES.contains(&c.as_str())) {
                message.push_str(NOT_SENT);
            }
        }
        Error::new(ErrorKind::Network, message)
    }
}

/// Socket errors that mean the request never reached the server.
const NOT_SENT_CODES: [&str; 5] = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"];
const NOT_SENT: &str = " (not sent)";

/// True when `err` is a network failure known to have happened before the
/// request reached the server (connection refused, DNS), so re-sending
/// cannot repeat anything. Unknown failures return false.
pub fn never_sent(err: &Error) -> bool {
    err.kind() == ErrorKind::Network && err.message().ends_with(NOT_SENT)
}

/// A response whose status and headers have arrived. The deadline still
/// covers reading the body.
pub struct HttpResponse {
    pub status: u16,
    raw: Response,
    deadline: Deadline,
    what: String,
}

impl HttpResponse {
    /// A response header, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw.headers().get(name).ok().flatten()
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, within the deadline.
    pub async fn text(self) -> Result<String, Error> {
        let promise = self.raw.text().map_err(|e| self.deadline.failure(&self.what, &e))?;
        let value = JsFuture::from(promise)
            .await
            .map_err(|e| self.deadline.failure(&self.what, &e))?;
        Ok(value.as_string().unwrap_or_default())
    }

    /// The body parsed as JSON with `JSON.parse`; `None` when it is empty or
    /// not JSON (an HTML error page from a proxy, say).
    pub async fn json(self) -> Result<Option<JsValue>, Error> {
        let text = self.text().await?;
        Ok(parse_json(&text))
    }

    /// The `Response` itself, for the caller. The timer stops here: reading
    /// the body is then governed by the caller's signal only.
    pub fn into_raw(self) -> Response {
        self.raw
    }
}

/// `JSON.parse`, or `None` when `text` is not JSON.
pub fn parse_json(text: &str) -> Option<JsValue> {
    if text.trim().is_empty() {
        return None;
    }
    js_sys::JSON::parse(text).ok()
}

/// `JSON.stringify` of a value built in Rust; `None` for values JSON cannot
/// hold.
pub fn stringify(value: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(value).ok().and_then(|s: JsString| s.as_string())
}

/// Sends `request` (which is cloned, so it may be sent again) with `headers`
/// set on top of its own, within `timeout_ms`, unless a signal of `cancel`
/// fires. `what` names the request in error messages (say "token request");
/// it must not contain a secret.
pub async fn send(
    request: &Request,
    headers: &[(&str, &str)],
    timeout_ms: u32,
    cancel: &Cancel,
    what: &str,
) -> Result<HttpResponse, Error> {
    cancel.check()?;
    let deadline = Deadline::new(timeout_ms, cancel)?;
    let bad_request = |e: JsValue| Error::new(ErrorKind::InvalidConfig, format!("{what}: {}", describe_js(&e)));

    let merged = Headers::new_with_headers(&request.headers()).map_err(bad_request)?;
    for (name, value) in headers {
        merged.set(name, value).map_err(bad_request)?;
    }
    let init = RequestInit::new();
    init.set_signal(Some(&deadline.signal));
    init.set_headers(&merged);
    let copy = request.clone().map_err(bad_request)?;
    let outgoing = Request::new_with_request_and_init(&copy, &init).map_err(bad_request)?;

    let promise: Promise = fetch_with_request(&outgoing);
    let value = JsFuture::from(promise).await.map_err(|e| deadline.failure(what, &e))?;
    let raw: Response = value.unchecked_into();
    Ok(HttpResponse { status: raw.status(), raw, deadline, what: what.to_string() })
}

/// Builds a request with a method, an optional body and headers.
pub fn build(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Result<Request, Error> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    let h = Headers::new().map_err(|e| Error::new(ErrorKind::InvalidConfig, describe_js(&e)))?;
    for (name, value) in headers {
        h.set(name, value).map_err(|e| Error::new(ErrorKind::InvalidConfig, describe_js(&e)))?;
    }
    init.set_headers(&h);
    Request::new_with_str_and_init(url, &init)
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("invalid URL: {}", describe_js(&e))))
}

/// `application/x-www-form-urlencoded` body from pairs (values may be
/// secrets: the result must not be logged).
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&String::from(js_sys::encode_uri_component(k)));
        out.push('=');
        out.push_str(&String::from(js_sys::encode_uri_component(v)));
    }
    out
}
