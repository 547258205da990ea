//! API-call policy: given a sent request and what came back, decide whether
//! to return, refresh and retry, retry, or fail with context.

use crate::error::{Error, ErrorKind, RequestContext};

use super::config::ClientConfig;
use super::oauth::{backoff_ms, itoa};

const BACKOFF_BASE_MS: i64 = 300;
const BACKOFF_MAX_MS: i64 = 5_000;

/// The knobs of the request policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPolicy {
    pub treat_404_as_unauthorized: bool,
    /// Retries of an idempotent request on network errors and 502/503/504.
    pub max_retries: u32,
    /// Budget of the whole call, retries and waits included.
    pub timeout_ms: i64,
}

impl RequestPolicy {
    /// The most attempts [`decide`] can ask for: the first, one after a
    /// 401, and the transient retries. The layer's loop stops there too, a
    /// backstop that ends as `request_retries` should a step repeat.
    pub fn max_attempts(&self) -> u32 {
        2 + self.max_retries
    }

    pub fn from_config(c: &ClientConfig) -> Self {
        RequestPolicy {
            treat_404_as_unauthorized: c.treat_404_as_unauthorized,
            max_retries: c.max_request_retries.clamp(0, 10) as u32,
            timeout_ms: c.timeout_ms,
        }
    }
}

impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy::from_config(&ClientConfig::default())
    }
}

/// The header an API call carries an API key in; the gateway reads it
/// (`gateway::headers`) and never forwards it.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The header an API call carries an access token in, and its value
/// (RFC 6750 §2.1).
pub fn bearer_header(access_token: &str) -> (&'static str, String) {
    ("authorization", ["Bearer ", access_token].concat())
}

/// What follows a key's id in the keys API's rotate call; the gateway
/// routes by it (`gateway::request`).
pub const KEY_ROTATE_SUFFIX: &str = "/rotate";

/// The path of one key in the keys API: `<keys path>/{id}`, or with
/// [`KEY_ROTATE_SUFFIX`] for its rotation. The id is percent-encoded, so
/// one an app read from elsewhere never names another path. `None` when
/// the id is empty.
pub fn key_item_path(keys_path: &str, id: &str, rotate: bool) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    let mut path = String::from(keys_path.trim_end_matches('/'));
    path.push('/');
    super::redirect::percent_encode(&mut path, id);
    if rotate {
        path.push_str(KEY_ROTATE_SUFFIX);
    }
    Some(path)
}

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Credential {
    /// A bearer token of this session generation, with its times (Unix ms).
    Bearer { generation: u64, received_at_ms: i64, expires_at_ms: Option<i64> },
    /// An API key: nothing to refresh.
    ApiKey,
}

/// One API call across its attempts. The binding creates it once, updates
/// `credential` per attempt, and passes it to [`decide`] after each answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SentRequest {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path (no query string, which may hold secrets) for error context.
    pub path: String,
    pub credential: Credential,
    /// When the first attempt started (Unix ms), for the time budget.
    pub started_at_ms: i64,
    /// When this attempt was sent (Unix ms), for the token's remaining time.
    pub sent_at_ms: i64,
    /// Auth retries done (401/404 → refresh or current token); at most 1.
    pub auth_retries: u32,
    /// Transient retries done (network, 502/503/504).
    pub transient_retries: u32,
}

impl SentRequest {
    pub fn new(method: &str, path: &str, credential: Credential, now_ms: i64) -> Self {
        let path = path.split(['?', '#']).next().unwrap_or("").to_owned();
        SentRequest {
            method: method.to_ascii_uppercase(),
            path,
            credential,
            started_at_ms: now_ms,
            sent_at_ms: now_ms,
            auth_retries: 0,
            transient_retries: 0,
        }
    }

    /// What is left of the call's `timeoutMs` budget at `now_ms`: the
    /// binding aborts the next attempt after this long and reports
    /// [`Response::Timeout`].
    pub fn remaining_budget_ms(&self, policy: &RequestPolicy, now_ms: i64) -> i64 {
        (self.started_at_ms + policy.timeout_ms - now_ms).max(0)
    }

