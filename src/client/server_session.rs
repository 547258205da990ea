//! The server-side session of `mesh-sdk/next`: what its cookies are called,
//! hold and look like, how long they live, which paths its handlers serve,
//! what the middleware does with a request, and the keys and scripts of the
//! Redis store. The redirect login itself is [`super::redirect`] and
//! [`super::id_token`], the refresh [`super::refresh`]: the server runs the
//! same rules as the browser.
//!
//! The JavaScript layer (`pkg-template/next-core.js`) does the IO only:
//! AES-256-GCM and HKDF through WebCrypto, reading and setting cookies, the
//! fetches, Redis.
//!
//! ## The cookies
//! Both are sealed (AES-256-GCM, a fresh 12-byte IV each time, the cookie's
//! name as additional data, so one cannot be replayed as the other) with a
//! key derived from the app's `secret` by HKDF-SHA-256 ([`KEY_INFO`]). A
//! value that does not open, or opens to something this module refuses, is
//! a signed-out user.
//!
//! - [`SESSION_COOKIE`]: `1|<sid>|<createdAt ms>|<stored session JSON>` with
//!   the cookie store, `1|<sid>|<createdAt ms>|` with a server store (the
//!   record then lives there under the session id). The stored session is
//!   [`super::storage::StoredSession`], the browser's format.
//! - [`LOGIN_COOKIE`]: the pending redirect logins
//!   ([`super::redirect::PendingRedirect`] list), for [`LOGIN_TTL_SECS`].
//! - [`DEVICE_COOKIE`]: the pending device login started by the server
//!   ([`super::pending_login::PendingLogin`], with where its polling
//!   stands), for [`LOGIN_TTL_SECS`]; the device code never reaches the
//!   browser's JavaScript.
//!
//! ## The routes
//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`, and the
//! device login: `GET /auth/device` (the pending login, for a reloaded
//! page), `POST /auth/device` (start), `POST /auth/device/poll` (at most
//! one token request, when the poller allows it) and `POST
//! /auth/device/cancel`. Another method is a 405 `method_not_allowed` with
//! `Allow`; so is a HEAD, unless its GET only reads (`/auth/device`, then
//! answered bare: [`Route::methods`]). Every POST must carry the app's own
//! `Origin` ([`dispatch`]): a cross-site form or `<img>` can neither sign a
//! user out nor drive a login.
//!
//! A sealed value longer than [`CHUNK_CHARS`] is written as `name.0`,
//! `name.1`, … (browsers drop cookies over 4096 bytes). With `Secure`
//! cookies every name carries the `__Host-` prefix ([`cookie_name`]).

use crate::error::{Error, ErrorKind, Result};

