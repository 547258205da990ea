//! `ClientCore`: the sans-IO client core as the JavaScript layer
//! (`pkg-template/client.js`) calls it. Each method is synchronous: it
//! converts the JS inputs (the time, a status, a parsed body, a stored
//! string), asks the core, and returns the decision as a step `{ t, ... }`
//! (the unions are in `pkg-template/steps.d.ts`). Errors come back as
//! `MeshError`s, thrown or in `error`.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use super::convert::{form_js, get, opt_string, option_value, or_null, parse_json, secs, set, string_prop};
use super::options;
use super::records::{self, claims_of, token_answer};
use crate::client::failure::{failure_event, refresh_failed, EndReason};
use crate::client::grant;
use crate::wasm::global::check_names;
use crate::client::option_names::check_session_field;
use crate::client::storage::storage_error;
use crate::client::device::DeviceLogins;
use crate::client::lease::{lease_key, lock_wait_ms, LEASE_SETTLE_MS, STORAGE_SETTLE_MS};
use crate::client::pending_login::pending_login_key;
use crate::client::request::{bearer_header, http_error, resolve_api_url, API_KEY_HEADER};
use crate::client::{
    decide, decode_jwt_payload, retry_after_ms, storage_key, AuthMode, ClientConfig, Credential, Decision, EnvVars, Ready,
    RefreshOutcome, RefreshPolicy, RequestPolicy, Response, SendStep, SentRequest, Session, SessionInput, StoredSession,
    TokenReply, TokenSet, TokenStep,
};
use crate::error::{Error, ErrorKind};

#[wasm_bindgen]
pub struct ClientCore {
    pub(super) config: ClientConfig,
    pub(super) storage_key: String,
    pub(super) session: Session,
    policy: RequestPolicy,
    pub(super) logins: DeviceLogins,
    /// The session's ID token (redirect logins only), for `user` and logout.
    pub(super) id_token: Option<String>,
}

impl ClientCore {
    pub(super) fn client_id(&self) -> &str {
        self.config.client_id.as_deref().unwrap_or("")
    }

    /// The client as its requests to the provider name it.
    pub(super) fn grant_client(&self) -> grant::Client<'_> {
        let secret = self.config.client_secret.as_ref().map(|s| s.secret());
        grant::Client { client_id: self.client_id(), audience: self.config.audience.as_deref(), secret }
    }

    /// The stored session, validated against this client's issuer and client id.
    fn parse_stored(&self, text: Option<String>) -> Result<Option<(TokenSet, Option<String>)>, Error> {
        let Some(text) = text else { return Ok(None) };
        let value = parse_json(&text).ok_or_else(|| storage_error("it is not JSON"))?;
        let stored = records::stored_session(&value).ok_or_else(|| storage_error("it is not a mesh-sdk session"))?;
        let id_token = stored.id_token.clone();
        stored.into_tokens(self.config.issuer_normalized(), self.client_id()).map(|t| Some((t, id_token)))
    }

    /// Adopts a stored session and the ID token that came with it.
    fn adopt(&mut self, (tokens, id_token): (TokenSet, Option<String>), now_ms: i64) -> bool {
        let adopted = self.session.adopt(tokens, now_ms);
        if adopted {
            self.id_token = id_token;
        }
        adopted
    }
}

/// `{ t: kind }`.
pub(super) fn step_of(kind: &str) -> Object {
    let o = Object::new();
    set(&o, "t", &JsValue::from_str(kind));
    o
}

pub(super) fn with_error(kind: &str, error: Error) -> JsValue {
    let o = step_of(kind);
    set(&o, "error", &error.into());
    o.into()
}

/// A `sessionEnded` step: the error and why (`EndReason`).
fn ended(error: Error, reason: EndReason) -> JsValue {
    let o = with_error("sessionEnded", error);
    set(o.unchecked_ref(), "reason", &JsValue::from_str(reason.as_str()));
    o
}

pub(super) fn wait(kind: &str, ms: i64) -> JsValue {
    let o = step_of(kind);
    set(&o, "ms", &JsValue::from_f64(ms.max(0) as f64));
    o.into()
}

