//! The Worker's fetch handler: reads the request, asks the core for a plan,
//! does the IO the plan needs (JWKS fetch, WebCrypto, KV, upstream fetch),
//! and turns the core's replies into Responses.
//!
//! State lives per isolate in [`Gateway`]; no `RefCell` borrow is held across
//! an `await`, and nothing shares a pending promise across requests (Workers
//! forbid I/O on behalf of another request): a request that finds a JWKS
//! fetch in flight waits on its own timer and looks again.
//!
//! Most requests need no await at all (public routes, rejections, a cached
//! or HS256 token), so [`respond`] runs the handling once, synchronously, and
//! only a request still waiting (JWKS, key import, KV) becomes a task. The
//! upstream fetch is never awaited in Rust: its promise is returned, with a
//! shared rejection handler. Measured in workerd, the futures machinery
//! (task queue, closures, promise wrappers) cost more CPU than the rest of
//! a forwarded request.
//!
//! The Worker's `fetch` itself is JavaScript (`front` in plumbing.js): it
//! reads the request into one line and makes one call, into [`respond`]. A
//! Rust closure in that place cost more per request, in its wrapper, than
//! the work it wrapped.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::{Object, Promise};
use serde_json::json;
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Headers, Request, RequestInit, RequestRedirect, Response, ResponseInit};

use crate::gateway::api_keys::{self, KeyRecord, NegativeCache};
use crate::gateway::config::{ConfigError, GatewayConfig};
use crate::gateway::headers::{
    authorization_carries_api_key, identity_lines, is_safe_header_value, stripped_names, AuthMethod, Identity, IDENTITY_PREFIX,
};
use crate::gateway::identity::sign;
use crate::gateway::jwks::{FetchStep, Jwk, KeyLookup, MAX_BODY_BYTES};
use crate::gateway::jwt::{Claims, ParsedJwt, Reason, Rejection};
use crate::gateway::reject::{self, event_log, rejection_log, Reply};
use crate::gateway::request::{is_cors_path, path_span, plan, split_url, Credential, Inbound, Plan};
use crate::gateway::route::AuthMode;
use crate::gateway::token_cache::TokenHash;
use crate::gateway::verify::{JwtStep, JwtVerifier, Suspended};
use crate::wasm::error::describe_js;
use crate::wasm::global::{fetch_with_request, now_secs};
use crate::wasm::timer::{sleep, Cancel};

use super::js::{abort_signal_timeout, console_log, get_prop, object, read_capped, set_prop, KvNamespace, ReadError};
use super::keys_api;
use super::webcrypto::{VerifyJob, WebCrypto};

/// Every variable the configuration reads (also the env fingerprint).
const VARIABLES: &[&str] = &[
    "MESH_UPSTREAM_URL",
    "MESH_JWT_ISSUER",
    "MESH_JWT_AUDIENCE",
    "MESH_JWKS_URL",
    "MESH_JWT_ALGORITHMS",
    "MESH_JWT_HS256_SECRET",
    "MESH_CLOCK_SKEW_SECONDS",
    "MESH_ROUTES",
    "MESH_API_KEY_PREFIX",
    "MESH_IDENTITY_SECRET",
    "MESH_CORS_ORIGINS",
];
const KV_BINDING: &str = "MESH_API_KEYS";
/// JWKS and discovery fetches give up after this long.
const JWKS_TIMEOUT_MS: u32 = 3000;
/// How often a request waiting for another's JWKS fetch looks again, and how
/// many times at most (covers the core's 5 s in-flight window).
const WAIT_STEP_MS: u32 = 25;
const MAX_ROUNDS: usize = 260;
/// Unknown API keys are remembered this long (seconds), this many at most.
const NEGATIVE_TTL_SECS: i64 = 30;
const NEGATIVE_CAPACITY: usize = 4096;

pub struct Gateway {
    options: Option<Object>,
    loaded: RefCell<Option<Loaded>>,
    /// Requests whose token's signature WebCrypto is checking, with their
    /// lines (see [`Verdict`]).
    suspended: RefCell<Suspended<(TokenHash, String)>>,
}

/// The signature's verdict on a token, for a request's second pass.
///
/// An RS256/ES256 token whose key is already imported needs one async step,
/// `crypto.subtle.verify`. Instead of a task, the first pass holds the
/// request's line and the token's hash under an id and returns
/// `verify(...).then(...)` (`suspend` in plumbing.js), which brings the id
/// back with the verdict to a second pass, now synchronous, over the same
/// line. The verdict applies once, and only to the token it was for. No
/// Rust future spans the wait: measured in workerd, a task with its
/// promise wrappers cost more CPU than the verify itself. The verdict is
/// applied only where the token's `kid` still names a key; a JWKS refetched
/// in between could at most have replaced that key a moment ago.
#[derive(Clone, Copy)]
pub(super) struct Verdict {
    hash: TokenHash,
    ok: bool,
}

