//! The upstream fetch's bound and what each way of getting no answer means.
//!
//! The gateway waits `MESH_UPSTREAM_TIMEOUT_SECONDS` for the origin's
//! response headers (the body may stream for longer), so a hung origin gets
//! the client a 504 in bounded time instead of holding its connection until
//! the client gives up. The binding (`forward` in plumbing.js) runs the
//! timer and reports what it saw; the status, body and log line are chosen
//! here.

use serde_json::json;

use super::config::ConfigError;
use super::reject::{event_log, Reply};

pub const TIMEOUT_VARIABLE: &str = "MESH_UPSTREAM_TIMEOUT_SECONDS";
/// Half the client SDK's default `timeoutMs` (60 s): a caller using it gets
/// the gateway's 504, and for an idempotent call its retry, before its own
/// deadline.
pub const DEFAULT_TIMEOUT_SECS: u32 = 30;
/// Beyond ten minutes a bound stops being one; JavaScript timers also end at
/// 2^31 - 1 ms (about 24.8 days) and fire at once past it.
pub const MAX_TIMEOUT_SECS: u32 = 600;

/// `MESH_UPSTREAM_TIMEOUT_SECONDS` (trimmed; `None` when unset or empty), in
/// milliseconds: a whole number of seconds, 1 to [`MAX_TIMEOUT_SECS`].
pub fn timeout_ms(value: Option<&str>) -> Result<u32, ConfigError> {
    let Some(value) = value else { return Ok(DEFAULT_TIMEOUT_SECS * 1000) };
    match value.parse::<u32>() {
        Ok(secs @ 1..=MAX_TIMEOUT_SECS) => Ok(secs * 1000),
        _ => Err(ConfigError { variable: TIMEOUT_VARIABLE, problem: format!("must be a whole number of seconds, 1-{MAX_TIMEOUT_SECS}") }),
    }
}

/// Why the upstream fetch gave no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response headers within the bound.
    TimedOut,
    /// The client went away: the origin is not at fault, and nobody reads
    /// the answer.
    ClientGone,
    /// Refused, reset, no such host, a TLS failure: the origin cannot be reached.
    Unreachable,
}

impl Failure {
    /// From what the binding saw: whether the gateway's timer aborted the
    /// fetch, and whether the inbound request's own signal is aborted. A
    /// client that left first is never reported as the origin's timeout.
    pub fn of(timed_out: bool, client_aborted: bool) -> Failure {
        match (client_aborted, timed_out) {
            (true, _) => Failure::ClientGone,
            (false, true) => Failure::TimedOut,
            (false, false) => Failure::Unreachable,
        }
    }

    /// The answer. Like every gateway reply it names no host, address or
    /// setting: those go to the log.
    pub fn reply(self) -> Reply {
        match self {
            Failure::TimedOut => Reply::json(504, json!({ "error": "gateway_timeout", "message": "the origin did not answer in time" })),
            // nginx's 499: what an access log shows for a request its client
            // closed, so it does not count as a gateway or origin error.
            Failure::ClientGone => Reply::json(499, json!({ "error": "client_closed_request" })),
            Failure::Unreachable => Reply::json(502, json!({ "error": "bad_gateway" })),
        }
    }

    /// The log line: the bound for a timeout, the runtime's error text
    /// (`detail`, which names no secret) when the origin cannot be reached.
    pub fn log(self, request_id: &str, timeout_ms: u32, detail: &str) -> String {
        match self {
            Failure::TimedOut => event_log("error", "upstream_timeout", request_id, json!({ "timeout_ms": timeout_ms })),
            Failure::ClientGone => event_log("info", "client_aborted", request_id, json!({})),
            Failure::Unreachable => event_log("error", "upstream_failed", request_id, json!({ "detail": detail })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_bound_is_whole_seconds_from_1_to_600_and_30_by_default() {
        assert_eq!(timeout_ms(None), Ok(30_000));
        assert_eq!(timeout_ms(Some("1")), Ok(1_000));
        assert_eq!(timeout_ms(Some("600")), Ok(600_000));
        for bad in ["0", "-1", "601", "1.5", "30s", "abc", "+", "4294967296", "99999999999999999999"] {
            let e = timeout_ms(Some(bad)).unwrap_err();
            assert_eq!(e.variable, TIMEOUT_VARIABLE, "{bad}");
            assert_eq!(e.to_string(), "MESH_UPSTREAM_TIMEOUT_SECONDS: must be a whole number of seconds, 1-600", "{bad}");
        }
    }

    #[test]
    fn a_timeout_is_504_and_a_client_that_left_is_never_one() {
        assert_eq!(Failure::of(true, false), Failure::TimedOut);
        assert_eq!(Failure::of(false, false), Failure::Unreachable);
        assert_eq!(Failure::of(true, true), Failure::ClientGone);
        assert_eq!(Failure::of(false, true), Failure::ClientGone);

        let r = Failure::TimedOut.reply();
        assert_eq!((r.status, r.body.as_str()), (504, r#"{"error":"gateway_timeout","message":"the origin did not answer in time"}"#));
        assert!(r.headers.contains(&("cache-control", "no-store".into())));
        let r = Failure::Unreachable.reply();
        assert_eq!((r.status, r.body.as_str()), (502, r#"{"error":"bad_gateway"}"#));
        assert_eq!(Failure::ClientGone.reply().status, 499);
    }

    #[test]
    fn each_failure_logs_its_own_event() {
        let line = |f: Failure| serde_json::from_str::<Value>(&f.log("r1", 1000, "connect ECONNREFUSED 127.0.0.1:9")).unwrap();
        let t = line(Failure::TimedOut);
        assert_eq!((t["level"].as_str(), t["event"].as_str(), t["timeout_ms"].as_u64()), (Some("error"), Some("upstream_timeout"), Some(1000)));
        assert_eq!(t["request_id"], "r1");
        let u = line(Failure::Unreachable);
        assert_eq!((u["event"].as_str(), u["detail"].as_str()), (Some("upstream_failed"), Some("connect ECONNREFUSED 127.0.0.1:9")));
        let c = line(Failure::ClientGone);
        assert_eq!((c["level"].as_str(), c["event"].as_str()), (Some("info"), Some("client_aborted")));
    }
}