/// A usable token with the generation and times a request records.
fn ready(r: Ready, tokens: Option<&TokenSet>) -> JsValue {
    let o = step_of("ready");
    set(&o, "token", &JsValue::from_str(r.token.secret()));
    let (name, value) = bearer_header(r.token.secret());
    set(&o, "header", &Array::of2(&JsValue::from_str(name), &JsValue::from_str(&value)));
    set(&o, "generation", &JsValue::from_f64(r.generation as f64));
    if let Some(t) = tokens {
        set(&o, "received", &JsValue::from_f64(t.received_at_ms as f64));
        set(&o, "expires", &or_null(t.expires_at_ms.map(|e| JsValue::from_f64(e as f64))));
    }
    o.into()
}

/// The session as the app sees it: no tokens. `null` when logged out.
pub(super) fn session_info(tokens: Option<&TokenSet>) -> JsValue {
    let Some(t) = tokens else { return JsValue::NULL };
    let obj = Object::new();
    let user = claims_of(t.access_token.secret()).and_then(|c| c.sub).map(|s| JsValue::from_str(&s));
    set(&obj, "userId", &or_null(user));
    set(&obj, "expiresAt", &or_null(t.expires_at_ms.map(secs)));
    set(&obj, "receivedAt", &secs(t.received_at_ms));
    set(&obj, "hasRefreshToken", &JsValue::from_bool(t.refresh_token.is_some()));
    obj.into()
}

/// The session with its tokens (what `completeDeviceLogin` resolves with).
pub(super) fn session_with_tokens(t: &TokenSet) -> JsValue {
    let obj: Object = session_info(Some(t)).unchecked_into();
    set(&obj, "accessToken", &JsValue::from_str(t.access_token.secret()));
    set(&obj, "refreshToken", &or_null(t.refresh_token.as_ref().map(|r| JsValue::from_str(r.secret()))));
    obj.into()
}

/// `session.user` from the session's ID token (its claims were checked when
/// it was stored; this reads them again for display).
fn add_user(info: &JsValue, id_token: Option<&str>) {
    let claims = id_token.and_then(decode_jwt_payload).and_then(|p| parse_json(&p));
    let Some(claims) = claims.filter(JsValue::is_object) else { return };
    let user = Object::new();
    for key in ["sub", "name", "email", "picture"] {
        if let Some(v) = string_prop(&claims, key) {
            set(&user, key, &JsValue::from_str(&v));
        }
    }
    set(info.unchecked_ref(), "user", &user);
}

fn outcome(o: RefreshOutcome) -> JsValue {
    match o {
        RefreshOutcome::RetryIn { ms } => wait("retryRefresh", ms),
        RefreshOutcome::Done(_) => step_of("refreshed").into(),
        RefreshOutcome::Failed { error, still_valid } => {
            let o = with_error("refreshFailed", error);
            set(o.unchecked_ref(), "valid", &JsValue::from_bool(still_valid.is_some()));
            o
        }
        RefreshOutcome::Ended(e) => ended(e, EndReason::InvalidGrant),
    }
}

#[wasm_bindgen]
impl ClientCore {
    /// Checks every option now; a wrong one throws an `invalid_config`
    /// error naming it. (`storage` is the JavaScript layer's.)
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<ClientCore, JsValue> {
        let parsed = options::parse(&options)?;
        let config = parsed.config;
        let storage_key = parsed.storage_key.unwrap_or_else(|| storage_key(config.issuer_normalized(), config.client_id.as_deref().unwrap_or("")));
        Ok(ClientCore {
            session: Session::new(RefreshPolicy::from_config(&config)),
            policy: RequestPolicy::from_config(&config),
            logins: DeviceLogins::default(),
            id_token: None,
            storage_key,
            config,
        })
    }

