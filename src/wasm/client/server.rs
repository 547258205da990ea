//! `ServerRules`: `mesh-sdk/next`'s rules (`client::server_session`) as its
//! JavaScript layer (`pkg-template/next-core.js`) calls them. That layer
//! does WebCrypto, cookies, fetches and Redis; what a cookie is called,
//! holds and looks like, and what a request gets, is decided here.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::convert::{or_null, set};
use super::core::ClientCore;
use crate::client::server_session::{self as rules, device_state, redis, Dispatch, Guard, SessionPayload};
use crate::client::config::{opt_string, OptionValue};
use crate::client::failure::failure;
use crate::client::resp::{self, Reply};
use crate::error::Error;
use crate::wasm::error::to_js_error;

#[wasm_bindgen]
pub struct ServerRules {
    base: String,
    secure: bool,
    protect: Vec<String>,
    store_kind: rules::Store,
    timeout_ms: i64,
    /// What the layer executes with (`options()`).
    secret: String,
    store: JsValue,
    /// Checked ([`crate::client::redirect::check_prompt`]).
    prompt: Option<String>,
}

/// `createMeshAuth`'s checked options, read from its whole options object
/// by serde-wasm-bindgen (which reads these fields only) into loose values,
/// so a wrong type is reported by the option's name (the core's
/// `opt_string`), never by a serde message that names no field. Its other
/// own options (`client::option_names::OPTIONS` after the client's) are
/// `store`, taken as given for the layer (`ServerRules::new`: read with
/// `Reflect`, which costs the server build 0.6 KB gz less than
/// serde-wasm-bindgen's `preserve`), and `clientSecret`, the client core's.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerOptions {
    #[serde(default)]
    base_url: Option<OptionValue>,
    /// Checked here, so a wrong value fails `createMeshAuth`, not the first
    /// login; the layer gets it checked.
    #[serde(default)]
    prompt: Option<OptionValue>,
    #[serde(default)]
    secret: Option<OptionValue>,
    #[serde(default)]
    protect: Option<OptionValue>,
}

/// A JavaScript value as `T` (serde-wasm-bindgen); a value of the wrong
/// shape is the `invalid_config` of `options`.
fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<T, Error> {
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::config("options", &e.to_string()))
}

/// `value` as JavaScript: structs as plain objects, `None` as `null`.
fn to_js<T: Serialize>(value: &T) -> JsValue {
    let out = value.serialize(&serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true));
    // Only plain structs, strings and numbers within 2^53 come here.
    out.unwrap_or(JsValue::NULL)
}

/// What the layer works with (`ServerSettings` in steps.d.ts).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    session_cookie: String,
    login_cookie: String,
    device_cookie: String,
    key_info: &'static str,
    redirect_uri: String,
    iv_bytes: usize,
    session_id_bytes: usize,
    max_cached: usize,
    refused_status: u16,
    redirect_status: u16,
    failed_status: u16,
    answer_headers: &'static [(&'static str, &'static str)],
    lock_ttl_ms: i64,
    lock_wait_ms: i64,
    lock_poll_ms: i64,
    redis_default_port: u16,
    redis_connect_timeout_ms: i64,
    redis_command_timeout_ms: i64,
    redis_reconnect_delays_ms: &'static [i64],
    device_states: DeviceStates,
    scripts: Scripts,
}

#[derive(Serialize)]
struct DeviceStates {
    pending: &'static str,
    complete: &'static str,
    cancelled: &'static str,
}

#[derive(Serialize)]
struct Scripts {
    acquire: &'static str,
    write: &'static str,
    remove: &'static str,
    release: &'static str,
}

/// One cookie to set (`cookieWrites`): the `Set-Cookie` header, and the
/// same as Next's `cookies().set` options.
#[derive(Serialize)]
struct CookieWriteJs {
    name: String,
    value: String,
    header: String,
    options: CookieOptions,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CookieOptions {
    path: &'static str,
    max_age: i64,
    http_only: bool,
    same_site: &'static str,
    secure: bool,
}

/// An opened session cookie (`openSession`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenedSession {
    sid: String,
    created_at: i64,
    record: Option<String>,
    ttl_ms: i64,
    /// Unix seconds.
    expires_at: i64,
}