use super::redirect::{base64url_encode, percent_encode, same_origin_path, PENDING_REDIRECT_TTL_MS};
use super::refresh::Session;
use super::token::base64url_decode;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mesh.session";
/// The pending-login cookie's name.
pub const LOGIN_COOKIE: &str = "mesh.login";
/// The pending device login's cookie.
pub const DEVICE_COOKIE: &str = "mesh.device";
/// The prefix of every cookie name when cookies are `Secure`. A browser
/// keeps a `__Host-` cookie only if it is `Secure`, host-only (no `Domain`)
/// and `Path=/` (RFC 6265bis 4.1.3.2), so no other host can set one. A bare
/// `mesh.session` can be set for the app by a sibling subdomain
/// (`Domain=example.com`): sealing stops forgery, not a sealed session of
/// the attacker's own (login CSRF, session fixation) nor an overwrite.
pub const HOST_PREFIX: &str = "__Host-";
/// Characters of a sealed value per cookie: with the name and attributes a
/// `Set-Cookie` stays under the 4096 bytes every browser keeps.
pub const CHUNK_CHARS: usize = 3800;
/// At most this many chunks are read (about 30 KB), as older versions wrote.
pub const MAX_CHUNKS: usize = 8;
/// At most this many chunks are written (11,400 characters): Node's HTTP
/// server, which `next start` runs, answers 431 to a request whose headers
/// pass 16 KiB in all, and four chunks (15.3 KB) would leave too little for
/// the request line, the browser's own headers (1-2 KB), the login cookies
/// and the app's, locking the browser out, sign-out included. A larger
/// session is refused: it belongs in a server store.
pub const MAX_WRITTEN_CHUNKS: usize = 3;
/// How long a session lasts from its login, refreshes included: then the
/// user signs in again.
pub const SESSION_MAX_MS: i64 = 30 * 24 * 3600 * 1000;
/// The pending-login cookie lives as long as a pending login.
pub const LOGIN_TTL_SECS: i64 = PENDING_REDIRECT_TTL_MS / 1000;
/// HKDF-SHA-256's `info` for the cookie key (the salt is empty: `secret` is
/// required to hold at least [`MIN_SECRET_CHARS`] characters of entropy).
pub const KEY_INFO: &str = "mesh-sdk/next cookie key v1";
/// AES-GCM's IV length.
pub const IV_BYTES: usize = 12;
/// AES-GCM's tag: a sealed value is at least IV + tag long.
const TAG_BYTES: usize = 16;
/// Random bytes of a session id.
pub const SESSION_ID_BYTES: usize = 32;
/// Sessions one process keeps in memory (their refresh in flight, their
/// tokens): the least recently used goes first.
pub const MAX_CACHED_SESSIONS: usize = 10_000;
/// Where the handlers live (`app/auth/[...mesh]/route.js`).
pub const ROUTE_BASE: &str = "/auth";
/// Under this path a protected request is answered 401, not redirected.
pub const API_BASE: &str = "/api";
/// Headers on every answer mesh-sdk/next makes (its handlers, `fetchApi`,
/// the middleware and the origin check): each carries a session, a login's
/// state or a user's data, so no cache may keep it.
pub const ANSWER_HEADERS: [(&str, &str); 1] = [("cache-control", "no-store")];
/// The status of a refused callback or an unknown handler path.
pub const REFUSED_STATUS: u16 = 400;
/// A handler that could not reach the provider (discovery, the token
/// endpoint): the provider failed, not the request.
pub const UPSTREAM_FAILED_STATUS: u16 = 502;
/// An API route answered for a request without a usable session.
pub const SIGNED_OUT_STATUS: u16 = 401;
/// An API route that failed on the app's side.
pub const APP_FAILED_STATUS: u16 = 500;
/// A POST from another origin (CSRF).
pub const FOREIGN_ORIGIN_STATUS: u16 = 403;
/// A handler path asked with a method it does not serve.
pub const METHOD_NOT_ALLOWED_STATUS: u16 = 405;
/// The middleware's redirect to the login.
pub const LOGIN_REDIRECT_STATUS: u16 = 307;
/// The handlers' redirects (to the provider, back to the app): a GET follows.
pub const HANDLER_REDIRECT_STATUS: u16 = 302;
const PAYLOAD_VERSION: &str = "1";

/// The handler a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Login,
    Callback,
    Logout,
    /// `GET`: the pending device login; `POST`: start one ([`dispatch`]
    /// serves that as [`Route::DeviceStart`]).
    Device,
    DeviceStart,
    DevicePoll,
    DeviceCancel,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Login => "login",
            Route::Callback => "callback",
            Route::Logout => "logout",
            Route::Device => "device",
            Route::DeviceStart => "deviceStart",
            Route::DevicePoll => "devicePoll",
            Route::DeviceCancel => "deviceCancel",
        }
    }

    /// The methods it serves. A state change is POST only: a GET can be
    /// sent cross-site by any `<img>` or link. A HEAD (link previews,
    /// monitors) is answered as its GET only where that GET just reads
    /// ([`answers_bare`]): a GET of the login starts one (its pending
    /// cookie; the provider's URL carries its `state`) and of the callback
    /// spends it and the code, so no HEAD answer can match theirs without
    /// doing that, and a HEAD gets 405.
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Route::Login | Route::Callback => &["GET"],
            Route::Device => &["GET", "HEAD", "POST"],
            Route::Logout | Route::DeviceStart | Route::DevicePoll | Route::DeviceCancel => &["POST"],
        }
    }
}

/// The route of `path` (the request URL's pathname), if it is one.
pub fn route(path: &str) -> Option<Route> {
    match path.strip_prefix(ROUTE_BASE)?.trim_end_matches('/') {
        "/login" => Some(Route::Login),
        "/callback" => Some(Route::Callback),
        "/logout" => Some(Route::Logout),
        "/device" => Some(Route::Device),
        "/device/poll" => Some(Route::DevicePoll),
        "/device/cancel" => Some(Route::DeviceCancel),
        _ => None,
    }
}

/// What the handlers do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    Serve(Route),
    NotFound,
    /// With the `Allow` header's value.
    MethodNotAllowed(String),
    /// A POST without the app's `Origin`.
    ForeignOrigin,
}

/// The origin (`scheme://host[:port]`) of the checked base URL.
pub fn origin_of(base: &str) -> &str {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let end = base[after_scheme..].find('/').map_or(base.len(), |i| after_scheme + i);
    &base[..end]
}

