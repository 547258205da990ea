//! `ClientCore`: the sans-IO client core as the JavaScript driver
//! (`driver.js`) calls it. Each method is synchronous: it converts the JS
//! inputs (the time, a status, a parsed body, a stored string), asks the
//! core, and returns the decision as a small object `{ t, ... }` whose `t`
//! names the step. Errors come back as `MeshError`s, thrown or in `error`.

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;

use super::convert::{get, opt_string, option_value, or_null, parse_json, secs, set, string_prop};
use super::records;
use crate::client::oauth::{itoa, token_endpoint_error};
use crate::client::storage::storage_error;
use crate::client::{
    decide, decode_jwt_payload, retry_after_ms, AuthMode, ClientConfig, Credential, Decision, DeviceAuthorization, DevicePoller,
    DeviceStep, EnvVars, JwtClaims, PollStep, Ready, RefreshOutcome, RefreshPolicy, RequestPolicy, Response, SendStep,
    SentRequest, Session, SessionInput, StoredSession, TokenAnswer, TokenReply, TokenSet, TokenStep,
};
use crate::error::{Error, ErrorKind};

/// A started device login, kept until it completes or fails.
struct PendingLogin {
    authorization: DeviceAuthorization,
    started_at_ms: i64,
    /// Set while a `completeDeviceLogin` polls: a second one would double the polls.
    poller: Option<DevicePoller>,
}

/// The most device logins kept at once (each restart adds one).
const MAX_PENDING: usize = 8;

#[wasm_bindgen]
pub struct ClientCore {
    config: ClientConfig,
    storage_key: String,
    session: Session,
    policy: RequestPolicy,
    logins: Vec<PendingLogin>,
}

impl ClientCore {
    pub(super) fn new(config: ClientConfig, storage_key: String) -> ClientCore {
        ClientCore {
            session: Session::new(RefreshPolicy::from_config(&config)),
            policy: RequestPolicy::from_config(&config),
            logins: Vec::new(),
            storage_key,
            config,
        }
    }

    fn client_id(&self) -> &str {
        self.config.client_id.as_deref().unwrap_or("")
    }

    /// The stored session, validated against this client's issuer and client id.
    fn parse_stored(&self, text: Option<String>) -> Result<Option<TokenSet>, Error> {
        let Some(text) = text else { return Ok(None) };
        let value = parse_json(&text).ok_or_else(|| storage_error("it is not JSON"))?;
        let stored = records::stored_session(&value).ok_or_else(|| storage_error("it is not a mesh-sdk session"))?;
        stored.into_tokens(self.config.issuer_normalized(), self.client_id()).map(Some)
    }

    fn login(&mut self, user_code: &str) -> Result<&mut PendingLogin, Error> {
        self.logins
            .iter_mut()
            .find(|p| p.authorization.user_code == user_code)
            .ok_or_else(|| Error::config("login", "is unknown to this client: pass what its startDeviceLogin() returned"))
    }

    /// The poller of a login being completed.
    fn poller(&mut self, user_code: &str) -> Result<&mut DevicePoller, Error> {
        self.login(user_code)?.poller.as_mut().ok_or_else(|| Error::config("login", "is not being completed"))
    }

    fn device_step(&mut self, user_code: &str, step: DeviceStep) -> Result<JsValue, Error> {
        match step {
            DeviceStep::Wait { ms } => Ok(wait(ms)),
            DeviceStep::Fail(e) => Err(e),
            DeviceStep::Done(tokens) => {
                self.logins.retain(|p| p.authorization.user_code != user_code);
                self.session.set_session(tokens);
                let done = step_of("done");
                set(&done, "session", &self.session.tokens().map(session_with_tokens).unwrap_or(JsValue::NULL));
                Ok(done.into())
            }
        }
    }
}

/// `{ t: kind }`.
fn step_of(kind: &str) -> Object {
    let o = Object::new();
    set(&o, "t", &JsValue::from_str(kind));
    o
}

fn with_error(kind: &str, error: Error) -> JsValue {
    let o = step_of(kind);
    set(&o, "error", &error.into());
    o.into()
}