    /// GET, HEAD, OPTIONS, PUT, DELETE (RFC 9110 §9.2.2); never POST/PATCH.
    pub fn is_idempotent(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE")
    }

    /// Debug context for an error: method, path, status, token ages. Never
    /// the token.
    pub fn context(&self, status: Option<u16>, now_ms: i64) -> RequestContext {
        let (age, remaining) = match self.credential {
            Credential::Bearer { received_at_ms, expires_at_ms, .. } => (
                Some((now_ms - received_at_ms).div_euclid(1000)),
                expires_at_ms.map(|e| (e - self.sent_at_ms).div_euclid(1000)),
            ),
            Credential::ApiKey => (None, None),
        };
        RequestContext {
            method: self.method.clone(),
            path: self.path.clone(),
            status,
            token_age_secs: age,
            token_remaining_secs: remaining,
            oauth_error: None,
        }
    }
}

/// What came back for one attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Response {
    /// An HTTP status, with `Retry-After` in ms if the server sent one.
    Status { status: u16, retry_after_ms: Option<i64> },
    /// No answer (DNS, refused, reset).
    NetworkError,
    /// The attempt hit the time budget.
    Timeout,
    /// The caller's `AbortSignal` fired.
    Aborted,
    /// The client was disposed during the attempt: nothing is left to retry for.
    Disposed,
}

impl Response {
    /// An attempt that got no response, by the code of the error its
    /// transfer raised (`None`: not a crate error, such as a `TypeError`
    /// from `fetch`).
    pub fn failed_with(code: Option<&str>) -> Response {
        match code {
            Some(c) if c == ErrorKind::Timeout.code() => Response::Timeout,
            Some(c) if c == ErrorKind::Aborted.code() => Response::Aborted,
            Some(c) if c == ErrorKind::Disposed.code() => Response::Disposed,
            _ => Response::NetworkError,
        }
    }
}

/// What the binding does next.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Decision {
    /// Hand the response to the caller.
    Return,
    /// Call `Session::force_refresh(stale_generation)`, then retry once with
    /// the token it gives (`auth_retries += 1`).
    RefreshAndRetry { stale_generation: u64 },
    /// The token was already replaced: retry once with the current token
    /// (`auth_retries += 1`).
    RetryWithCurrentToken,
    /// Sleep `ms`, then retry (`transient_retries += 1`).
    RetryAfter { ms: i64 },
    /// Reject with this error (it carries a [`RequestContext`]).
    Fail(Error),
}

/// Decides what to do after one attempt of `req`. `current_generation` is
/// the session's generation now; `jitter` is uniform in `[0, 1)`.
pub fn decide(req: &SentRequest, response: Response, current_generation: u64, policy: &RequestPolicy, now_ms: i64, jitter: f64) -> Decision {
    match response {
        Response::Status { status, retry_after_ms } => on_status(req, status, retry_after_ms, current_generation, policy, now_ms, jitter),
        Response::NetworkError => {
            match transient_retry(req, None, policy, now_ms, jitter) {
                Some(ms) => Decision::RetryAfter { ms },
                None => fail(req, ErrorKind::Network, "the request failed: the server could not be reached", None, now_ms),
            }
        }
        Response::Timeout => fail(req, ErrorKind::Timeout, "the request timed out", None, now_ms),
        Response::Aborted => fail(req, ErrorKind::Aborted, "the request was aborted", None, now_ms),
        // The disposal's own error reaches the caller, unwrapped.
        Response::Disposed => Decision::Return,
    }
}

