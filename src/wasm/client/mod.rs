//! JavaScript bindings of the client: `MeshClient`.
//!
//! Each export converts its arguments and delegates: the session driver
//! (`session`), device login (`device`), API calls (`api`), the provider's
//! endpoints (`oauth`), storage adapters (`storage`), events (`events`) and
//! cross-tab coordination (`tabs`). Async methods return a `Promise` built
//! with `future_to_promise` over an `Rc` of the shared state, so concurrent
//! calls never hold a borrow of the wasm object across an `await`.

mod api;
mod convert;
mod device;
mod events;
mod oauth;
mod options;
mod records;
mod session;
mod storage;
mod tabs;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{AbortController, AbortSignal};

use crate::client::{storage_key, AuthMode, ClientConfig, EnvVars, RefreshPolicy, RequestPolicy, Session, TokenSet};
use crate::error::{Error, ErrorKind};
use crate::secret::{AccessToken, RefreshToken};
use crate::wasm::timer::Cancel;
use convert::{get, opt_int, opt_string, set};
use events::Emitter;
use session::{now, session_info};

// The browser build allocates little (short strings, a few futures) on one
// thread: a coalescing free list (memory is reused, O(free blocks) per call)
// is ~4 KB of code smaller than dlmalloc. Builds with the gateway, which
// allocates per request, keep dlmalloc.
#[cfg(all(target_arch = "wasm32", not(feature = "gateway")))]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without atomics runs one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Whether the stored session has been read yet.
#[derive(Clone)]
enum Load {
    Pending,
    Loading(Promise),
    Done,
}

/// The state every method and background task of one client shares.
pub(crate) struct Inner {
    config: ClientConfig,
    /// `apiUrl` without a trailing slash.
    api_base: Option<String>,
    storage: storage::Storage,
    storage_key: String,
    session: RefCell<Session>,
    load: RefCell<Load>,
    /// The refresh in flight, shared by every waiter of this realm.
    inflight: RefCell<Option<Promise>>,
    endpoints: RefCell<Option<Rc<oauth::Endpoints>>>,
    logins: RefCell<Vec<device::PendingLogin>>,
    events: Rc<Emitter>,
    /// Aborted by `dispose()`: ends every request, sleep and poll.
    lifetime: AbortController,
    request_policy: RequestPolicy,
    tabs: RefCell<Option<tabs::Tabs>>,
}

impl Inner {
    fn timeout_ms(&self) -> u32 {
        self.config.timeout_ms.clamp(1, u32::MAX as i64) as u32
    }

    fn cancel(&self, caller: Option<AbortSignal>) -> Cancel {
        Cancel::new(Some(self.lifetime.signal()), caller)
    }

    fn alive(&self) -> Result<(), Error> {
        Cancel::new(Some(self.lifetime.signal()), None).check()
    }

    fn oauth_only(&self, what: &str) -> Result<(), Error> {
        if self.config.mode() == AuthMode::ApiKey {
            let mut m = String::from(what);
            m.push_str(" is not available in API-key mode");
            return Err(Error::new(ErrorKind::InvalidConfig, m));
        }
        Ok(())
    }
}

/// Runs `f` as a JavaScript promise; errors reject it. Boxed, so that one
/// instance of `future_to_promise` serves every method (smaller wasm).
pub(crate) fn promise<F>(f: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let boxed: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    future_to_promise(boxed)
}

fn signal_of(options: &JsValue) -> Option<AbortSignal> {
    get(options, "signal").dyn_into::<AbortSignal>().ok()
}

/// The mesh client: OAuth session with proactive, single-flight refresh,
/// device login and authenticated API calls; or API-key mode.
#[wasm_bindgen(js_name = MeshClient)]
pub struct MeshClient {
    inner: Rc<Inner>,
}

