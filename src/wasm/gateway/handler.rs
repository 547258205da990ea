//! The Worker's fetch handler as one step loop: each pass over a request
//! asks the core what it needs ([`Configured::pass`]); the answer is a
//! response, or the IO to do first (a JWKS fetch, a key import, a signature
//! verdict, a key record from KV or its shard, a global rate-limit count, the
//! keys API), which [`run`] does before the next
//! pass. A public route, a refusal, a cached or HS256 token is the same loop
//! finishing at its first pass, with no IO and no task.
//!
//! [`respond`] makes the loop's first pass with no future: most requests are
//! done there, and only one that needs IO becomes a task ([`run`]). A signature
//! check with a key already imported does not wait in Rust: the pass holds
//! the request's line under an id and returns `verify(...).then(...)`
//! (`suspend` in plumbing.js), which comes back with the verdict as a new
//! first pass over the same line. Measured in workerd, a task with its
//! promise wrappers cost more CPU than the verify itself. The upstream fetch
//! is never awaited in Rust: its promise is returned.
//!
//! State lives per isolate in [`Gateway`]; no `RefCell` borrow is held across
//! an `await`, and nothing shares a pending promise across requests (Workers
//! forbid I/O on behalf of another request): a request that finds a JWKS
//! fetch in flight waits on its own timer and looks again.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Promise};
use serde_json::json;
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{CryptoKey, Request};

use crate::gateway::api_keys::{self, NegativeCache, NEGATIVE_CAPACITY, NEGATIVE_TTL_SECS};
use crate::gateway::authorize::Grants;
use crate::gateway::key_use::{self, KeyUse};
use crate::gateway::config::{ConfigError, GatewayConfig, KEY_STORE_BINDING, VARIABLES};
use crate::gateway::rate_limit::TakeAnswer;
use crate::gateway::stores::{KeysStore, RateLimitStore, KEYS_DO_BINDING, RATE_LIMITS_BINDING};
use crate::gateway::cors::{self, allowed_origin};
use crate::gateway::env_names;
use crate::gateway::forwarded;
use crate::gateway::resource;
use crate::gateway::headers::{authorization_carries_api_key, push_line, stripped_names, AuthMethod, Identity, IDENTITY_LINES_CAPACITY, IDENTITY_PREFIX};
use crate::gateway::identity::injected;
use crate::gateway::jwks::{Jwk, MAX_WAITS, WAIT_STEP_MS};
use crate::gateway::jwt::{Reason, Rejection};
use crate::gateway::reject::{self, event_log, rejection_log, Reply};
use crate::gateway::request::{split_url, upstream_target, Credential, Inbound, KeysOp, Plan, Upstream};
use crate::gateway::route::{AuthMode, Inject};
use crate::gateway::service_token;
use crate::gateway::token_broker::{failure_reply, Answer, IsolateToken, Use};
use crate::gateway::token_cache::TokenHash;
use crate::gateway::verify::{pick_issuer, JwtNeed, JwtVerifier, Suspended};
use crate::wasm::error::describe_js;
use crate::wasm::global::{now_ms, now_secs, object_names};
use crate::wasm::timer::{sleep, Cancel};

use super::durable::DurableObjectNamespace;
use super::js::{console_log, get_prop, object, random, KvNamespace};
use super::jwks_fetch;
use super::keys_api::{self, KeyStore};
use super::keys_do::KeyShards;
use super::objects;
use super::response::{cors_adder, to_response, upstream_failed, Rid};
use super::webcrypto::WebCrypto;

/// The `KeyShard` and `RateLimitShard` namespaces of the env, if bound.
/// The Durable Object namespaces of the env: keys, rate limits, the token broker.
type DoBindings = (Option<DurableObjectNamespace>, Option<DurableObjectNamespace>, Option<DurableObjectNamespace>);

pub struct Gateway {
    options: Option<Object>,
    loaded: RefCell<Option<Loaded>>,
    /// Requests whose token's signature WebCrypto is checking, with their
    /// lines, by the id the verdict comes back with.
    suspended: RefCell<Suspended<(TokenHash, String)>>,
}

struct Loaded {
    fingerprint: [u8; 32],
    configured: Result<Rc<Configured>, ConfigError>,
}