    /// What the JavaScript layer needs of the configuration.
    pub fn settings(&self) -> JsValue {
        let c = &self.config;
        let o = Object::new();
        let text = |k: &str, v: Option<&str>| set(&o, k, &or_null(v.map(JsValue::from_str)));
        text("issuer", Some(c.issuer_normalized()));
        text("discoveryUrl", Some(&grant::discovery_url(c.issuer_normalized())));
        text("clientId", c.client_id.as_deref());
        text("audience", c.audience.as_deref());
        text("scope", c.scope.as_deref());
        let key_header = c.api_key.as_ref().map(|k| Array::of2(&JsValue::from_str(API_KEY_HEADER), &JsValue::from_str(k.secret())).into());
        set(&o, "apiKeyHeader", &or_null(key_header));
        text("storageKey", Some(&self.storage_key));
        text("keysPath", Some(&c.keys_path));
        text("leaseKey", Some(&lease_key(&self.storage_key)));
        text("deviceLoginKey", Some(&pending_login_key(&self.storage_key)));
        text("redirectLoginKey", Some(&crate::client::redirect::pending_redirect_key(&self.storage_key)));
        set(&o, "apiKeyMode", &JsValue::from_bool(c.mode() == AuthMode::ApiKey));
        let ms = |k: &str, v: i64| set(&o, k, &JsValue::from_f64(v.clamp(1, u32::MAX as i64) as f64));
        ms("timeoutMs", c.timeout_ms);
        ms("lockWaitMs", lock_wait_ms(c.timeout_ms));
        ms("storageSettleMs", STORAGE_SETTLE_MS);
        ms("leaseSettleMs", LEASE_SETTLE_MS);
        set(&o, "maxAttempts", &JsValue::from(self.policy.max_attempts()));
        set(&o, "maxPolls", &JsValue::from(crate::client::device::MAX_POLLS));
        o.into()
    }

    pub fn generation(&self) -> f64 {
        self.session.generation() as f64
    }

    /// The refresh grant's form for `refreshToken`.
    #[wasm_bindgen(js_name = refreshForm)]
    pub fn refresh_form(&self, refresh_token: &str) -> Array {
        form_js(&self.grant_client().token_form(grant::Grant::Refresh { refresh_token }))
    }

    /// The revocation request's form for `refreshToken` (RFC 7009).
    #[wasm_bindgen(js_name = revocationForm)]
    pub fn revocation_form(&self, refresh_token: &str) -> Array {
        form_js(&self.grant_client().revocation_form(refresh_token))
    }

    /// Whether the revocation endpoint's `status` says the token is revoked.
    pub fn revoked(&self, status: u16) -> bool {
        grant::revoked(status)
    }

    /// `getAccessToken`'s step (`TokenStep` in `steps.d.ts`).
    #[wasm_bindgen(js_name = getToken)]
    pub fn get_token(&mut self, now: f64) -> JsValue {
        let step = self.session.get_token(now as i64);
        self.token_step(step)
    }

    /// After the API rejected a token of generation `stale`.
    #[wasm_bindgen(js_name = forceRefresh)]
    pub fn force_refresh(&mut self, stale: f64, now: f64) -> JsValue {
        let step = self.session.force_refresh(stale as u64, now as i64);
        self.token_step(step)
    }

    fn token_step(&self, step: TokenStep) -> JsValue {
        match step {
            TokenStep::Ready(r) | TokenStep::ServeWhileCoolingDown(r) => ready(r, self.session.tokens()),
            TokenStep::JoinInFlight => step_of("joinRefresh").into(),
            TokenStep::StartRefresh { .. } => step_of("startRefresh").into(),
            TokenStep::Ended(e) => ended(e, EndReason::Expired),
            TokenStep::Fail(e) => with_error("tokenError", e),
        }
    }

    /// Before each refresh attempt, with what storage holds now (`stored`,
    /// shared storage only): a `SendStep`.
    #[wasm_bindgen(js_name = beforeSend)]
    pub fn before_send(&mut self, stored: Option<String>, now: f64) -> JsValue {
        let stored = self.parse_stored(stored).ok().flatten();
        let id_token = stored.as_ref().map(|(_, i)| i.clone());
        let step = self.session.before_send(stored.map(|(t, _)| t), now as i64);
        if let (SendStep::Skip(_), Some(id_token)) = (&step, id_token) {
            self.id_token = id_token;
        }
        match step {
            SendStep::Send { refresh_token } => {
                let o = step_of("sendRefresh");
                set(&o, "refreshToken", &JsValue::from_str(refresh_token.secret()));
                o.into()
            }
            SendStep::Skip(_) => step_of("adoptedStored").into(),
            SendStep::Ended(e) => ended(e, EndReason::Expired),
        }
    }