fn on_status(req: &SentRequest, status: u16, retry_after_ms: Option<i64>, current_generation: u64, policy: &RequestPolicy, now_ms: i64, jitter: f64) -> Decision {
    let auth_failure = status == 401 || (status == 404 && policy.treat_404_as_unauthorized);
    if auth_failure {
        if let (Credential::Bearer { generation, .. }, 0) = (req.credential, req.auth_retries) {
            return if generation != current_generation {
                Decision::RetryWithCurrentToken
            } else {
                Decision::RefreshAndRetry { stale_generation: generation }
            };
        }
        if status == 404 {
            return Decision::Return; // after the retry, a 404 is a real 404
        }
        return fail(req, ErrorKind::Unauthorized, "the server rejected the credentials", Some(status), now_ms);
    }
    match status {
        403 => fail(req, ErrorKind::Forbidden, "the server refused access", Some(status), now_ms),
        502..=504 => match transient_retry(req, retry_after_ms, policy, now_ms, jitter) {
            Some(ms) => Decision::RetryAfter { ms },
            None => Decision::Return,
        },
        _ => Decision::Return,
    }
}

/// The delay before a transient retry, or `None` when none is allowed:
/// non-idempotent method, retries used up, or the budget would be exceeded.
fn transient_retry(req: &SentRequest, retry_after_ms: Option<i64>, policy: &RequestPolicy, now_ms: i64, jitter: f64) -> Option<i64> {
    if !req.is_idempotent() || req.transient_retries >= policy.max_retries {
        return None;
    }
    let delay = backoff_ms(req.transient_retries, BACKOFF_BASE_MS, BACKOFF_MAX_MS, jitter).max(retry_after_ms.unwrap_or(0));
    (now_ms + delay < req.started_at_ms + policy.timeout_ms).then_some(delay)
}

fn fail(req: &SentRequest, kind: ErrorKind, what: &str, status: Option<u16>, now_ms: i64) -> Decision {
    let mut message = String::from(what);
    message.push_str(" (");
    message.push_str(&req.method);
    message.push(' ');
    message.push_str(&req.path);
    if let Some(s) = status {
        message.push_str(" → ");
        message.push_str(&itoa(s as i64));
    }
    message.push(')');
    Decision::Fail(Error::new(kind, message).with_context(req.context(status, now_ms)))
}

/// Resolves an API call's `input` (a path, or an absolute URL on the API's
/// origin) against `apiUrl`: `(url, path)`. Credentials never go to another
/// origin, so an absolute URL elsewhere is refused.
pub fn resolve_api_url(api_url: Option<&str>, input: String) -> Result<(String, String), Error> {
    let base = api_url.ok_or_else(|| Error::config("apiUrl", "is required for API calls"))?.trim_end_matches('/');
    let lower = input.to_ascii_lowercase();
    let url = if lower.starts_with("http://") || lower.starts_with("https://") {
        // As browsers compare origins (`:443` on https is no other origin);
        // a `user@` in the input is never the API's origin.
        let origin = crate::origin::split(&input).filter(|p| !p.userinfo).and_then(|p| p.origin());
        if origin.is_none() || origin != crate::origin::of(base) {
            return Err(Error::config("input", "is on another origin than apiUrl: credentials are sent to apiUrl's origin only"));
        }
        input
    } else if input.starts_with('/') {
        String::from(base) + &input
    } else {
        String::from(base) + "/" + &input
    };
    let path = crate::origin::split(&url).map_or("", |p| p.rest);
    let path = String::from(if path.is_empty() { "/" } else { path });
    Ok((url, path))
}

/// Whether `status` is a redirect's: no request the SDK sends follows one
/// (the binding's fetch asks for the 3xx itself), since fetch would carry its
/// credential to the Location's origin. A browser hides a manual redirect's
/// status: its response has status 0.
pub fn is_redirect(status: u16) -> bool {
    status == 0 || (300..400).contains(&status)
}

/// What an error adds after `HTTP <status>` for a redirect.
pub const REDIRECT_NOT_FOLLOWED: &str = ", a redirect, which is not followed: credentials go to their own origin only";