struct Loaded {
    fingerprint: [u8; 32],
    core: Result<Rc<Core>, ConfigError>,
}

/// Everything one configuration needs, per isolate.
pub(super) struct Core {
    pub cfg: GatewayConfig,
    pub kv: Option<KvNamespace>,
    jwt: RefCell<Option<JwtVerifier>>,
    crypto: RefCell<WebCrypto>,
    pub negative: RefCell<NegativeCache>,
    /// The path part of MESH_UPSTREAM_URL (`/base` of `https://o/base`).
    upstream_path: String,
    /// The header names `forward` drops, as JS arrays: without and with
    /// `authorization` (from the core's `stripped_names`), and the prefix of
    /// names it drops too: made once, not per request.
    stripped: [JsValue; 2],
    identity_prefix: JsValue,
    /// MESH_UPSTREAM_URL as a JS string, made once.
    upstream_url: JsValue,
}

/// A request as the handler reads it: its parts and the core's plan.
struct Read<'a> {
    method: &'a str,
    url: &'a str,
    path: &'a str,
    query: &'a str,
    /// `Authorization` carries an API key: never forwarded.
    drop_authorization: bool,
    /// The CORS origin to allow on the response, if any.
    cors: Option<String>,
    plan: Plan<'a>,
}

/// Why a credential did not authenticate (yet).
pub(super) enum Failure {
    Reject(Rejection),
    /// JWKS or KV unreachable (503).
    Unavailable,
    /// The signature check is under way: handle the request again with its
    /// verdict (see [`Verdict`]).
    Suspend(Promise, TokenHash),
}

/// What handling a request gives.
pub(super) enum Handled {
    /// A `Response` or a promise of one; an error the handling did not expect.
    Done(Result<JsValue, JsValue>),
    /// The token's signature is being checked (see [`Verdict`]).
    Suspend(Promise, TokenHash),
}

/// One pass over a request as the JS front hands it over (see [`respond`]).
pub struct Call {
    /// The JS front's state, which a suspended request resumes through.
    pub front: JsValue,
    pub request: Request,
    pub env: JsValue,
    /// `env` is the object of the previous call (compared in JavaScript).
    pub same_env: bool,
}

pub enum PassKind {
    /// The request's line (`inbound` in plumbing.js).
    First(String),
    /// The id its first pass held the line under, and the verdict.
    Resumed(u32, bool),
}

impl Gateway {
    pub fn new(options: Option<Object>) -> Self {
        Gateway { options, loaded: RefCell::new(None), suspended: RefCell::new(Suspended::new()) }
    }

    fn var(&self, env: &JsValue, name: &str) -> Option<String> {
        get_prop(env, name)
            .as_string()
            .or_else(|| self.options.as_ref().and_then(|o| get_prop(o, name).as_string()))
    }

    /// The core for this env: the cached one when the env is the object of
    /// the previous call (`same_env`) or has the same values, else a fresh parse.
    fn core(&self, env: &JsValue, same_env: bool) -> Result<Rc<Core>, ConfigError> {
        if let Some(l) = self.loaded.borrow().as_ref().filter(|_| same_env) {
            return l.core.clone();
        }
        let kv = get_prop(env, KV_BINDING);
        let kv = (kv.is_object()).then(|| kv.unchecked_into::<KvNamespace>());
        let values: Vec<Option<String>> = VARIABLES.iter().map(|n| self.var(env, n)).collect();
        let mut h = Sha256::new();
        for v in &values {
            h.update(v.as_deref().map(|v| [b"1", v.as_bytes()].concat()).unwrap_or_else(|| b"0".to_vec()));
            h.update([0]);
        }
        h.update([kv.is_some() as u8]);
        let fingerprint: [u8; 32] = h.finalize().into();

        let mut loaded = self.loaded.borrow_mut();
        if let Some(l) = loaded.as_mut() {
            if l.fingerprint == fingerprint {
                return l.core.clone();
            }
        }
        let lookup = |name: &str| VARIABLES.iter().position(|n| *n == name).and_then(|i| values[i].clone());
        // The token cache's hash key: secret, per isolate and configuration.
        let seed = random::<32>().map_err(|e| ConfigError { variable: "crypto.getRandomValues", problem: describe_js(&e) });
        let core = GatewayConfig::from_env(lookup, kv.is_some()).and_then(|cfg| Ok(Rc::new(Core::new(cfg, kv, seed?))));
        match &core {
            Ok(_) => console_log(&event_log("info", "gateway_configured", "", json!({}))),
            Err(e) => console_log(&event_log("error", "gateway_misconfigured", "", json!({ "problem": e.to_string() }))),
        }
        *loaded = Some(Loaded { fingerprint, core: core.clone() });
        core
    }

