//! The failures the JavaScript layer observes while doing IO (a fetch that
//! timed out, a storage adapter that threw, a wrong argument), as the crate's
//! errors: their codes and messages live here, not in JavaScript.

use crate::error::{Error, ErrorKind};

use super::oauth::is_unsent_network_error;
use super::refresh::{RefreshOutcome, Session};
use super::request::Response;

/// True when a transfer failed because the client was disposed or the
/// caller aborted (by its error's `code`): the work ends there, never retried.
pub fn stops(code: Option<&str>) -> bool {
    matches!(Response::failed_with(code), Response::Aborted | Response::Disposed)
}

/// A device login whose polling ended with `code` may be completed again
/// only when the caller aborted it; any other end is final.
pub fn resumable(code: Option<&str>) -> bool {
    Response::failed_with(code) == Response::Aborted
}

/// A refresh attempt (discovery, then the token request) that got no
/// answer, by its error's `code`. `maybe_sent`: the refresh token may have
/// reached the server (false for a failed discovery, or a network error
/// judged unsent). `None`: the attempt was stopped (dispose, abort) and is
/// abandoned; rethrow its error.
pub fn refresh_failed(session: &mut Session, code: Option<&str>, maybe_sent: bool, now_ms: i64, jitter: f64) -> Option<RefreshOutcome> {
    match Response::failed_with(code) {
        Response::Aborted | Response::Disposed => {
            session.abandon_refresh(maybe_sent);
            None
        }
        Response::Timeout if maybe_sent => Some(session.on_timeout(now_ms, jitter)),
        _ => Some(session.on_network_error(maybe_sent, now_ms, jitter)),
    }
}

/// The events a `MeshClient` emits, in the order the docs list them.
pub const EVENTS: [&str; 4] = ["refreshed", "refreshFailed", "sessionEnded", "unauthorized"];
/// [`EVENTS`] as the error names them (a test keeps the two equal; a
/// `join` at run time costs the browser build a kilobyte).
const EVENT_LIST: &str = "must be one of refreshed, refreshFailed, sessionEnded, unauthorized";

/// The event a call that failed with `error` emits before it rejects: an
/// API call refused with 401 after its refresh (`unauthorized`), so an app
/// can send the user to log in without wrapping every call.
pub fn failure_event(error: &Error) -> Option<&'static str> {
    (error.kind() == ErrorKind::Unauthorized).then_some("unauthorized")
}

/// Why a session ended (`sessionEnded`'s `reason`, the TypeScript
/// `SessionEndReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// `logout()`, here or in another tab.
    Logout,
    /// The provider refused the refresh token.
    InvalidGrant,
    /// The access token expired and could not be refreshed.
    Expired,
    /// Another tab ended the session and did not say why.
    EndedElsewhere,
}

impl EndReason {
    const ALL: [EndReason; 4] = [EndReason::Logout, EndReason::InvalidGrant, EndReason::Expired, EndReason::EndedElsewhere];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::InvalidGrant => "invalid_grant",
            EndReason::Expired => "expired",
            EndReason::EndedElsewhere => "ended_elsewhere",
        }
    }

    /// The reason another tab's message gave: one of ours, else
    /// `ended_elsewhere` (a message from an older or foreign script must not
    /// put an unknown reason in the app's event).
    pub fn from_tab(reason: Option<&str>) -> EndReason {
        EndReason::ALL.into_iter().find(|r| Some(r.as_str()) == reason).unwrap_or(EndReason::EndedElsewhere)
    }
}

/// `on(name, handler)`'s check: `name` must be one of [`EVENTS`] and the
/// handler a function.
pub fn check_listener(name: &str, handler_is_function: bool) -> Result<(), Error> {
    if !EVENTS.contains(&name) {
        return Err(Error::config("event", EVENT_LIST));
    }
    if !handler_is_function {
        return Err(Error::config("handler", "must be a function"));
    }
    Ok(())
}