/// The `http_error` of a JSON call that ended with a non-2xx `status`.
pub fn http_error(sent: &SentRequest, status: u16, now_ms: i64) -> Error {
    let mut message = String::from("the API answered HTTP ");
    message.push_str(&itoa(status as i64));
    if is_redirect(status) {
        message.push_str(REDIRECT_NOT_FOLLOWED);
    }
    message.push_str(" (");
    message.push_str(&sent.method);
    message.push(' ');
    message.push_str(&sent.path);
    message.push(')');
    Error::new(ErrorKind::Http, message).with_context(sent.context(Some(status), now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_item_path_encodes_its_id_under_the_keys_path() {
        assert_eq!(key_item_path("/api/v1/keys", "key_AB-1", false).as_deref(), Some("/api/v1/keys/key_AB-1"));
        assert_eq!(key_item_path("/me/keys/", "key_x", true).as_deref(), Some("/me/keys/key_x/rotate"));
        assert_eq!(key_item_path("/api/v1/keys", "../a/b?c#d", false).as_deref(), Some("/api/v1/keys/..%2Fa%2Fb%3Fc%23d"));
        assert_eq!(key_item_path("/api/v1/keys", "", true), None);
    }

    #[test]
    fn a_token_goes_as_a_bearer_authorization_and_a_key_in_the_header_the_gateway_reads() {
        assert_eq!(bearer_header("eyJ.a.b"), ("authorization", "Bearer eyJ.a.b".to_string()));
        assert_eq!(API_KEY_HEADER, "x-api-key");
    }

    #[test]
    fn api_urls_resolve_against_api_url_and_stay_on_its_origin() {
        let api = Some("http://127.0.0.1:8787/");
        let ok = |input: &str| resolve_api_url(api, input.into()).unwrap();
        assert_eq!(ok("/auth/validate"), ("http://127.0.0.1:8787/auth/validate".into(), "/auth/validate".into()));
        assert_eq!(ok("api/v1/keys"), ("http://127.0.0.1:8787/api/v1/keys".into(), "/api/v1/keys".into()));
        assert_eq!(ok("HTTP://127.0.0.1:8787"), ("HTTP://127.0.0.1:8787".into(), "/".into()));
        assert_eq!(ok("http://127.0.0.1:8787/x?y#z").1, "/x?y#z");
        // The origin as browsers compare it: the default port and the host's case are no difference.
        let https = |input: &str| resolve_api_url(Some("https://api.example.com/v2"), input.into());
        assert_eq!(https("https://API.example.com:443/v2/x").unwrap().1, "/v2/x");
        assert!(https("https://api.example.com:8443/v2/x").is_err());
        for elsewhere in ["http://127.0.0.1:8788/x", "https://127.0.0.1:8787/x", "http://127.0.0.1:8787.evil/x", "http://evil@127.0.0.1:8787/x", "http://127.0.0.1:8787@evil.example/x"] {
            let e = resolve_api_url(api, elsewhere.into()).unwrap_err();
            assert!(e.message().starts_with("option `input`: is on another origin"), "{elsewhere}");
        }
        assert_eq!(resolve_api_url(None, "/x".into()).unwrap_err().message(), "option `apiUrl`: is required for API calls");
    }

    #[test]
    fn an_http_error_names_the_call_never_the_token() {
        let sent = SentRequest::new("GET", "/api/v1/keys", Credential::ApiKey, 0);
        let e = http_error(&sent, 500, 1_000);
        assert_eq!((e.code(), e.message()), ("http_error", "the API answered HTTP 500 (GET /api/v1/keys)"));
        assert_eq!(e.context().and_then(|c| c.status), Some(500));
    }

    const T0: i64 = 1_700_000_000_000;

    fn bearer(method: &str, generation: u64) -> SentRequest {
        let cred = Credential::Bearer { generation, received_at_ms: T0 - 120_000, expires_at_ms: Some(T0 + 180_000) };
        SentRequest::new(method, "/api/v1/keys?secret=x", cred, T0)
    }

    fn st(status: u16) -> Response {
        Response::Status { status, retry_after_ms: None }
    }

    fn run(req: &SentRequest, r: Response, current: u64) -> Decision {
        decide(req, r, current, &RequestPolicy::default(), T0 + 100, 0.0)
    }

    #[test]
    fn no_call_takes_more_attempts_than_max_attempts_the_layers_backstop() {
        for max_retries in 0..=10 {
            let policy = RequestPolicy { max_retries, timeout_ms: 3_600_000, ..RequestPolicy::default() };
            let mut req = bearer("GET", 1);
            let mut attempts = 1;
            // The longest call: a 401 first, then a 503 each time.
            loop {
                let answer = if req.auth_retries == 0 { st(401) } else { st(503) };
                match decide(&req, answer, 1, &policy, T0 + 100, 0.0) {
                    Decision::RefreshAndRetry { .. } | Decision::RetryWithCurrentToken => req.auth_retries += 1,
                    Decision::RetryAfter { .. } => req.transient_retries += 1,
                    Decision::Return | Decision::Fail(_) => break,
                }
                attempts += 1;
                assert!(attempts <= policy.max_attempts(), "{max_retries} retries: attempt {attempts}");
            }
            assert_eq!(attempts, policy.max_attempts(), "the bound is exact: {max_retries} retries");
        }
    }

    #[test]
    fn success_and_ordinary_errors_are_returned() {
        for s in [200, 201, 204, 400, 404, 409, 422, 500] {
            assert_eq!(run(&bearer("GET", 1), st(s), 1), Decision::Return, "{s}");
        }
    }

    #[test]
    fn first_401_refreshes_once_then_unauthorized() {
        let mut req = bearer("POST", 7);
        assert_eq!(run(&req, st(401), 7), Decision::RefreshAndRetry { stale_generation: 7 });
        req.auth_retries = 1;
        req.credential = Credential::Bearer { generation: 8, received_at_ms: T0, expires_at_ms: Some(T0 + 300_000) };
        let Decision::Fail(e) = run(&req, st(401), 8) else { panic!() };
        assert_eq!(e.code(), "unauthorized");
        let ctx = e.context().unwrap();
        assert_eq!((ctx.method.as_str(), ctx.path.as_str(), ctx.status), ("POST", "/api/v1/keys", Some(401)));
        assert_eq!(ctx.token_age_secs, Some(0));
        assert_eq!(ctx.token_remaining_secs, Some(300));
        assert_eq!(e.to_string(), "the server rejected the credentials (POST /api/v1/keys → 401)");
    }

    #[test]
    fn a_401_for_an_already_replaced_token_retries_with_the_current_one() {
        assert_eq!(run(&bearer("GET", 3), st(401), 4), Decision::RetryWithCurrentToken);
    }

    #[test]
    fn api_key_401_fails_at_once() {
        let req = SentRequest::new("GET", "/agent/v1/x", Credential::ApiKey, T0);
        let Decision::Fail(e) = run(&req, st(401), 0) else { panic!() };
        assert_eq!(e.code(), "unauthorized");
        assert_eq!(e.context().unwrap().token_age_secs, None);
    }

    #[test]
    fn forbidden_maps_to_its_code_with_context() {
        let Decision::Fail(e) = run(&bearer("DELETE", 1), st(403), 1) else { panic!() };
        assert_eq!(e.code(), "forbidden");
        let ctx = e.context().unwrap();
        assert_eq!(ctx.token_age_secs, Some(120));
        assert_eq!(ctx.token_remaining_secs, Some(180));
    }

    #[test]
    fn treat_404_option_refreshes_once_then_returns_the_404() {
        let policy = RequestPolicy { treat_404_as_unauthorized: true, ..RequestPolicy::default() };
        let mut req = bearer("GET", 2);
        assert_eq!(decide(&req, st(404), 2, &policy, T0, 0.0), Decision::RefreshAndRetry { stale_generation: 2 });
        req.auth_retries = 1;
        assert_eq!(decide(&req, st(404), 3, &policy, T0, 0.0), Decision::Return);
        // Off by default.
        assert_eq!(run(&bearer("GET", 2), st(404), 2), Decision::Return);
    }

    #[test]
    fn only_idempotent_methods_retry_on_network_errors_and_gateway_statuses() {
        for m in ["GET", "head", "OPTIONS", "PUT", "DELETE"] {
            for r in [Response::NetworkError, st(502), st(503), st(504)] {
                assert!(matches!(run(&bearer(m, 1), r, 1), Decision::RetryAfter { .. }), "{m} {r:?}");
            }
        }
        for m in ["POST", "PATCH"] {
            assert_eq!(run(&bearer(m, 1), st(503), 1), Decision::Return);
            assert!(matches!(run(&bearer(m, 1), Response::NetworkError, 1), Decision::Fail(e) if e.code() == "network"));
        }
        assert_eq!(run(&bearer("GET", 1), st(500), 1), Decision::Return, "never retry a 500");
    }

    #[test]
    fn transient_retries_are_bounded_and_honour_retry_after() {
        let mut req = bearer("GET", 1);
        let r = Response::Status { status: 503, retry_after_ms: Some(2_000) };
        assert_eq!(run(&req, r, 1), Decision::RetryAfter { ms: 2_000 });
        assert_eq!(run(&req, st(503), 1), Decision::RetryAfter { ms: 150 });
        req.transient_retries = 1;
        assert_eq!(run(&req, st(503), 1), Decision::RetryAfter { ms: 300 });
        req.transient_retries = 2;
        assert_eq!(run(&req, st(503), 1), Decision::Return);
        let Decision::Fail(e) = run(&req, Response::NetworkError, 1) else { panic!() };
        assert_eq!(e.code(), "network");
    }

    #[test]
    fn retries_never_exceed_the_time_budget() {
        let req = bearer("GET", 1);
        let r = Response::Status { status: 503, retry_after_ms: Some(120_000) };
        assert_eq!(run(&req, r, 1), Decision::Return);
        let late = decide(&req, Response::NetworkError, 1, &RequestPolicy::default(), T0 + 59_990, 0.0);
        assert!(matches!(late, Decision::Fail(e) if e.code() == "network"));
    }

    #[test]
    fn a_failed_transfer_is_read_by_its_error_code() {
        assert_eq!(Response::failed_with(Some("timeout")), Response::Timeout);
        assert_eq!(Response::failed_with(Some("aborted")), Response::Aborted);
        assert_eq!(Response::failed_with(Some("disposed")), Response::Disposed);
        // Anything else, a fetch TypeError included, is a network error (retried when safe).
        for code in [None, Some("network"), Some("storage"), Some(""), Some("TIMEOUT")] {
            assert_eq!(Response::failed_with(code), Response::NetworkError, "{code:?}");
        }
    }

    #[test]
    fn timeouts_and_aborts_fail_with_their_codes() {
        assert!(matches!(run(&bearer("GET", 1), Response::Timeout, 1), Decision::Fail(e) if e.code() == "timeout"));
        assert!(matches!(run(&bearer("GET", 1), Response::Aborted, 1), Decision::Fail(e) if e.code() == "aborted"));
        assert_eq!(run(&bearer("GET", 1), Response::Disposed, 1), Decision::Return);
    }

    #[test]
    fn the_budget_covers_all_attempts() {
        let req = bearer("GET", 1);
        let p = RequestPolicy::default();
        assert_eq!(req.remaining_budget_ms(&p, T0 + 20_000), 40_000);
        assert_eq!(req.remaining_budget_ms(&p, T0 + 90_000), 0);
    }

    #[test]
    fn context_drops_the_query_string() {
        assert_eq!(bearer("get", 1).path, "/api/v1/keys");
        assert_eq!(bearer("get", 1).method, "GET");
    }
}
