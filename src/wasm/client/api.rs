//! API calls: `client.fetch` and the typed helpers built on it (chat, keys,
//! validate). The core's request policy decides after each attempt: return,
//! refresh once and retry once (401, or 404 when so configured), retry an
//! idempotent request after a transient failure, or fail with context.

use std::rc::Rc;

use js_sys::Object;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Request};

use super::convert::{get, set};
use super::events::Event;
use super::session::{access_token, ensure_loaded, force_refresh, jitter, now, session_info};
use super::Inner;
use crate::client::oauth::itoa;
use crate::client::{decide, retry_after_ms, AuthMode, Credential, Decision, Response, SentRequest};
use crate::error::{Error, ErrorKind};
use crate::wasm::http::{self, HttpResponse};
use crate::wasm::timer::sleep;

/// The header that carries the credential, its value, and what the core
/// needs to know about it.
struct Auth {
    header: &'static str,
    value: String,
    credential: Credential,
}

async fn auth(inner: &Rc<Inner>, ready: Option<crate::client::Ready>) -> Result<Auth, JsValue> {
    if let Some(key) = &inner.config.api_key {
        return Ok(Auth { header: "X-API-Key", value: key.secret().to_string(), credential: Credential::ApiKey });
    }
    let ready = match ready {
        Some(r) => r,
        None => access_token(inner).await?,
    };
    let (received_at_ms, expires_at_ms) = inner
        .session
        .borrow()
        .tokens()
        .map(|t| (t.received_at_ms, t.expires_at_ms))
        .unwrap_or((now(), None));
    let mut value = String::from("Bearer ");
    value.push_str(ready.token.secret());
    Ok(Auth { header: "Authorization", value, credential: Credential::Bearer { generation: ready.generation, received_at_ms, expires_at_ms } })
}