/// Everything one configuration needs, per isolate: the core's state and
/// the JS values each request passes on, made once.
pub(super) struct Configured {
    cfg: GatewayConfig,
    keys: Option<Rc<KeyStore>>,
    /// With `MESH_RATE_LIMIT_STORE=do`: where keys' requests are counted.
    limits: Option<DurableObjectNamespace>,
    /// One verifier per configured issuer, in the configuration's order.
    jwt: RefCell<Vec<JwtVerifier>>,
    crypto: RefCell<WebCrypto>,
    /// What `forward` in plumbing.js reads, without and with `authorization`
    /// among the names dropped.
    upstream: [JsValue; 2],
    /// The broker and this isolate's copy of the service token, when configured.
    service: Option<(DurableObjectNamespace, String, RefCell<IsolateToken>)>,
}

/// One pass over a request as the JS front hands it over (see [`respond`]).
pub struct Call {
    /// The JS front's state, which a suspended request resumes through.
    pub front: JsValue,
    pub request: Request,
    pub env: JsValue,
    /// The Worker's execution context (`waitUntil`); `undefined` outside workerd.
    pub ctx: JsValue,
    /// `env` is the object of the previous call (compared in JavaScript).
    pub same_env: bool,
}

pub enum PassKind {
    /// The request's line (`inbound` in plumbing.js).
    First(String),
    /// The id its first pass held the line under, and the verdict.
    Resumed(u32, bool),
}

/// What a pass needs done before the next one.
enum Need<'l> {
    /// The key set of the issuer with this index.
    Jwks(usize),
    Wait,
    ImportKey(usize, Jwk),
    Verify { issuer: usize, jwk: Jwk, signature: Vec<u8>, signing_input: &'l str, hash: TokenHash },
    KeyRecord(String),
    /// A global count: one request against `limit` per minute, in the object named.
    RateLimit { object: String, limit: u32 },
    /// `scopes`: the creator's, which a new key's must be among.
    KeysApi { op: KeysOp, owner: String, scopes: Vec<String>, cors: Option<String> },
    /// The service token from the broker (the isolate's copy is due).
    ServiceToken,
}

/// What the IO between passes found, for the next pass.
#[derive(Default)]
struct Fed {
    verdict: Option<(TokenHash, bool)>,
    import_failed: bool,
    /// The record of an API key's hash, from KV or its shard (`None` inside: no such key).
    record: Option<Result<Option<String>, JsValue>>,
    /// A rate-limit object's answer, or why it gave none.
    rate: Option<Result<TakeAnswer, JsValue>>,
    /// The broker had no service token to give.
    service_failure: Option<Answer>,
}

/// What a pass gives.
enum Pass<'l> {
    /// A `Response` or a promise of one; an error the handling did not expect.
    Done(Result<JsValue, JsValue>),
    Need(Need<'l>),
}

/// Why a credential did not authenticate (yet).
enum Failure<'l> {
    Reject(Rejection),
    /// JWKS or KV unreachable (503).
    Unavailable,
    /// An API key over its rate limit (429), retry after these seconds.
    Limited(i64),
    Need(Need<'l>),
}

impl Gateway {
    pub fn new(options: Option<Object>) -> Self {
        Gateway { options, loaded: RefCell::new(None), suspended: RefCell::new(Suspended::new()) }
    }

    fn var(&self, env: &JsValue, name: &str) -> Option<String> {
        text(get_prop(env, name)).or_else(|| self.options.as_ref().and_then(|o| text(get_prop(o, name))))
    }