    /// How long this refresh attempt may take: what is left of the refresh's
    /// `timeoutMs` budget, at least 1 s.
    #[wasm_bindgen(js_name = attemptTimeout)]
    pub fn attempt_timeout(&self, now: f64) -> f64 {
        let budget = self.session.attempt_timeout_ms(now as i64).unwrap_or(0);
        budget.max(1000).min(self.config.timeout_ms.max(1)) as f64
    }

    /// The token endpoint answered the refresh: a `RefreshStep`.
    #[wasm_bindgen(js_name = onTokenResponse)]
    pub fn on_token_response(&mut self, status: u16, body: JsValue, retry_after: Option<String>, now: f64, jitter: f64) -> JsValue {
        let answer = token_answer(status, &body, retry_after, now as i64);
        outcome(self.session.on_token_response(answer, now as i64, jitter))
    }

    /// The refresh got no answer; `maybe_sent` unless the request surely
    /// never left (connection refused, DNS).
    /// A refresh attempt got no answer: the step, by the error's `code`
    /// (`failure::refresh_failed`), or `abandoned` when it was stopped.
    #[wasm_bindgen(js_name = onRefreshError)]
    pub fn on_refresh_error(&mut self, code: Option<String>, maybe_sent: bool, now: f64, jitter: f64) -> JsValue {
        match refresh_failed(&mut self.session, code.as_deref(), maybe_sent, now as i64, jitter) {
            Some(o) => outcome(o),
            None => step_of("abandoned").into(),
        }
    }

    /// The refresh was given up without an answer (dispose, abort).
    #[wasm_bindgen(js_name = abandonRefresh)]
    pub fn abandon_refresh(&mut self, maybe_sent: bool) {
        self.session.abandon_refresh(maybe_sent);
    }

    /// The first read of storage: adopts its session, unless one was set
    /// since `generation` (setSession, login). Corrupt data or a failed read
    /// (`failure`: the storage error's message) ends the session with a clear
    /// error, never a crash.
    #[wasm_bindgen(js_name = loadStored)]
    pub fn load_stored(&mut self, generation: f64, stored: Option<String>, failure: Option<String>) {
        if self.session.generation() != generation as u64 {
            return;
        }
        let result = match failure {
            Some(message) => Err(Error::new(ErrorKind::Storage, message)),
            None => self.parse_stored(stored),
        };
        match result {
            Ok(Some(stored)) => {
                let _ = self.adopt(stored, js_sys::Date::now() as i64);
            }
            Ok(None) => {}
            Err(e) => {
                let _ = self.session.end(e);
            }
        }
    }

    /// Adopts a newer session another tab stored; true if adopted.
    #[wasm_bindgen(js_name = adoptStored)]
    pub fn adopt_stored(&mut self, stored: Option<String>, now: f64) -> bool {
        match self.parse_stored(stored) {
            Ok(Some(stored)) => self.adopt(stored, now as i64),
            _ => false,
        }
    }

    /// The JSON to store for the current session; `undefined` without one.
    #[wasm_bindgen(js_name = storedRecord)]
    pub fn stored_record(&self) -> Option<String> {
        let t = self.session.tokens()?;
        let mut record = StoredSession::from_tokens(t, self.config.issuer_normalized(), self.client_id());
        record.id_token = self.id_token.clone();
        js_sys::JSON::stringify(&records::stored_session_js(&record)).ok()?.as_string()
    }

    #[wasm_bindgen(js_name = sessionInfo)]
    pub fn session_info(&self) -> JsValue {
        let info = session_info(self.session.tokens());
        if info.is_object() {
            add_user(&info, self.id_token.as_deref());
        }
        info
    }

    /// Ends the session (logout); returns the refresh token to revoke.
    pub fn clear(&mut self) -> Option<String> {
        self.id_token = None;
        self.session.clear().map(|r| r.secret().to_string())
    }

    /// Another tab ended the session, saying `reason` (or nothing): the
    /// `sessionEnded` step to report, or `undefined` when there was no
    /// session here.
    #[wasm_bindgen(js_name = endedElsewhere)]
    pub fn ended_elsewhere(&mut self, reason: JsValue) -> JsValue {
        if self.session.tokens().is_none() {
            return JsValue::UNDEFINED;
        }
        let error = self.session.end(Error::new(ErrorKind::SessionEnded, "the session ended in another tab"));
        ended(error, EndReason::from_tab(reason.as_string().as_deref()))
    }

