//! The device authorization grant (RFC 8628) as a polling state machine.
//!
//! ```text
//! let mut poller = DevicePoller::new(&authorization, now)?;
//! loop {
//!   match poller.poll(now) {
//!     PollStep::Wait{ms} => sleep(ms) (abortable by the caller's signal),
//!     PollStep::Send => { answer = POST token endpoint;
//!                         match poller.on_response(answer, now) { Wait{ms} => sleep, Done(ts) => break ts, Fail(e) => throw e } }
//!     PollStep::Busy => a bug: a poll is already outstanding,
//!     PollStep::Fail(e) => throw e,                 // the code expired
//!   }
//! }
//! ```
//! The first poll waits one interval; polls never come faster than the
//! interval (`slow_down` adds 5 s for all later polls), never two at once,
//! and never after the code expired.

use serde::{Deserialize, Deserializer};

use crate::error::{Error, ErrorKind};
use crate::secret::DeviceCode;

use super::oauth::{token_endpoint_error, TokenAnswer, TokenReply};
use super::token::TokenSet;

/// The interval when the server sends none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL_SECS: i64 = 5;
/// What `slow_down` adds to the interval, for this and all later polls.
pub const SLOW_DOWN_STEP_SECS: i64 = 5;
/// Consecutive network errors / 5xx tolerated before giving up.
pub const MAX_TRANSIENT_FAILURES: u32 = 5;

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeviceAuthorization {
    #[serde(deserialize_with = "de_device_code")]
    pub device_code: DeviceCode,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    #[serde(deserialize_with = "de_seconds")]
    pub expires_in: i64,
    #[serde(default, deserialize_with = "super::token::de_opt_seconds")]
    pub interval: Option<i64>,
}

fn de_device_code<'de, D: Deserializer<'de>>(d: D) -> Result<DeviceCode, D::Error> {
    String::deserialize(d).map(DeviceCode::new)
}

fn de_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    super::token::de_opt_seconds(d)?.ok_or_else(|| serde::de::Error::custom("expires_in is required"))
}

impl DeviceAuthorization {
    /// The polling interval in seconds (default 5, at least 1).
    pub fn interval_secs(&self) -> i64 {
        self.interval.unwrap_or(DEFAULT_INTERVAL_SECS).max(1)
    }

    /// Protocol sanity of the authorization response.
    pub fn check(&self) -> Result<(), Error> {
        let invalid = |m: &str| Err(Error::new(ErrorKind::InvalidResponse, m));
        if self.device_code.secret().is_empty() || self.user_code.trim().is_empty() {
            return invalid("device authorization response lacks device_code or user_code");
        }
        if self.expires_in <= 0 {
            return invalid("device authorization response has a non-positive expires_in");
        }
        let uri_ok = |u: &str| super::config::check_url("verification_uri", u).is_ok();
        if !uri_ok(&self.verification_uri) || self.verification_uri_complete.as_deref().is_some_and(|u| !uri_ok(u)) {
            return invalid("device authorization response has an invalid verification URI");
        }
        Ok(())
    }
}

/// What the poller tells the loop to do next.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum PollStep {
    /// Send one token request now (the poller now counts it as outstanding).
    Send,
    /// Not yet: sleep this long, then ask again.
    Wait { ms: i64 },
    /// A poll is outstanding; a second one is refused.
    Busy,
    /// Give up (the code expired).
    Fail(Error),
}

/// What an answer to a poll means.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum DeviceStep {
    /// Keep polling: sleep this long, then call [`DevicePoller::poll`].
    Wait { ms: i64 },
    /// The user approved: the tokens go straight into the session.
    Done(TokenSet),
    Fail(Error),
}

/// Poll state for one device login.
#[derive(Debug, Clone)]
pub struct DevicePoller {
    interval_ms: i64,
    deadline_ms: i64,
    next_poll_at_ms: i64,
    outstanding: bool,
    transient_failures: u32,
}

impl DevicePoller {
    /// Starts polling for an authorization that arrived at `now_ms`.
    pub fn new(auth: &DeviceAuthorization, now_ms: i64) -> Result<Self, Error> {
        auth.check()?;
        let interval_ms = auth.interval_secs() * 1000;
        Ok(DevicePoller {
            interval_ms,
            deadline_ms: now_ms.saturating_add(auth.expires_in.saturating_mul(1000)),
            next_poll_at_ms: now_ms + interval_ms,
            outstanding: false,
            transient_failures: 0,
        })
    }