/// Resolves `input` (a path, or an absolute URL on the API's origin) against
/// `apiUrl`. Credentials are never sent to another origin.
pub fn resolve_url(inner: &Inner, input: &JsValue) -> Result<(String, String), Error> {
    let base = inner.api_base.as_deref().ok_or_else(|| Error::config("apiUrl", "is required for API calls"))?;
    let raw: String = match input.as_string() {
        Some(s) => s,
        None if input.is_object() => input.unchecked_ref::<Object>().to_string().into(),
        None => return Err(Error::config("input", "must be a path or a URL")),
    };
    let origin = origin_of(base);
    let lower = raw.to_ascii_lowercase();
    let url = if lower.starts_with("http://") || lower.starts_with("https://") {
        if !origin_of(&raw).eq_ignore_ascii_case(origin) {
            return Err(Error::config("input", "is on another origin than apiUrl: credentials are sent to apiUrl's origin only"));
        }
        raw
    } else if raw.starts_with('/') {
        String::from(base) + &raw
    } else {
        String::from(base) + "/" + &raw
    };
    let path = url[origin_of(&url).len()..].to_string();
    Ok((url, if path.is_empty() { "/".into() } else { path }))
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> &str {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[start..].find(['/', '?', '#']).map(|i| start + i).unwrap_or(url.len());
    &url[..end]
}

/// Sends `request` with the client's credential, following the core's
/// request policy. Returns the final response and the request's record.
pub async fn send(inner: &Rc<Inner>, request: &Request, path: &str, signal: Option<AbortSignal>) -> Result<(HttpResponse, SentRequest), JsValue> {
    inner.alive()?;
    let cancel = inner.cancel(signal);
    let mut auth = auth(inner, None).await?;
    let mut sent = SentRequest::new(&request.method(), path, auth.credential, now());
    // Bounded: at most one auth retry plus `maxRequestRetries` transient ones.
    for _ in 0..16 {
        sent.sent_at_ms = now();
        sent.credential = auth.credential;
        let response = http::send(request, &[(auth.header, &auth.value)], inner.timeout_ms(), &cancel, "API request").await;
        let outcome = match &response {
            Ok(r) => Response::Status {
                status: r.status,
                retry_after_ms: r.header("retry-after").and_then(|h| retry_after_ms(&h, now())),
            },
            Err(e) => match e.kind() {
                ErrorKind::Disposed => return Err(e.clone().into()),
                ErrorKind::Timeout => Response::Timeout,
                ErrorKind::Aborted => Response::Aborted,
                _ => Response::NetworkError,
            },
        };
        let generation = inner.session.borrow().generation();
        match decide(&sent, outcome, generation, &inner.request_policy, now(), jitter()) {
            Decision::Return => {
                return match response {
                    Ok(r) => Ok((r, sent)),
                    Err(e) => Err(e.into()),
                };
            }
            Decision::RefreshAndRetry { stale_generation } => {
                let ready = force_refresh(inner, stale_generation).await?;
                auth = self::auth(inner, Some(ready)).await?;
                sent.auth_retries += 1;
            }
            Decision::RetryWithCurrentToken => {
                auth = self::auth(inner, None).await?;
                sent.auth_retries += 1;
            }
            Decision::RetryAfter { ms } => {
                sleep(ms.clamp(0, u32::MAX as i64) as u32, &cancel).await?;
                if inner.config.api_key.is_none() {
                    auth = self::auth(inner, None).await?;
                }
                sent.transient_retries += 1;
            }
            Decision::Fail(e) => {
                let e = match response {
                    Err(cause) => e.with_cause(cause),
                    Ok(_) => e,
                };
                if e.kind() == ErrorKind::Unauthorized {
                    let payload = Object::new();
                    if let Some(ctx) = e.context() {
                        set(&payload, "method", &JsValue::from_str(&ctx.method));
                        set(&payload, "path", &JsValue::from_str(&ctx.path));
                        set(&payload, "status", &ctx.status.map(JsValue::from).unwrap_or(JsValue::NULL));
                    }
                    set(&payload, "error", &JsValue::from(e.clone()));
                    inner.events.emit(Event::Unauthorized, &payload.into());
                }
                return Err(e.into());
            }
        }
    }
    Err(Error::new(ErrorKind::Http, "the request was retried too often").into())
}

/// `client.fetch(input, init)`: the real `Response`.
pub async fn fetch(inner: &Rc<Inner>, input: JsValue, init: JsValue) -> Result<JsValue, JsValue> {
    let (url, path) = resolve_url(inner, &input)?;
    let request = if init.is_object() {
        Request::new_with_str_and_init(&url, init.unchecked_ref())?
    } else {
        Request::new_with_str(&url)?
    };
    let signal = get(&init, "signal").dyn_into::<AbortSignal>().ok();
    let (response, _) = send(inner, &request, &path, signal).await?;
    Ok(response.into_raw().into())
}

/// A JSON call to the API: the parsed body on 2xx, else an `http_error`
/// with context (method, path, status, token ages; never the token).
pub async fn call_json(inner: &Rc<Inner>, method: &str, path: &str, body: Option<&JsValue>) -> Result<JsValue, JsValue> {
    let (url, path) = resolve_url(inner, &JsValue::from_str(path))?;
    let json = body.and_then(http::stringify);
    let mut headers = vec![("Accept", "application/json")];
    if json.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let request = http::build(method, &url, &headers, json.as_deref())?;
    let (response, sent) = send(inner, &request, &path, None).await?;
    let status = response.status;
    if response.ok() {
        return Ok(response.json().await?.unwrap_or(JsValue::NULL));
    }
    let mut message = String::from("the API answered HTTP ");
    message.push_str(&itoa(status as i64));
    message.push_str(" (");
    message.push_str(&sent.method);
    message.push(' ');
    message.push_str(&sent.path);
    message.push(')');
    Err(Error::new(ErrorKind::Http, message).with_context(sent.context(Some(status), now())).into())
}

pub async fn chat(inner: &Rc<Inner>, message: JsValue) -> Result<JsValue, JsValue> {
    let text = message.as_string().ok_or_else(|| Error::config("message", "must be a string"))?;
    let body = Object::new();
    set(&body, "message", &JsValue::from_str(&text));
    call_json(inner, "POST", "/api/v1/chat", Some(&body.into())).await
}

pub async fn list_keys(inner: &Rc<Inner>) -> Result<JsValue, JsValue> {
    let body = call_json(inner, "GET", "/api/v1/keys", None).await?;
    let keys = get(&body, "keys");
    Ok(if js_sys::Array::is_array(&keys) { keys } else { body })
}

pub async fn create_key(inner: &Rc<Inner>, name: JsValue) -> Result<JsValue, JsValue> {
    let name = name.as_string().filter(|n| !n.trim().is_empty()).ok_or_else(|| Error::config("name", "must be a non-empty string"))?;
    let body = Object::new();
    set(&body, "name", &JsValue::from_str(&name));
    call_json(inner, "POST", "/api/v1/keys", Some(&body.into())).await
}

pub async fn revoke_key(inner: &Rc<Inner>, id: JsValue) -> Result<JsValue, JsValue> {
    let id = id.as_string().filter(|n| !n.is_empty()).ok_or_else(|| Error::config("id", "must be a non-empty string"))?;
    let path = String::from("/api/v1/keys/") + &String::from(js_sys::encode_uri_component(&id));
    call_json(inner, "DELETE", &path, None).await?;
    Ok(JsValue::UNDEFINED)
}

/// `GET /auth/validate`; when the server has no such route (404) or cannot
/// be reached, the session is checked locally from the token's expiry.
pub async fn validate(inner: &Rc<Inner>) -> Result<JsValue, JsValue> {
    match call_json(inner, "GET", "/auth/validate", None).await {
        Ok(body) => {
            let result: Object = if body.is_object() { body.unchecked_into() } else { Object::new() };
            if get(&result, "valid").is_undefined() {
                set(&result, "valid", &JsValue::TRUE);
            }
            set(&result, "source", &JsValue::from_str("server"));
            Ok(result.into())
        }
        Err(e) => {
            let code = get(&e, "code").as_string().unwrap_or_default();
            let fallback = code == "network" || code == "timeout" || get(&e, "status").as_f64() == Some(404.0);
            if code == "unauthorized" {
                let result = Object::new();
                set(&result, "valid", &JsValue::FALSE);
                set(&result, "source", &JsValue::from_str("server"));
                set(&result, "error", &e);
                return Ok(result.into());
            }
            if !fallback || inner.config.mode() == AuthMode::ApiKey {
                return Err(e);
            }
            validate_locally(inner).await
        }
    }
}

async fn validate_locally(inner: &Rc<Inner>) -> Result<JsValue, JsValue> {
    ensure_loaded(inner).await;
    let session = inner.session.borrow();
    let tokens = session.tokens();
    let valid = tokens.is_some_and(|t| !t.is_expired(now()));
    let info = session_info(tokens);
    let result: Object = if info.is_object() { info.unchecked_into() } else { Object::new() };
    set(&result, "valid", &JsValue::from_bool(valid));
    set(&result, "source", &JsValue::from_str("local"));
    Ok(result.into())
}