/// The Redis keys of one session.
#[derive(Serialize)]
struct RedisKeys {
    session: String,
    lock: String,
    fence: String,
}

/// A reply as JavaScript: a string, a number, null or an array of them.
fn resp_value(reply: &Reply) -> JsValue {
    match reply {
        Reply::Text(s) | Reply::Error(s) => JsValue::from_str(s),
        Reply::Integer(n) => JsValue::from_f64(*n as f64),
        Reply::Null => JsValue::NULL,
        Reply::Array(items) => items.iter().map(resp_value).collect::<Array>().into(),
    }
}

fn text(o: &Object, key: &str, value: &str) {
    set(o, key, &JsValue::from_str(value));
}

fn num(o: &Object, key: &str, value: f64) {
    set(o, key, &JsValue::from_f64(value));
}

/// `{ t: 'refuse', status, error }`: every refusal the layer answers as is.
fn refusal(status: u16, error: Option<Error>) -> Object {
    let o = Object::new();
    text(&o, "t", "refuse");
    num(&o, "status", status as f64);
    set(&o, "error", &or_null(error.as_ref().map(to_js_error)));
    o
}

/// The refusal of a state-changing request from another origin (CSRF).
fn foreign_origin() -> Object {
    refusal(rules::FOREIGN_ORIGIN_STATUS, Some(failure("foreign_origin", "", "")))
}

/// The `store` option's shape, for [`rules::Store::of`].
fn store_shape(store: &JsValue) -> rules::StoreShape {
    use rules::StoreShape::*;
    if store.is_undefined() {
        return Absent;
    }
    if let Some(text) = store.as_string() {
        return Text(text);
    }
    if store.is_object() {
        let field = |name: &str| Reflect::get(store, &name.into()).unwrap_or_default();
        if let Some(url) = field("redis").as_string() {
            return Redis(url);
        }
        if field("get").is_function() {
            return Methods;
        }
    }
    Other
}