/// The handlers' decision for a `method` request to `path` carrying the
/// `Origin` header `origin`. A POST must come from the app's own origin
/// (browsers send `Origin` with every POST); one without the header is
/// refused too, as Next.js's server actions do not, because these routes
/// set and end sessions.
pub fn dispatch(base: &str, method: &str, path: &str, origin: Option<&str>) -> Dispatch {
    let Some(route) = route(path) else { return Dispatch::NotFound };
    let method = method.to_ascii_uppercase();
    if !route.methods().contains(&method.as_str()) {
        return Dispatch::MethodNotAllowed(route.methods().join(", "));
    }
    if !origin_allowed(base, &method, origin) {
        return Dispatch::ForeignOrigin;
    }
    match route {
        Route::Device if method == "POST" => Dispatch::Serve(Route::DeviceStart),
        _ => Dispatch::Serve(route),
    }
}

/// Whether the answer to a `method` request goes without a body and sets
/// no cookie: a HEAD's (RFC 9110 9.3.2), refused or not.
pub fn answers_bare(method: &str) -> bool {
    method.eq_ignore_ascii_case("HEAD")
}

/// Whether a request may act on the session cookie's say-so (CSRF): a safe
/// method (GET, HEAD, OPTIONS) always, any other only from the app's own
/// `Origin`. Browsers send `Origin` on every such request; one from another
/// site, or none, is refused.
pub fn origin_allowed(base: &str, method: &str, origin: Option<&str>) -> bool {
    matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD" | "OPTIONS") || origin.is_some_and(|o| o.eq_ignore_ascii_case(origin_of(base)))
}

/// The status of a callback or device login that failed with error `code`:
/// the provider could not be reached (502), or the request was refused (400).
pub fn failure_status(code: &str) -> u16 {
    match code {
        "network" | "timeout" => UPSTREAM_FAILED_STATUS,
        _ => REFUSED_STATUS,
    }
}

/// The status an app's route handler answers when its call to the API, as
/// the signed-in user (`MeshAuth.fetchApi`), ended with error `code` before
/// the API answered: the API or the provider could not be reached, or the
/// provider refused the refresh for now (`refresh_failed`: the session is
/// kept, try again later; 502); no usable session, or the API refused its
/// token twice (401: sign in again); refused (403); else the app's own
/// failure (500), such as a store that is down or a URL off the API's origin.
pub fn api_failure_status(code: &str) -> u16 {
    match code {
        "network" | "timeout" | "refresh_failed" => UPSTREAM_FAILED_STATUS,
        "login_required" | "not_logged_in" | "unauthorized" | "session_ended" => SIGNED_OUT_STATUS,
        "forbidden" => FOREIGN_ORIGIN_STATUS,
        _ => APP_FAILED_STATUS,
    }
}

/// `call` (`auth`, `getAccessToken`, `fetchApi`) without a request, where
/// Next.js's `next/headers` did not load (`detail`: why): outside Next.js,
/// as in a script or a test, the request must be passed.
pub fn outside_next(call: &str, detail: &str) -> Error {
    let usage = match call {
        "getAccessToken" => "getAccessToken(request, headers)",
        "fetchApi" => "fetchApi(input, init, { request, headers })",
        _ => "auth(request)",
    };
    let text = [call, "() without a request reads the cookies through next/headers, which did not load (", detail, "): that works inside a Next.js route handler, server component or server action only; elsewhere pass the request: ", usage];
    Error::new(ErrorKind::InvalidConfig, text.concat())
}

/// The states the device routes answer (`{ state, ... }`).
pub mod device_state {
    /// Not approved yet: poll again after `retryAfterMs`.
    pub const PENDING: &str = "pending";
    /// Approved: the session cookie is set.
    pub const COMPLETE: &str = "complete";
    /// Forgotten here (RFC 8628 has no way to withdraw a code at the provider).
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
    pub const DENIED: &str = "denied";
    /// Refused for another reason, or the provider kept failing.
    pub const FAILED: &str = "failed";
}

/// What `POST /auth/device/poll` answers when the login ended with error
/// `code`: its state and status. An expired or denied login is an answer
/// (200), not a failed request.
pub fn device_end(code: &str) -> (&'static str, u16) {
    match code {
        "device_code_expired" => (device_state::EXPIRED, 200),
        "access_denied" => (device_state::DENIED, 200),
        _ => (device_state::FAILED, failure_status(code)),
    }
}

/// The redirect URI registered at the provider.
pub fn redirect_uri(base: &str) -> String {
    [base, ROUTE_BASE, "/callback"].concat()
}