    /// The configuration for this env: the cached one when the env is the
    /// object of the previous call (`same_env`) or has the same values of the
    /// core's variables, else a fresh parse.
    fn configured(&self, env: &JsValue, same_env: bool) -> Result<Rc<Configured>, ConfigError> {
        if let Some(l) = self.loaded.borrow().as_ref().filter(|_| same_env) {
            return l.configured.clone();
        }
        let kv = get_prop(env, KEY_STORE_BINDING);
        let kv = (kv.is_object()).then(|| kv.unchecked_into::<KvNamespace>());
        let namespace = |name| Some(get_prop(env, name)).filter(JsValue::is_object).map(JsCast::unchecked_into::<DurableObjectNamespace>);
        let (keys_do, limits, broker) = (namespace(KEYS_DO_BINDING), namespace(RATE_LIMITS_BINDING), namespace(service_token::BROKER_BINDING));
        let mut values: Vec<Option<String>> = VARIABLES.iter().map(|n| self.var(env, n)).collect();
        // The service token's secret, by the name its configuration gives.
        let secret_var = service_token::secret_var(values[VARIABLES.iter().position(|n| *n == service_token::VARIABLE).expect("listed")].as_deref());
        values.push(secret_var.as_deref().and_then(|n| self.var(env, n)));
        let mut h = Sha256::new();
        for v in &values {
            h.update(v.as_deref().map(|v| [b"1", v.as_bytes()].concat()).unwrap_or_else(|| b"0".to_vec()));
            h.update([0]);
        }
        h.update([kv.is_some() as u8, keys_do.is_some() as u8, limits.is_some() as u8, broker.is_some() as u8]);
        let fingerprint: [u8; 32] = h.finalize().into();

        let mut loaded = self.loaded.borrow_mut();
        if let Some(l) = loaded.as_mut() {
            if l.fingerprint == fingerprint {
                return l.configured.clone();
            }
        }
        let lookup = |name: &str| match VARIABLES.iter().position(|n| *n == name) {
            Some(i) => values[i].clone(),
            None if secret_var.as_deref() == Some(name) => values[VARIABLES.len()].clone(),
            None => None,
        };
        // The token cache's hash key: secret, per isolate and configuration.
        let seed = random::<32>().map_err(|e| ConfigError { variable: "crypto.getRandomValues", problem: describe_js(&e) });
        let configured = GatewayConfig::from_env(lookup, kv.is_some()).and_then(|cfg| {
            cfg.stores.check_build(cfg.service_token.is_some(), cfg!(feature = "durable-objects"))?;
            cfg.stores.check_bindings(keys_do.is_some(), limits.is_some())?;
            service_token::check_binding(&cfg, broker.is_some())?;
            Ok(Rc::new(Configured::new(cfg, kv, (keys_do, limits, broker), seed?)))
        });
        // Once per configuration: a misspelt name (in the env, or in
        // createGateway's options) reads as unset, and the log says so.
        let mut keys = object_names(env);
        keys.extend(self.options.iter().flat_map(|o| object_names(o)));
        for (name, meant) in env_names::misspelt(keys.iter().map(String::as_str), secret_var.as_deref()) {
            console_log(&event_log("warn", "env_name_misspelt", "", json!({ "name": name, "meant": meant })));
        }
        match &configured {
            Ok(_) => console_log(&event_log("info", "gateway_configured", "", json!({}))),
            Err(e) => console_log(&event_log("error", "gateway_misconfigured", "", json!({ "problem": e.to_string() }))),
        }
        *loaded = Some(Loaded { fingerprint, configured: configured.clone() });
        configured
    }

    /// An error the handling did not expect: logged, answered with a 500.
    fn internal_error(&self, request: &Request, e: &JsValue) -> JsValue {
        let rid = Rid::new(request);
        console_log(&event_log("error", "internal_error", rid.get(), json!({ "detail": describe_js(e) })));
        to_response(reject::internal_error(), None, &rid).into()
    }
}

