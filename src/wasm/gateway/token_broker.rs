//! The `TokenBroker` Durable Object (binding `MESH_TOKEN_BROKER`): the IO
//! around [`crate::gateway::token_broker::Broker`]. Its storage holds the
//! broker's state; its alarm refreshes before expiry; the discovery and
//! token requests are its fetches. One refresh at a time: every call that
//! must wait awaits the one promise in flight (an object may share a
//! promise between its requests, unlike a Worker's isolate).
//!
//! Its configuration is its own env's `MESH_SERVICE_TOKEN` and secret (the
//! worker that defines the class is the gateway): the secret never travels
//! in a call. A call names the broker it meant (the hash of endpoint, client,
//! scope and audience); a broker configured otherwise answers 503 and logs it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Promise;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Headers, RequestInit, RequestRedirect, Response};

use crate::gateway::config::ConfigError;
use crate::gateway::reject::event_log;
use crate::gateway::service_token::{self, ServiceTokenConfig, MAX_TOKEN_BODY_BYTES, TOKEN_REQUEST_TIMEOUT_MS, VARIABLE};
use crate::gateway::token_broker::{reply, Broker, Call, Outcome};
use crate::wasm::error::describe_js;
use crate::wasm::global::now_ms;

use super::durable::{get_text, put_text, DurableObjectState};
use super::js::{abort_signal_timeout, console_log, get_prop, read_capped, PastCap};

const STATE_KEY: &str = "state";
/// Rounds of waiting for a refresh a call makes at most (each one bounded
/// by the token request's timeout).
const MAX_ROUNDS: usize = 3;

/// The Durable Object class. Internal to the gateway: exported by the
/// package's workerd entry only so that wrangler can bind it.
#[wasm_bindgen]
pub struct TokenBroker(Rc<Inner>);

struct Inner {
    state: DurableObjectState,
    config: Result<ServiceTokenConfig, ConfigError>,
    broker: RefCell<Option<Broker>>,
    /// The token endpoint, once known (configured, or from discovery).
    endpoint: RefCell<Option<String>>,
    /// The refresh in flight: every waiter awaits this promise.
    flight: RefCell<Option<Promise>>,
    /// The state as last written, so an unchanged one is not written again.
    written: RefCell<String>,
    alarm_at: Cell<Option<i64>>,
}

