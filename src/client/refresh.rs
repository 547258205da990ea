//! The session and its refresh lock, as a state machine.
//!
//! Every call takes `now_ms`; expiry is checked against it on every call, so
//! correctness never rests on a timer (timers fire late after sleep).
//!
//! ## The loop the binding runs
//! ```text
//! match session.get_token(now) {
//!   Ready(r) | ServeWhileCoolingDown(r) => use r.token,
//!   JoinInFlight => await the in-flight refresh's single outcome,
//!   StartRefresh{..} => {
//!     match session.before_send(storage.read(), now) {   // cross-tab
//!       Skip(r) => resolve everyone with r,
//!       Send{refresh_token} => loop {
//!         outcome = session.on_token_response(answer, now, Math.random())
//!                   | on_network_error(maybe_sent, ..) | on_timeout(..);
//!         RetryIn{ms} => sleep ms and send again; else break
//!       }
//!     }
//!     every waiter gets that one outcome (Done / Failed / Ended)
//!   }
//!   Ended(e) => clear storage, emit sessionEnded, reject with e,
//!   Fail(e) => reject with e,
//! }
//! ```
//!
//! ## Refresh tokens are never sent twice
//! The refresh token is sent once per attempt, and re-sent only when the
//! server certainly did not consume it: it answered 5xx/429/408 or
//! `temporarily_unavailable`, or the binding knows the request never left
//! (`on_network_error(maybe_sent = false)`, e.g. connection refused). When
//! the outcome is unknown (a timeout or a reset after the request may have
//! arrived), the server may have rotated the token and sent the new one into
//! the void. Re-sending the old one would then be a reuse, which RFC 9700
//! §4.14.2 servers treat as theft: they revoke the whole grant (oidc-provider
//! does). So the token is marked spent and not re-sent, unless the provider
//! was seen not to rotate (a refresh returned no new or the same token).
//! The still-valid access token keeps being served; when it expires the
//! session ends, unless another tab stored newer tokens ([`Session::adopt`]).

use crate::error::{Error, ErrorKind};
use crate::secret::{AccessToken, RefreshToken};

use super::config::{ClientConfig, MAX_COOLDOWN_MS};
use super::oauth::{backoff_ms, classify, token_endpoint_error, ErrorClass, TokenAnswer, TokenReply};
use super::token::TokenSet;

/// First backoff step of a refresh retry, and its cap.
const BACKOFF_BASE_MS: i64 = 500;
const BACKOFF_MAX_MS: i64 = 10_000;

/// The knobs of the refresh policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshPolicy {
    pub leeway_secs: i64,
    /// Retries after the first token request (so `max_retries + 1` requests).
    pub max_retries: u32,
    /// Budget of one refresh, retries and waits included.
    pub timeout_ms: i64,
    /// First cooldown after a failed refresh; doubles per consecutive failure.
    pub cooldown_ms: i64,
}

impl RefreshPolicy {
    pub fn from_config(c: &ClientConfig) -> Self {
        RefreshPolicy {
            leeway_secs: c.refresh_leeway_secs,
            max_retries: c.max_refresh_retries.clamp(0, 10) as u32,
            timeout_ms: c.timeout_ms,
            cooldown_ms: c.refresh_cooldown_ms,
        }
    }

    fn cooldown_after(&self, consecutive_failures: u32) -> i64 {
        let doublings = consecutive_failures.saturating_sub(1).min(16);
        self.cooldown_ms.saturating_mul(1 << doublings).min(MAX_COOLDOWN_MS.max(self.cooldown_ms))
    }
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy::from_config(&ClientConfig::default())
    }
}

/// A usable access token and the generation it belongs to. The binding
/// remembers the generation each request carried (for [`Session::force_refresh`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub token: AccessToken,
    pub generation: u64,
}