/// One call from the JS front: runs the request's step loop, and makes a
/// task of it only if a pass needs IO. A `Response`, or a promise of one.
pub fn respond(gateway: &Rc<Gateway>, call: Call, pass: PassKind) -> JsValue {
    let (line, verdict) = match pass {
        PassKind::First(line) => (line, None),
        // A second pass: its line and the verdict, once, for the token they were held for.
        PassKind::Resumed(id, ok) => match gateway.suspended.borrow_mut().take(id) {
            Some((hash, line)) => (line, Some((hash, ok))),
            None => {
                // A bug in the plumbing. This call reads no env, so the front's
                // `same_env` of the next call could name one the core never saw:
                // forget the loaded configuration (the next call parses again).
                gateway.loaded.borrow_mut().take();
                return gateway.internal_error(&call.request, &JsValue::from_str("a verdict for no suspended request"));
            }
        },
    };
    // The loop's first pass, with no future: most requests end here, or
    // suspend on a signature check (see the module's note).
    if let Ok(configured) = gateway.configured(&call.env, call.same_env) {
        let rid = Rid::new(&call.request);
        let mut fed = Fed { verdict, ..Fed::default() };
        match configured.pass(&call, &line, &rid, &mut fed) {
            Pass::Done(Ok(value)) => return value,
            Pass::Done(Err(e)) => return gateway.internal_error(&call.request, &e),
            // A pass that brings a verdict never suspends again: no loop of suspends.
            Pass::Need(Need::Verify { issuer, jwk, signature, signing_input, hash }) if verdict.is_none() => {
                let verify = configured.crypto.borrow().verify(issuer, &jwk, &signature, signing_input.as_bytes());
                if let Ok(verify) = verify {
                    let id = gateway.suspended.borrow_mut().put((hash, line.clone()));
                    return suspend_js(&verify, &call.front, &call.request, &call.env, &call.ctx, id);
                }
            }
            Pass::Need(_) => {}
        }
    }
    // It needs IO: the loop goes on as a task, from the first pass again
    // (a pass that returns a need has changed nothing).
    future_to_promise(run(gateway.clone(), call, line, verdict)).into()
}

/// The step loop over one request: a pass, the IO it needs, the next pass.
async fn run(gateway: Rc<Gateway>, call: Call, line: String, verdict: Option<(TokenHash, bool)>) -> Result<JsValue, JsValue> {
    Ok(run_passes(gateway, call, line, verdict).await)
}

async fn run_passes(gateway: Rc<Gateway>, call: Call, line: String, verdict: Option<(TokenHash, bool)>) -> JsValue {
    let rid = Rid::new(&call.request);
    let configured = match gateway.configured(&call.env, call.same_env) {
        Ok(c) => c,
        Err(e) => {
            console_log(&event_log("error", "gateway_misconfigured", rid.get(), json!({ "problem": e.to_string() })));
            return to_response(reject::misconfigured(), None, &rid).into();
        }
    };
    let mut fed = Fed { verdict, ..Fed::default() };
    for _ in 0..MAX_WAITS {
        let need = match configured.pass(&call, &line, &rid, &mut fed) {
            Pass::Done(Ok(value)) => return value,
            Pass::Done(Err(e)) => return gateway.internal_error(&call.request, &e),
            Pass::Need(need) => need,
        };
        match need {
            Need::Verify { issuer, jwk, signature, signing_input, hash } => {
                let verify = configured.crypto.borrow().verify(issuer, &jwk, &signature, signing_input.as_bytes());
                let ok = match verify {
                    Ok(verify) => JsFuture::from(verify).await.is_ok_and(|v| v.is_truthy()),
                    Err(_) => false,
                };
                fed.verdict = Some((hash, ok));
            }
            Need::ImportKey(issuer, jwk) => {
                let import = configured.crypto.borrow().import(&jwk);
                let imported = match import {
                    Ok(promise) => JsFuture::from(promise).await,
                    Err(e) => Err(e),
                };
                match imported {
                    Ok(key) => configured.crypto.borrow_mut().remember(issuer, jwk, key.unchecked_into::<CryptoKey>()),
                    Err(e) => {
                        let detail = json!({ "kid": jwk.kid, "detail": describe_js(&e) });
                        console_log(&event_log("error", "key_import_failed", rid.get(), detail));
                        fed.import_failed = true;
                    }
                }
            }
            Need::Jwks(issuer) => jwks_fetch::refresh(&configured.jwt, &configured.crypto, issuer, &rid).await,
            Need::Wait => {
                let _ = sleep(WAIT_STEP_MS, &Cancel::new(None, None)).await;
            }
            Need::KeyRecord(hash) => {
                let store = configured.keys.as_ref().expect("a key record is asked for only with a key store");
                fed.record = Some(match &store.shards {
                    Some(shards) => out_of_line(shards.record(&store.kv, &hash)).await,
                    None => super::kv::get(&store.kv, &api_keys::record_key(&hash)).await,
                });
            }
            Need::RateLimit { object, limit } => {
                let limits = configured.limits.as_ref().expect("a count is asked for only with a rate-limit store");
                fed.rate = Some(out_of_line(objects::take(limits, object, limit)).await);
            }
            Need::ServiceToken => {
                let (namespace, name, held) = configured.service.as_ref().expect("asked for only when configured");
                let answer = super::service_token::ask(namespace, name, &rid).await;
                let usable = held.borrow_mut().on_answer(&answer, now_ms() as i64);
                fed.service_failure = (!usable).then_some(answer);
            }
            Need::KeysApi { op, owner, scopes, cors } => {
                return match keys_api::serve(configured.keys.as_deref(), op, (&owner, &scopes), &call.request, &rid).await {
                    Ok(reply) => to_response(reply, cors.as_deref(), &rid).into(),
                    Err(e) => gateway.internal_error(&call.request, &e),
                };
            }
        }
    }
    to_response(reject::unavailable(), None, &rid).into()
}

