//! Responses the gateway makes: the core's [`Reply`] as a `Response`, CORS
//! headers (the core's values) on the upstream's response, the request id
//! of logs and error bodies, and the two handlers every upstream fetch
//! shares (made once per isolate).

use std::cell::{Cell, OnceCell};

use wasm_bindgen::prelude::*;
use web_sys::{Headers, Request, Response, ResponseInit};

use crate::gateway::cors::{response_headers, Put};
use crate::gateway::headers::is_safe_header_value;
use crate::gateway::reject::Reply;
use crate::gateway::upstream;
use crate::wasm::error::describe_js;

use super::js::{console_log, get_prop, random};

/// The request id for logs and error responses, made only when needed (the
/// success path makes none): `cf-ray` when present, else a random per-isolate
/// prefix (drawn inside the first request that needs it) and a counter.
pub(super) struct Rid<'a> {
    request: &'a Request,
    id: OnceCell<String>,
}

thread_local! {
    static ISOLATE_ID: OnceCell<String> = const { OnceCell::new() };
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

impl<'a> Rid<'a> {
    pub fn new(request: &'a Request) -> Self {
        Rid { request, id: OnceCell::new() }
    }

    pub fn get(&self) -> &str {
        self.id.get_or_init(|| {
            if let Ok(Some(ray)) = self.request.headers().get("cf-ray") {
                if ray.len() <= 64 && is_safe_header_value(&ray) {
                    return ray;
                }
            }
            let prefix = ISOLATE_ID.with(|p| {
                p.get_or_init(|| {
                    random::<6>().map(|b| b.iter().map(|b| format!("{b:02x}")).collect()).unwrap_or_else(|_| "isolate".into())
                })
                .clone()
            });
            let n = COUNTER.with(|c| {
                c.set(c.get() + 1);
                c.get()
            });
            format!("{prefix}-{n}")
        })
    }
}

/// Builds a Response from a core reply, with CORS headers when allowed.
pub(super) fn to_response(reply: Reply, cors: Option<&str>, rid: &Rid<'_>) -> Response {
    let build = || -> Result<Response, JsValue> {
        let headers = Headers::new()?;
        for (k, v) in &reply.headers {
            headers.append(k, v)?;
        }
        if reply.status >= 400 {
            headers.set("x-mesh-request-id", rid.get())?;
        }
        if let Some(origin) = cors {
            add_cors(&headers, origin)?;
        }
        let init = ResponseInit::new();
        init.set_status(reply.status);
        init.set_headers(&headers);
        let body = (!reply.body.is_empty() && reply.status != 204).then_some(reply.body.as_str());
        Response::new_with_opt_str_and_init(body, &init)
    };
    build().unwrap_or_else(|_| Response::new().expect("an empty Response can always be made"))
}

fn add_cors(headers: &Headers, origin: &str) -> Result<(), JsValue> {
    for (name, value, put) in response_headers(origin) {
        match put {
            Put::Set => headers.set(name, value)?,
            Put::Append => headers.append(name, value)?,
        }
    }
    Ok(())
}

/// The upstream's response with CORS headers added (its body streamed through).
fn with_cors(upstream: &Response, origin: &str) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(upstream.status());
    init.set_status_text(&upstream.status_text());
    let headers = Headers::new_with_headers(&upstream.headers())?;
    add_cors(&headers, origin)?;
    init.set_headers(&headers);
    Response::new_with_opt_readable_stream_and_init(upstream.body().as_ref(), &init)
}

/// `(request, error, timedOut, origin) => Response`: the rejection handler of
/// every upstream fetch (plumbing.js), `timedOut` when its timer aborted it;
/// the core says what that means ([`upstream::Failure`]). With the CORS
/// origin the request was allowed, as on every other answer: a browser app
/// can then read the 504.
pub(super) fn upstream_failed(timeout_ms: u32) -> JsValue {
    Closure::<dyn Fn(Request, JsValue, bool, JsValue) -> Response>::new(move |request: Request, error: JsValue, timed_out: bool, origin: JsValue| {
        let rid = Rid::new(&request);
        let failure = upstream::Failure::of(timed_out, client_aborted(&request));
        console_log(&failure.log(rid.get(), timeout_ms, &describe_js(&error)));
        to_response(failure.reply(), origin.as_string().as_deref(), &rid)
    })
    .into_js_value()
}

/// Whether the inbound request's own signal is aborted (its client went
/// away). Read as a property: a runtime whose requests have no `signal`
/// reads as not aborted.
fn client_aborted(request: &Request) -> bool {
    let signal = get_prop(request, "signal");
    signal.is_object() && get_prop(&signal, "aborted").is_truthy()
}

/// `(origin, response) => response with CORS headers`.
pub(super) fn cors_adder() -> JsValue {
    Closure::<dyn Fn(JsValue, Response) -> JsValue>::new(|origin: JsValue, upstream: Response| {
        with_cors(&upstream, &origin.as_string().unwrap_or_default()).map_or_else(|e| e, JsValue::from)
    })
    .into_js_value()
}