#[wasm_bindgen]
impl TokenBroker {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, env: JsValue) -> TokenBroker {
        let var = |name: &str| super::handler::text(get_prop(&env, name));
        let config = match var(VARIABLE) {
            Some(json) => ServiceTokenConfig::parse(&json, var),
            None => Err(ConfigError { variable: VARIABLE, problem: "is not set in the worker that defines TokenBroker".into() }),
        };
        TokenBroker(Rc::new(Inner {
            state,
            config,
            broker: RefCell::new(None),
            endpoint: RefCell::new(None),
            flight: RefCell::new(None),
            written: RefCell::new(String::new()),
            alarm_at: Cell::new(None),
        }))
    }

    /// A call from a gateway isolate: `GET https://token-broker/<name>`.
    pub fn fetch(&self, request: web_sys::Request) -> Promise {
        let inner = self.0.clone();
        future_to_promise(async move { Ok(inner.serve(&request.url()).await.into()) })
    }

    /// The refresh before expiry (or the retry after a backoff).
    pub fn alarm(&self) -> Promise {
        let inner = self.0.clone();
        future_to_promise(async move {
            inner.alarm_at.set(None);
            if inner.load().await.is_ok() {
                let due = inner.broker.borrow().as_ref().is_some_and(|b| b.alarm(now_ms() as i64));
                if due && inner.flight.borrow().is_none() {
                    let _ = JsFuture::from(inner.refresh()).await;
                }
                inner.save().await;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

fn answer(status: u16, body: &str) -> Response {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    Response::new_with_opt_str_and_init(Some(body), &init).unwrap_or_else(|_| Response::new().expect("an empty Response"))
}

fn log(level: &str, event: &str, fields: serde_json::Value) {
    console_log(&event_log(level, event, "", fields));
}

impl Inner {
    /// The broker from storage, once per instance.
    async fn load(&self) -> Result<(), ()> {
        let cfg = match &self.config {
            Ok(cfg) => cfg,
            Err(e) => {
                log("error", "service_token_broker_misconfigured", json!({ "problem": e.to_string() }));
                return Err(());
            }
        };
        if self.broker.borrow().is_some() {
            return Ok(());
        }
        let stored = get_text(&self.state.storage(), STATE_KEY).await.map_err(|e| {
            log("error", "service_token_storage_failed", json!({ "detail": describe_js(&e) }));
        })?;
        if self.broker.borrow().is_none() {
            let (broker, lost) = Broker::load(stored.as_deref(), &cfg.secret_tag(), now_ms() as i64);
            if lost {
                log("warn", "service_token_request_lost", json!({ "detail": "a token request was in flight when the broker was evicted; retried after a backoff" }));
            }
            *self.written.borrow_mut() = stored.unwrap_or_default();
            *self.broker.borrow_mut() = Some(broker);
            // The alarm as this state wants it (the lost mark's backoff included).
            self.save().await;
        }
        Ok(())
    }

    async fn serve(self: &Rc<Self>, url: &str) -> Response {
        if self.load().await.is_err() {
            return answer(503, &json!({ "error": "unavailable", "retry_after": 30 }).to_string());
        }
        let cfg = self.config.as_ref().expect("loaded");
        if !url.ends_with(&format!("/{}", cfg.broker_name())) {
            log("error", "service_token_broker_misconfigured", json!({ "problem": "a gateway asked for another client's token than this worker's MESH_SERVICE_TOKEN" }));
            return answer(503, &json!({ "error": "unavailable", "retry_after": 30 }).to_string());
        }
        let mut waited = false;
        for _ in 0..MAX_ROUNDS {
            let now = now_ms() as i64;
            let (call, overdue) = {
                let mut broker = self.broker.borrow_mut();
                let broker = broker.as_mut().expect("loaded");
                (broker.call(now), broker.alarm(now))
            };
            let wait = match call {
                Call::Wait => self.flight.borrow().clone(),
                Call::Start => Some(self.refresh()),
                done => {
                    // A refresh the alarm should have made (an alarm lost
                    // with an eviction): started, not awaited.
                    if overdue {
                        let _ = self.refresh();
                    }
                    self.save().await;
                    let (status, body) = reply(&done, waited);
                    return answer(status, &body);
                }
            };
            waited = true;
            if let Some(flight) = wait {
                let _ = JsFuture::from(flight).await;
            }
        }
        answer(503, &json!({ "error": "unavailable", "retry_after": 1 }).to_string())
    }

    /// Starts the one refresh (or returns the one in flight).
    fn refresh(self: &Rc<Self>) -> Promise {
        if let Some(flight) = self.flight.borrow().clone() {
            return flight;
        }
        let inner = self.clone();
        let flight = future_to_promise(async move {
            inner.refresh_once().await;
            inner.flight.borrow_mut().take();
            Ok(JsValue::UNDEFINED)
        });
        *self.flight.borrow_mut() = Some(flight.clone());
        flight
    }

    async fn refresh_once(&self) {
        let cfg = self.config.as_ref().expect("loaded");
        self.broker.borrow_mut().as_mut().expect("loaded").begin(now_ms() as i64);
        // The mark of the attempt is stored before the request goes out.
        self.save().await;
        let result = self.request_token(cfg).await;
        let (now, jitter) = (now_ms() as i64, js_sys::Math::random());
        let outcome = {
            let mut broker = self.broker.borrow_mut();
            let broker = broker.as_mut().expect("loaded");
            match result {
                Ok(answer) => broker.finish(answer, now, jitter),
                Err(why) => broker.fail(&why, now, jitter),
            }
        };
        // The token is stored before anything else is done with it.
        self.save().await;
        match outcome {
            Outcome::Refreshed { lifetime_secs } => log("info", "service_token_refreshed", json!({ "lifetime_seconds": lifetime_secs })),
            Outcome::Failed { status, error, retry_in_ms, failures } => {
                log("warn", "service_token_refresh_failed", json!({ "status": status, "error": error, "retry_in_ms": retry_in_ms, "failures": failures }));
            }
            Outcome::Refused { status, error, retry_in_ms, first } if first => {
                let mut fields = service_token::describe(cfg);
                fields["status"] = status.into();
                fields["error"] = error.into();
                fields["retry_in_ms"] = retry_in_ms.into();
                fields["action"] = format!("the token endpoint refused client `{}`: check client_id and the secret in {}", cfg.client_id, cfg.client_secret_var).into();
                log("error", "service_token_client_refused", fields);
            }
            Outcome::Refused { .. } => {}
        }
    }

    /// Discovery when needed, then the token request, each with a timeout.
    /// An error is a short reason for the log (never a body, never the secret).
    async fn request_token(&self, cfg: &ServiceTokenConfig) -> Result<crate::client::oauth::TokenAnswer, String> {
        let known = self.endpoint.borrow().clone();
        let endpoint = match (known, cfg.token_endpoint.clone(), cfg.discovery_url()) {
            (Some(e), _, _) | (None, Some(e), _) => e,
            (None, None, Some(url)) => {
                let (status, body, _) = send(&url, "GET", &[("accept", "application/json".into())], None).await?;
                let e = service_token::discovered_endpoint(&cfg.issuer, status, &body).map_err(|e| format!("discovery: {e}"))?;
                *self.endpoint.borrow_mut() = Some(e.clone());
                e
            }
            (None, None, None) => return Err("no token endpoint".into()),
        };
        let request = cfg.token_request(&endpoint);
        let (status, body, retry_after) = send(&request.url, "POST", &request.headers, Some(request.body.secret())).await?;
        Ok(service_token::token_answer(status, &body, retry_after.as_deref(), now_ms() as i64))
    }

    /// Writes the state if it changed, and sets the alarm to the broker's next time.
    async fn save(&self) {
        let (text, next) = match self.broker.borrow().as_ref() {
            Some(b) => (b.stored(), b.next_alarm_ms()),
            None => return,
        };
        let storage = self.state.storage();
        if *self.written.borrow() != text {
            match put_text(&storage, STATE_KEY, &text).await {
                Ok(()) => *self.written.borrow_mut() = text,
                Err(e) => log("error", "service_token_storage_failed", json!({ "detail": describe_js(&e) })),
            }
        }
        if let Some(at) = next.filter(|at| self.alarm_at.get() != Some(*at)) {
            match storage.set_alarm(at as f64) {
                Ok(p) => {
                    if JsFuture::from(p).await.is_ok() {
                        self.alarm_at.set(Some(at));
                    }
                }
                Err(e) => log("error", "service_token_storage_failed", json!({ "detail": describe_js(&e) })),
            }
        }
    }
}

/// One request with the timeout; status, a capped body, `Retry-After`.
async fn send(url: &str, method: &str, headers: &[(&str, String)], body: Option<&str>) -> Result<(u16, Vec<u8>, Option<String>), String> {
    let signal = abort_signal_timeout(TOKEN_REQUEST_TIMEOUT_MS).map_err(|e| describe_js(&e))?;
    let h = Headers::new().map_err(|e| describe_js(&e))?;
    for (name, value) in headers {
        h.set(name, value).map_err(|_| "a header could not be set".to_string())?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&h);
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&signal));
    if let Some(b) = body {
        init.set_body(&JsValue::from_str(b));
    }
    let fetched = JsFuture::from(fetch_js(url, &init)).await;
    let response: Response = match fetched {
        Ok(r) => r.unchecked_into(),
        Err(_) if signal.aborted() => return Err("timeout".into()),
        Err(e) => return Err(format!("network: {}", describe_js(&e))),
    };
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let bytes = read_capped(response.body(), MAX_TOKEN_BODY_BYTES, PastCap::Cancel).await.map_err(|_| if signal.aborted() { "timeout".to_string() } else { "the answer could not be read".to_string() })?;
    Ok((response.status(), bytes, retry_after))
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (workerd's Durable Object has no `window`).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_js(url: &str, init: &RequestInit) -> Promise;
}