    /// The current interval (grows with `slow_down`).
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    pub fn deadline_ms(&self) -> i64 {
        self.deadline_ms
    }

    /// May a poll be sent at `now_ms`?
    pub fn poll(&mut self, now_ms: i64) -> PollStep {
        if self.outstanding {
            return PollStep::Busy;
        }
        if now_ms >= self.deadline_ms || self.next_poll_at_ms >= self.deadline_ms {
            return PollStep::Fail(expired());
        }
        if now_ms < self.next_poll_at_ms {
            return PollStep::Wait { ms: self.next_poll_at_ms - now_ms };
        }
        self.outstanding = true;
        PollStep::Send
    }

    /// The token endpoint answered the outstanding poll at `now_ms`.
    pub fn on_response(&mut self, answer: TokenAnswer, now_ms: i64) -> DeviceStep {
        self.outstanding = false;
        if answer.is_success() {
            return match answer.reply {
                TokenReply::Tokens(resp) => match TokenSet::from_response(resp, answer.claims.as_ref(), None, now_ms) {
                    Ok(ts) => DeviceStep::Done(ts),
                    Err(e) => DeviceStep::Fail(e),
                },
                _ => DeviceStep::Fail(token_endpoint_error(ErrorKind::InvalidResponse, "the token endpoint answered without tokens", Some(answer.status), None)),
            };
        }
        let status = Some(answer.status);
        match answer.oauth_error() {
            Some("authorization_pending") => self.wait(now_ms, 0),
            Some("slow_down") => {
                self.interval_ms += SLOW_DOWN_STEP_SECS * 1000;
                self.wait(now_ms, answer.retry_after_ms.unwrap_or(0))
            }
            Some("access_denied") => DeviceStep::Fail(token_endpoint_error(ErrorKind::AccessDenied, "the user denied the device login", status, Some("access_denied"))),
            Some("expired_token") => DeviceStep::Fail(expired()),
            _ if answer.status == 429 || answer.status == 408 || answer.status >= 500 => {
                let cause = token_endpoint_error(ErrorKind::Http, "the token endpoint is unavailable", status, answer.oauth_error());
                self.transient(now_ms, answer.retry_after_ms.unwrap_or(0), cause)
            }
            code => {
                let owned = code.map(str::to_owned);
                DeviceStep::Fail(token_endpoint_error(ErrorKind::Http, "the device login was refused", status, owned.as_deref()))
            }
        }
    }

    /// The outstanding poll failed without an answer. Re-polling with the
    /// same device code is harmless (it is not rotated), so retry at the
    /// interval, a bounded number of times.
    pub fn on_network_error(&mut self, now_ms: i64) -> DeviceStep {
        self.outstanding = false;
        self.transient(now_ms, 0, Error::new(ErrorKind::Network, "the token endpoint could not be reached"))
    }

    fn transient(&mut self, now_ms: i64, retry_after_ms: i64, cause: Error) -> DeviceStep {
        self.transient_failures += 1;
        if self.transient_failures > MAX_TRANSIENT_FAILURES {
            let kind = if cause.kind() == ErrorKind::Network { ErrorKind::Network } else { ErrorKind::Http };
            return DeviceStep::Fail(Error::new(kind, "the device login gave up after repeated failures").with_cause(cause));
        }
        self.schedule(now_ms, retry_after_ms)
    }

    fn wait(&mut self, now_ms: i64, retry_after_ms: i64) -> DeviceStep {
        self.transient_failures = 0;
        self.schedule(now_ms, retry_after_ms)
    }

    fn schedule(&mut self, now_ms: i64, retry_after_ms: i64) -> DeviceStep {
        self.next_poll_at_ms = now_ms + self.interval_ms.max(retry_after_ms);
        if self.next_poll_at_ms >= self.deadline_ms {
            return DeviceStep::Fail(expired());
        }
        DeviceStep::Wait { ms: self.next_poll_at_ms - now_ms }
    }
}

fn expired() -> Error {
    Error::new(ErrorKind::DeviceCodeExpired, "the device code expired before the login was approved; start again")
}