    /// The response to a request that needs no waiting, or `None` when it
    /// must wait (JWKS fetch, key import, KV, the keys API; a bad
    /// configuration is reported there too).
    fn handle_now(&self, call: &Call, line: &str, verdict: Option<Verdict>) -> Option<Handled> {
        let core = self.core(&call.env, call.same_env).ok()?;
        core.handle_now(&call.request, line, &Rid::new(&call.request), verdict)
    }

    /// A `Response`, or a promise of one (the upstream fetch).
    async fn handle(self: Rc<Self>, call: Call, line: String, verdict: Option<Verdict>) -> JsValue {
        let rid = Rid::new(&call.request);
        let handled = match self.core(&call.env, call.same_env) {
            Ok(core) => core.handle(&call.request, &line, &rid, verdict).await,
            Err(e) => {
                console_log(&event_log("error", "gateway_misconfigured", rid.get(), json!({ "problem": e.to_string() })));
                return to_response(reject::misconfigured(), None, &rid).into();
            }
        };
        self.settle(handled, &call, line)
    }

    /// A handling's result as the Worker returns it. A signature check
    /// suspends the request, its line held for the second pass; an error
    /// the handling did not expect is logged and answered with a 500.
    fn settle(&self, handled: Handled, call: &Call, line: String) -> JsValue {
        match handled {
            Handled::Done(Ok(value)) => value,
            Handled::Done(Err(e)) => {
                let rid = Rid::new(&call.request);
                console_log(&event_log("error", "internal_error", rid.get(), json!({ "detail": describe_js(&e) })));
                to_response(reject::internal_error(), None, &rid).into()
            }
            Handled::Suspend(verify, hash) => {
                let id = self.suspended.borrow_mut().put((hash, line));
                suspend_js(&verify, &call.front, &call.request, &call.env, id)
            }
        }
    }
}

/// One pass over a request: handles it now, and makes a task of it only if
/// it must wait. A `Response`, or a promise of one. A future polled here
/// with a no-op waker is safe to hand over: every future it awaits
/// (`JsFuture`) stores the waker of its latest poll and keeps its result
/// until polled, so nothing is lost.
pub fn respond(gateway: &Rc<Gateway>, call: Call, pass: PassKind) -> JsValue {
    let (line, verdict) = match pass {
        PassKind::First(line) => (line, None),
        // A second pass: its line and the verdict, once, for the token they were held for.
        PassKind::Resumed(id, ok) => match gateway.suspended.borrow_mut().take(id) {
            Some((hash, line)) => (line, Some(Verdict { hash, ok })),
            None => {
                // A bug in the plumbing. This call reads no env, so the front's
                // `same_env` of the next call could name one the core never saw:
                // forget the loaded configuration (the next call parses again).
                gateway.loaded.borrow_mut().take();
                return gateway.settle(Handled::Done(Err(JsValue::from_str("a verdict for no suspended request"))), &call, String::new());
            }
        },
    };
    // The common case (public route, refusal, cached or HS256 token, a
    // signature verdict) makes no future at all; the rare one (JWKS, key
    // import, KV, keys API) hands the call and its line to a task.
    if let Some(handled) = gateway.handle_now(&call, &line, verdict) {
        return gateway.settle(handled, &call, line);
    }
    let mut task = Box::pin(gateway.clone().handle(call, line, verdict));
    match task.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => future_to_promise(async move { Ok(task.await) }).into(),
    }
}

thread_local! {
    /// `(request, error) => 502 Response`: the rejection handler of every
    /// upstream fetch (plumbing.js), made once per isolate.
    static UPSTREAM_FAILED: JsValue = Closure::<dyn Fn(Request, JsValue) -> Response>::new(|request: Request, error: JsValue| {
        let rid = Rid::new(&request);
        console_log(&event_log("error", "upstream_failed", rid.get(), json!({ "detail": describe_js(&error) })));
        to_response(reject::bad_gateway(), None, &rid)
    })
    .into_js_value();
    /// `(origin, response) => response with CORS headers`, made once.
    static WITH_CORS: JsValue = Closure::<dyn Fn(JsValue, Response) -> JsValue>::new(|origin: JsValue, upstream: Response| {
        with_cors(&upstream, &origin.as_string().unwrap_or_default()).map_or_else(|e| e, JsValue::from)
    })
    .into_js_value();
}