/// Where to go after the login or the logout: a same-origin path of the
/// app, else its root.
pub fn return_url(base: &str, return_to: Option<&str>) -> String {
    let path = return_to.and_then(same_origin_path).unwrap_or_else(|| "/".to_owned());
    [base, &path].concat()
}

/// The session id from its random bytes.
pub fn session_id(random: &[u8]) -> Result<String> {
    if random.len() != SESSION_ID_BYTES {
        return Err(Error::new(ErrorKind::InvalidConfig, "a session id needs 32 random bytes"));
    }
    Ok(base64url_encode(random))
}

fn is_session_id(sid: &str) -> bool {
    sid.len() == 43 && sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the session cookie holds, opened.
#[derive(Clone, PartialEq)]
pub struct SessionPayload {
    pub sid: String,
    pub created_at: i64,
    /// The stored session (cookie store); `None` with a server store.
    pub record: Option<String>,
}

impl std::fmt::Debug for SessionPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionPayload([redacted])")
    }
}

impl SessionPayload {
    /// The cookie's plaintext.
    pub fn encode(&self) -> String {
        let created = self.created_at.to_string();
        [PAYLOAD_VERSION, "|", &self.sid, "|", &created, "|", self.record.as_deref().unwrap_or("")].concat()
    }

    /// Reads a plaintext: `None` for another version, a bad id, a session
    /// past [`SESSION_MAX_MS`], or a record where the store wants none (and
    /// none where it wants one).
    pub fn decode(text: &str, server_store: bool, now_ms: i64) -> Option<SessionPayload> {
        let mut parts = text.splitn(4, '|');
        let (v, sid, created, record) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let created_at: i64 = created.parse().ok()?;
        if v != PAYLOAD_VERSION || !is_session_id(sid) || record.is_empty() != server_store {
            return None;
        }
        let payload = SessionPayload { sid: sid.to_owned(), created_at, record: (!record.is_empty()).then(|| record.to_owned()) };
        (payload.ttl_ms(now_ms) > 0 && created_at <= now_ms.saturating_add(SKEW_MS)).then_some(payload)
    }

    /// How long the session has left.
    pub fn ttl_ms(&self, now_ms: i64) -> i64 {
        self.created_at.saturating_add(SESSION_MAX_MS).saturating_sub(now_ms).max(0)
    }
}

/// Processes of one app may disagree on the time by this much.
const SKEW_MS: i64 = 5 * 60 * 1000;

/// Whether a session still signs the user in: a refresh token that may be
/// sent, or an access token that has not expired. A refresh whose outcome
/// is unknown spends the refresh token (never re-sent: the provider may
/// have rotated it), so the session then lasts as long as its access token.
pub fn signed_in(session: &Session, now_ms: i64) -> bool {
    session.tokens().is_some_and(|t| !t.is_expired(now_ms)) || session.can_refresh()
}

/// A sealed cookie value: base64url of IV and ciphertext (tag included).
pub fn seal(iv: &[u8], ciphertext: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(iv.len() + ciphertext.len());
    bytes.extend_from_slice(iv);
    bytes.extend_from_slice(ciphertext);
    base64url_encode(&bytes)
}

/// The IV and ciphertext of a sealed value, if it can be one.
pub fn unseal(value: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut bytes = base64url_decode(value)?;
    if bytes.len() < IV_BYTES + TAG_BYTES {
        return None;
    }
    let ciphertext = bytes.split_off(IV_BYTES);
    Some((bytes, ciphertext))
}

/// A `Cookie` header's pairs (`name=value; …`), in order.
pub fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            Some((name.trim().to_owned(), value.to_owned()))
        })
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

/// The name cookie `name` ([`SESSION_COOKIE`], [`LOGIN_COOKIE`],
/// [`DEVICE_COOKIE`]) goes by: [`HOST_PREFIX`]ed when cookies are `secure`
/// ([`secure_cookies`]); plain-HTTP loopback development keeps the bare
/// name, as browsers refuse a `__Host-` cookie without `Secure`.
pub fn cookie_name(name: &str, secure: bool) -> String {
    if secure {
        [HOST_PREFIX, name].concat()
    } else {
        name.to_owned()
    }
}

fn chunk_name(name: &str, i: usize) -> String {
    [name, ".", &i.to_string()].concat()
}

