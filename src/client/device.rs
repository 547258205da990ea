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
/// The layer's backstop on one device login's polls (`poll_limit`). The
/// poller ends the loop: each poll waits at least the interval (1 s or
/// more) until the code's expiry, which is the provider's and has no cap of
/// ours, so this bounds a provider's year-long `expires_in` to about a day.
pub const MAX_POLLS: u32 = 100_000;

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
    /// The polling interval in seconds (default 5, kept within 1 s..1 h).
    pub fn interval_secs(&self) -> i64 {
        self.interval.unwrap_or(DEFAULT_INTERVAL_SECS).clamp(1, 3600)
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

/// Where a poller stands between two polls, kept with a pending login
/// whose polls come from separate requests (`mesh-sdk/next`'s device
/// routes): the interval (grown by `slow_down`), when the next poll may
/// go, and the transient failures so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollState {
    pub interval_ms: i64,
    pub next_poll_at_ms: i64,
    pub failures: u32,
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

    /// Resumes polling where `state` left it. The interval never falls
    /// below the authorization's, nor the next poll before the first may go.
    pub fn resume(auth: &DeviceAuthorization, started_at_ms: i64, state: PollState) -> Result<Self, Error> {
        let mut poller = DevicePoller::new(auth, started_at_ms)?;
        poller.interval_ms = state.interval_ms.clamp(poller.interval_ms, 3600 * 1000);
        poller.next_poll_at_ms = state.next_poll_at_ms.max(poller.next_poll_at_ms);
        poller.transient_failures = state.failures.min(MAX_TRANSIENT_FAILURES + 1);
        Ok(poller)
    }

    /// Where it stands, to resume it later.
    pub fn state(&self) -> PollState {
        PollState { interval_ms: self.interval_ms, next_poll_at_ms: self.next_poll_at_ms, failures: self.transient_failures }
    }

    /// The current interval (grows with `slow_down`).
    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    pub fn deadline_ms(&self) -> i64 {
        self.deadline_ms
    }

    /// How long a poll sent at `now_ms` may take: `timeoutMs`, but never
    /// past the code's expiry.
    pub fn poll_timeout_ms(&self, now_ms: i64, timeout_ms: i64) -> i64 {
        timeout_ms.min(self.deadline_ms - now_ms).max(0)
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

/// The device logins a client started, kept until each completes or fails;
/// a login is polled by one `completeDeviceLogin` at a time.
#[derive(Default)]
pub struct DeviceLogins {
    pending: Vec<PendingLogin>,
    /// The user codes of logins cancelled here, the latest [`MAX_PENDING`]:
    /// a `completeDeviceLogin` still polling one ends as `aborted`, not as
    /// a login this client never started.
    cancelled: Vec<String>,
}

struct PendingLogin {
    authorization: DeviceAuthorization,
    started_at_ms: i64,
    poller: Option<DevicePoller>,
    /// Where polling stood when the login was restored (its poller resumes there).
    saved: Option<PollState>,
}

/// The most device logins kept at once (each restart adds one).
const MAX_PENDING: usize = 8;

impl DeviceLogins {
    /// A login started at `now_ms`; the oldest is forgotten past [`MAX_PENDING`].
    pub fn add(&mut self, authorization: DeviceAuthorization, now_ms: i64) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(PendingLogin { authorization, started_at_ms: now_ms, poller: None, saved: None });
    }

    fn find(&mut self, user_code: &str) -> Result<&mut PendingLogin, Error> {
        let cancelled = &self.cancelled;
        self.pending.iter_mut().find(|p| p.authorization.user_code == user_code).ok_or_else(|| {
            if cancelled.iter().any(|c| c == user_code) {
                Error::new(ErrorKind::Aborted, "the device login was cancelled (cancelDeviceLogin)")
            } else {
                Error::config("login", "is unknown to this client: pass what its startDeviceLogin() returned")
            }
        })
    }

    /// `cancelDeviceLogin`: the login ends here, and a poll of it still
    /// running ends as `aborted` at its next step.
    pub fn cancel(&mut self, user_code: &str) {
        self.end(user_code, false);
        if self.cancelled.len() >= MAX_PENDING {
            self.cancelled.remove(0);
        }
        self.cancelled.push(user_code.to_string());
    }

    /// Starts polling the login of `user_code`: its device code.
    pub fn begin(&mut self, user_code: &str) -> Result<&DeviceCode, Error> {
        let p = self.find(user_code)?;
        if p.poller.is_some() {
            return Err(Error::config("login", "is already being completed: await the first completeDeviceLogin()"));
        }
        p.poller = Some(match p.saved {
            Some(state) => DevicePoller::resume(&p.authorization, p.started_at_ms, state)?,
            None => DevicePoller::new(&p.authorization, p.started_at_ms)?,
        });
        Ok(&p.authorization.device_code)
    }

    /// The poller of a login being completed.
    pub fn poller(&mut self, user_code: &str) -> Result<&mut DevicePoller, Error> {
        self.find(user_code)?.poller.as_mut().ok_or_else(|| Error::config("login", "is not being completed"))
    }

    /// A login this client started or restored: its authorization, when
    /// it started and where its polling stands (to persist it, see
    /// `pending_login`).
    pub fn started(&self, user_code: &str) -> Option<(&DeviceAuthorization, i64, Option<PollState>)> {
        let p = self.pending.iter().find(|p| p.authorization.user_code == user_code)?;
        Some((&p.authorization, p.started_at_ms, p.poller.as_ref().map(DevicePoller::state).or(p.saved)))
    }

    /// A login persisted before a reload, known again (once: a login
    /// already known is left as it is), its polling resumed from `saved`.
    pub fn restore(&mut self, authorization: DeviceAuthorization, started_at_ms: i64, saved: Option<PollState>) {
        if self.started(&authorization.user_code).is_none() {
            self.add(authorization, started_at_ms);
            if let Some(p) = self.pending.last_mut() {
                p.saved = saved;
            }
        }
    }

    /// Polling stopped: an aborted login may be completed again; any other
    /// end (tokens, denial, expiry) is final.
    pub fn end(&mut self, user_code: &str, aborted: bool) {
        if !aborted {
            self.pending.retain(|p| p.authorization.user_code != user_code);
        } else if let Ok(p) = self.find(user_code) {
            p.poller = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(user_code: &str) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: DeviceCode::new(["dc-", user_code].concat()),
            user_code: user_code.into(),
            verification_uri: "http://idp/device".into(),
            verification_uri_complete: None,
            expires_in: 600,
            interval: Some(5),
        }
    }

    #[test]
    fn logins_are_polled_once_at_a_time_and_forgotten_when_done() {
        let mut logins = DeviceLogins::default();
        logins.add(authorization("A"), 0);
        assert!(logins.poller("A").is_err(), "not being completed yet");
        assert_eq!(logins.begin("A").unwrap().secret(), "dc-A");
        assert!(logins.begin("A").unwrap_err().message().contains("already being completed"));
        logins.end("A", true);
        assert!(logins.begin("A").is_ok(), "an aborted login may be completed again");
        logins.end("A", false);
        assert!(logins.begin("A").unwrap_err().message().contains("is unknown"));
        // Cancelled while being completed: its poller's next step is `aborted`.
        logins.add(authorization("C"), 0);
        logins.begin("C").unwrap();
        logins.cancel("C");
        let e = logins.poller("C").unwrap_err();
        assert_eq!((e.code(), e.message()), ("aborted", "the device login was cancelled (cancelDeviceLogin)"));
        assert_eq!(logins.begin("C").unwrap_err().code(), "aborted", "and it cannot be completed again");
        assert_eq!(logins.begin("never").unwrap_err().code(), "invalid_config");
        for i in 0..=MAX_PENDING {
            logins.add(authorization(&i.to_string()), 0);
        }
        assert!(logins.begin("0").is_err(), "the oldest is forgotten");
        assert!(logins.begin(&MAX_PENDING.to_string()).is_ok());
    }
    use crate::client::oauth::OAuthErrorBody;

    const T0: i64 = 1_700_000_000_000;

    fn auth(expires_in: i64, interval: Option<i64>) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: DeviceCode::new("dc"),
            user_code: "ABCD-EFGH".into(),
            verification_uri: "http://127.0.0.1:9400/device".into(),
            verification_uri_complete: Some("http://127.0.0.1:9400/device?user_code=ABCD-EFGH".into()),
            expires_in,
            interval,
        }
    }

    fn err(code: &str) -> TokenAnswer {
        TokenAnswer::new(400, TokenReply::Error(OAuthErrorBody { error: code.into(), error_description: None }))
    }

    fn tokens() -> TokenAnswer {
        let body = r#"{"access_token":"at","token_type":"Bearer","expires_in":300,"refresh_token":"rt"}"#;
        TokenAnswer::new(200, TokenReply::Tokens(serde_json::from_str(body).unwrap()))
    }

    /// Sends a poll at exactly the allowed moment; returns that moment.
    fn poll_when_allowed(p: &mut DevicePoller, now: i64) -> i64 {
        match p.poll(now) {
            PollStep::Wait { ms } => {
                assert_eq!(p.poll(now + ms - 1), PollStep::Wait { ms: 1 }, "no poll before the interval");
                assert_eq!(p.poll(now + ms), PollStep::Send);
                now + ms
            }
            PollStep::Send => now,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_the_authorization_response_with_default_interval() {
        let a: DeviceAuthorization = serde_json::from_str(
            r#"{"device_code":"dc","user_code":"U","verification_uri":"https://x/d","expires_in":"600"}"#,
        )
        .unwrap();
        assert_eq!(a.interval_secs(), 5);
        assert_eq!(DeviceAuthorization { interval: Some(i64::MAX), ..a.clone() }.interval_secs(), 3600);
        assert_eq!(DeviceAuthorization { interval: Some(0), ..a.clone() }.interval_secs(), 1);
        assert_eq!(a.expires_in, 600);
        assert!(a.check().is_ok());
        assert_eq!(format!("{:?}", a.device_code), "DeviceCode([redacted])");
        assert!(serde_json::from_str::<DeviceAuthorization>(r#"{"device_code":"dc","user_code":"U","verification_uri":"https://x"}"#).is_err());
    }

    #[test]
    fn bad_authorization_responses_are_rejected() {
        for a in [
            auth(0, None),
            DeviceAuthorization { verification_uri: "javascript:alert(1)".into(), ..auth(600, None) },
            DeviceAuthorization { verification_uri_complete: Some("data:x".into()), ..auth(600, None) },
            DeviceAuthorization { user_code: " ".into(), ..auth(600, None) },
        ] {
            assert_eq!(DevicePoller::new(&a, T0).unwrap_err().code(), "invalid_response");
        }
    }

    #[test]
    fn a_resumed_poller_keeps_its_interval_slow_down_and_schedule() {
        let a = auth(600, Some(2));
        let mut p = DevicePoller::new(&a, T0).unwrap();
        let t1 = poll_when_allowed(&mut p, T0);
        assert_eq!(p.on_response(err("slow_down"), t1), DeviceStep::Wait { ms: 7_000 });
        let saved = p.state();
        assert_eq!(saved, PollState { interval_ms: 7_000, next_poll_at_ms: t1 + 7_000, failures: 0 });
        // Another request, later: the schedule and the grown interval hold.
        let mut q = DevicePoller::resume(&a, T0, saved).unwrap();
        assert_eq!(q.poll(t1 + 1_000), PollStep::Wait { ms: 6_000 }, "no poll before the saved time");
        assert_eq!(q.poll(t1 + 7_000), PollStep::Send);
        assert_eq!(q.on_response(err("authorization_pending"), t1 + 7_000), DeviceStep::Wait { ms: 7_000 }, "slow_down still counts");
        // A saved state never makes polling faster than the authorization allows.
        let fast = PollState { interval_ms: 1, next_poll_at_ms: T0, failures: 0 };
        let mut r = DevicePoller::resume(&a, T0, fast).unwrap();
        assert_eq!(r.interval_ms(), 2_000);
        assert_eq!(r.poll(T0), PollStep::Wait { ms: 2_000 });
        // Nor past the code's expiry.
        let mut late = DevicePoller::resume(&a, T0, saved).unwrap();
        assert!(matches!(late.poll(T0 + 600_000), PollStep::Fail(e) if e.code() == "device_code_expired"));
        // Transient failures add up across requests.
        let worn = PollState { interval_ms: 2_000, next_poll_at_ms: T0 + 2_000, failures: MAX_TRANSIENT_FAILURES };
        let mut w = DevicePoller::resume(&a, T0, worn).unwrap();
        assert_eq!(w.poll(T0 + 2_000), PollStep::Send);
        assert!(matches!(w.on_network_error(T0 + 2_000), DeviceStep::Fail(_)));
    }

    #[test]
    fn restored_logins_resume_from_their_saved_state() {
        let mut logins = DeviceLogins::default();
        let saved = PollState { interval_ms: 10_000, next_poll_at_ms: T0 + 20_000, failures: 1 };
        logins.restore(auth(600, Some(5)), T0, Some(saved));
        assert_eq!(logins.started("ABCD-EFGH").unwrap().2, Some(saved));
        logins.begin("ABCD-EFGH").unwrap();
        assert_eq!(logins.poller("ABCD-EFGH").unwrap().poll(T0 + 19_000), PollStep::Wait { ms: 1_000 });
        assert_eq!(logins.started("ABCD-EFGH").unwrap().2, Some(saved), "the running poller's state");
    }

    #[test]
    fn pending_then_approved_polls_at_the_interval() {
        let mut p = DevicePoller::new(&auth(600, Some(2)), T0).unwrap();
        let t1 = poll_when_allowed(&mut p, T0);
        assert_eq!(t1, T0 + 2_000, "the first poll waits one interval");
        assert_eq!(p.poll_timeout_ms(t1, 60_000), 60_000);
        assert_eq!(p.poll_timeout_ms(T0 + 590_000, 60_000), 10_000);
        assert_eq!(p.on_response(err("authorization_pending"), t1 + 30), DeviceStep::Wait { ms: 2_000 });
        let t2 = poll_when_allowed(&mut p, t1 + 30);
        assert_eq!(t2, t1 + 2_030);
        match p.on_response(tokens(), t2 + 10) {
            DeviceStep::Done(ts) => {
                assert_eq!(ts.access_token.secret(), "at");
                assert_eq!(ts.expires_at_ms, Some(t2 + 10 + 300_000));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn never_two_polls_in_flight() {
        let mut p = DevicePoller::new(&auth(600, Some(1)), T0).unwrap();
        assert_eq!(p.poll(T0 + 1_000), PollStep::Send);
        assert_eq!(p.poll(T0 + 1_000), PollStep::Busy);
        assert_eq!(p.poll(T0 + 50_000), PollStep::Busy);
        let _ = p.on_response(err("authorization_pending"), T0 + 50_000);
        assert!(matches!(p.poll(T0 + 50_000), PollStep::Wait { .. }));
    }

    #[test]
    fn slow_down_adds_five_seconds_for_all_later_polls() {
        let mut p = DevicePoller::new(&auth(600, Some(5)), T0).unwrap();
        let mut now = poll_when_allowed(&mut p, T0);
        assert_eq!(p.on_response(err("slow_down"), now), DeviceStep::Wait { ms: 10_000 });
        now = poll_when_allowed(&mut p, now);
        assert_eq!(p.on_response(err("slow_down"), now), DeviceStep::Wait { ms: 15_000 });
        now = poll_when_allowed(&mut p, now);
        assert_eq!(p.on_response(err("authorization_pending"), now), DeviceStep::Wait { ms: 15_000 });
        assert_eq!(p.interval_ms(), 15_000);
    }

    #[test]
    fn denied_and_expired_end_with_their_codes() {
        let mut p = DevicePoller::new(&auth(600, None), T0).unwrap();
        let now = poll_when_allowed(&mut p, T0);
        assert!(matches!(p.on_response(err("access_denied"), now), DeviceStep::Fail(e) if e.code() == "access_denied"));
        let mut p = DevicePoller::new(&auth(600, None), T0).unwrap();
        let now = poll_when_allowed(&mut p, T0);
        assert!(matches!(p.on_response(err("expired_token"), now), DeviceStep::Fail(e) if e.code() == "device_code_expired"));
        let mut p = DevicePoller::new(&auth(600, None), T0).unwrap();
        let now = poll_when_allowed(&mut p, T0);
        assert!(matches!(p.on_response(err("invalid_client"), now), DeviceStep::Fail(e) if e.code() == "http_error"));
    }

    #[test]
    fn stops_at_expires_in_without_another_poll() {
        let mut p = DevicePoller::new(&auth(12, Some(5)), T0).unwrap();
        let mut now = T0;
        let mut polls = 0;
        loop {
            match p.poll(now) {
                PollStep::Wait { ms } => now += ms,
                PollStep::Send => {
                    polls += 1;
                    match p.on_response(err("authorization_pending"), now) {
                        DeviceStep::Wait { ms } => now += ms,
                        DeviceStep::Fail(e) => {
                            assert_eq!(e.code(), "device_code_expired");
                            break;
                        }
                        DeviceStep::Done(_) => unreachable!(),
                    }
                }
                PollStep::Fail(e) => {
                    assert_eq!(e.code(), "device_code_expired");
                    break;
                }
                PollStep::Busy => unreachable!(),
            }
            assert!(polls < 10);
        }
        assert_eq!(polls, 2, "polls at +5 s and +10 s; +15 s is past the 12 s deadline");
        assert!(now < T0 + 12_000);
        assert!(matches!(p.poll(T0 + 12_000), PollStep::Fail(_)));
    }

    #[test]
    fn retry_after_and_transient_errors_are_bounded() {
        let mut p = DevicePoller::new(&auth(600, Some(5)), T0).unwrap();
        let mut now = poll_when_allowed(&mut p, T0);
        let answer = TokenAnswer { retry_after_ms: Some(30_000), ..TokenAnswer::new(429, TokenReply::Unparseable) };
        assert_eq!(p.on_response(answer, now), DeviceStep::Wait { ms: 30_000 });
        now = poll_when_allowed(&mut p, now);
        assert_eq!(p.on_response(TokenAnswer::new(503, TokenReply::Unparseable), now), DeviceStep::Wait { ms: 5_000 });
        for _ in 0..3 {
            now = poll_when_allowed(&mut p, now);
            assert_eq!(p.on_network_error(now), DeviceStep::Wait { ms: 5_000 });
        }
        now = poll_when_allowed(&mut p, now);
        assert!(matches!(p.on_network_error(now), DeviceStep::Fail(e) if e.code() == "network"));
    }

    #[test]
    fn pending_resets_the_transient_failure_count() {
        let mut p = DevicePoller::new(&auth(600, Some(1)), T0).unwrap();
        let mut now = T0;
        for i in 0..20 {
            now = poll_when_allowed(&mut p, now);
            let step = if i % 3 == 2 { p.on_response(err("authorization_pending"), now) } else { p.on_network_error(now) };
            assert!(matches!(step, DeviceStep::Wait { .. }), "round {i}: {step:?}");
        }
    }
}
