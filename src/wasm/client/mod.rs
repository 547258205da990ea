//! JavaScript bindings of the client: `MeshClient`.
//!
//! The IO runs in JavaScript (`driver.js`): fetch with timeouts, sleeps,
//! storage, events and cross-tab coordination, each a short loop around the
//! core's decisions. The decisions are Rust's: `ClientCore` (`core.rs`) wraps
//! the sans-IO core (`crate::client`) in synchronous calls. Async Rust over
//! `JsFuture`s cost about half of the browser build (one state machine and
//! its drop glue per async body); the same loops in JavaScript cost a few KB.
//! `MeshClient` checks the options, then hands each call to the driver.

mod convert;
mod core;
mod options;
mod records;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::client::storage_key;
pub use self::core::ClientCore;

#[wasm_bindgen(module = "/src/wasm/client/driver.js")]
extern "C" {
    /// The client's IO loops, over one `ClientCore`.
    type Driver;
    #[wasm_bindgen(constructor, catch)]
    fn new(core: ClientCore, storage: &JsValue) -> Result<Driver, JsValue>;
    #[wasm_bindgen(method, js_name = startDeviceLogin)]
    fn start_device_login(this: &Driver, options: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = completeDeviceLogin)]
    fn complete_device_login(this: &Driver, login: &JsValue, options: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = getAccessToken)]
    fn get_access_token(this: &Driver) -> Promise;
    #[wasm_bindgen(method)]
    fn fetch(this: &Driver, input: &JsValue, init: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn chat(this: &Driver, message: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn validate(this: &Driver) -> Promise;
    #[wasm_bindgen(method, getter)]
    fn keys(this: &Driver) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = setSession)]
    fn set_session(this: &Driver, session: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, js_name = getSession)]
    fn get_session(this: &Driver) -> JsValue;
    #[wasm_bindgen(method, js_name = exportEnv)]
    fn export_env(this: &Driver) -> JsValue;
    #[wasm_bindgen(method, catch, js_name = fromEnv)]
    fn from_env(this: &Driver, env: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn on(this: &Driver, name: &JsValue, handler: &JsValue) -> Result<Function, JsValue>;
    #[wasm_bindgen(method)]
    fn dispose(this: &Driver);
    #[wasm_bindgen(method)]
    fn logout(this: &Driver) -> Promise;
}

// The browser build allocates little (short strings per call into the core) on one
// thread: a coalescing free list (memory is reused, O(free blocks) per call)
// is ~4 KB of code smaller than dlmalloc. Builds with the gateway, which
// allocates per request, keep dlmalloc.
#[cfg(all(target_arch = "wasm32", not(feature = "gateway")))]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without atomics runs one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// The mesh client: OAuth session with proactive, single-flight refresh,
/// device login and authenticated API calls; or API-key mode.
#[wasm_bindgen(js_name = MeshClient)]
pub struct MeshClient {
    driver: Driver,
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
        let driver = Driver::new(ClientCore::new(config, key), &parsed.storage)?;
        Ok(MeshClient { driver })
    }

    /// Starts a device login: `{ userCode, verificationUri,
    /// verificationUriComplete, expiresIn, interval, expiresAt }`.
    #[wasm_bindgen(js_name = startDeviceLogin, unchecked_return_type = "Promise<DeviceLogin>")]
    pub fn start_device_login(&self, options: JsValue) -> Promise {
        self.driver.start_device_login(&options)
    }

    /// Polls until the user approves; resolves with the session (tokens
    /// included, for the terminal).
    #[wasm_bindgen(js_name = completeDeviceLogin, unchecked_return_type = "Promise<SessionWithTokens>")]
    pub fn complete_device_login(&self, login: JsValue, options: JsValue) -> Promise {
        self.driver.complete_device_login(&login, &options)
    }

    /// A fresh access token: refreshed when less than the leeway remains,
    /// one refresh shared by all concurrent callers.
    #[wasm_bindgen(js_name = getAccessToken, unchecked_return_type = "Promise<string>")]
    pub fn get_access_token(&self) -> Promise {
        self.driver.get_access_token()
    }

    /// `fetch` on the API with the credential attached; resolves with the
    /// real `Response`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(&self, input: JsValue, init: JsValue) -> Promise {
        self.driver.fetch(&input, &init)
    }

    /// `POST /api/v1/chat` with `{ message }`; resolves with the reply JSON.
    #[wasm_bindgen(unchecked_return_type = "Promise<ChatReply>")]
    pub fn chat(&self, message: JsValue) -> Promise {
        self.driver.chat(&message)
    }

    /// `GET /auth/validate`, or a local check of the token's expiry when the
    /// route is missing (404) or the server cannot be reached.
    #[wasm_bindgen(unchecked_return_type = "Promise<Validation>")]
    pub fn validate(&self) -> Promise {
        self.driver.validate()
    }

    /// API keys: `list()`, `create(name)`, `revoke(id)` on `/api/v1/keys`.
    #[wasm_bindgen(getter, unchecked_return_type = "MeshKeys")]
    pub fn keys(&self) -> JsValue {
        self.driver.keys()
    }

    /// Sets the session: `{ accessToken, refreshToken?, expiresAt? }`,
    /// `expiresAt` in Unix seconds (as `MESH_TOKEN_EXPIRES_AT`).
    #[wasm_bindgen(js_name = setSession)]
    pub fn set_session(&self, session: JsValue) -> Result<(), JsValue> {
        self.driver.set_session(&session)
    }

    /// The session without tokens (`{ userId, expiresAt, receivedAt,
    /// hasRefreshToken }`), or `null`.
    #[wasm_bindgen(js_name = getSession, unchecked_return_type = "SessionInfo | null")]
    pub fn get_session(&self) -> JsValue {
        self.driver.get_session()
    }

    #[wasm_bindgen(getter, unchecked_return_type = "SessionInfo | null")]
    pub fn session(&self) -> JsValue {
        self.driver.get_session()
    }

    /// `{ MESH_ACCESS_TOKEN, MESH_REFRESH_TOKEN, MESH_TOKEN_EXPIRES_AT }`, or
    /// `null` without a session.
    #[wasm_bindgen(js_name = exportEnv, unchecked_return_type = "Record<string, string> | null")]
    pub fn export_env(&self) -> JsValue {
        self.driver.export_env()
    }

    /// A client whose session comes from `MESH_ACCESS_TOKEN`,
    /// `MESH_REFRESH_TOKEN` and `MESH_TOKEN_EXPIRES_AT` (kept in memory).
    #[wasm_bindgen(js_name = fromEnv)]
    pub fn from_env(env: JsValue, options: JsValue) -> Result<MeshClient, JsValue> {
        let client = MeshClient::new(options)?;
        client.driver.from_env(&env)?;
        Ok(client)
    }

    /// Subscribes to `refreshed`, `refreshFailed`, `sessionEnded` or
    /// `unauthorized`; returns the unsubscribe function.
    pub fn on(&self, name: JsValue, handler: JsValue) -> Result<Function, JsValue> {
        self.driver.on(&name, &handler)
    }

    /// Stops everything this client started: requests, sleeps, polls,
    /// listeners. Later calls reject with `disposed`. Idempotent.
    pub fn dispose(&self) {
        self.driver.dispose()
    }

    /// Revokes the refresh token where the provider advertises a revocation
    /// endpoint, clears storage and ends the session (`sessionEnded` with
    /// reason `logout`). Never rejects because revocation failed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn logout(&self) -> Promise {
        self.driver.logout()
    }
}