#[wasm_bindgen(module = "/src/wasm/gateway/plumbing.js")]
extern "C" {
    /// `verify.then(...)`: a second pass over the request with `id` and the
    /// verdict (a rejection is `false`); see plumbing.js.
    #[wasm_bindgen(js_name = suspend)]
    fn suspend_js(verify: &Promise, front: &JsValue, request: &Request, env: &JsValue, id: u32) -> JsValue;

    /// The upstream fetch with the request's headers minus `drop` and
    /// `prefix*`, plus `identity`; see plumbing.js. Throws for a bad URL.
    #[wasm_bindgen(catch, js_name = forward)]
    #[allow(clippy::too_many_arguments)]
    fn forward_js(
        request: &Request,
        base: &JsValue,
        url: Option<&str>,
        from: u32,
        to: u32,
        drop: &JsValue,
        prefix: &JsValue,
        identity: Option<&str>,
        failed: &JsValue,
        origin: &JsValue,
        with_cors: &JsValue,
    ) -> Result<JsValue, JsValue>;
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
    headers.set("access-control-allow-origin", origin)?;
    headers.append("vary", "Origin")?;
    headers.set("access-control-expose-headers", "www-authenticate, retry-after, x-mesh-request-id")
}

impl Core {
    fn new(cfg: GatewayConfig, kv: Option<KvNamespace>, seed: [u8; 32]) -> Core {
        let after_scheme = cfg.upstream_url.find("://").map(|i| i + 3).unwrap_or(0);
        let upstream_path =
            cfg.upstream_url[after_scheme..].find('/').map(|i| cfg.upstream_url[after_scheme + i..].to_string()).unwrap_or_default();
        Core {
            jwt: RefCell::new(cfg.jwt.clone().map(|c| JwtVerifier::new(c, seed))),
            crypto: RefCell::new(WebCrypto::new()),
            negative: RefCell::new(NegativeCache::new(NEGATIVE_TTL_SECS, NEGATIVE_CAPACITY)),
            kv,
            upstream_path,
            stripped: [false, true].map(|with| stripped_names(with).into_iter().map(JsValue::from_str).collect::<js_sys::Array>().into()),
            identity_prefix: JsValue::from_str(IDENTITY_PREFIX),
            upstream_url: JsValue::from_str(&cfg.upstream_url),
            cfg,
        }
    }

    /// What a request reads as, and the plan for it.
    fn read<'a>(&'a self, line: &'a str) -> Option<Read<'a>> {
        let Inbound { method, url, headers, origin } = Inbound::parse(line)?;
        let (path, query) = split_url(url);
        let origin = origin.filter(|_| !self.cfg.cors_origins.is_empty());
        let cors = origin.filter(|_| is_cors_path(&self.cfg, path)).and_then(|o| self.cfg.cors_allow(o));
        let carries_key = headers.authorization.is_some_and(|v| authorization_carries_api_key(v, &self.cfg.api_key_prefix));
        let plan = plan(&self.cfg, method, path, &headers);
        Some(Read { method, url, path, query, drop_authorization: carries_key, cors, plan })
    }