#[wasm_bindgen]
impl ServerRules {
    /// Reads and checks `createMeshAuth`'s own options (`baseUrl`,
    /// `secret`, `protect`, `store`, `prompt`) from the whole options object.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, timeout_ms: f64) -> Result<ServerRules, JsValue> {
        let given = |name: &str| Reflect::get(&options, &name.into()).unwrap_or_default();
        let store = given("store");
        let options: ServerOptions = from_js(options)?;
        let base = rules::base_url(&opt_string("baseUrl", &options.base_url)?.unwrap_or_default())?;
        let secret = opt_string("secret", &options.secret)?;
        rules::check_secret(secret.as_deref())?;
        let protect = rules::protect_paths(&options.protect)?;
        let prompt = opt_string("prompt", &options.prompt)?;
        crate::client::redirect::check_prompt(prompt.as_deref())?;
        let store_kind = rules::Store::of(store_shape(&store))?;
        Ok(ServerRules {
            secure: rules::secure_cookies(&base),
            base,
            protect,
            store_kind,
            timeout_ms: timeout_ms as i64,
            secret: secret.unwrap_or_default(),
            store,
            prompt,
        })
    }

    /// What the layer executes with: `{ secret, store, prompt, serverStore,
    /// storeKind, redisUrl }` (`secret` and `prompt` checked, `store` as
    /// given; which store to make, and Redis's URL).
    pub fn options(&self) -> JsValue {
        let o = Object::new();
        text(&o, "secret", &self.secret);
        set(&o, "store", &self.store);
        if let Some(prompt) = &self.prompt {
            text(&o, "prompt", prompt);
        }
        set(&o, "serverStore", &JsValue::from_bool(self.store_kind.is_server()));
        text(&o, "storeKind", self.store_kind.kind());
        if let rules::Store::Redis(url) = &self.store_kind {
            text(&o, "redisUrl", url);
        }
        o.into()
    }

    /// The constants the layer works with; the cookie names as `baseUrl`
    /// has them (`__Host-` prefixed unless plain-HTTP loopback).
    pub fn settings(&self) -> JsValue {
        to_js(&Settings {
            session_cookie: rules::cookie_name(rules::SESSION_COOKIE, self.secure),
            login_cookie: rules::cookie_name(rules::LOGIN_COOKIE, self.secure),
            device_cookie: rules::cookie_name(rules::DEVICE_COOKIE, self.secure),
            key_info: rules::KEY_INFO,
            redirect_uri: rules::redirect_uri(&self.base),
            iv_bytes: rules::IV_BYTES,
            session_id_bytes: rules::SESSION_ID_BYTES,
            max_cached: rules::MAX_CACHED_SESSIONS,
            refused_status: rules::REFUSED_STATUS,
            redirect_status: rules::HANDLER_REDIRECT_STATUS,
            failed_status: rules::UPSTREAM_FAILED_STATUS,
            answer_headers: &rules::ANSWER_HEADERS,
            lock_ttl_ms: redis::lock_ttl_ms(self.timeout_ms),
            lock_wait_ms: redis::lock_wait_ms(self.timeout_ms),
            lock_poll_ms: redis::LOCK_POLL_MS,
            redis_default_port: redis::DEFAULT_PORT,
            redis_connect_timeout_ms: redis::CONNECT_TIMEOUT_MS,
            redis_command_timeout_ms: redis::command_timeout_ms(self.timeout_ms),
            redis_reconnect_delays_ms: &redis::RECONNECT_DELAYS_MS,
            device_states: DeviceStates { pending: device_state::PENDING, complete: device_state::COMPLETE, cancelled: device_state::CANCELLED },
            scripts: Scripts { acquire: redis::ACQUIRE, write: redis::WRITE, remove: redis::REMOVE, release: redis::RELEASE },
        })
    }

    /// Whether a `store.redis` URL's `protocol` asks for TLS; throws
    /// `invalid_config` for a scheme other than `redis:` and `rediss:`.
    #[wasm_bindgen(js_name = redisTls)]
    pub fn redis_tls(&self, protocol: &str) -> Result<bool, JsValue> {
        Ok(redis::uses_tls(protocol)?)
    }

    /// The Redis store's error `name` (`closed`, `unreachable`, `timeout`, `reply`).
    #[wasm_bindgen(js_name = redisFailure)]
    pub fn redis_failure(&self, name: &str, detail: Option<String>) -> JsValue {
        redis::failure(name, detail.as_deref().unwrap_or("")).into()
    }

    /// The complete RESP replies at the start of `bytes` (`client::resp`):
    /// `{ used, replies, desync? }`, each reply `{ value }` or `{ error }`
    /// (an error reply's line); `desync` quotes bytes that are not RESP.
    #[wasm_bindgen(js_name = redisReplies)]
    pub fn redis_replies(&self, bytes: &[u8]) -> JsValue {
        let parsed = resp::parse(bytes);
        let replies = Array::new();
        for reply in &parsed.replies {
            let o = Object::new();
            match reply {
                Reply::Error(line) => text(&o, "error", line),
                value => set(&o, "value", &resp_value(value)),
            }
            replies.push(&o);
        }
        let o = Object::new();
        num(&o, "used", parsed.used as f64);
        set(&o, "replies", &replies);
        if let Some(quote) = parsed.desync {
            text(&o, "desync", &quote);
        }
        o.into()
    }

    /// The command `args` as RESP bytes to write.
    #[wasm_bindgen(js_name = redisCommand)]
    pub fn redis_command(&self, args: Vec<String>) -> String {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        resp::command(&args)
    }

    /// An error reply (its line after `-`): `{ error, reconnect }`,
    /// `reconnect` when the connection must be dropped.
    #[wasm_bindgen(js_name = redisErrorReply)]
    pub fn redis_error_reply(&self, reply: &str) -> JsValue {
        let (error, reconnect) = redis::error_reply(reply);
        let o = Object::new();
        set(&o, "error", &error.into());
        set(&o, "reconnect", &JsValue::from_bool(reconnect));
        o.into()
    }

    /// The sealed value of cookie `name` in a `Cookie` header, or `undefined`.
    #[wasm_bindgen(js_name = readCookie)]
    pub fn read_cookie(&self, header: &str, name: &str) -> Option<String> {
        rules::read_cookie(&rules::parse_cookie_header(header), name)
    }

    /// The `[iv, ciphertext]` of a sealed value, or `undefined`.
    pub fn unseal(&self, value: &str) -> Option<Array> {
        let (iv, ct) = rules::unseal(value)?;
        Some(Array::of2(&Uint8Array::from(iv.as_slice()), &Uint8Array::from(ct.as_slice())))
    }

    pub fn seal(&self, iv: &[u8], ciphertext: &[u8]) -> String {
        rules::seal(iv, ciphertext)
    }

    /// The cookies to set so that `name` holds `sealed` (`null`: deleted),
    /// given the request's `Cookie` header: `[{ name, value, header, options }]`.
    /// The session cookie lives as long as the session, the login cookie as
    /// long as a pending login.
    #[wasm_bindgen(js_name = cookieWrites)]
    pub fn cookie_writes(&self, name: &str, sealed: Option<String>, header: &str, created_at: Option<f64>, now: f64) -> Result<Array, JsValue> {
        let max_age = match created_at {
            Some(c) => self.session_ttl_ms(c, now) as i64 / 1000,
            None => rules::LOGIN_TTL_SECS,
        };
        let present: Vec<String> = rules::parse_cookie_header(header).into_iter().map(|(k, _)| k).collect();
        let writes = rules::write_cookie(name, sealed.as_deref(), max_age, self.secure, &present)?;
        let writes: Vec<CookieWriteJs> = writes
            .into_iter()
            .map(|w| CookieWriteJs {
                header: w.header(),
                options: CookieOptions { path: "/", max_age: w.max_age_secs, http_only: true, same_site: "lax", secure: w.secure },
                name: w.name,
                value: w.value,
            })
            .collect();
        Ok(to_js(&writes).unchecked_into())
    }

    /// A new session id from 32 random bytes.
    #[wasm_bindgen(js_name = sessionId)]
    pub fn session_id(&self, random: &[u8]) -> Result<String, JsValue> {
        Ok(rules::session_id(random)?)
    }

    /// The session cookie's plaintext; `record` only with the cookie store.
    #[wasm_bindgen(js_name = sessionPayload)]
    pub fn session_payload(&self, sid: String, created_at: f64, record: Option<String>) -> String {
        let record = if self.store_kind.is_server() { None } else { record };
        SessionPayload { sid, created_at: created_at as i64, record }.encode()
    }

    /// An opened session cookie: `{ sid, createdAt, record, ttlMs, expiresAt }` (seconds), or
    /// `null` when it is not a live session of this store.
    #[wasm_bindgen(js_name = openSession)]
    pub fn open_session(&self, plaintext: &str, now: f64) -> JsValue {
        let Some(p) = SessionPayload::decode(plaintext, self.store_kind.is_server(), now as i64) else { return JsValue::NULL };
        let ttl_ms = p.ttl_ms(now as i64);
        let expires_at = crate::client::token::unix_secs(p.created_at.saturating_add(rules::SESSION_MAX_MS));
        to_js(&OpenedSession { sid: p.sid, created_at: p.created_at, record: p.record, ttl_ms, expires_at })
    }

    /// The Redis keys of session `sid`: `{ session, lock, fence }`.
    #[wasm_bindgen(js_name = redisKeys)]
    pub fn redis_keys(&self, sid: &str) -> JsValue {
        to_js(&RedisKeys { session: redis::session_key(sid), lock: redis::lock_key(sid), fence: redis::fence_key(sid) })
    }

    /// What is left of a session that began at `created_at`.
    #[wasm_bindgen(js_name = sessionTtlMs)]
    pub fn session_ttl_ms(&self, created_at: f64, now: f64) -> f64 {
        SessionPayload { sid: String::new(), created_at: created_at as i64, record: None }.ttl_ms(now as i64) as f64
    }

    /// The handler of a request: `{ t: 'serve', route, bare }` (`login`,
    /// `callback`, `logout`, `device`, `devicePoll`, `deviceCancel`) or
    /// `{ t: 'refuse', status, error, allow?, bare }`; `bare`: answered
    /// without a body, setting no cookie (a HEAD).
    pub fn dispatch(&self, method: &str, path: &str, origin: Option<String>) -> JsValue {
        let o = match rules::dispatch(&self.base, method, path, origin.as_deref()) {
            Dispatch::Serve(route) => {
                let o = Object::new();
                text(&o, "t", "serve");
                text(&o, "route", route.name());
                o
            }
            Dispatch::NotFound => refusal(404, None),
            Dispatch::MethodNotAllowed(allow) => {
                let o = refusal(rules::METHOD_NOT_ALLOWED_STATUS, Some(failure("method", "", &allow)));
                text(&o, "allow", &allow);
                o
            }
            Dispatch::ForeignOrigin => foreign_origin(),
        };
        set(&o, "bare", &JsValue::from_bool(rules::answers_bare(method)));
        o.into()
    }

    /// `null`, or `{ t: 'refuse', status, error }` for a state-changing
    /// request (not GET, HEAD, OPTIONS) from another origin: the check an
    /// app's own route handlers make before acting on the session cookie,
    /// refused as `dispatch` refuses one to the auth routes.
    #[wasm_bindgen(js_name = checkOrigin)]
    pub fn check_origin(&self, method: &str, origin: Option<String>) -> JsValue {
        if rules::origin_allowed(&self.base, method, origin.as_deref()) {
            return JsValue::NULL;
        }
        foreign_origin().into()
    }

    /// The error of `call()` without a request where `next/headers` did
    /// not load (`detail`: why).
    #[wasm_bindgen(js_name = outsideNext)]
    pub fn outside_next(&self, call: &str, detail: &str) -> JsValue {
        rules::outside_next(call, detail).into()
    }

    /// The status of a callback or device login that failed with `code`.
    #[wasm_bindgen(js_name = failureStatus)]
    pub fn failure_status(&self, code: Option<String>) -> u16 {
        rules::failure_status(code.as_deref().unwrap_or(""))
    }

    /// The status of an API call (`fetchApi`) that failed with `code`.
    #[wasm_bindgen(js_name = apiFailureStatus)]
    pub fn api_failure_status(&self, code: Option<String>) -> u16 {
        rules::api_failure_status(code.as_deref().unwrap_or(""))
    }

    /// A device login that ended with `code`: `{ state, status }`
    /// (`expired`, `denied` or `failed`).
    #[wasm_bindgen(js_name = deviceEnd)]
    pub fn device_end(&self, code: Option<String>) -> JsValue {
        let (state, status) = rules::device_end(code.as_deref().unwrap_or(""));
        let o = Object::new();
        text(&o, "state", state);
        num(&o, "status", status as f64);
        o.into()
    }

    /// Where to send the browser after a login or logout.
    #[wasm_bindgen(js_name = returnUrl)]
    pub fn return_url(&self, return_to: Option<String>) -> String {
        rules::return_url(&self.base, return_to.as_deref())
    }

    /// The middleware's decision: `{ t: 'pass' }`, `{ t: 'login', status, url }`
    /// or `{ t: 'unauthorized', status, error }`.
    pub fn guard(&self, path: &str, search: &str, signed_in: bool) -> JsValue {
        let o = Object::new();
        match rules::guard(&self.base, path, search, &self.protect, signed_in) {
            Guard::Pass => text(&o, "t", "pass"),
            Guard::Login(url) => {
                text(&o, "t", "login");
                num(&o, "status", rules::LOGIN_REDIRECT_STATUS as f64);
                text(&o, "url", &url);
            }
            Guard::Unauthorized => {
                text(&o, "t", "unauthorized");
                num(&o, "status", rules::SIGNED_OUT_STATUS as f64);
                set(&o, "error", &to_js_error(&failure("signed_out", "", "")));
            }
        }
        o.into()
    }
}

#[wasm_bindgen]
impl ClientCore {
    /// What `auth()` returns: the session without its tokens, or `null`
    /// when it no longer signs the user in.
    #[wasm_bindgen(js_name = serverSession)]
    pub fn server_session(&self, now: f64) -> JsValue {
        if rules::signed_in(&self.session, now as i64) {
            self.session_info()
        } else {
            JsValue::NULL
        }
    }
}