    /// `{ accessToken, refreshToken?, expiresAt? }`: errors name the field
    /// and never repeat a token. Without `expiresAt`, a JWT's `exp` is used.
    #[wasm_bindgen(js_name = setSession)]
    pub fn set_session(&mut self, value: JsValue) -> Result<(), JsValue> {
        let tokens = tokens_from_js(&value)?;
        self.id_token = None;
        self.session.set_session(tokens);
        Ok(())
    }

    /// Installs the session of `MESH_ACCESS_TOKEN`, `MESH_REFRESH_TOKEN` and
    /// `MESH_TOKEN_EXPIRES_AT`; false when `MESH_TOKEN_FROM_ENV=false` and
    /// there is none (storage then holds the session).
    #[wasm_bindgen(js_name = fromEnv)]
    pub fn from_env(&mut self, env: JsValue) -> Result<bool, JsValue> {
        let vars = EnvVars {
            access_token: opt_string(&env, "MESH_ACCESS_TOKEN")?,
            refresh_token: opt_string(&env, "MESH_REFRESH_TOKEN")?,
            expires_at: opt_string(&env, "MESH_TOKEN_EXPIRES_AT")?,
            from_env: opt_string(&env, "MESH_TOKEN_FROM_ENV")?,
        };
        match vars.to_tokens(js_sys::Date::now() as i64)? {
            Some(tokens) => self.session.set_session(tokens),
            None if vars.from_env.as_deref().map(str::trim) == Some("false") => return Ok(false),
            None => return Err(Error::config("MESH_ACCESS_TOKEN", "is not set").into()),
        }
        Ok(true)
    }

