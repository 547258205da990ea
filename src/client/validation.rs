//! `validate()`: what the server's answer means, and when the token's own
//! expiry stands in for the server.

/// How `validate()` ends after `GET /auth/validate` failed with `code`
/// (and `status`, where a response came).
#[derive(Debug, PartialEq)]
pub enum ValidateFailure {
    /// The server refused the credential: `{ valid: false, source: 'server' }`.
    Invalid,
    /// The route is missing (404) or the server is unreachable: check the
    /// token's expiry locally (OAuth mode only; an API key has none).
    Local,
    /// Any other failure is the caller's to see.
    Rethrow,
}

pub fn on_validate_failure(code: &str, status: Option<u16>, api_key_mode: bool) -> ValidateFailure {
    if code == "unauthorized" {
        return ValidateFailure::Invalid;
    }
    let unreachable = code == "network" || code == "timeout" || status == Some(404);
    if unreachable && !api_key_mode {
        ValidateFailure::Local
    } else {
        ValidateFailure::Rethrow
    }
}

/// A 2xx answer's verdict: its `valid`, and valid when it has none (a
/// gateway that answers 200 has accepted the credential).
pub fn server_verdict(valid: Option<bool>) -> bool {
    valid.unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_map_to_a_verdict() {
        assert_eq!(on_validate_failure("unauthorized", Some(401), false), ValidateFailure::Invalid);
        assert_eq!(on_validate_failure("unauthorized", Some(401), true), ValidateFailure::Invalid);
        assert_eq!(on_validate_failure("network", None, false), ValidateFailure::Local);
        assert_eq!(on_validate_failure("timeout", None, false), ValidateFailure::Local);
        assert_eq!(on_validate_failure("http_error", Some(404), false), ValidateFailure::Local);
        assert_eq!(on_validate_failure("network", None, true), ValidateFailure::Rethrow);
        assert_eq!(on_validate_failure("http_error", Some(500), false), ValidateFailure::Rethrow);
        assert_eq!(on_validate_failure("forbidden", Some(403), false), ValidateFailure::Rethrow);
    }

    #[test]
    fn a_2xx_without_valid_counts_as_valid() {
        assert!(server_verdict(None));
        assert!(server_verdict(Some(true)));
        assert!(!server_verdict(Some(false)));
    }
}