/// What [`Session::get_token`] and [`Session::force_refresh`] tell the caller to do.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum TokenStep {
    /// Use this token.
    Ready(Ready),
    /// This caller holds the lock: call [`Session::before_send`], then send
    /// the refresh request. Everyone else gets `JoinInFlight` meanwhile.
    StartRefresh { refresh_token: RefreshToken },
    /// A refresh is in flight: await its outcome.
    JoinInFlight,
    /// A refresh failed recently and the cooldown runs; the access token is
    /// still valid, so use it without touching the token endpoint.
    ServeWhileCoolingDown(Ready),
    /// The session ended just now (tokens cleared): clear storage, emit
    /// `sessionEnded`, reject with this error.
    Ended(Error),
    /// No usable token: reject with this error.
    Fail(Error),
}

/// What [`Session::before_send`] decided after re-reading storage.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum SendStep {
    /// Another tab stored fresh tokens (adopted): skip the refresh; every
    /// waiter gets this token.
    Skip(Ready),
    /// Send the refresh request with this token (maybe a newer one from storage).
    Send { refresh_token: RefreshToken },
    /// Nothing usable is left: the session ended (as [`TokenStep::Ended`]).
    Ended(Error),
}

/// The single outcome of one refresh; every waiter gets a clone of it.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum RefreshOutcome {
    /// New tokens are installed: persist [`Session::tokens`], emit
    /// `refreshed`, resolve waiters with this token.
    Done(Ready),
    /// Transient failure: sleep `ms`, then send the same refresh token again.
    /// Waiters keep waiting.
    RetryIn { ms: i64 },
    /// The refresh failed (`refresh_failed`, or `timeout`/`network` as the
    /// error's cause); a cooldown now runs. The session is NOT ended: if the
    /// access token is still valid, `still_valid` carries it (callers of
    /// `getAccessToken` may use it; emit `refreshFailed`).
    Failed { error: Error, still_valid: Option<Ready> },
    /// The grant is dead (`invalid_grant`): tokens are cleared; clear
    /// storage, emit `sessionEnded`; no retry.
    Ended(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotation {
    Unknown,
    Rotating,
    Static,
}

#[derive(Debug, Clone)]
struct InFlight {
    refresh_token: RefreshToken,
    /// Retries done so far.
    attempt: u32,
    started_at_ms: i64,
    /// The session generation the refresh works for; if the session changes
    /// meanwhile (set, cleared, adopted), the result is discarded.
    generation: u64,
}

/// The client session: tokens, generation, refresh lock, retry and cooldown.
#[derive(Debug, Clone)]
pub struct Session {
    policy: RefreshPolicy,
    tokens: Option<TokenSet>,
    /// Bumped on every new token set (and on clear), never reused.
    generation: u64,
    in_flight: Option<InFlight>,
    /// The server rejected this generation's access token (a 401).
    rejected_generation: Option<u64>,
    cooldown_until_ms: i64,
    consecutive_failures: u32,
    last_failure: Option<Error>,
    /// Why the session ended, until a new one is set.
    ended: Option<Error>,
    /// A refresh token that must not be sent (spent with unknown outcome, or
    /// rejected as `invalid_grant`).
    unusable_refresh: Option<RefreshToken>,
    rotation: Rotation,
}

impl Session {
    pub fn new(policy: RefreshPolicy) -> Self {
        Session {
            policy,
            tokens: None,
            generation: 0,
            in_flight: None,
            rejected_generation: None,
            cooldown_until_ms: 0,
            consecutive_failures: 0,
            last_failure: None,
            ended: None,
            unusable_refresh: None,
            rotation: Rotation::Unknown,
        }
    }

    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// The current tokens (to persist after `Done`, `set_session`, `adopt`).
    pub fn tokens(&self) -> Option<&TokenSet> {
        self.tokens.as_ref()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True while a refresh holds the lock.
    pub fn is_refreshing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// When a proactive refresh becomes due, for an optional timer. A timer
    /// is only an optimisation: `get_token` checks the clock on every call.
    pub fn refresh_due_at_ms(&self) -> Option<i64> {
        let due = self.tokens.as_ref()?.refresh_due_at_ms(self.policy.leeway_secs)?;
        Some(due.max(self.cooldown_until_ms))
    }

    /// Decides how a caller of `getAccessToken()` gets a token at `now_ms`.
    pub fn get_token(&mut self, now_ms: i64) -> TokenStep {
        let Some(ts) = &self.tokens else {
            return TokenStep::Fail(self.no_session_error());
        };
        let rejected = self.rejected_generation == Some(self.generation);
        let usable = !rejected && !ts.is_expired(now_ms);
        if self.in_flight.is_some() {
            // A proactive refresh runs: a still-valid token needs no wait.
            return if usable { TokenStep::Ready(self.ready()) } else { TokenStep::JoinInFlight };
        }
        if usable && !ts.needs_refresh(now_ms, self.policy.leeway_secs) {
            return TokenStep::Ready(self.ready());
        }
        let refresh = ts.refresh_token.clone().filter(|r| self.unusable_refresh.as_ref() != Some(r));
        let Some(refresh_token) = refresh else {
            if usable {
                return TokenStep::Ready(self.ready()); // nothing to refresh with: serve until expiry
            }
            let e = Error::new(ErrorKind::SessionEnded, "the access token expired and no usable refresh token remains; log in again");
            return TokenStep::Ended(self.end(e));
        };
        if now_ms < self.cooldown_until_ms {
            if usable {
                return TokenStep::ServeWhileCoolingDown(self.ready());
            }
            return TokenStep::Fail(self.cooldown_error());
        }
        self.in_flight = Some(InFlight {
            refresh_token: refresh_token.clone(),
            attempt: 0,
            started_at_ms: now_ms,
            generation: self.generation,
        });
        TokenStep::StartRefresh { refresh_token }
    }

    /// After the API answered 401 (or 404 when so configured) for a request
    /// that carried `stale_generation`. A newer generation is simply used; a
    /// running refresh is joined; otherwise one refresh starts. A burst of
    /// 401s for one stale token thus causes one refresh.
    pub fn force_refresh(&mut self, stale_generation: u64, now_ms: i64) -> TokenStep {
        if self.tokens.is_none() {
            return TokenStep::Fail(self.no_session_error());
        }
        if stale_generation == self.generation {
            if self.in_flight.is_some() {
                return TokenStep::JoinInFlight;
            }
            self.rejected_generation = Some(self.generation);
        }
        self.get_token(now_ms)
    }

    /// Called by the lock holder before sending: `stored` is what storage
    /// holds now. If another tab stored newer tokens, they are adopted, and
    /// the refresh is skipped unless they need one too.
    pub fn before_send(&mut self, stored: Option<TokenSet>, now_ms: i64) -> SendStep {
        let adopted = stored.is_some_and(|s| self.adopt(s, now_ms));
        let Some(flight) = self.in_flight.as_mut() else {
            // Not holding the lock (binding misuse): never send.
            return match self.tokens.as_ref() {
                Some(_) => SendStep::Skip(self.ready()),
                None => SendStep::Ended(self.no_session_error()),
            };
        };
        if !adopted {
            return SendStep::Send { refresh_token: flight.refresh_token.clone() };
        }
        flight.generation = self.generation;
        let ts = self.tokens.as_ref().expect("adopt installs tokens");
        if !ts.needs_refresh(now_ms, self.policy.leeway_secs) && !ts.is_expired(now_ms) {
            self.in_flight = None;
            return SendStep::Skip(self.ready());
        }
        match ts.refresh_token.clone().filter(|r| self.unusable_refresh.as_ref() != Some(r)) {
            Some(rt) => {
                flight.refresh_token = rt.clone();
                SendStep::Send { refresh_token: rt }
            }
            None if !ts.is_expired(now_ms) => {
                self.in_flight = None;
                SendStep::Skip(self.ready())
            }
            None => {
                self.in_flight = None;
                let e = Error::new(ErrorKind::SessionEnded, "the stored session has expired and has no refresh token");
                SendStep::Ended(self.end(e))
            }
        }
    }

    /// The token endpoint answered the in-flight refresh.
    pub fn on_token_response(&mut self, answer: TokenAnswer, now_ms: i64, jitter: f64) -> RefreshOutcome {
        let Some(flight) = self.in_flight.take() else {
            return self.not_in_flight();
        };
        if flight.generation != self.generation {
            return self.superseded();
        }
        let oauth_error = answer.oauth_error().map(str::to_owned);
        let status = answer.status;
        if answer.is_success() {
            return match answer.reply {
                TokenReply::Tokens(resp) => self.install(resp, answer.claims.as_ref(), flight, now_ms),
                _ => self.fail(
                    token_endpoint_error(ErrorKind::InvalidResponse, "the token endpoint answered without tokens", Some(status), None),
                    now_ms,
                    None,
                ),
            };
        }
        match classify(status, oauth_error.as_deref()) {
            ErrorClass::GrantInvalid => {
                if self.tokens.as_ref().and_then(|t| t.refresh_token.as_ref()) != Some(&flight.refresh_token) {
                    return self.superseded();
                }
                self.unusable_refresh = Some(flight.refresh_token);
                let e = token_endpoint_error(ErrorKind::SessionEnded, "the session ended: the refresh token was rejected", Some(status), oauth_error.as_deref());
                RefreshOutcome::Ended(self.end(e))
            }
            ErrorClass::Transient => {
                let e = token_endpoint_error(ErrorKind::Http, "the token endpoint is unavailable", Some(status), oauth_error.as_deref());
                self.retry_or_fail(flight, e, answer.retry_after_ms, now_ms, jitter)
            }
            ErrorClass::Permanent => {
                let e = token_endpoint_error(ErrorKind::Http, "the token endpoint refused the refresh", Some(status), oauth_error.as_deref());
                self.fail(e, now_ms, answer.retry_after_ms)
            }
        }
    }

    /// The refresh request failed without an answer. `maybe_sent` is false
    /// only when the binding knows the request never reached the server
    /// (e.g. connection refused); then the token is re-sent after a backoff.
    pub fn on_network_error(&mut self, maybe_sent: bool, now_ms: i64, jitter: f64) -> RefreshOutcome {
        let cause = Error::new(ErrorKind::Network, "the token endpoint could not be reached");
        self.on_transport_failure(cause, maybe_sent, now_ms, jitter)
    }

    /// The refresh request timed out (the request may have arrived).
    pub fn on_timeout(&mut self, now_ms: i64, jitter: f64) -> RefreshOutcome {
        let cause = Error::new(ErrorKind::Timeout, "the token request timed out");
        self.on_transport_failure(cause, true, now_ms, jitter)
    }

    /// A session given by the application, the environment or a login.
    pub fn set_session(&mut self, tokens: TokenSet) {
        self.tokens = Some(tokens);
        self.generation += 1;
        self.reset_failures();
        self.ended = None;
        self.rejected_generation = None;
    }

    /// Adopts `stored` if it is newer than the current tokens (another tab
    /// refreshed). Returns whether it was adopted; then persist nothing (it
    /// came from storage) and resolve any waiters with the current token.
    pub fn adopt(&mut self, stored: TokenSet, now_ms: i64) -> bool {
        let newer = match &self.tokens {
            Some(cur) => {
                stored.access_token != cur.access_token
                    && (stored.received_at_ms, stored.expires_at_ms) > (cur.received_at_ms, cur.expires_at_ms)
            }
            None => !stored.is_expired(now_ms) || stored.refresh_token.is_some(),
        };
        let dead = stored.refresh_token.is_some() && stored.refresh_token == self.unusable_refresh;
        if !newer || dead {
            return false;
        }
        self.set_session(stored);
        true
    }

    /// Logout: forgets everything. Returns the refresh token to revoke.
    /// A refresh in flight is discarded when it answers.
    pub fn clear(&mut self) -> Option<RefreshToken> {
        let refresh = self.tokens.take().and_then(|t| t.refresh_token);
        self.generation += 1;
        self.reset_failures();
        self.ended = None;
        refresh
    }

    /// Ends the session for a reason from elsewhere (logout in another tab).
    pub fn end(&mut self, reason: Error) -> Error {
        self.tokens = None;
        self.generation += 1;
        self.in_flight = None;
        self.ended = Some(reason.clone());
        reason
    }

    fn on_transport_failure(&mut self, cause: Error, maybe_sent: bool, now_ms: i64, jitter: f64) -> RefreshOutcome {
        let Some(flight) = self.in_flight.take() else {
            return self.not_in_flight();
        };
        if flight.generation != self.generation {
            return self.superseded();
        }
        if maybe_sent && self.rotation != Rotation::Static {
            self.unusable_refresh = Some(flight.refresh_token);
            let e = Error::new(
                ErrorKind::RefreshFailed,
                "the refresh outcome is unknown; the refresh token is not re-sent because the server may have rotated it",
            )
            .with_cause(cause);
            return self.fail(e, now_ms, None);
        }
        self.retry_or_fail(flight, cause, None, now_ms, jitter)
    }

    fn install(&mut self, resp: super::token::TokenResponse, claims: Option<&super::token::JwtClaims>, flight: InFlight, now_ms: i64) -> RefreshOutcome {
        let rotated = resp.refresh_token.as_ref().is_some_and(|r| *r != flight.refresh_token);
        match TokenSet::from_response(resp, claims, Some(flight.refresh_token), now_ms) {
            Ok(ts) => {
                self.rotation = match (rotated, self.rotation) {
                    (true, _) | (false, Rotation::Rotating) => Rotation::Rotating,
                    (false, _) => Rotation::Static,
                };
                self.set_session(ts);
                RefreshOutcome::Done(self.ready())
            }
            Err(e) => self.fail(e, now_ms, None),
        }
    }

    fn retry_or_fail(&mut self, mut flight: InFlight, cause: Error, retry_after_ms: Option<i64>, now_ms: i64, jitter: f64) -> RefreshOutcome {
        let delay = backoff_ms(flight.attempt, BACKOFF_BASE_MS, BACKOFF_MAX_MS, jitter).max(retry_after_ms.unwrap_or(0));
        let within_budget = now_ms + delay <= flight.started_at_ms + self.policy.timeout_ms;
        if flight.attempt >= self.policy.max_retries || !within_budget {
            let e = Error::new(ErrorKind::RefreshFailed, "the refresh failed after retries").with_cause(cause);
            return self.fail(e, now_ms, retry_after_ms);
        }
        flight.attempt += 1;
        self.in_flight = Some(flight);
        RefreshOutcome::RetryIn { ms: delay }
    }

    fn fail(&mut self, error: Error, now_ms: i64, retry_after_ms: Option<i64>) -> RefreshOutcome {
        let error = if error.kind() == ErrorKind::RefreshFailed {
            error
        } else {
            Error::new(ErrorKind::RefreshFailed, "the refresh failed").with_cause(error)
        };
        self.in_flight = None;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let cooldown = self.policy.cooldown_after(self.consecutive_failures).max(retry_after_ms.unwrap_or(0));
        self.cooldown_until_ms = now_ms.saturating_add(cooldown);
        self.last_failure = Some(error.clone());
        let still_valid = self.tokens.as_ref().is_some_and(|t| !t.is_expired(now_ms))
            && self.rejected_generation != Some(self.generation);
        RefreshOutcome::Failed { error, still_valid: still_valid.then(|| self.ready()) }
    }

    /// The session changed while the refresh ran; its result is dropped.
    fn superseded(&mut self) -> RefreshOutcome {
        match self.tokens {
            Some(_) => RefreshOutcome::Done(self.ready()),
            None => RefreshOutcome::Failed { error: self.no_session_error(), still_valid: None },
        }
    }

    fn not_in_flight(&self) -> RefreshOutcome {
        let e = Error::new(ErrorKind::InvalidResponse, "a token response arrived with no refresh in flight");
        RefreshOutcome::Failed { error: e, still_valid: None }
    }

    fn reset_failures(&mut self) {
        self.cooldown_until_ms = 0;
        self.consecutive_failures = 0;
        self.last_failure = None;
    }

    fn ready(&self) -> Ready {
        let token = self.tokens.as_ref().map(|t| t.access_token.clone()).unwrap_or_else(|| AccessToken::new(""));
        Ready { token, generation: self.generation }
    }

    fn no_session_error(&self) -> Error {
        self.ended
            .clone()
            .unwrap_or_else(|| Error::new(ErrorKind::NotLoggedIn, "not logged in: start a device login or set a session"))
    }

    fn cooldown_error(&self) -> Error {
        let e = Error::new(ErrorKind::RefreshFailed, "the access token expired and the last refresh failed; retrying after a cooldown");
        match &self.last_failure {
            Some(cause) => e.with_cause(cause.clone()),
            None => e,
        }
    }
}