/// A future polled through a pointer: its code stays its own function
/// instead of growing [`run`]'s state machine, which every request's task
/// runs (the Durable Object calls are on no other request's path).
fn out_of_line<'f, T>(f: impl std::future::Future<Output = T> + 'f) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'f>> {
    Box::pin(f)
}

#[path = "api_key_pass.rs"]
mod api_key_pass;

#[wasm_bindgen(module = "/src/wasm/gateway/plumbing.js")]
extern "C" {
    /// `verify.then(...)`: a second pass over the request with `id` and the
    /// verdict (a rejection is `false`); see plumbing.js.
    #[wasm_bindgen(js_name = suspend)]
    fn suspend_js(verify: &Promise, front: &JsValue, request: &Request, env: &JsValue, ctx: &JsValue, id: u32) -> JsValue;

    /// The upstream fetch; see plumbing.js. Throws for a bad URL.
    #[wasm_bindgen(catch, js_name = forward)]
    fn forward_js(upstream: &JsValue, request: &Request, target: &JsValue, identity: Option<&str>, origin: Option<&str>) -> Result<JsValue, JsValue>;
}

impl Configured {
    fn new(cfg: GatewayConfig, kv: Option<KvNamespace>, (keys_do, limits, broker): DoBindings, seed: [u8; 32]) -> Configured {
        let (failed, with_cors) = (upstream_failed(cfg.upstream_timeout_ms), cors_adder());
        let upstream = [false, true].map(|drop_authorization| {
            let mut names = stripped_names(drop_authorization);
            names.extend(cfg.claim_headers());
            // A Set: every request header is looked up in it (about 25 names).
            let drop = js_sys::Set::new(&names.into_iter().map(JsValue::from_str).collect::<js_sys::Array>());
            object(&[
                ("base", JsValue::from_str(&cfg.upstream_url)),
                ("drop", drop.into()),
                ("prefix", JsValue::from_str(IDENTITY_PREFIX)),
                ("timeout", JsValue::from(cfg.upstream_timeout_ms)),
                ("failed", failed.clone()),
                ("withCors", with_cors.clone()),
            ])
            .into()
        });
        Configured {
            jwt: RefCell::new(cfg.issuers.iter().map(|c| JwtVerifier::new(c.clone(), seed)).collect()),
            crypto: RefCell::new(WebCrypto::new()),
            keys: kv.map(|kv| {
                Rc::new(KeyStore {
                    kv,
                    prefix: cfg.api_key_prefix.clone(),
                    negative: RefCell::new(NegativeCache::new(cfg.stores.negative_ttl(NEGATIVE_TTL_SECS), NEGATIVE_CAPACITY)),
                    used: RefCell::new(KeyUse::default()),
                    shards: keys_do.filter(|_| cfg.stores.keys == KeysStore::Do).map(|ns| KeyShards::new(ns, cfg.stores.cache_secs)),
                })
            }),
            limits: limits.filter(|_| cfg.stores.rate_limits == RateLimitStore::Do),
            upstream,
            service: cfg.service_token.as_ref().zip(broker).map(|(st, ns)| (ns, st.broker_name(), RefCell::new(IsolateToken::default()))),
            cfg,
        }
    }