    /// The reply to a plan that needs no credential check. `cors`: the
    /// request's Origin is allowed here.
    fn answer(&self, plan: Plan<'_>, cors: bool, rid: &Rid<'_>) -> Reply {
        match plan {
            Plan::NotFound => reject::not_found(),
            Plan::BadPath => reject::bad_request("the path contains an encoded / or \\"),
            // Another origin's preflight gets no CORS header at all (the
            // browser refuses it for want of Allow-Origin either way).
            Plan::Preflight if !cors => Reply::empty(204),
            Plan::Preflight => Reply::empty(204)
                .with_header("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
                .with_header("access-control-allow-headers", "authorization, content-type, x-request-id")
                .with_header("access-control-max-age", "600"),
            Plan::Reject { route, rejection } => {
                console_log(&rejection_log(route, &rejection, rid.get()));
                reject::unauthorized(&rejection)
            }
            // Callers answer these themselves; here it would be a bug.
            Plan::Keys { .. } | Plan::Forward { .. } => reject::internal_error(),
        }
    }

    /// Handles a request that needs no waiting; `None` when it must wait
    /// (see [`Core::handle`]). Most requests end here.
    fn handle_now(&self, request: &Request, line: &str, rid: &Rid<'_>, verdict: Option<Verdict>) -> Option<Handled> {
        let Some(read) = self.read(line) else {
            return Some(Handled::Done(Ok(to_response(reject::bad_request("the request could not be read"), None, rid).into())));
        };
        let reply = |r: Reply| Some(Handled::Done(Ok(to_response(r, read.cors.as_deref(), rid).into())));
        let (route, auth, credential) = match read.plan {
            Plan::Forward { route, auth, credential } => (route, auth, credential),
            Plan::Keys { .. } => return None,
            plan => return reply(self.answer(plan, read.cors.is_some(), rid)),
        };
        let identity = match credential {
            None => None,
            Some(Credential::ApiKey(_)) => return None,
            Some(Credential::Jwt(token)) => match self.verify_jwt_now(token, verdict)? {
                Ok(Claims { sub, .. }) => Some(Identity { user_id: sub, method: AuthMethod::Jwt, api_key_id: None }),
                Err(Failure::Suspend(verify, hash)) => return Some(Handled::Suspend(verify, hash)),
                Err(f) => return reply(self.failure(route, f, rid)),
            },
        };
        Some(Handled::Done(self.forward(request, &read, auth, identity.as_ref())))
    }

    /// A `Response`, or a promise of one (the upstream fetch): every request,
    /// those that wait included.
    async fn handle(&self, request: &Request, line: &str, rid: &Rid<'_>, verdict: Option<Verdict>) -> Handled {
        let Some(read) = self.read(line) else {
            return Handled::Done(Ok(to_response(reject::bad_request("the request could not be read"), None, rid).into()));
        };
        let reply = |r: Reply| Handled::Done(Ok(to_response(r, read.cors.as_deref(), rid).into()));
        match read.plan {
            Plan::Keys { op, token } => match self.verify_jwt(token, rid, verdict).await {
                Ok(claims) => match keys_api::serve(self, op, &claims.sub, request, rid).await {
                    Ok(r) => reply(r),
                    Err(e) => Handled::Done(Err(e)),
                },
                Err(Failure::Suspend(verify, hash)) => Handled::Suspend(verify, hash),
                Err(f) => reply(self.failure(crate::gateway::route::KEYS_PATH, f, rid)),
            },
            Plan::Forward { route, auth, credential } => {
                let identity = match credential {
                    None => None,
                    Some(Credential::Jwt(token)) => match self.verify_jwt(token, rid, verdict).await {
                        Ok(Claims { sub, .. }) => Some(Identity { user_id: sub, method: AuthMethod::Jwt, api_key_id: None }),
                        Err(Failure::Suspend(verify, hash)) => return Handled::Suspend(verify, hash),
                        Err(f) => return reply(self.failure(route, f, rid)),
                    },
                    Some(Credential::ApiKey(key)) => match self.verify_api_key(key, rid).await {
                        Ok(identity) => Some(identity),
                        Err(f) => return reply(self.failure(route, f, rid)),
                    },
                };
                Handled::Done(self.forward(request, &read, auth, identity.as_ref()))
            }
            plan => reply(self.answer(plan, read.cors.is_some(), rid)),
        }
    }

    fn failure(&self, route: &str, failure: Failure, rid: &Rid<'_>) -> Reply {
        match failure {
            Failure::Reject(rejection) => {
                console_log(&rejection_log(route, &rejection, rid.get()));
                reject::unauthorized(&rejection)
            }
            Failure::Unavailable => {
                console_log(&event_log("warn", "auth_unavailable", rid.get(), json!({ "route": route })));
                reject::unavailable()
            }
            // Handled by the callers that allow it; here it would be a bug.
            Failure::Suspend(..) => reject::internal_error(),
        }
    }

    /// [`Core::verify_jwt`] where no waiting is needed: a cached token,
    /// HS256, a refusal, a verdict to apply, or a signature check to start
    /// with a key already imported (suspends). `None`: it must wait.
    fn verify_jwt_now(&self, token: &str, verdict: Option<Verdict>) -> Option<Result<Claims, Failure>> {
        let step = match self.jwt.borrow_mut().as_mut() {
            Some(v) => v.start(token, now_secs()),
            None => return Some(Err(Failure::Reject(Reason::AlgNotAllowed.into()))),
        };
        let (parsed, hash) = match step {
            JwtStep::Done(result) => return Some(result.map_err(Failure::Reject)),
            JwtStep::NeedSignature(parsed, hash) => (parsed, hash),
        };
        let jwk = {
            let v = self.jwt.borrow();
            match v.as_ref()?.jwks.as_ref()?.lookup(parsed.kid.as_deref(), parsed.alg, now_secs()) {
                KeyLookup::Key(k) => k.clone(),
                KeyLookup::Reject(reason) => return Some(Err(Failure::Reject(Rejection { reason, kid: parsed.kid.clone(), expired_secs: None }))),
                KeyLookup::Unavailable => return Some(Err(Failure::Unavailable)),
                KeyLookup::Fetch | KeyLookup::Wait => return None,
            }
        };
        let job = self.crypto.borrow().job(&jwk);
        self.verdict_or_suspend(&parsed, hash, &job, verdict)
    }

    /// With the key for a token that needs its signature checked: applies
    /// this pass's verdict for the token, or starts WebCrypto's verify with
    /// an imported key and suspends (see [`Verdict`]; a second pass never
    /// suspends again, so there is no loop). `None`: the key must be
    /// imported, or the signature checked, with an await.
    fn verdict_or_suspend(&self, parsed: &ParsedJwt<'_>, hash: TokenHash, job: &VerifyJob, verdict: Option<Verdict>) -> Option<Result<Claims, Failure>> {
        match verdict {
            Some(Verdict { hash: h, ok }) if h == hash => Some(self.finish_jwt(parsed, hash, ok)),
            Some(_) => None,
            None => {
                let verify = job.start_verify(job.cached()?, &parsed.signature, parsed.signing_input.as_bytes()).ok()?;
                Some(Err(Failure::Suspend(verify, hash)))
            }
        }
    }

    /// The signature's verdict into the core: claims checked, token cached.
    fn finish_jwt(&self, parsed: &ParsedJwt<'_>, hash: TokenHash, ok: bool) -> Result<Claims, Failure> {
        let mut v = self.jwt.borrow_mut();
        v.as_mut().ok_or(Failure::Unavailable)?.finish(parsed, hash, ok, now_secs()).map_err(Failure::Reject)
    }

    /// Verifies a JWT: cache, HS256 in Rust, or RS256/ES256 with a JWKS key
    /// through WebCrypto, fetching the JWKS when the core says so.
    /// A token whose key is imported suspends instead of awaiting WebCrypto
    /// (and its second pass applies the verdict).
    pub(super) async fn verify_jwt(&self, token: &str, rid: &Rid<'_>, verdict: Option<Verdict>) -> Result<Claims, Failure> {
        let step = match self.jwt.borrow_mut().as_mut() {
            Some(v) => v.start(token, now_secs()),
            None => return Err(Failure::Reject(Reason::AlgNotAllowed.into())),
        };
        let (parsed, hash) = match step {
            JwtStep::Done(result) => return result.map_err(Failure::Reject),
            JwtStep::NeedSignature(parsed, hash) => (parsed, hash),
        };
        let with_kid = |reason| Failure::Reject(Rejection { reason, kid: parsed.kid.clone(), expired_secs: None });

        enum Next {
            Key(Jwk),
            Fetch,
            Wait,
            Reject(Reason),
            Unavailable,
        }
        for _ in 0..MAX_ROUNDS {
            let next = {
                let v = self.jwt.borrow();
                match v.as_ref().and_then(|v| v.jwks.as_ref()) {
                    None => Next::Reject(Reason::AlgNotAllowed),
                    Some(jwks) => match jwks.lookup(parsed.kid.as_deref(), parsed.alg, now_secs()) {
                        KeyLookup::Key(k) => Next::Key(k.clone()),
                        KeyLookup::Fetch => Next::Fetch,
                        KeyLookup::Wait => Next::Wait,
                        KeyLookup::Reject(r) => Next::Reject(r),
                        KeyLookup::Unavailable => Next::Unavailable,
                    },
                }
            };
            match next {
                Next::Key(jwk) => {
                    let job = self.crypto.borrow().job(&jwk);
                    if let Some(done) = self.verdict_or_suspend(&parsed, hash, &job, verdict) {
                        return done;
                    }
                    let key = match job.key(&jwk).await {
                        Ok((key, fresh)) => {
                            if fresh {
                                self.crypto.borrow_mut().remember(jwk.clone(), key.clone());
                            }
                            key
                        }
                        Err(e) => {
                            let detail = json!({ "kid": jwk.kid, "detail": describe_js(&e) });
                            console_log(&event_log("error", "key_import_failed", rid.get(), detail));
                            return Err(with_kid(Reason::BadSignature));
                        }
                    };
                    let ok = job.verify(&key, &parsed.signature, parsed.signing_input.as_bytes()).await.unwrap_or(false);
                    return self.finish_jwt(&parsed, hash, ok);
                }
                Next::Fetch => self.refresh_jwks(rid).await,
                Next::Wait => {
                    let _ = sleep(WAIT_STEP_MS, &Cancel::new(None, None)).await;
                }
                Next::Reject(reason) => return Err(with_kid(reason)),
                Next::Unavailable => return Err(Failure::Unavailable),
            }
        }
        Err(Failure::Unavailable)
    }

    /// One JWKS refresh (discovery first when the JWKS URL is not known yet).
    async fn refresh_jwks(&self, rid: &Rid<'_>) {
        let step = match self.jwt.borrow_mut().as_mut().and_then(|v| v.jwks.as_mut()) {
            Some(jwks) => jwks.begin_fetch(now_secs()),
            None => return,
        };
        let log_failure = |what: &str, detail: String| {
            console_log(&event_log("error", "jwks_fetch_failed", rid.get(), json!({ "step": what, "detail": detail })));
        };
        let fail = |what: &str, detail: String| {
            log_failure(what, detail);
            if let Some(jwks) = self.jwt.borrow_mut().as_mut().and_then(|v| v.jwks.as_mut()) {
                jwks.on_failure(now_secs());
            }
        };
        let url = match step {
            FetchStep::Jwks(url) => url,
            FetchStep::Discovery(url) => match fetch_capped(&url, JWKS_TIMEOUT_MS, MAX_BODY_BYTES).await {
                Err(e) => return fail("discovery", e),
                Ok(body) => {
                    let result = match self.jwt.borrow_mut().as_mut().and_then(|v| v.jwks.as_mut()) {
                        Some(jwks) => jwks.on_discovery(&body, now_secs()),
                        None => return,
                    };
                    match result {
                        Ok(url) => url,
                        Err(e) => return log_failure("discovery", format!("{e:?}")),
                    }
                }
            },
        };
        match fetch_capped(&url, JWKS_TIMEOUT_MS, MAX_BODY_BYTES).await {
            Err(e) => fail("jwks", e),
            Ok(body) => {
                let result = match self.jwt.borrow_mut().as_mut() {
                    Some(v) => v.on_jwks(&body, now_secs()).map(|gone| (gone, v.jwks.as_ref().map(|j| j.keys().to_vec()))),
                    None => return,
                };
                match result {
                    Ok((gone, keys)) => {
                        let keys = keys.unwrap_or_default();
                        self.crypto.borrow_mut().retain(&keys);
                        let detail = json!({ "keys": keys.len(), "kids_dropped": gone });
                        console_log(&event_log("info", "jwks_refreshed", rid.get(), detail));
                    }
                    Err(e) => log_failure("jwks", format!("{e:?}")),
                }
            }
        }
    }

    /// Looks an API key up by its hash; unknown keys go to the negative cache.
    async fn verify_api_key(&self, key: &str, rid: &Rid<'_>) -> Result<Identity, Failure> {
        let unknown = || Failure::Reject(Reason::UnknownApiKey.into());
        if !api_keys::well_formed(key, &self.cfg.api_key_prefix) {
            return Err(unknown());
        }
        let hash = api_keys::sha256_hex(key);
        let now = now_secs();
        if self.negative.borrow().contains(&hash, now) {
            return Err(unknown());
        }
        let Some(kv) = &self.kv else { return Err(Failure::Unavailable) };
        match kv_get(kv, &api_keys::record_key(&hash)).await {
            Ok(Some(text)) => match serde_json::from_str::<KeyRecord>(&text) {
                Ok(r) if is_safe_header_value(&r.owner) => {
                    Ok(Identity { user_id: r.owner, method: AuthMethod::ApiKey, api_key_id: Some(r.id) })
                }
                _ => {
                    console_log(&event_log("error", "key_record_corrupt", rid.get(), json!({})));
                    Err(unknown())
                }
            },
            Ok(None) => {
                self.negative.borrow_mut().insert(hash, now);
                Err(unknown())
            }
            Err(e) => {
                console_log(&event_log("error", "kv_failed", rid.get(), json!({ "detail": describe_js(&e) })));
                Err(Failure::Unavailable)
            }
        }
    }

    /// Forwards to the origin with the cleaned headers and the identity;
    /// returns the fetch's promise (a 502 if it fails, CORS headers added
    /// when the origin is allowed).
    fn forward(&self, request: &Request, read: &Read<'_>, auth: AuthMode, identity: Option<&Identity>) -> Result<JsValue, JsValue> {
        let Read { method, url, path, query, .. } = *read;
        let lines = match identity {
            None => None,
            Some(identity) => {
                let signature = self.cfg.identity_secret.as_ref().map(|secret| {
                    let ts = now_secs();
                    let mut signed_path = String::with_capacity(self.upstream_path.len() + path.len());
                    signed_path.push_str(&self.upstream_path);
                    signed_path.push_str(path);
                    (ts, sign(secret, method, &signed_path, identity, ts))
                });
                let lines = identity_lines(identity, signature.as_ref().map(|(ts, sig)| (*ts, sig.as_str())));
                Some(lines.ok_or_else(|| JsValue::from_str("an identity header value is not header-safe"))?)
            }
        };
        // The upstream URL: MESH_UPSTREAM_URL + path + query. Where they are one
        // span of the request's URL, JavaScript slices it from `request.url`
        // (no string made here and decoded there: measured per request).
        let (target, from, to) = match path_span(url) {
            Some((from, to)) => (None, from, to),
            None => {
                let mut target = String::with_capacity(self.cfg.upstream_url.len() + path.len() + query.len());
                for part in [self.cfg.upstream_url.as_str(), path, query] {
                    target.push_str(part);
                }
                (Some(target), 0, 0)
            }
        };
        let drop = &self.stripped[(auth == AuthMode::ApiKey || read.drop_authorization) as usize];
        let origin = read.cors.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
        UPSTREAM_FAILED.with(|failed| {
            WITH_CORS.with(|with_cors| {
                let (base, prefix) = (&self.upstream_url, &self.identity_prefix);
                forward_js(request, base, target.as_deref(), from, to, drop, prefix, lines.as_deref(), failed, &origin, with_cors)
            })
        })
    }
}

/// GETs `url` with a timeout, no redirects and a body cap. Any status but
/// 200 (a redirect included) is a failure.
async fn fetch_capped(url: &str, timeout_ms: u32, cap: usize) -> Result<Vec<u8>, String> {
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_redirect(RequestRedirect::Manual);
    let signal = abort_signal_timeout(timeout_ms).map_err(|e| describe_js(&e))?;
    init.set_signal(Some(&signal));
    let headers = Headers::new().map_err(|e| describe_js(&e))?;
    let _ = headers.set("accept", "application/json");
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(url, &init).map_err(|e| describe_js(&e))?;
    let response: Response = JsFuture::from(fetch_with_request(&request)).await.map_err(|e| describe_js(&e))?.unchecked_into();
    if response.status() != 200 {
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
        return Err(format!("status {}", response.status()));
    }
    let declared = response.headers().get("content-length").ok().flatten().and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        if let Some(body) = response.body() {
            let _ = body.cancel();
        }
        return Err("body over the size cap".into());
    }
    match read_capped(response.body(), cap).await {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::TooLarge) => Err("body over the size cap".into()),
        Err(ReadError::Failed(e)) => Err(describe_js(&e)),
    }
}

