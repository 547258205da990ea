//! `ServerRules`: `mesh-sdk/next`'s rules (`client::server_session`) as its
//! JavaScript layer (`pkg-template/next-core.js`) calls them. That layer
//! does WebCrypto, cookies, fetches and Redis; what a cookie is called,
//! holds and looks like, and what a request gets, is decided here.

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use super::convert::{get, opt_string, or_null, secs, set};
use super::core::ClientCore;
use crate::client::server_session::{self as rules, device_state, redis, Dispatch, Guard, SessionPayload};
use crate::client::failure::failure;
use crate::client::resp::{self, Reply};
use crate::error::Error;
use crate::wasm::error::to_js_error;

#[wasm_bindgen]
pub struct ServerRules {
    base: String,
    secure: bool,
    protect: Vec<String>,
    server_store: bool,
    timeout_ms: i64,
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

#[wasm_bindgen]
impl ServerRules {
    /// Checks `createMeshAuth`'s own options (`baseUrl`, `secret`,
    /// `protect`); `serverStore` when the session lives in Redis or memory.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, server_store: bool, timeout_ms: f64) -> Result<ServerRules, JsValue> {
        let base = rules::base_url(&opt_string(&options, "baseUrl")?.unwrap_or_default())?;
        rules::check_secret(opt_string(&options, "secret")?.as_deref())?;
        let list = get(&options, "protect");
        let protect: Vec<String> = if list.is_undefined() || list.is_null() {
            Vec::new()
        } else if Array::is_array(&list) {
            Array::from(&list).iter().map(|p| p.as_string().unwrap_or_default()).collect()
        } else {
            return Err(Error::config("protect", "must be a list of paths such as ['/settings', '/api/keys']").into());
        };
        rules::check_protect(&protect)?;
        Ok(ServerRules { secure: rules::secure_cookies(&base), base, protect, server_store, timeout_ms: timeout_ms as i64 })
    }

    /// The constants the layer works with.
    pub fn settings(&self) -> JsValue {
        let o = Object::new();
        text(&o, "sessionCookie", rules::SESSION_COOKIE);
        text(&o, "loginCookie", rules::LOGIN_COOKIE);
        text(&o, "deviceCookie", rules::DEVICE_COOKIE);
        text(&o, "keyInfo", rules::KEY_INFO);
        text(&o, "redirectUri", &rules::redirect_uri(&self.base));
        num(&o, "ivBytes", rules::IV_BYTES as f64);
        num(&o, "sessionIdBytes", rules::SESSION_ID_BYTES as f64);
        num(&o, "maxCached", rules::MAX_CACHED_SESSIONS as f64);
        num(&o, "refusedStatus", rules::REFUSED_STATUS as f64);
        num(&o, "redirectStatus", rules::HANDLER_REDIRECT_STATUS as f64);
        num(&o, "failedStatus", rules::UPSTREAM_FAILED_STATUS as f64);
        let answer = rules::ANSWER_HEADERS.iter().map(|(k, v)| JsValue::from(Array::of2(&JsValue::from_str(k), &JsValue::from_str(v))));
        set(&o, "answerHeaders", &answer.collect::<Array>());
        num(&o, "lockTtlMs", redis::lock_ttl_ms(self.timeout_ms) as f64);
        num(&o, "lockWaitMs", redis::lock_wait_ms(self.timeout_ms) as f64);
        num(&o, "lockPollMs", redis::LOCK_POLL_MS as f64);
        num(&o, "redisDefaultPort", redis::DEFAULT_PORT as f64);
        num(&o, "redisConnectTimeoutMs", redis::CONNECT_TIMEOUT_MS as f64);
        num(&o, "redisCommandTimeoutMs", redis::command_timeout_ms(self.timeout_ms) as f64);
        set(&o, "redisReconnectDelaysMs", &redis::RECONNECT_DELAYS_MS.iter().map(|&ms| JsValue::from_f64(ms as f64)).collect::<Array>());
        let states = Object::new();
        for (k, v) in [("pending", device_state::PENDING), ("complete", device_state::COMPLETE), ("cancelled", device_state::CANCELLED)] {
            text(&states, k, v);
        }
        set(&o, "deviceStates", &states);
        let scripts = Object::new();
        for (k, v) in [("acquire", redis::ACQUIRE), ("write", redis::WRITE), ("remove", redis::REMOVE), ("release", redis::RELEASE)] {
            text(&scripts, k, v);
        }
        set(&o, "scripts", &scripts);
        o.into()
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
        let out = Array::new();
        for w in rules::write_cookie(name, sealed.as_deref(), max_age, self.secure, &present)? {
            let o = Object::new();
            text(&o, "name", &w.name);
            text(&o, "value", &w.value);
            text(&o, "header", &w.header());
            let options = Object::new();
            text(&options, "path", "/");
            num(&options, "maxAge", w.max_age_secs as f64);
            set(&options, "httpOnly", &JsValue::TRUE);
            text(&options, "sameSite", "lax");
            set(&options, "secure", &JsValue::from_bool(w.secure));
            set(&o, "options", &options);
            out.push(&o);
        }
        Ok(out)
    }

    /// A new session id from 32 random bytes.
    #[wasm_bindgen(js_name = sessionId)]
    pub fn session_id(&self, random: &[u8]) -> Result<String, JsValue> {
        Ok(rules::session_id(random)?)
    }

    /// The session cookie's plaintext; `record` only with the cookie store.
    #[wasm_bindgen(js_name = sessionPayload)]
    pub fn session_payload(&self, sid: String, created_at: f64, record: Option<String>) -> String {
        let record = if self.server_store { None } else { record };
        SessionPayload { sid, created_at: created_at as i64, record }.encode()
    }

    /// An opened session cookie: `{ sid, createdAt, record, ttlMs, expiresAt }` (seconds), or
    /// `null` when it is not a live session of this store.
    #[wasm_bindgen(js_name = openSession)]
    pub fn open_session(&self, plaintext: &str, now: f64) -> JsValue {
        let Some(p) = SessionPayload::decode(plaintext, self.server_store, now as i64) else { return JsValue::NULL };
        let o = Object::new();
        text(&o, "sid", &p.sid);
        num(&o, "createdAt", p.created_at as f64);
        set(&o, "record", &or_null(p.record.as_deref().map(JsValue::from_str)));
        num(&o, "ttlMs", p.ttl_ms(now as i64) as f64);
        set(&o, "expiresAt", &secs(p.created_at.saturating_add(rules::SESSION_MAX_MS)));
        o.into()
    }

    /// The Redis keys of session `sid`: `{ session, lock, fence }`.
    #[wasm_bindgen(js_name = redisKeys)]
    pub fn redis_keys(&self, sid: &str) -> JsValue {
        let o = Object::new();
        text(&o, "session", &redis::session_key(sid));
        text(&o, "lock", &redis::lock_key(sid));
        text(&o, "fence", &redis::fence_key(sid));
        o.into()
    }

    /// What is left of a session that began at `created_at`.
    #[wasm_bindgen(js_name = sessionTtlMs)]
    pub fn session_ttl_ms(&self, created_at: f64, now: f64) -> f64 {
        SessionPayload { sid: String::new(), created_at: created_at as i64, record: None }.ttl_ms(now as i64) as f64
    }

    /// The handler of a request: `{ t: 'serve', route }` (`login`,
    /// `callback`, `logout`, `device`, `devicePoll`, `deviceCancel`) or
    /// `{ t: 'refuse', status, error, allow? }`.
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
        match self.session.tokens() {
            Some(t) if rules::signed_in(t, now as i64) => self.session_info(),
            _ => JsValue::NULL,
        }
    }
}