fn wait(ms: i64) -> JsValue {
    let o = step_of("wait");
    set(&o, "ms", &JsValue::from_f64(ms.max(0) as f64));
    o.into()
}

/// A usable token with the generation and times a request records.
fn ready(r: Ready, tokens: Option<&TokenSet>) -> JsValue {
    let o = step_of("ready");
    set(&o, "token", &JsValue::from_str(r.token.secret()));
    set(&o, "generation", &JsValue::from_f64(r.generation as f64));
    if let Some(t) = tokens {
        set(&o, "received", &JsValue::from_f64(t.received_at_ms as f64));
        set(&o, "expires", &or_null(t.expires_at_ms.map(|e| JsValue::from_f64(e as f64))));
    }
    o.into()
}

/// The unverified claims of a JWT access token (`None` for opaque tokens).
pub fn claims_of(token: &str) -> Option<JwtClaims> {
    records::jwt_claims(&parse_json(&decode_jwt_payload(token)?)?)
}

/// The session as the app sees it: no tokens. `null` when logged out.
fn session_info(tokens: Option<&TokenSet>) -> JsValue {
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
fn session_with_tokens(t: &TokenSet) -> JsValue {
    let obj: Object = session_info(Some(t)).unchecked_into();
    set(&obj, "accessToken", &JsValue::from_str(t.access_token.secret()));
    set(&obj, "refreshToken", &or_null(t.refresh_token.as_ref().map(|r| JsValue::from_str(r.secret()))));
    obj.into()
}

/// A token endpoint's answer as the core takes it: `body` is the parsed
/// JSON (or `undefined`), `retry_after` the raw header.
fn token_answer(status: u16, body: &JsValue, retry_after: Option<String>, now_ms: i64) -> TokenAnswer {
    let reply = if !body.is_object() {
        TokenReply::Unparseable
    } else if let Some(tokens) = (200..300).contains(&status).then(|| records::token_response(body)).flatten() {
        TokenReply::Tokens(tokens)
    } else {
        records::oauth_error(body).map(TokenReply::Error).unwrap_or(TokenReply::Unparseable)
    };
    let claims = match &reply {
        TokenReply::Tokens(t) if t.needs_jwt_claims() => claims_of(t.access_token.secret()),
        _ => None,
    };
    TokenAnswer { status, reply, retry_after_ms: retry_after.and_then(|h| retry_after_ms(&h, now_ms)), claims }
}

fn outcome(o: RefreshOutcome) -> JsValue {
    match o {
        RefreshOutcome::RetryIn { ms } => wait(ms),
        RefreshOutcome::Done(_) => step_of("done").into(),
        RefreshOutcome::Failed { error, still_valid } => {
            let o = with_error("failed", error);
            set(o.unchecked_ref(), "valid", &JsValue::from_bool(still_valid.is_some()));
            o
        }
        RefreshOutcome::Ended(e) => with_error("ended", e),
    }
}

#[wasm_bindgen]
impl ClientCore {
    /// What the driver needs of the configuration.
    pub fn settings(&self) -> JsValue {
        let c = &self.config;
        let o = Object::new();
        let text = |k: &str, v: Option<&str>| set(&o, k, &or_null(v.map(JsValue::from_str)));
        text("issuer", Some(c.issuer_normalized()));
        text("clientId", c.client_id.as_deref());
        text("audience", c.audience.as_deref());
        text("scope", c.scope.as_deref());
        text("apiKey", c.api_key.as_ref().map(|k| k.secret()));
        text("storageKey", Some(&self.storage_key));
        set(&o, "apiKeyMode", &JsValue::from_bool(c.mode() == AuthMode::ApiKey));
        set(&o, "timeoutMs", &JsValue::from_f64(c.timeout_ms.clamp(1, u32::MAX as i64) as f64));
        o.into()
    }

    pub fn generation(&self) -> f64 {
        self.session.generation() as f64
    }

    /// `getAccessToken`'s step: `ready` (with `token`), `join` the refresh in
    /// flight, `start` one, or `ended`/`fail` with `error`.
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
            TokenStep::JoinInFlight => step_of("join").into(),
            TokenStep::StartRefresh { .. } => step_of("start").into(),
            TokenStep::Ended(e) => with_error("ended", e),
            TokenStep::Fail(e) => with_error("fail", e),
        }
    }

    /// Before each refresh attempt, with what storage holds now (`stored`,
    /// shared storage only): `send` (with `refreshToken`), `skip` (another
    /// tab stored fresh tokens, adopted) or `ended`.
    #[wasm_bindgen(js_name = beforeSend)]
    pub fn before_send(&mut self, stored: Option<String>, now: f64) -> JsValue {
        let stored = self.parse_stored(stored).ok().flatten();
        match self.session.before_send(stored, now as i64) {
            SendStep::Send { refresh_token } => {
                let o = step_of("send");
                set(&o, "refreshToken", &JsValue::from_str(refresh_token.secret()));
                o.into()
            }
            SendStep::Skip(_) => step_of("skip").into(),
            SendStep::Ended(e) => with_error("ended", e),
        }
    }

    /// How long this refresh attempt may take: what is left of the refresh's
    /// `timeoutMs` budget, at least 1 s.
    #[wasm_bindgen(js_name = attemptTimeout)]
    pub fn attempt_timeout(&self, now: f64) -> f64 {
        let budget = self.session.attempt_timeout_ms(now as i64).unwrap_or(0);
        budget.max(1000).min(self.config.timeout_ms.max(1)) as f64
    }

    /// The token endpoint answered the refresh: `wait` (`ms`, then send
    /// again), `done`, `failed` (`error`, `valid`: the access token still
    /// serves) or `ended`.
    #[wasm_bindgen(js_name = onTokenResponse)]
    pub fn on_token_response(&mut self, status: u16, body: JsValue, retry_after: Option<String>, now: f64, jitter: f64) -> JsValue {
        let answer = token_answer(status, &body, retry_after, now as i64);
        outcome(self.session.on_token_response(answer, now as i64, jitter))
    }

    /// The refresh got no answer; `maybe_sent` unless the request surely
    /// never left (connection refused, DNS).
    #[wasm_bindgen(js_name = onNetworkError)]
    pub fn on_network_error(&mut self, maybe_sent: bool, now: f64, jitter: f64) -> JsValue {
        outcome(self.session.on_network_error(maybe_sent, now as i64, jitter))
    }

    #[wasm_bindgen(js_name = onTimeout)]
    pub fn on_timeout(&mut self, now: f64, jitter: f64) -> JsValue {
        outcome(self.session.on_timeout(now as i64, jitter))
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
            Ok(Some(tokens)) => {
                let _ = self.session.adopt(tokens, js_sys::Date::now() as i64);
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
            Ok(Some(tokens)) => self.session.adopt(tokens, now as i64),
            _ => false,
        }
    }

    /// The JSON to store for the current session; `undefined` without one.
    #[wasm_bindgen(js_name = storedRecord)]
    pub fn stored_record(&self) -> Option<String> {
        let t = self.session.tokens()?;
        let record = StoredSession::from_tokens(t, self.config.issuer_normalized(), self.client_id());
        js_sys::JSON::stringify(&records::stored_session_js(&record)).ok()?.as_string()
    }

    #[wasm_bindgen(js_name = sessionInfo)]
    pub fn session_info(&self) -> JsValue {
        session_info(self.session.tokens())
    }

    /// `true` while the session holds an access token that has not expired.
    #[wasm_bindgen(js_name = validLocally)]
    pub fn valid_locally(&self, now: f64) -> bool {
        self.session.tokens().is_some_and(|t| !t.is_expired(now as i64))
    }

    /// Ends the session (logout); returns the refresh token to revoke.
    pub fn clear(&mut self) -> Option<String> {
        self.session.clear().map(|r| r.secret().to_string())
    }

    /// Another tab ended the session: the error to report, or `undefined`
    /// when there was no session here.
    #[wasm_bindgen(js_name = endedElsewhere)]
    pub fn ended_elsewhere(&mut self) -> JsValue {
        if self.session.tokens().is_none() {
            return JsValue::UNDEFINED;
        }
        self.session.end(Error::new(ErrorKind::SessionEnded, "the session ended in another tab")).into()
    }

    /// `{ accessToken, refreshToken?, expiresAt? }`: errors name the field
    /// and never repeat a token. Without `expiresAt`, a JWT's `exp` is used.
    #[wasm_bindgen(js_name = setSession)]
    pub fn set_session(&mut self, value: JsValue) -> Result<(), JsValue> {
        let tokens = tokens_from_js(&value)?;
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
        let base = self.config.api_url.as_deref().ok_or_else(|| Error::config("apiUrl", "is required for API calls"))?;
        let base = base.trim_end_matches('/');
        let raw: String = match input.as_string() {
            Some(s) => s,
            None if input.is_object() => input.unchecked_ref::<Object>().to_string().into(),
            None => return Err(Error::config("input", "must be a path or a URL").into()),
        };
        let origin = origin_of(base);
        let lower = raw.to_ascii_lowercase();
        let url = if lower.starts_with("http://") || lower.starts_with("https://") {
            if !origin_of(&raw).eq_ignore_ascii_case(origin) {
                return Err(Error::config("input", "is on another origin than apiUrl: credentials are sent to apiUrl's origin only").into());
            }
            raw
        } else if raw.starts_with('/') {
            String::from(base) + &raw
        } else {
            String::from(base) + "/" + &raw
        };
        let path = &url[origin_of(&url).len()..];
        let path = JsValue::from_str(if path.is_empty() { "/" } else { path });
        Ok(Array::of2(&JsValue::from_str(&url), &path))
    }

    /// After one attempt of an API call: `return`, `refresh` (`stale`: the
    /// generation to replace), `current` (retry with the current token),
    /// `wait` (`ms`, then retry) or `fail` (`error`). `call` is the driver's
    /// record `{ method, path, started, sent, generation?, received, expires,
    /// auth, transient }`; `outcome` a status, or `network`/`timeout`/`aborted`.
    pub fn decide(&self, call: &JsValue, outcome: JsValue, retry_after: Option<String>, now: f64, jitter: f64) -> JsValue {
        let now = now as i64;
        let sent = sent_request(call);
        let response = match outcome.as_f64() {
            Some(status) => Response::Status { status: status as u16, retry_after_ms: retry_after.and_then(|h| retry_after_ms(&h, now)) },
            None => match outcome.as_string().as_deref() {
                Some("timeout") => Response::Timeout,
                Some("aborted") => Response::Aborted,
                _ => Response::NetworkError,
            },
        };
        match decide(&sent, response, self.session.generation(), &self.policy, now, jitter) {
            Decision::Return => step_of("return").into(),
            Decision::RefreshAndRetry { stale_generation } => {
                let o = step_of("refresh");
                set(&o, "stale", &JsValue::from_f64(stale_generation as f64));
                o.into()
            }
            Decision::RetryWithCurrentToken => step_of("current").into(),
            Decision::RetryAfter { ms } => wait(ms),
            Decision::Fail(e) => with_error("fail", e),
        }
    }

    /// The `http_error` of a JSON call that ended with a non-2xx `status`.
    #[wasm_bindgen(js_name = httpError)]
    pub fn http_error(&self, call: &JsValue, status: u16, now: f64) -> JsValue {
        let sent = sent_request(call);
        let mut message = String::from("the API answered HTTP ");
        message.push_str(&itoa(status as i64));
        message.push_str(" (");
        message.push_str(&sent.method);
        message.push(' ');
        message.push_str(&sent.path);
        message.push(')');
        Error::new(ErrorKind::Http, message).with_context(sent.context(Some(status), now as i64)).into()
    }

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
        let a = &authorization;
        let login = Object::new();
        set(&login, "userCode", &JsValue::from_str(&a.user_code));
        set(&login, "verificationUri", &JsValue::from_str(&a.verification_uri));
        set(&login, "verificationUriComplete", &JsValue::from_str(a.verification_uri_complete.as_deref().unwrap_or(&a.verification_uri)));
        set(&login, "expiresIn", &JsValue::from_f64(a.expires_in as f64));
        set(&login, "interval", &JsValue::from_f64(a.interval_secs() as f64));
        set(&login, "expiresAt", &JsValue::from_f64((now / 1000 + a.expires_in) as f64));
        if self.logins.len() >= MAX_PENDING {
            self.logins.remove(0);
        }
        self.logins.push(PendingLogin { authorization, started_at_ms: now, poller: None });
        Ok(login.into())
    }

    /// `completeDeviceLogin(login)` begins polling: the user code to pass
    /// to the other `device*` methods, and the device code to send.
    #[wasm_bindgen(js_name = deviceBegin)]
    pub fn device_begin(&mut self, login: &JsValue) -> Result<Array, JsValue> {
        let user_code = string_prop(login, "userCode").ok_or_else(|| Error::config("login", "must be the object startDeviceLogin() returned"))?;
        let p = self.login(&user_code)?;
        if p.poller.is_some() {
            return Err(Error::config("login", "is already being completed: await the first completeDeviceLogin()").into());
        }
        p.poller = Some(DevicePoller::new(&p.authorization, p.started_at_ms)?);
        let device_code = JsValue::from_str(p.authorization.device_code.secret());
        Ok(Array::of2(&JsValue::from_str(&user_code), &device_code))
    }

    /// May a poll be sent now: `send`, or `wait` (`ms`); throws when the code
    /// expired.
    #[wasm_bindgen(js_name = devicePoll)]
    pub fn device_poll(&mut self, user_code: &str, now: f64) -> Result<JsValue, JsValue> {
        let poller = self.poller(user_code)?;
        match poller.poll(now as i64) {
            PollStep::Send => Ok(step_of("send").into()),
            PollStep::Wait { ms } => Ok(wait(ms)),
            PollStep::Busy => Err(Error::new(ErrorKind::InvalidResponse, "a device poll is already outstanding").into()),
            PollStep::Fail(e) => Err(e.into()),
        }
    }

    /// The token endpoint answered a poll: `wait` (`ms`), or `done` with
    /// `session` (the tokens are now the client's session); throws on denial,
    /// expiry or a refusal.
    #[wasm_bindgen(js_name = deviceAnswer)]
    pub fn device_answer(&mut self, user_code: &str, status: u16, body: JsValue, retry_after: Option<String>, now: f64) -> Result<JsValue, JsValue> {
        let answer = token_answer(status, &body, retry_after, now as i64);
        let poller = self.poller(user_code)?;
        let step = poller.on_response(answer, now as i64);
        Ok(self.device_step(user_code, step)?)
    }

    /// A poll got no answer.
    #[wasm_bindgen(js_name = deviceNetworkError)]
    pub fn device_network_error(&mut self, user_code: &str, now: f64) -> Result<JsValue, JsValue> {
        let poller = self.poller(user_code)?;
        let step = poller.on_network_error(now as i64);
        Ok(self.device_step(user_code, step)?)
    }

    /// Polling stopped without tokens. An aborted login may be completed
    /// again; any other end is final.
    #[wasm_bindgen(js_name = deviceEnd)]
    pub fn device_end(&mut self, user_code: &str, aborted: bool) {
        if aborted {
            if let Ok(p) = self.login(user_code) {
                p.poller = None;
            }
        } else {
            self.logins.retain(|p| p.authorization.user_code != user_code);
        }
    }
}

/// The driver's record of an API call, as the core's [`SentRequest`].
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

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> &str {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[start..].find(['/', '?', '#']).map(|i| start + i).unwrap_or(url.len());
    &url[..end]
}

/// `setSession` input -> tokens.
fn tokens_from_js(value: &JsValue) -> Result<TokenSet, Error> {
    if !value.is_object() {
        return Err(Error::config("session", "must be an object { accessToken, refreshToken, expiresAt }"));
    }
    let field = |key| option_value(value, key);
    let input = SessionInput { access_token: field("accessToken"), refresh_token: field("refreshToken"), expires_at: field("expiresAt") };
    input.to_tokens(js_sys::Date::now() as i64, |access| claims_of(access).and_then(|c| c.exp))
}