pub(super) async fn kv_get(kv: &KvNamespace, key: &str) -> Result<Option<String>, JsValue> {
    Ok(JsFuture::from(kv.get(key)?).await?.as_string())
}

pub(super) async fn kv_put(kv: &KvNamespace, key: &str, value: &str, metadata: Option<&JsValue>) -> Result<(), JsValue> {
    let options = match metadata {
        Some(m) => object(&[("metadata", m.clone())]).into(),
        None => JsValue::UNDEFINED,
    };
    JsFuture::from(kv.put(key, value, &options)?).await.map(|_| ())
}

pub(super) async fn kv_delete(kv: &KvNamespace, key: &str) -> Result<(), JsValue> {
    JsFuture::from(kv.delete(key)?).await.map(|_| ())
}

/// Every `(name, metadata)` under `prefix`, following cursors (bounded).
pub(super) async fn kv_list(kv: &KvNamespace, prefix: &str) -> Result<Vec<(String, JsValue)>, JsValue> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..16 {
        let options = object(&[("prefix", JsValue::from_str(prefix))]);
        if let Some(c) = &cursor {
            set_prop(&options, "cursor", &JsValue::from_str(c));
        }
        let page = JsFuture::from(kv.list(&options)?).await?;
        let keys: js_sys::Array = get_prop(&page, "keys").dyn_into().unwrap_or_default();
        for k in keys.iter() {
            if let Some(name) = get_prop(&k, "name").as_string() {
                out.push((name, get_prop(&k, "metadata")));
            }
        }
        if get_prop(&page, "list_complete").is_truthy() {
            break;
        }
        cursor = get_prop(&page, "cursor").as_string();
        if cursor.is_none() {
            break;
        }
    }
    Ok(out)
}

/// Reads a request body up to `cap` bytes.
pub(super) async fn read_body(request: &Request, cap: usize) -> Result<Option<Vec<u8>>, JsValue> {
    match read_capped(request.body(), cap).await {
        Ok(b) => Ok(Some(b)),
        Err(ReadError::TooLarge) => Ok(None),
        Err(ReadError::Failed(e)) => Err(e),
    }
}

/// Random bytes (getrandom; only ever called inside a request).
pub(super) fn random<const N: usize>() -> Result<[u8; N], JsValue> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| JsValue::from_str(&format!("getrandom: {e}")))?;
    Ok(b)
}