/// The error for a failure named by the JavaScript layer. `subject` names
/// what failed (an option, a request, a method), `detail` says how; both
/// are never secrets. An unknown name is the layer's bug: an `http_error`
/// that says so rather than a silent success.
pub fn failure(name: &str, subject: &str, detail: &str) -> Error {
    let config = |option: &str, problem: &str| Error::config(option, problem);
    let text = |parts: &[&str]| parts.concat();
    match name {
        "disposed" => Error::new(ErrorKind::Disposed, "the client was disposed"),
        "aborted" => Error::new(ErrorKind::Aborted, "the operation was aborted by its signal"),
        "timeout" => Error::new(ErrorKind::Timeout, text(&[subject, " timed out after ", detail, " ms"])),
        "request" => Error::new(ErrorKind::InvalidConfig, text(&[subject, ": ", detail])),
        "storage" => Error::new(ErrorKind::Storage, text(&["storage failed: ", detail])),
        "storage_timeout" => Error::new(ErrorKind::Storage, text(&["storage failed: the adapter's ", subject, "() did not settle within ", detail, " ms"])),
        "storage_value" => Error::new(ErrorKind::Storage, "the storage adapter's get() returned something other than a string"),
        "storage_option" => config("storage", "must be 'memory', 'localStorage', 'sessionStorage' or an object with get, set and remove"),
        "storage_type" => config("storage", "must be a string or an adapter object"),
        "storage_adapter" => config("storage", "an adapter object needs get, set and remove methods"),
        "storage_unavailable" => config("storage", &text(&["'", subject, "' is not available here: ", detail])),
        "message" => config("message", "must be a string"),
        // `detail`: the key-name rule's message (crate::key_name).
        "key_name" => Error::new(ErrorKind::InvalidConfig, text(&["invalid key name: ", detail])),
        "key_id" => config("id", "must be a non-empty string"),
        "no_device_endpoint" => config("issuer", "the provider does not advertise a device_authorization_endpoint"),
        "api_key_mode" => Error::new(ErrorKind::InvalidConfig, text(&[subject, " is not available in API-key mode"])),
        "no_token" => Error::new(ErrorKind::RefreshFailed, "no usable access token after refreshing"),
        "refresh_retries" => Error::new(ErrorKind::RefreshFailed, "the refresh was retried too often"),
        "request_retries" => Error::new(ErrorKind::Http, "the request was retried too often"),
        "store_option" => config("store", "must be 'cookie', 'memory', { redis: 'redis://host:6379' } or a store object with get, set, remove and withLock"),
        "foreign_origin" => Error::new(ErrorKind::Forbidden, "refused: the request's Origin is not the app's (cross-site request)"),
        // The request's method, not the app's configuration; `detail`: the `Allow` header's value.
        "method" => Error::new(ErrorKind::MethodNotAllowed, text(&["this route answers ", detail, " only"])),
        "no_device_login" => Error::new(ErrorKind::StateMismatch, "no device login is pending here: start one"),
        "signed_out" => Error::new(ErrorKind::LoginRequired, "not signed in: there is no session"),
        // Sign-out clears the cookies even so; `detail`: the store's failure.
        "logout_store" => Error::new(ErrorKind::Storage, text(&["signed out without the session store (", detail, "): its record expires with the session"])),
        "lock_wait" => Error::new(ErrorKind::RefreshFailed, "the session's refresh lock was not freed in time"),
        "poll_limit" => Error::new(ErrorKind::DeviceCodeExpired, "the device login gave up after too many polls"),
        // The browser's redirect login (its JavaScript, then its wasm) did not load: try again later.
        "redirect_load" => Error::new(ErrorKind::Network, text(&["loading the redirect login failed: ", detail])),
        _ => Error::new(ErrorKind::Http, text(&["unknown failure `", name, "`"])),
    }
}

