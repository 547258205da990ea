//! One error type for the whole crate.
//!
//! Every error has a [`ErrorKind`] whose [`ErrorKind::code`] is the stable,
//! machine-readable string JavaScript sees as `error.code`. Messages are for
//! people and never contain a token, a refresh token or an API key: callers
//! build them from context (method, path, status, ages), never from secrets.

use std::fmt;

/// What went wrong, as a stable code. New kinds may be added.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An option is missing or wrong; the message names it.
    InvalidConfig,
    /// The request could not reach the server (DNS, refused, reset).
    Network,
    /// The request took longer than `timeoutMs`.
    Timeout,
    /// The caller's `AbortSignal` fired.
    Aborted,
    /// The server rejected the credential (401, or 404 treated as auth failure).
    Unauthorized,
    /// The server refused the authenticated caller (403).
    Forbidden,
    /// A refresh failed for a reason that may pass (5xx, 429, network).
    RefreshFailed,
    /// The session is over (`invalid_grant`, logout in another tab); log in again.
    SessionEnded,
    /// No session: log in first.
    NotLoggedIn,
    /// The device code expired before the user approved it.
    DeviceCodeExpired,
    /// The user denied the device login.
    AccessDenied,
    /// The server answered with an error status not covered above.
    Http,
    /// The server answered something that is not what the protocol says.
    InvalidResponse,
    /// Stored session data is corrupt or foreign, or storage failed.
    Storage,
    /// The wasm module was used before it was initialised.
    NotInitialized,
    /// The client was disposed.
    Disposed,
    /// A redirect callback's `state` is missing, unknown, expired or already used.
    StateMismatch,
    /// A redirect callback's `iss` is not the client's issuer (RFC 9207, mix-up).
    IssuerMismatch,
    /// The provider needs the user to sign in or interact (`login_required`, `consent_required`, ...).
    LoginRequired,
    /// The provider answered the authorization request with another error,
    /// or refused its authorization code at the token endpoint (`invalid_grant`).
    AuthorizationFailed,
    /// The ID token failed a check of OpenID Connect Core 3.1.3.7.
    InvalidIdToken,
    /// A request used a method its route does not answer (405, with `Allow`).
    MethodNotAllowed,
}

impl ErrorKind {
    /// The stable code that JavaScript sees as `error.code`.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Aborted => "aborted",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::RefreshFailed => "refresh_failed",
            ErrorKind::SessionEnded => "session_ended",
            ErrorKind::NotLoggedIn => "not_logged_in",
            ErrorKind::DeviceCodeExpired => "device_code_expired",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Http => "http_error",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Storage => "storage",
            ErrorKind::NotInitialized => "not_initialized",
            ErrorKind::Disposed => "disposed",
            ErrorKind::StateMismatch => "state_mismatch",
            ErrorKind::IssuerMismatch => "issuer_mismatch",
            ErrorKind::LoginRequired => "login_required",
            ErrorKind::AuthorizationFailed => "authorization_failed",
            ErrorKind::InvalidIdToken => "invalid_id_token",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
        }
    }
}

/// Where a failed API call went, for debugging. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestContext {
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    /// Seconds since the access token used was issued (received), if known.
    pub token_age_secs: Option<i64>,
    /// Seconds the access token used had left when the request was sent.
    pub token_remaining_secs: Option<i64>,
    /// The OAuth `error` code from the server's body, if any.
    pub oauth_error: Option<String>,
}

/// The crate's error: a kind, a human message, optional request context and
/// an optional cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Option<Box<RequestContext>>,
    cause: Option<Box<Error>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), context: None, cause: None }
    }

    /// Shorthand for an `invalid_config` error naming the option.
    pub fn config(option: &str, problem: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidConfig, format!("option `{option}`: {problem}"))
    }

    pub fn with_context(mut self, context: RequestContext) -> Self {
        self.context = Some(Box::new(context));
        self
    }

    pub fn with_cause(mut self, cause: Error) -> Self {
        self.cause = Some(Box::new(cause));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn context(&self) -> Option<&RequestContext> {
        self.context.as_deref()
    }

    pub fn cause(&self) -> Option<&Error> {
        self.cause.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case() {
        assert_eq!(ErrorKind::SessionEnded.code(), "session_ended");
        assert_eq!(ErrorKind::DeviceCodeExpired.code(), "device_code_expired");
        assert_eq!(Error::config("clientId", "is required").code(), "invalid_config");
    }

    #[test]
    fn config_error_names_the_option_and_chains_a_cause() {
        let cause = Error::new(ErrorKind::Network, "connection refused");
        let e = Error::config("issuer", "discovery failed").with_cause(cause.clone());
        assert_eq!(e.to_string(), "option `issuer`: discovery failed");
        assert_eq!(e.cause(), Some(&cause));
        assert!(std::error::Error::source(&e).is_some());
    }
}