    /// One pass: the response, or the IO it needs first. `fed` holds what
    /// the IO since the last pass found.
    fn pass<'l>(&'l self, call: &Call, line: &'l str, rid: &Rid<'_>, fed: &mut Fed) -> Pass<'l> {
        let Some(Inbound { method, url, headers, origin, client_ip }) = Inbound::parse(line) else {
            return Pass::Done(Ok(to_response(reject::bad_request("the request could not be read"), None, rid).into()));
        };
        let (path, query) = split_url(url);
        let cors = allowed_origin(&self.cfg, path, origin);
        let reply = |r: Reply| Pass::Done(Ok(to_response(r, cors.as_deref(), rid).into()));
        let (route, auth, rules, credential, keys_op) = match crate::gateway::request::plan(&self.cfg, method, path, &headers) {
            Plan::Forward { route, auth, rules, credential, inject } => (route, auth, Some((rules, inject)), credential, None),
            Plan::Keys { op, token, rules } => (self.cfg.keys_path.as_str(), AuthMode::Jwt, Some((rules, None)), Some(Credential::Jwt(token)), Some(op)),
            Plan::NotFound => return reply(reject::not_found()),
            Plan::BadPath => return reply(reject::bad_path()),
            Plan::MethodNotAllowed { allow, .. } => return reply(reject::method_not_allowed(&allow)),
            Plan::Preflight => return reply(cors::preflight(cors.is_some())),
            Plan::Reject { route, auth, rejection } => return reply(self.failure((route, auth, url), Failure::Reject(rejection), rid)),
            Plan::ResourceMetadata(resource) => {
                return reply(resource::metadata(&self.cfg, url, resource).unwrap_or_else(reject::not_found));
            }
        };
        let inject = rules.and_then(|(_, inject)| inject);
        // The service token first: a credential's checks (a key's rate
        // limit) must not run again on the pass after the broker's answer.
        if inject == Some(Inject::ServiceToken) {
            let Some((_, _, held)) = &self.service else { return reply(reject::misconfigured()) };
            // The broker's answer to this request, or a recent one this isolate keeps.
            let failure = match fed.service_failure.take() {
                Some(answer) => Some(answer),
                None => match held.borrow_mut().get(now_ms() as i64) {
                    Use::Ask => return Pass::Need(Need::ServiceToken),
                    Use::Failed(answer) => Some(answer),
                    Use::Token(_) => None,
                },
            };
            if let Some(failure) = failure {
                console_log(&event_log("warn", "service_token_missing", rid.get(), json!({ "route": route })));
                return reply(failure_reply(&failure));
            }
        }
        let identity = match credential {
            None => Ok(None),
            Some(Credential::Jwt(token)) => self.verify_jwt(token, fed).map(Some),
            Some(Credential::ApiKey(key)) => self.verify_api_key(key, call, rid, fed).map(Some),
        };
        let verified = match identity {
            Ok(verified) => verified,
            Err(Failure::Need(need)) => return Pass::Need(need),
            Err(f) => return reply(self.failure((route, auth, url), f, rid)),
        };
        if let (Some((rules, _)), Some((_, grants))) = (rules.filter(|(r, _)| r.authorizes()), &verified) {
            if let Err(missing) = rules.check(grants) {
                console_log(&reject::forbidden_log(route, &missing, rid.get()));
                return reply(reject::forbidden(rules, &missing));
            }
        }
        if let Some(op) = keys_op {
            // The keys API's caller is a verified JWT: its scopes bound a new key's.
            let (owner, scopes) = verified.map(|(i, g)| (i.user_id.to_string(), g.scopes.clone())).unwrap_or_default();
            return Pass::Need(Need::KeysApi { op, owner, scopes, cors });
        }
        let carries_key = headers.authorization.is_some_and(|v| authorization_carries_api_key(v, &self.cfg.api_key_prefix));
        let upstream = &self.upstream[(auth == AuthMode::ApiKey || carries_key || inject.is_some()) as usize];
        let mut lines = match &verified {
            // Room for the proxy headers: no regrowth on the way.
            None => String::with_capacity(IDENTITY_LINES_CAPACITY),
            Some((identity, grants)) => match injected(&self.cfg, (method, path, query), identity, Some(&**grants), now_secs()) {
                Some(lines) => lines,
                None => return Pass::Done(Err(JsValue::from_str("an identity header value is not header-safe"))),
            },
        };
        forwarded::push_lines(&mut lines, url, client_ip);
        if let (Some(Inject::ServiceToken), Some((_, _, held))) = (inject, &self.service) {
            // Held since the check above: this pass did no IO in between.
            match held.borrow_mut().get(now_ms() as i64) {
                Use::Token(token) => push_line(&mut lines, "authorization", &format!("Bearer {}", token.secret())),
                // Not after the check above in this pass (no IO in between).
                Use::Ask | Use::Failed(_) => return Pass::Need(Need::ServiceToken),
            }
        }
        // Where the path and query run to the URL's end, JavaScript slices
        // them from `request.url` (no string made here and decoded there).
        let target = match upstream_target(&self.cfg, url) {
            Upstream::From(from) => JsValue::from(from),
            Upstream::Url(url) => JsValue::from_str(&url),
        };
        Pass::Done(forward_js(upstream, &call.request, &target, Some(&lines), cors.as_deref()))
    }

    /// The reply to a refused or unverifiable credential on `route` (its
    /// prefix and mode, and the request URL for the 401's metadata link).
    fn failure(&self, (route, auth, url): (&str, AuthMode, &str), failure: Failure<'_>, rid: &Rid<'_>) -> Reply {
        match failure {
            Failure::Reject(rejection) => {
                console_log(&rejection_log(route, &rejection, rid.get()));
                let metadata = (auth == AuthMode::Jwt).then(|| resource::metadata_url(url, route)).flatten();
                reject::challenged(&rejection, metadata.as_deref())
            }
            Failure::Unavailable => {
                console_log(&event_log("warn", "auth_unavailable", rid.get(), json!({ "route": route })));
                reject::unavailable()
            }
            Failure::Limited(retry_after) => {
                console_log(&event_log("warn", "rate_limited", rid.get(), json!({ "route": route, "retry_after": retry_after })));
                key_use::rate_limited(retry_after)
            }
            // Passes return needs before they get here.
            Failure::Need(_) => reject::internal_error(),
        }
    }

    /// One step of the core's JWT loop, its need as this pass's; done, who
    /// the token names and what it grants.
    fn verify_jwt<'l>(&self, token: &'l str, fed: &mut Fed) -> Result<(Identity, Rc<Grants>), Failure<'l>> {
        let mut jwt = self.jwt.borrow_mut();
        let issuer = pick_issuer(&jwt, token).map_err(Failure::Reject)?;
        let verifier = &mut jwt[issuer];
        let crypto = self.crypto.borrow();
        let claims = match verifier.step(token, now_secs(), |k| crypto.has(issuer, k), fed.verdict.take()) {
            JwtNeed::Done(result) => result.map_err(Failure::Reject)?,
            JwtNeed::Unavailable => return Err(Failure::Unavailable),
            JwtNeed::FetchJwks => return Err(Failure::Need(Need::Jwks(issuer))),
            JwtNeed::Wait => return Err(Failure::Need(Need::Wait)),
            JwtNeed::ImportKey(jwk) if fed.import_failed => {
                return Err(Failure::Reject(Rejection { reason: Reason::BadSignature, kid: jwk.kid, expired_secs: None }))
            }
            JwtNeed::ImportKey(jwk) => return Err(Failure::Need(Need::ImportKey(issuer, jwk))),
            JwtNeed::Verify(jwk, parsed, hash) => {
                let (signature, signing_input) = (parsed.signature, parsed.signing_input);
                return Err(Failure::Need(Need::Verify { issuer, jwk, signature, signing_input, hash }));
            }
        };
        Ok((Identity { user_id: claims.sub, method: AuthMethod::Jwt, api_key_id: None }, claims.grants))
    }
}

/// A variable's value as text. wrangler's `[vars]` pass TOML tables, arrays,
/// numbers and booleans as JSON values (`MESH_ROUTES = [{ ... }]`, a JSON
/// file imported into `createGateway`): they are read as their JSON text,
/// never as absent, which would have put the default routes in their place.
pub(super) fn text(value: JsValue) -> Option<String> {
    if let Some(s) = value.as_string() {
        return Some(s);
    }
    let structured = value.is_object() || value.as_f64().is_some() || value.as_bool().is_some();
    structured.then(|| js_sys::JSON::stringify(&value).ok()?.as_string()).flatten()
}