fn is_chunk_of(cookie: &str, name: &str) -> bool {
    cookie.strip_prefix(name).and_then(|r| r.strip_prefix('.')).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The value of cookie `name`, whole or joined from its chunks. A gap or
/// a chunk too many reads as absent.
pub fn read_cookie(pairs: &[(String, String)], name: &str) -> Option<String> {
    let find = |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if let Some(v) = find(name) {
        return Some(v.to_owned());
    }
    let mut out = String::new();
    let mut i = 0;
    while let Some(part) = find(&chunk_name(name, i)) {
        if i == MAX_CHUNKS {
            return None;
        }
        out.push_str(part);
        i += 1;
    }
    let stray = pairs.iter().filter(|(k, _)| is_chunk_of(k, name)).count();
    (i > 0 && stray == i).then_some(out)
}

/// One cookie to set (or delete, with `max_age_secs` 0).
#[derive(Debug, Clone, PartialEq)]
pub struct CookieWrite {
    pub name: String,
    pub value: String,
    pub max_age_secs: i64,
    pub secure: bool,
}

impl CookieWrite {
    /// Its `Set-Cookie` header: host-only, every path, `HttpOnly`, `SameSite=Lax`.
    pub fn header(&self) -> String {
        let age = self.max_age_secs.to_string();
        let secure = if self.secure { "; Secure" } else { "" };
        [&self.name, "=", &self.value, "; Path=/; Max-Age=", &age, "; HttpOnly; SameSite=Lax", secure].concat()
    }
}

/// Why a value was not written (its chunks past [`MAX_WRITTEN_CHUNKS`]).
const TOO_LARGE: &str = "the session is too large for its cookie (over 11,400 characters sealed, which would pass the 16 KB of request headers Node's server accepts): use a server store, such as store: { redis: 'redis://host:6379' }";

/// The cookies that make `name` hold `value` (`None`: deleted) for
/// `max_age_secs`, given the cookie names the request carried: the value
/// whole or in chunks, and deletions of the request's other parts of it.
/// A `__Host-` name also deletes the bare name and its chunks, as versions
/// before the prefix wrote them: never read (that would reopen what the
/// prefix closes), they would be sent with every request until they expire.
/// A bare cookie a sibling set with `Domain` outlives this host-only
/// deletion, and is ignored as well.
pub fn write_cookie(name: &str, value: Option<&str>, max_age_secs: i64, secure: bool, present: &[String]) -> Result<Vec<CookieWrite>> {
    let mut out = Vec::new();
    if let Some(value) = value {
        if value.len() <= CHUNK_CHARS {
            out.push(CookieWrite { name: name.to_owned(), value: value.to_owned(), max_age_secs, secure });
        } else {
            let chunks: Vec<&str> = value.as_bytes().chunks(CHUNK_CHARS).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
            if chunks.len() > MAX_WRITTEN_CHUNKS || !value.is_ascii() {
                return Err(Error::new(ErrorKind::Storage, TOO_LARGE));
            }
            for (i, chunk) in chunks.into_iter().enumerate() {
                out.push(CookieWrite { name: chunk_name(name, i), value: chunk.to_owned(), max_age_secs, secure });
            }
        }
    }
    let stale = name.strip_prefix(HOST_PREFIX);
    let part_of = |p: &str, n: &str| p == n || is_chunk_of(p, n);
    for old in present.iter().filter(|p| part_of(p, name) || stale.is_some_and(|n| part_of(p, n))) {
        if !out.iter().any(|w| &w.name == old) {
            out.push(CookieWrite { name: old.clone(), value: String::new(), max_age_secs: 0, secure });
        }
    }
    Ok(out)
}

/// What the middleware does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Not protected, or signed in.
    Pass,
    /// A page: to the login, coming back here afterwards.
    Login(String),
    /// An API path (under [`API_BASE`]): 401.
    Unauthorized,
}

/// Whether `path` is `prefix` or under it (segment-wise: `/settings`
/// covers `/settings/keys`, not `/settingsx`).
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty() || path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The middleware's decision for a request to `path` (with `search`, its
/// query string or empty).
pub fn guard(base: &str, path: &str, search: &str, protect: &[String], signed_in: bool) -> Guard {
    if signed_in || route(path).is_some() || !protect.iter().any(|p| under(path, p)) {
        return Guard::Pass;
    }
    if under(path, API_BASE) {
        return Guard::Unauthorized;
    }
    let mut back = String::from(path);
    back.push_str(search);
    let mut url = [base, ROUTE_BASE, "/login?returnTo="].concat();
    percent_encode(&mut url, &back);
    Guard::Login(url)
}

mod options;
pub use options::{base_url, check_secret, protect_paths, secure_cookies, Store, StoreShape, MIN_SECRET_CHARS};
pub mod redis;

#[cfg(test)]
#[path = "server_session_tests.rs"]
mod tests;