/// A request that got no response. `cause` and `cause_code` are the
/// runtime's reason (Node: `cause.message` and `cause.code`); the bool is
/// true when the request certainly never reached the server, so a rotating
/// refresh token it carried is unspent.
pub fn network_failure(what: &str, detail: &str, cause: Option<&str>, cause_code: Option<&str>) -> (Error, bool) {
    let unsent = cause_code.is_some_and(is_unsent_network_error);
    let mut message = String::from(what);
    message.push_str(" failed: ");
    message.push_str(detail);
    if let Some(cause) = cause {
        message.push_str(": ");
        message.push_str(cause);
    }
    if unsent {
        message.push_str(" (not sent)");
    }
    (Error::new(ErrorKind::Network, message), unsent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_tabs_reason_is_ours_or_ended_elsewhere() {
        for r in EndReason::ALL {
            assert_eq!(EndReason::from_tab(Some(r.as_str())), r);
        }
        for odd in [None, Some(""), Some("Logout"), Some("<script>"), Some("expired ")] {
            assert_eq!(EndReason::from_tab(odd), EndReason::EndedElsewhere, "{odd:?}");
        }
    }

    #[test]
    fn a_stopped_refresh_is_abandoned_and_spends_its_token_only_if_it_may_have_been_sent() {
        use crate::client::refresh::tests::{session_with, start, T0};
        use crate::client::refresh::TokenStep;
        for (code, maybe_sent) in [(Some("aborted"), false), (Some("disposed"), false), (Some("aborted"), true)] {
            let mut s = session_with("a1", "r1", 300);
            let _ = start(&mut s, T0 + 300_000);
            assert!(refresh_failed(&mut s, code, maybe_sent, T0 + 300_000, 0.0).is_none(), "{code:?}");
            assert!(!s.is_refreshing(), "{code:?}: the lock is released");
            if maybe_sent {
                assert!(matches!(s.get_token(T0 + 300_001), TokenStep::Ended(_)), "a maybe-sent token counts as spent");
            } else {
                assert_eq!(start(&mut s, T0 + 300_001).secret(), "r1", "{code:?}: no cooldown, the same token");
            }
        }
    }

    #[test]
    fn a_refresh_without_answer_retries_a_token_that_cannot_have_been_spent() {
        use crate::client::refresh::tests::{session_with, start, T0};
        // A timeout, a network error or a failed discovery before the token
        // was sent: retried with the same token after a backoff.
        for (code, maybe_sent) in [(Some("timeout"), false), (None, false), (Some("network"), false)] {
            let mut s = session_with("a1", "r1", 300);
            let _ = start(&mut s, T0 + 300_000);
            let outcome = refresh_failed(&mut s, code, maybe_sent, T0 + 300_000, 0.0);
            assert!(matches!(outcome, Some(RefreshOutcome::RetryIn { .. })), "{code:?}: {outcome:?}");
        }
        // A timed-out token request may have arrived: the token is not
        // re-sent (the session's spend rule), and the failure's cause is the timeout.
        let mut s = session_with("a1", "r1", 300);
        let _ = start(&mut s, T0 + 300_000);
        match refresh_failed(&mut s, Some("timeout"), true, T0 + 300_000, 0.0) {
            Some(RefreshOutcome::Failed { error, .. }) => {
                assert_eq!(error.code(), "refresh_failed");
                assert!(format!("{error:?}").contains("the token request timed out"), "{error:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_an_abort_leaves_a_device_login_resumable_and_stops_are_aborts_and_disposals() {
        assert!(resumable(Some("aborted")));
        for code in [Some("disposed"), Some("timeout"), Some("network"), Some("device_code_expired"), None] {
            assert!(!resumable(code), "{code:?}");
        }
        assert!(stops(Some("aborted")) && stops(Some("disposed")));
        for code in [Some("timeout"), Some("network"), None] {
            assert!(!stops(code), "{code:?}");
        }
    }

    #[test]
    fn only_an_unauthorized_failure_emits_an_event_and_it_is_one_of_the_events() {
        let event = failure_event(&Error::new(ErrorKind::Unauthorized, "401"));
        assert!(event.is_some_and(|e| EVENTS.contains(&e)), "{event:?}");
        for kind in [ErrorKind::Network, ErrorKind::Timeout, ErrorKind::Forbidden, ErrorKind::Disposed] {
            assert_eq!(failure_event(&Error::new(kind, "x")), None, "{kind:?}");
        }
    }

    #[test]
    fn listeners_are_checked_against_the_event_names() {
        assert!(check_listener("refreshed", true).is_ok());
        assert!(check_listener("unauthorized", true).is_ok());
        let e = check_listener("refresh", true).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert_eq!(e.message(), "option `event`: must be one of refreshed, refreshFailed, sessionEnded, unauthorized");
        assert_eq!(EVENT_LIST, ["must be one of ", &EVENTS.join(", ")].concat());
        assert_eq!(check_listener("sessionEnded", false).unwrap_err().message(), "option `handler`: must be a function");
    }

    #[test]
    fn named_failures_carry_their_code_and_message() {
        let cases = [
            (failure("disposed", "", ""), "disposed", "the client was disposed"),
            (failure("aborted", "", ""), "aborted", "the operation was aborted by its signal"),
            (failure("timeout", "token request", "5000"), "timeout", "token request timed out after 5000 ms"),
            (failure("storage", "", "quota"), "storage", "storage failed: quota"),
            (failure("storage_timeout", "get", "1500"), "storage", "storage failed: the adapter's get() did not settle within 1500 ms"),
            (failure("storage_unavailable", "localStorage", "denied"), "invalid_config", "option `storage`: 'localStorage' is not available here: denied"),
            (failure("api_key_mode", "logout()", ""), "invalid_config", "logout() is not available in API-key mode"),
            (failure("request_retries", "", ""), "http_error", "the request was retried too often"),
            (failure("poll_limit", "", ""), "device_code_expired", "the device login gave up after too many polls"),
            (failure("redirect_load", "", "Failed to fetch"), "network", "loading the redirect login failed: Failed to fetch"),
            (failure("signed_out", "", ""), "login_required", "not signed in: there is no session"),
            (failure("method", "", "GET, HEAD, POST"), "method_not_allowed", "this route answers GET, HEAD, POST only"),
            (failure("logout_store", "", "storage failed: Redis could not be reached"), "storage", "signed out without the session store (storage failed: Redis could not be reached): its record expires with the session"),
            (failure("lock_wait", "", ""), "refresh_failed", "the session's refresh lock was not freed in time"),
            (failure("nonsense", "", ""), "http_error", "unknown failure `nonsense`"),
        ];
        for (error, code, message) in cases {
            assert_eq!((error.code(), error.message()), (code, message));
        }
    }

    #[test]
    fn a_network_failure_says_whether_it_was_sent() {
        let (e, unsent) = network_failure("token request", "fetch failed", Some("connect ECONNREFUSED"), Some("ECONNREFUSED"));
        assert!(unsent);
        assert_eq!(e.code(), "network");
        assert_eq!(e.message(), "token request failed: fetch failed: connect ECONNREFUSED (not sent)");
        // The two codes the JavaScript copy of this rule had missed.
        assert!(network_failure("x", "y", None, Some("EADDRNOTAVAIL")).1);
        assert!(network_failure("x", "y", None, Some("UND_ERR_CONNECT_TIMEOUT")).1);
        let (e, unsent) = network_failure("API request", "Failed to fetch", None, None);
        assert!(!unsent);
        assert_eq!(e.message(), "API request failed: Failed to fetch");
        assert!(!network_failure("x", "y", Some("socket hang up"), Some("ECONNRESET")).1);
    }
}