    #[wasm_bindgen(js_name = exportEnv)]
    pub fn export_env(&self) -> JsValue {
        let Some(tokens) = self.session.tokens() else { return JsValue::NULL };
        let vars = EnvVars::from_tokens(tokens);
        let obj = Object::new();
        let put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                set(&obj, k, &JsValue::from_str(v));
            }
        };
        put("MESH_ACCESS_TOKEN", &vars.access_token);
        put("MESH_REFRESH_TOKEN", &vars.refresh_token);
        put("MESH_TOKEN_EXPIRES_AT", &vars.expires_at);
        obj.into()
    }

    /// Resolves `input` (a path, or an absolute URL on the API's origin)
    /// against `apiUrl`: `[url, path]`. Credentials never go to another origin.
    #[wasm_bindgen(js_name = resolveUrl)]
    pub fn resolve_url(&self, input: JsValue) -> Result<Array, JsValue> {
        let input: String = match input.as_string() {
            Some(s) => s,
            // A Request by its URL (the layer keeps its method, headers and
            // body); a URL object by its text.
            None if input.is_instance_of::<web_sys::Request>() => input.unchecked_ref::<web_sys::Request>().url(),
            None if input.is_object() => input.unchecked_ref::<Object>().to_string().into(),
            None => return Err(Error::config("input", "must be a path or a URL").into()),
        };
        let (url, path) = resolve_api_url(self.config.api_url.as_deref(), input)?;
        Ok(Array::of2(&JsValue::from_str(&url), &JsValue::from_str(&path)))
    }

    /// After one attempt of an API call (`CallStep`). `call` is the layer's
    /// `CallRecord`; `outcome` a status, or `network`/`timeout`/`aborted`.
    pub fn decide(&self, call: &JsValue, outcome: JsValue, retry_after: Option<String>, now: f64, jitter: f64) -> JsValue {
        let now = now as i64;
        let sent = sent_request(call);
        let response = match outcome.as_f64() {
            Some(status) => Response::Status { status: status as u16, retry_after_ms: retry_after.and_then(|h| retry_after_ms(&h, now)) },
            None => Response::failed_with(outcome.as_string().as_deref()),
        };
        match decide(&sent, response, self.session.generation(), &self.policy, now, jitter) {
            Decision::Return => step_of("respond").into(),
            Decision::RefreshAndRetry { stale_generation } => {
                let o = step_of("refreshAndRetry");
                set(&o, "stale", &JsValue::from_f64(stale_generation as f64));
                o.into()
            }
            Decision::RetryWithCurrentToken => step_of("retryWithCurrent").into(),
            Decision::RetryAfter { ms } => wait("retryAfter", ms),
            Decision::Fail(e) => {
                let event = failure_event(&e);
                let step = with_error("requestFailed", e);
                if let Some(event) = event {
                    set(step.unchecked_ref(), "event", &JsValue::from_str(event));
                }
                step
            }
        }
    }

    /// The `http_error` of a JSON call that ended with a non-2xx `status`.
    #[wasm_bindgen(js_name = httpError)]
    pub fn http_error(&self, call: &JsValue, status: u16, now: f64) -> JsValue {
        http_error(&sent_request(call), status, now as i64).into()
    }

    /// A redirect login's session, once `RedirectCore.redirectFinish` has
    /// accepted its ID token: the tokens of `body` (the code exchange's
    /// answer), with `user`.
    #[wasm_bindgen(js_name = redirectSession)]
    pub fn redirect_session(&mut self, body: JsValue, id_token: &str, now: f64) -> Result<JsValue, JsValue> {
        let answer = token_answer(200, &body, None, now as i64);
        let TokenReply::Tokens(response) = answer.reply else { return Err(Error::new(ErrorKind::InvalidResponse, "the token response has no tokens").into()) };
        let tokens = TokenSet::from_response(response, answer.claims.as_ref(), None, now as i64)?;
        self.id_token = Some(id_token.to_owned());
        self.session.set_session(tokens);
        let session = self.session.tokens().map(session_with_tokens).unwrap_or(JsValue::NULL);
        add_user(&session, self.id_token.as_deref());
        Ok(session)
    }

    /// A device login's ID token, once `RedirectCore.deviceIdToken` has
    /// accepted it: kept for the user's claims and logout's `id_token_hint`.
    #[wasm_bindgen(js_name = keepIdToken)]
    pub fn keep_id_token(&mut self, id_token: &str) -> JsValue {
        self.id_token = Some(id_token.to_owned());
        self.session_info()
    }

    /// The RP-initiated logout URL, or `undefined` without an `end_session_endpoint`.
    #[wasm_bindgen(js_name = logoutUrl)]
    pub fn logout_url(&self, endpoints: JsValue, id_token: Option<String>, return_to: Option<String>) -> Option<String> {
        crate::client::redirect::logout_url(string_prop(&endpoints, "endSession").as_deref(), self.client_id(), id_token.as_deref(), return_to.as_deref())
    }

    /// The ID token kept for logout's `id_token_hint`.
    #[wasm_bindgen(js_name = idToken)]
    pub fn id_token(&self) -> Option<String> {
        self.id_token.clone()
    }

    /// The redirect login's rules, in this build's module (the browser's
    /// build has none: the JavaScript layer loads them on first use).
    #[cfg(feature = "redirect")]
    #[wasm_bindgen(js_name = redirectCore)]
    pub fn redirect_core(&self) -> super::redirect::RedirectCore {
        super::redirect::RedirectCore::of(&self.config)
    }
}

/// The layer's record of an API call, as the core's [`SentRequest`].
fn sent_request(call: &JsValue) -> SentRequest {
    let num = |k: &str| get(call, k).as_f64().unwrap_or(0.0);
    let generation = get(call, "generation").as_f64();
    let credential = match generation {
        Some(g) => Credential::Bearer {
            generation: g as u64,
            received_at_ms: num("received") as i64,
            expires_at_ms: get(call, "expires").as_f64().map(|e| e as i64),
        },
        None => Credential::ApiKey,
    };
    let method = string_prop(call, "method").unwrap_or_default();
    let path = string_prop(call, "path").unwrap_or_default();
    let mut sent = SentRequest::new(&method, &path, credential, num("started") as i64);
    sent.sent_at_ms = num("sent") as i64;
    sent.auth_retries = num("auth") as u32;
    sent.transient_retries = num("transient") as u32;
    sent
}

/// `setSession` input -> tokens.
fn tokens_from_js(value: &JsValue) -> Result<TokenSet, Error> {
    if !value.is_object() {
        return Err(Error::config("session", "must be an object { accessToken, refreshToken, expiresAt }"));
    }
    check_names(value, check_session_field)?;
    let field = |key| option_value(value, key);
    let input = SessionInput { access_token: field("accessToken"), refresh_token: field("refreshToken"), expires_at: field("expiresAt") };
    input.to_tokens(js_sys::Date::now() as i64, claims_of)
}