#[wasm_bindgen(js_class = MeshClient)]
impl MeshClient {
    /// Checks every option now; a wrong one throws an `invalid_config`
    /// error naming it.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<MeshClient, JsValue> {
        let parsed = options::parse(&options)?;
        let config = parsed.config;
        let key = parsed.storage_key.unwrap_or_else(|| {
            storage_key(config.issuer_normalized(), config.client_id.as_deref().unwrap_or(""))
        });
        let lifetime = AbortController::new()?;
        let api_base = config.api_url.as_deref().map(|u| u.trim_end_matches('/').to_string());
        let inner = Rc::new(Inner {
            session: RefCell::new(Session::new(RefreshPolicy::from_config(&config))),
            request_policy: RequestPolicy::from_config(&config),
            load: RefCell::new(if parsed.storage.is_memory() { Load::Done } else { Load::Pending }),
            storage: parsed.storage,
            storage_key: key,
            api_base,
            inflight: RefCell::new(None),
            endpoints: RefCell::new(None),
            logins: RefCell::new(Vec::new()),
            events: Rc::new(Emitter::default()),
            lifetime,
            tabs: RefCell::new(None),
            config,
        });
        tabs::attach(&inner);
        Ok(MeshClient { inner })
    }

    /// Starts a device login: `{ userCode, verificationUri,
    /// verificationUriComplete, expiresIn, interval, expiresAt }`.
    #[wasm_bindgen(js_name = startDeviceLogin, unchecked_return_type = "Promise<DeviceLogin>")]
    pub fn start_device_login(&self, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.oauth_only("startDeviceLogin()")?;
            Ok(device::start(&inner, signal_of(&options)).await?)
        })
    }

    /// Polls until the user approves; resolves with the session (tokens
    /// included, for the terminal).
    #[wasm_bindgen(js_name = completeDeviceLogin, unchecked_return_type = "Promise<SessionWithTokens>")]
    pub fn complete_device_login(&self, login: JsValue, options: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.oauth_only("completeDeviceLogin()")?;
            Ok(device::complete(&inner, &login, signal_of(&options)).await?)
        })
    }

    /// A fresh access token: refreshed when less than the leeway remains,
    /// one refresh shared by all concurrent callers.
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.oauth_only("getAccessToken()")?;
            let ready = session::access_token(&inner).await?;
            Ok(JsValue::from_str(ready.token.secret()))
        })
    }

    /// `fetch` on the API with the credential attached; resolves with the
    /// real `Response`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move { api::fetch(&inner, input, init).await })
    }

    /// `POST /api/v1/chat` with `{ message }`; resolves with the reply JSON.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatReply>")]
    pub fn chat(&self, message: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move { api::chat(&inner, message).await })
    }

    /// `GET /auth/validate`, or a local check of the token's expiry when the
    /// route is missing (404) or the server cannot be reached.
    #[wasm_bindgen(unchecked_return_type = "Promise<Validation>")]
    pub fn validate(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { api::validate(&inner).await })
    }

    /// API keys: `list()`, `create(name)`, `revoke(id)` on `/api/v1/keys`.
    #[wasm_bindgen(getter)]
    pub fn keys(&self) -> MeshKeys {
        MeshKeys { inner: self.inner.clone() }
    }

    /// Sets the session: `{ accessToken, refreshToken?, expiresAt? }`,
    /// `expiresAt` in Unix seconds (as `MESH_TOKEN_EXPIRES_AT`).
    #[wasm_bindgen(js_name = setSession)]
    pub fn set_session(&self, session: JsValue) -> Result<(), JsValue> {
        self.inner.alive()?;
        self.inner.oauth_only("setSession()")?;
        let tokens = tokens_from_js(&session)?;
        install(&self.inner, tokens);
        session::persist_soon(&self.inner);
        tabs::announce_tokens(&self.inner);
        Ok(())
    }

    /// The session without tokens (`{ userId, expiresAt, receivedAt,
    /// hasRefreshToken }`), or `null`.
    #[wasm_bindgen(js_name = getSession, unchecked_return_type = "SessionInfo | null")]
    pub fn get_session(&self) -> JsValue {
        session_info(self.inner.session.borrow().tokens())
    }

    #[wasm_bindgen(getter, unchecked_return_type = "SessionInfo | null")]
    pub fn session(&self) -> JsValue {
        self.get_session()
    }

    /// `{ MESH_ACCESS_TOKEN, MESH_REFRESH_TOKEN, MESH_TOKEN_EXPIRES_AT }`, or
    /// `null` without a session.
    #[wasm_bindgen(js_name = exportEnv, unchecked_return_type = "Record<string, string> | null")]
    pub fn export_env(&self) -> JsValue {
        let session = self.inner.session.borrow();
        let Some(tokens) = session.tokens() else { return JsValue::NULL };
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

    /// A client whose session comes from `MESH_ACCESS_TOKEN`,
    /// `MESH_REFRESH_TOKEN` and `MESH_TOKEN_EXPIRES_AT` (kept in memory).
    #[wasm_bindgen(js_name = fromEnv)]
    pub fn from_env(env: JsValue, options: JsValue) -> Result<MeshClient, JsValue> {
        let client = MeshClient::new(options)?;
        client.inner.oauth_only("fromEnv()")?;
        let vars = EnvVars {
            access_token: opt_string(&env, "MESH_ACCESS_TOKEN")?,
            refresh_token: opt_string(&env, "MESH_REFRESH_TOKEN")?,
            expires_at: opt_string(&env, "MESH_TOKEN_EXPIRES_AT")?,
            from_env: opt_string(&env, "MESH_TOKEN_FROM_ENV")?,
        };
        match vars.to_tokens(now())? {
            Some(tokens) => install(&client.inner, tokens),
            None if vars.from_env.as_deref().map(str::trim) == Some("false") => {}
            None => return Err(Error::config("MESH_ACCESS_TOKEN", "is not set").into()),
        }
        Ok(client)
    }

    /// Subscribes to `refreshed`, `refreshFailed`, `sessionEnded` or
    /// `unauthorized`; returns the unsubscribe function.
    pub fn on(&self, name: &str, handler: JsValue) -> Result<Function, JsValue> {
        Ok(self.inner.events.on(name, handler)?)
    }

    /// Stops everything this client started: requests, sleeps, polls,
    /// listeners. Later calls reject with `disposed`. Idempotent.
    pub fn dispose(&self) {
        self.inner.lifetime.abort();
        self.inner.events.clear();
        tabs::detach(&self.inner);
    }

    /// Revokes the refresh token where the provider advertises a revocation
    /// endpoint, clears storage and ends the session (`sessionEnded` with
    /// reason `logout`). Never rejects because revocation failed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner.alive()?;
            if inner.config.mode() == AuthMode::ApiKey {
                return Ok(JsValue::UNDEFINED);
            }
            session::ensure_loaded(&inner).await;
            // Let a refresh in flight settle, so the token revoked is the latest.
            let flight = inner.inflight.borrow().clone();
            if let Some(p) = flight {
                let _ = wasm_bindgen_futures::JsFuture::from(p).await;
            }
            let refresh = inner.session.borrow_mut().clear();
            *inner.load.borrow_mut() = Load::Done;
            let _ = inner.storage.remove(&inner.storage_key).await;
            tabs::announce_end(&inner, "logout");
            if let Some(rt) = refresh {
                let _ = oauth::revoke(&inner, rt.secret(), &inner.cancel(None)).await;
            }
            session::emit_ended(&inner, "logout", None);
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Installs a session given by the app or the environment.
fn install(inner: &Inner, tokens: TokenSet) {
    inner.session.borrow_mut().set_session(tokens);
    *inner.load.borrow_mut() = Load::Done;
}

/// `{ accessToken, refreshToken?, expiresAt? }` -> tokens; errors name the
/// field and never repeat a token. Without `expiresAt`, a JWT's `exp` is used.
fn tokens_from_js(value: &JsValue) -> Result<TokenSet, Error> {
    if !value.is_object() {
        return Err(Error::config("session", "must be an object { accessToken, refreshToken, expiresAt }"));
    }
    let access = opt_string(value, "accessToken")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Error::config("accessToken", "is required"))?;
    let printable = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
    if !printable(&access) {
        return Err(Error::config("accessToken", "must be printable ASCII without spaces"));
    }
    let refresh = opt_string(value, "refreshToken")?.filter(|s| !s.is_empty());
    if refresh.as_deref().is_some_and(|r| !printable(r)) {
        return Err(Error::config("refreshToken", "must be printable ASCII without spaces"));
    }
    let expires_at = opt_int(value, "expiresAt")?;
    if expires_at.is_some_and(|s| !(1_000_000_000..10_000_000_000).contains(&s)) {
        return Err(Error::config("expiresAt", "must be Unix seconds (10 digits), not milliseconds"));
    }
    let expires_at = expires_at.or_else(|| oauth::claims_of(&access).and_then(|c| c.exp));
    Ok(TokenSet::explicit(AccessToken::new(access), refresh.map(RefreshToken::new), expires_at, now()))
}

/// `client.keys`: the API-key endpoints of the API.
#[wasm_bindgen(js_name = MeshKeys)]
pub struct MeshKeys {
    inner: Rc<Inner>,
}

#[wasm_bindgen(js_class = MeshKeys)]
impl MeshKeys {
    /// `GET /api/v1/keys`: the caller's keys (never their secrets).
    #[wasm_bindgen(unchecked_return_type = "Promise<ApiKeyInfo[]>")]
    pub fn list(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move { api::list_keys(&inner).await })
    }

    /// `POST /api/v1/keys` with `{ name }`: the new key, its secret shown once.
    #[wasm_bindgen(unchecked_return_type = "Promise<CreatedApiKey>")]
    pub fn create(&self, name: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move { api::create_key(&inner, name).await })
    }

    /// `DELETE /api/v1/keys/{id}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn revoke(&self, id: JsValue) -> Promise {
        let inner = self.inner.clone();
        promise(async move { api::revoke_key(&inner, id).await })
    }
}
