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
//!       Ended(e) => as TokenStep::Ended,
//!       Send{refresh_token} => loop {
//!         outcome = session.on_token_response(answer, now, Math.random())
//!                   | on_network_error(maybe_sent, ..) | on_timeout(..);
//!         RetryIn{ms} => sleep ms, before_send(storage.read(), now) again
//!                        (it may skip, or name a newer token), send; else break
//!       }
//!       (dispose/abort before an answer => session.abandon_refresh(maybe_sent))
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
/// A refresh still holding the lock this long after its `timeoutMs` budget
/// ended was lost (a dropped task, a bug): the lock is released on the next
/// call, so it can never stay stuck.
const LOCK_GRACE_MS: i64 = 5_000;

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

    /// Whether a refresh token remains that may be sent: one spent by a
    /// refresh whose outcome is unknown does not count.
    pub fn can_refresh(&self) -> bool {
        self.usable_refresh_token().is_some()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True while a refresh holds the lock.
    pub fn is_refreshing(&self) -> bool {
        self.in_flight.is_some()
    }

    /// How long the next token request of the in-flight refresh may take
    /// before the binding aborts it and calls [`Session::on_timeout`]: what
    /// is left of the refresh's `timeoutMs` budget. `None` when no refresh runs.
    pub fn attempt_timeout_ms(&self, now_ms: i64) -> Option<i64> {
        let f = self.in_flight.as_ref()?;
        Some((f.started_at_ms + self.policy.timeout_ms - now_ms).max(0))
    }

    /// When a proactive refresh becomes due, for an optional timer. A timer
    /// is only an optimisation: `get_token` checks the clock on every call.
    pub fn refresh_due_at_ms(&self) -> Option<i64> {
        let due = self.tokens.as_ref()?.refresh_due_at_ms(self.policy.leeway_secs)?;
        Some(due.max(self.cooldown_until_ms))
    }

    /// Decides how a caller of `getAccessToken()` gets a token at `now_ms`.
    pub fn get_token(&mut self, now_ms: i64) -> TokenStep {
        self.release_lost_lock(now_ms);
        let Some(ts) = &self.tokens else {
            return TokenStep::Fail(self.no_session_error());
        };
        let rejected = self.rejected_generation == Some(self.generation);
        let usable = !rejected && !ts.is_expired(now_ms);
        if self.in_flight.is_some() {
            // Even a proactive refresh is joined, so concurrent callers all
            // get the same token; if it fails, `Failed::still_valid` still
            // hands them the valid one.
            return TokenStep::JoinInFlight;
        }
        if usable && !ts.needs_refresh(now_ms, self.policy.leeway_secs) {
            return TokenStep::Ready(self.ready());
        }
        let Some(refresh_token) = self.usable_refresh_token() else {
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
        self.release_lost_lock(now_ms);
        if self.tokens.is_none() {
            return TokenStep::Fail(self.no_session_error());
        }
        if stale_generation == self.generation {
            if self.in_flight.is_some() {
                return TokenStep::JoinInFlight;
            }
            if self.usable_refresh_token().is_none() {
                // Nothing to refresh with: this call is unauthorized, but the
                // token may still be good elsewhere, so the session stays.
                let e = Error::new(ErrorKind::Unauthorized, "the server rejected the access token and there is no refresh token to renew it");
                return TokenStep::Fail(e);
            }
            self.rejected_generation = Some(self.generation);
        }
        self.get_token(now_ms)
    }

    /// Called by the lock holder right before sending, with what storage
    /// holds now (`None` if nothing). Newer stored tokens are adopted. If the
    /// session changed since `StartRefresh` (adopted here, or earlier through
    /// [`Session::adopt`] on a signal from another tab), the refresh is
    /// decided again: skipped if the new tokens are fresh, else sent with
    /// the newest refresh token, never with one another tab already spent.
    /// May be called repeatedly while waiting for a cross-tab lock.
    pub fn before_send(&mut self, stored: Option<TokenSet>, now_ms: i64) -> SendStep {
        if let Some(s) = stored {
            let _ = self.adopt(s, now_ms);
        }
        let Some(flight) = self.in_flight.as_ref() else {
            // Not holding the lock (binding misuse): never send.
            return match self.tokens {
                Some(_) => SendStep::Skip(self.ready()),
                None => SendStep::Ended(self.no_session_error()),
            };
        };
        if flight.generation == self.generation {
            return SendStep::Send { refresh_token: flight.refresh_token.clone() };
        }
        let Some(ts) = self.tokens.as_ref() else {
            self.in_flight = None; // ended meanwhile (`end` already ran)
            return SendStep::Ended(self.no_session_error());
        };
        let (due, expired) = (ts.needs_refresh(now_ms, self.policy.leeway_secs), ts.is_expired(now_ms));
        match self.usable_refresh_token() {
            Some(rt) if due || expired => {
                let generation = self.generation;
                if let Some(f) = self.in_flight.as_mut() {
                    f.refresh_token = rt.clone();
                    f.generation = generation;
                }
                SendStep::Send { refresh_token: rt }
            }
            _ if !expired => {
                self.in_flight = None;
                SendStep::Skip(self.ready())
            }
            _ => {
                self.in_flight = None; // nothing will be sent
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

    /// The binding gives up the in-flight refresh without an answer (the
    /// client was disposed, the caller aborted). Releases the lock; if the
    /// request may have reached the server, its refresh token is treated as
    /// spent (see the module docs). Not a server failure: no cooldown.
    pub fn abandon_refresh(&mut self, maybe_sent: bool) {
        if let Some(flight) = self.in_flight.take() {
            self.spend_if_unknown(flight, maybe_sent);
        }
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
    /// A refresh in flight keeps the lock until it answers (then its result
    /// is dropped and its waiters get this reason), so a late answer can
    /// never be mistaken for the answer to a newer refresh.
    pub fn end(&mut self, reason: Error) -> Error {
        self.tokens = None;
        self.generation += 1;
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
        if self.spend_if_unknown(flight.clone(), maybe_sent) {
            let e = Error::new(
                ErrorKind::RefreshFailed,
                "the refresh outcome is unknown; the refresh token is not re-sent because the server may have rotated it",
            )
            .with_cause(cause);
            return self.fail(e, now_ms, None);
        }
        self.retry_or_fail(flight, cause, None, now_ms, jitter)
    }

    /// Marks the flight's refresh token spent when the server may have
    /// consumed it and rotation is possible. Returns whether it did.
    fn spend_if_unknown(&mut self, flight: InFlight, maybe_sent: bool) -> bool {
        let spent = maybe_sent && self.rotation != Rotation::Static;
        if spent {
            self.unusable_refresh = Some(flight.refresh_token);
        }
        spent
    }

    fn release_lost_lock(&mut self, now_ms: i64) {
        let Some(flight) = &self.in_flight else { return };
        if now_ms <= flight.started_at_ms + self.policy.timeout_ms + LOCK_GRACE_MS {
            return;
        }
        if let Some(flight) = self.in_flight.take() {
            self.spend_if_unknown(flight, true);
            let cause = Error::new(ErrorKind::Timeout, "the refresh did not finish within timeoutMs");
            let e = Error::new(ErrorKind::RefreshFailed, "a lost refresh released its lock").with_cause(cause);
            let _ = self.fail(e, now_ms, None);
        }
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

    fn usable_refresh_token(&self) -> Option<RefreshToken> {
        let rt = self.tokens.as_ref()?.refresh_token.as_ref()?;
        (self.unusable_refresh.as_ref() != Some(rt)).then(|| rt.clone())
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::client::oauth::OAuthErrorBody;
    use crate::client::token::{JwtClaims, TokenResponse};

    pub(crate) const T0: i64 = 1_700_000_000_000;

    fn tokens(access: &str, refresh: Option<&str>, lifetime_s: i64, at: i64) -> TokenSet {
        let resp = TokenResponse {
            access_token: AccessToken::new(access),
            token_type: Some("Bearer".into()),
            expires_in: Some(lifetime_s),
            refresh_token: refresh.map(RefreshToken::new),
            scope: None,
        };
        TokenSet::from_response(resp, None, None, at).unwrap()
    }

    pub(crate) fn session_with(access: &str, refresh: &str, lifetime_s: i64) -> Session {
        let mut s = Session::new(RefreshPolicy::default());
        s.set_session(tokens(access, Some(refresh), lifetime_s, T0));
        s
    }

    fn ok(access: &str, refresh: Option<&str>, expires_in: i64) -> TokenAnswer {
        TokenAnswer::new(
            200,
            TokenReply::Tokens(TokenResponse {
                access_token: AccessToken::new(access),
                token_type: Some("Bearer".into()),
                expires_in: Some(expires_in),
                refresh_token: refresh.map(RefreshToken::new),
                scope: None,
            }),
        )
    }

    fn oauth_err(status: u16, code: &str) -> TokenAnswer {
        TokenAnswer::new(status, TokenReply::Error(OAuthErrorBody { error: code.into(), error_description: None }))
    }

    fn status(status: u16, retry_after_ms: Option<i64>) -> TokenAnswer {
        TokenAnswer { retry_after_ms, ..TokenAnswer::new(status, TokenReply::Unparseable) }
    }

    pub(crate) fn start(s: &mut Session, now: i64) -> RefreshToken {
        match s.get_token(now) {
            TokenStep::StartRefresh { refresh_token } => refresh_token,
            other => panic!("expected StartRefresh, got {other:?}"),
        }
    }

    fn ready_token(step: TokenStep) -> String {
        match step {
            TokenStep::Ready(r) | TokenStep::ServeWhileCoolingDown(r) => r.token.secret().to_owned(),
            other => panic!("expected a token, got {other:?}"),
        }
    }

    #[test]
    fn fresh_token_is_served_without_refresh() {
        let mut s = session_with("a1", "r1", 300);
        match s.get_token(T0 + 1_000) {
            TokenStep::Ready(r) => {
                assert_eq!(r.token.secret(), "a1");
                assert_eq!(r.generation, s.generation());
            }
            other => panic!("{other:?}"),
        }
        assert!(!s.is_refreshing());
    }

    #[test]
    fn not_logged_in_fails_with_its_code() {
        let mut s = Session::new(RefreshPolicy::default());
        match s.get_token(T0) {
            TokenStep::Fail(e) => assert_eq!(e.code(), "not_logged_in"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn proactive_refresh_starts_inside_the_leeway_and_callers_join_it() {
        let mut s = session_with("a1", "r1", 300);
        assert_eq!(ready_token(s.get_token(T0 + 239_999)), "a1");
        assert_eq!(start(&mut s, T0 + 240_000).secret(), "r1");
        // Others join, so all callers end up with the same token...
        assert_eq!(s.get_token(T0 + 240_001), TokenStep::JoinInFlight);
        // ...and if the refresh fails, the still-valid one.
        let outcome = s.on_token_response(status(503, Some(60_000)), T0 + 240_010, 0.0);
        let RefreshOutcome::Failed { still_valid, .. } = outcome else { panic!("{outcome:?}") };
        assert_eq!(still_valid.unwrap().token.secret(), "a1");
    }

    #[test]
    fn five_second_token_is_not_refreshed_on_every_call() {
        let mut s = session_with("a1", "r1", 5);
        for t in [0, 1_000, 2_000, 2_499] {
            assert_eq!(ready_token(s.get_token(T0 + t)), "a1", "at +{t} ms");
        }
        assert_eq!(start(&mut s, T0 + 2_500).secret(), "r1");
    }

    #[test]
    fn a_zero_lifetime_from_the_provider_does_not_refresh_on_every_call() {
        let mut s = session_with("a1", "r1", 300);
        assert_eq!(start(&mut s, T0 + 300_000).secret(), "r1");
        let outcome = s.on_token_response(ok("a2", Some("r2"), 0), T0 + 300_050, 0.0);
        assert!(matches!(outcome, RefreshOutcome::Done(_)), "{outcome:?}");
        for t in [300_051, 301_000, 900_000] {
            assert_eq!(ready_token(s.get_token(T0 + t)), "a2", "at +{t} ms");
        }
    }

    #[test]
    fn thousand_callers_at_expiry_share_exactly_one_refresh() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let steps: Vec<TokenStep> = (0..1000).map(|_| s.get_token(now)).collect();
        let starts = steps.iter().filter(|st| matches!(st, TokenStep::StartRefresh { .. })).count();
        let joins = steps.iter().filter(|st| matches!(st, TokenStep::JoinInFlight)).count();
        assert_eq!((starts, joins), (1, 999));
        assert!(matches!(steps[0], TokenStep::StartRefresh { .. }));
        let outcome = s.on_token_response(ok("a2", Some("r2"), 300), now + 50, 0.5);
        let RefreshOutcome::Done(ready) = outcome else { panic!("{outcome:?}") };
        assert_eq!(ready.token.secret(), "a2");
        // Everyone after sees the same new token and no further refresh.
        for _ in 0..1000 {
            assert_eq!(ready_token(s.get_token(now + 60)), "a2");
        }
        assert_eq!(s.tokens().unwrap().refresh_token.as_ref().unwrap().secret(), "r2");
    }

    #[test]
    fn refresh_without_new_refresh_token_keeps_the_old_one() {
        let mut s = session_with("a1", "r1", 300);
        let _ = start(&mut s, T0 + 300_000);
        let _ = s.on_token_response(ok("a2", None, 300), T0 + 300_000, 0.0);
        assert_eq!(s.tokens().unwrap().refresh_token.as_ref().unwrap().secret(), "r1");
    }

    #[test]
    fn jwt_exp_is_used_when_the_refresh_response_lacks_expires_in() {
        let mut s = session_with("a1", "r1", 300);
        let _ = start(&mut s, T0 + 300_000);
        let mut answer = ok("a2", Some("r2"), 0);
        if let TokenReply::Tokens(t) = &mut answer.reply {
            t.expires_in = None;
        }
        answer.claims = Some(JwtClaims { exp: Some(T0 / 1000 + 900), ..JwtClaims::default() });
        let _ = s.on_token_response(answer, T0 + 300_000, 0.0);
        assert_eq!(s.tokens().unwrap().expires_at_ms, Some(T0 + 900_000));
    }

    #[test]
    fn burst_of_401s_for_one_stale_token_causes_one_refresh() {
        let mut s = session_with("a1", "r1", 300);
        let g = s.generation();
        let steps: Vec<TokenStep> = (0..100).map(|_| s.force_refresh(g, T0 + 10_000)).collect();
        assert!(matches!(steps[0], TokenStep::StartRefresh { .. }));
        assert!(steps[1..].iter().all(|st| matches!(st, TokenStep::JoinInFlight)));
        // The rejected token is not handed out meanwhile.
        assert!(matches!(s.get_token(T0 + 10_001), TokenStep::JoinInFlight));
        let _ = s.on_token_response(ok("a2", Some("r2"), 300), T0 + 10_100, 0.0);
        // Late 401s for the old generation just use the new token.
        assert_eq!(ready_token(s.force_refresh(g, T0 + 10_200)), "a2");
        assert!(!s.is_refreshing());
    }

    #[test]
    fn stale_generation_401_retries_with_current_token_without_refresh() {
        let mut s = session_with("a1", "r1", 300);
        let old = s.generation();
        s.set_session(tokens("a2", Some("r2"), 300, T0 + 1_000));
        assert_eq!(ready_token(s.force_refresh(old, T0 + 2_000)), "a2");
        assert!(!s.is_refreshing());
    }

    #[test]
    fn rotating_refresh_tokens_are_never_sent_twice() {
        let mut s = session_with("a0", "r0", 60);
        let mut sent = Vec::new();
        let mut now = T0;
        for i in 1..=50 {
            now += 61_000;
            let rt = start(&mut s, now);
            sent.push(rt.secret().to_owned());
            let answer = ok(&format!("a{i}"), Some(&format!("r{i}")), 60);
            assert!(matches!(s.on_token_response(answer, now, 0.3), RefreshOutcome::Done(_)));
        }
        let mut unique = sent.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), sent.len());
    }

    #[test]
    fn unknown_outcome_after_send_never_resends_a_rotating_token() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 241_000; // in the leeway, token still valid
        let _ = start(&mut s, now);
        let outcome = s.on_timeout(now + 30_000, 0.5);
        let RefreshOutcome::Failed { error, still_valid } = outcome else { panic!("{outcome:?}") };
        assert_eq!(error.code(), "refresh_failed");
        assert_eq!(error.cause().unwrap().code(), "timeout");
        assert_eq!(still_valid.unwrap().token.secret(), "a1");
        // Until expiry the valid token is served, long after the cooldown,
        // and r1 is never offered again.
        for t in (now + 30_001..T0 + 300_000).step_by(1_000) {
            assert_eq!(ready_token(s.get_token(t)), "a1");
        }
        assert!(matches!(s.get_token(T0 + 300_000), TokenStep::Ended(e) if e.code() == "session_ended"));
        assert!(matches!(s.get_token(T0 + 300_001), TokenStep::Fail(e) if e.code() == "session_ended"));
    }

    #[test]
    fn unknown_outcome_with_a_non_rotating_provider_retries() {
        let mut s = session_with("a1", "r1", 300);
        let _ = start(&mut s, T0 + 300_000);
        let _ = s.on_token_response(ok("a2", None, 300), T0 + 300_000, 0.0); // no rotation seen
        let _ = start(&mut s, T0 + 600_000);
        assert!(matches!(s.on_network_error(true, T0 + 600_100, 0.0), RefreshOutcome::RetryIn { .. }));
    }

    #[test]
    fn network_error_before_send_retries_with_bounded_exponential_backoff() {
        let mut s = session_with("a1", "r1", 300);
        let mut now = T0 + 300_000;
        let _ = start(&mut s, now);
        assert_eq!(s.attempt_timeout_ms(now + 1_000), Some(59_000));
        let mut delays = Vec::new();
        loop {
            match s.on_network_error(false, now, 0.0) {
                RefreshOutcome::RetryIn { ms } => {
                    delays.push(ms);
                    now += ms;
                }
                RefreshOutcome::Failed { error, still_valid } => {
                    assert_eq!(error.code(), "refresh_failed");
                    assert_eq!(error.cause().unwrap().code(), "network");
                    assert!(still_valid.is_none(), "the token had expired");
                    break;
                }
                other => panic!("{other:?}"),
            }
            assert!(delays.len() <= 10, "unbounded retries");
        }
        assert_eq!(delays, vec![250, 500, 1_000]); // 3 retries = 4 requests
        assert_eq!(s.attempt_timeout_ms(now), None);
        assert!(!s.is_refreshing());
    }

    #[test]
    fn five_hundred_and_429_retry_honouring_retry_after() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        assert_eq!(s.on_token_response(status(429, Some(7_000)), now, 0.0), RefreshOutcome::RetryIn { ms: 7_000 });
        assert_eq!(s.on_token_response(status(503, None), now + 7_000, 0.0), RefreshOutcome::RetryIn { ms: 500 });
        assert!(matches!(s.on_token_response(ok("a2", Some("r2"), 300), now + 7_600, 0.0), RefreshOutcome::Done(_)));
    }

    #[test]
    fn retry_after_beyond_the_budget_fails_and_sets_a_cooldown_at_least_as_long() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 250_000;
        let _ = start(&mut s, now);
        let outcome = s.on_token_response(status(429, Some(120_000)), now, 0.0);
        let RefreshOutcome::Failed { error, still_valid } = outcome else { panic!("{outcome:?}") };
        assert_eq!(error.code(), "refresh_failed");
        assert!(error.cause().unwrap().to_string().contains("429"));
        assert_eq!(still_valid.unwrap().token.secret(), "a1");
        assert!(matches!(s.get_token(now + 1_000), TokenStep::ServeWhileCoolingDown(_)));
        // Token expired, cooldown still running: fail fast, no request.
        assert!(matches!(s.get_token(now + 60_000), TokenStep::Fail(e) if e.code() == "refresh_failed"));
        assert!(matches!(s.get_token(now + 120_000), TokenStep::StartRefresh { .. }));
    }

    #[test]
    fn total_retry_time_stays_within_the_timeout() {
        let policy = RefreshPolicy { max_retries: 10, timeout_ms: 5_000, ..RefreshPolicy::default() };
        let mut s = Session::new(policy);
        s.set_session(tokens("a1", Some("r1"), 300, T0));
        let start_at = T0 + 300_000;
        let mut now = start_at;
        let _ = start(&mut s, now);
        let mut requests = 1;
        while let RefreshOutcome::RetryIn { ms } = s.on_token_response(status(500, None), now, 0.99) {
            now += ms;
            requests += 1;
        }
        assert!(now - start_at <= 5_000, "waited {} ms", now - start_at);
        assert!(requests < 11);
    }

    #[test]
    fn failing_endpoint_is_not_hammered_for_an_hour() {
        let mut s = session_with("a1", "r1", 300);
        let mut requests = 0;
        let mut now = T0 + 300_000;
        let end = now + 3_600_000;
        while now < end {
            // A caller every 100 ms, all of them wanting a token.
            if let TokenStep::StartRefresh { .. } = s.get_token(now) {
                loop {
                    requests += 1;
                    match s.on_token_response(status(429, None), now, 0.5) {
                        RefreshOutcome::RetryIn { ms } => now += ms,
                        _ => break,
                    }
                }
            }
            now += 100;
        }
        // 4 requests per refresh, one refresh per ≤ 60 s cooldown.
        assert!(requests <= 4 * 61, "{requests} token requests in an hour");
        assert!(requests >= 4 * 50, "{requests}: cooldown too long");
    }

    #[test]
    fn cooldown_doubles_and_resets_after_success() {
        let p = RefreshPolicy::default();
        assert_eq!([1, 2, 3, 4, 9].map(|n| p.cooldown_after(n)), [10_000, 20_000, 40_000, 60_000, 60_000]);
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let _ = s.on_token_response(oauth_err(400, "invalid_client"), now, 0.0);
        assert!(matches!(s.get_token(now + 9_999), TokenStep::Fail(_)));
        let _ = start(&mut s, now + 10_000);
        let _ = s.on_token_response(ok("a2", Some("r2"), 300), now + 10_000, 0.0);
        assert_eq!(s.refresh_due_at_ms(), Some(now + 10_000 + 240_000));
    }

    #[test]
    fn permanent_errors_fail_without_retry() {
        for answer in [oauth_err(400, "invalid_client"), oauth_err(400, "invalid_scope"), status(400, None), status(200, None)] {
            let mut s = session_with("a1", "r1", 300);
            let _ = start(&mut s, T0 + 300_000);
            let outcome = s.on_token_response(answer.clone(), T0 + 300_000, 0.0);
            assert!(matches!(outcome, RefreshOutcome::Failed { .. }), "{answer:?} -> {outcome:?}");
            assert!(s.tokens().is_some(), "the session is not ended");
        }
    }

    #[test]
    fn invalid_grant_ends_the_session_at_once() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 250_000;
        let _ = start(&mut s, now);
        let outcome = s.on_token_response(oauth_err(400, "invalid_grant"), now, 0.0);
        let RefreshOutcome::Ended(e) = outcome else { panic!("{outcome:?}") };
        assert_eq!(e.code(), "session_ended");
        assert_eq!(e.context().unwrap().oauth_error.as_deref(), Some("invalid_grant"));
        assert!(s.tokens().is_none());
        assert!(!s.is_refreshing());
        // No retry, no refresh: every later call fails the same way.
        assert!(matches!(s.get_token(now + 1), TokenStep::Fail(e) if e.code() == "session_ended"));
        // Our own stale copy in storage is not adopted back.
        assert!(!s.adopt(tokens("a1", Some("r1"), 300, T0), now + 2));
        // A new login starts over.
        s.set_session(tokens("b1", Some("q1"), 300, now + 3));
        assert_eq!(ready_token(s.get_token(now + 4)), "b1");
    }

    #[test]
    fn expired_token_without_refresh_token_ends_the_session() {
        let mut s = Session::new(RefreshPolicy::default());
        s.set_session(tokens("a1", None, 300, T0));
        assert_eq!(ready_token(s.get_token(T0 + 299_999)), "a1");
        assert!(matches!(s.get_token(T0 + 300_000), TokenStep::Ended(e) if e.code() == "session_ended"));
    }

    #[test]
    fn a_401_without_refresh_token_is_unauthorized_but_keeps_the_session() {
        let mut s = Session::new(RefreshPolicy::default());
        s.set_session(tokens("a1", None, 300, T0));
        let g = s.generation();
        assert!(matches!(s.force_refresh(g, T0 + 1_000), TokenStep::Fail(e) if e.code() == "unauthorized"));
        assert_eq!(ready_token(s.get_token(T0 + 2_000)), "a1");
        assert!(s.tokens().is_some());
    }

    #[test]
    fn unknown_expiry_is_refreshed_only_after_a_401() {
        let mut s = Session::new(RefreshPolicy::default());
        s.set_session(TokenSet::explicit(AccessToken::new("a1"), Some(RefreshToken::new("r1")), None, T0));
        assert_eq!(ready_token(s.get_token(T0 + 86_400_000)), "a1");
        let g = s.generation();
        assert!(matches!(s.force_refresh(g, T0 + 86_400_000), TokenStep::StartRefresh { .. }));
    }

    #[test]
    fn before_send_adopts_newer_tokens_from_another_tab_and_skips() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let other_tab = tokens("a2", Some("r2"), 300, now - 100);
        let step = s.before_send(Some(other_tab), now);
        let SendStep::Skip(r) = step else { panic!("{step:?}") };
        assert_eq!(r.token.secret(), "a2");
        assert!(!s.is_refreshing());
        assert_eq!(ready_token(s.get_token(now + 1)), "a2");
    }

    #[test]
    fn tokens_adopted_while_waiting_for_the_lock_are_not_refreshed_with_the_spent_token() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        // A signal from the tab that held the lock: it spent r1 and stored r2.
        assert!(s.adopt(tokens("a2", Some("r2"), 300, now + 5), now + 5));
        // Our lock is granted; storage reads the same as what we adopted.
        let own = s.tokens().cloned();
        let step = s.before_send(own, now + 6);
        assert!(matches!(&step, SendStep::Skip(r) if r.token.secret() == "a2"), "{step:?}");
        assert!(!s.is_refreshing());
    }

    #[test]
    fn adopted_tokens_that_are_due_too_are_refreshed_with_the_newest_refresh_token() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        assert!(s.adopt(tokens("a2", Some("r2"), 60, T0 + 1_000), now)); // newer, but expired too
        assert_eq!(s.before_send(None, now), SendStep::Send { refresh_token: RefreshToken::new("r2") });
        // Idempotent while waiting for a cross-tab lock.
        assert_eq!(s.before_send(None, now + 100), SendStep::Send { refresh_token: RefreshToken::new("r2") });
        let outcome = s.on_token_response(ok("a3", Some("r3"), 300), now + 200, 0.0);
        assert!(matches!(&outcome, RefreshOutcome::Done(r) if r.token.secret() == "a3"), "{outcome:?}");
    }

    #[test]
    fn before_send_after_the_session_ended_elsewhere_sends_nothing() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let _ = s.end(Error::new(ErrorKind::SessionEnded, "logged out in another tab"));
        assert!(matches!(s.before_send(None, now), SendStep::Ended(e) if e.to_string() == "logged out in another tab"));
        assert!(!s.is_refreshing());
    }

    #[test]
    fn before_send_with_own_or_older_storage_sends_the_held_token() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let own = s.tokens().cloned();
        assert_eq!(s.before_send(own, now), SendStep::Send { refresh_token: RefreshToken::new("r1") });
        assert_eq!(s.before_send(None, now), SendStep::Send { refresh_token: RefreshToken::new("r1") });
        let older = tokens("a0", Some("r0"), 300, T0 - 1_000);
        assert_eq!(s.before_send(Some(older), now), SendStep::Send { refresh_token: RefreshToken::new("r1") });
    }

    #[test]
    fn before_send_uses_the_newer_refresh_token_if_stored_tokens_are_due_too() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let other_tab_but_old = tokens("a2", Some("r2"), 60, T0 + 1_000); // expired too
        assert_eq!(s.before_send(Some(other_tab_but_old), now), SendStep::Send { refresh_token: RefreshToken::new("r2") });
        let outcome = s.on_token_response(ok("a3", Some("r3"), 300), now, 0.0);
        assert!(matches!(outcome, RefreshOutcome::Done(r) if r.token.secret() == "a3"));
    }

    #[test]
    fn before_send_ends_when_the_newer_stored_session_is_expired_and_has_no_refresh_token() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let step = s.before_send(Some(tokens("a2", None, 10, T0 + 1_000)), now);
        assert!(matches!(step, SendStep::Ended(e) if e.code() == "session_ended"));
        assert!(!s.is_refreshing() && s.tokens().is_none());
    }

    #[test]
    fn invalid_grant_after_another_tab_rotated_does_not_end_the_session() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        assert!(matches!(s.before_send(None, now), SendStep::Send { .. }));
        // While our request is in flight, a storage event brings the other tab's tokens.
        assert!(s.adopt(tokens("a2", Some("r2"), 300, now + 10), now + 10));
        let outcome = s.on_token_response(oauth_err(400, "invalid_grant"), now + 20, 0.0);
        assert!(matches!(&outcome, RefreshOutcome::Done(r) if r.token.secret() == "a2"), "{outcome:?}");
        assert_eq!(ready_token(s.get_token(now + 30)), "a2");
    }

    #[test]
    fn session_set_during_a_refresh_wins_over_its_result() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        s.set_session(tokens("b1", Some("q1"), 300, now + 1));
        let outcome = s.on_token_response(ok("a2", Some("r2"), 300), now + 2, 0.0);
        assert!(matches!(outcome, RefreshOutcome::Done(r) if r.token.secret() == "b1"));
        assert_eq!(s.tokens().unwrap().access_token.secret(), "b1");
    }

    #[test]
    fn clear_returns_the_refresh_token_and_logs_out() {
        let mut s = session_with("a1", "r1", 300);
        assert_eq!(s.clear().unwrap().secret(), "r1");
        assert!(matches!(s.get_token(T0), TokenStep::Fail(e) if e.code() == "not_logged_in"));
        assert!(s.clear().is_none());
    }

    #[test]
    fn end_from_another_tab_fails_later_calls_with_the_reason() {
        let mut s = session_with("a1", "r1", 300);
        let _ = s.end(Error::new(ErrorKind::SessionEnded, "logged out in another tab"));
        assert!(matches!(s.get_token(T0), TokenStep::Fail(e) if e.to_string() == "logged out in another tab"));
    }

    #[test]
    fn a_late_answer_after_logout_elsewhere_and_a_new_login_is_not_taken_for_the_new_refresh() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let _ = s.end(Error::new(ErrorKind::SessionEnded, "logged out in another tab"));
        s.set_session(tokens("b1", Some("q1"), 300, now + 1));
        // The old refresh still holds the lock: new callers join it...
        assert_eq!(s.get_token(now + 2), TokenStep::JoinInFlight);
        // ...and its answer is dropped, resolving them with the new session.
        let outcome = s.on_token_response(ok("a2", Some("r2"), 300), now + 3, 0.0);
        assert!(matches!(&outcome, RefreshOutcome::Done(r) if r.token.secret() == "b1"), "{outcome:?}");
        assert_eq!(s.tokens().unwrap().refresh_token.as_ref().unwrap().secret(), "q1");
    }

    #[test]
    fn waiters_of_a_refresh_cut_short_by_logout_elsewhere_get_the_reason() {
        let mut s = session_with("a1", "r1", 300);
        let now = T0 + 300_000;
        let _ = start(&mut s, now);
        let _ = s.end(Error::new(ErrorKind::SessionEnded, "logged out in another tab"));
        let outcome = s.on_network_error(false, now + 1, 0.0);
        assert!(matches!(&outcome, RefreshOutcome::Failed { error, .. } if error.code() == "session_ended"), "{outcome:?}");
        assert!(!s.is_refreshing());
    }

    #[test]
    fn a_lost_refresh_never_keeps_the_lock_and_its_token_is_not_resent() {
        let policy = RefreshPolicy { timeout_ms: 10_000, ..RefreshPolicy::default() };
        let mut s = Session::new(policy);
        s.set_session(tokens("a1", Some("r1"), 3_600, T0));
        let now = T0 + 3_541_000; // due, still valid for 59 s
        let _ = start(&mut s, now);
        // The binding's task vanished: no answer ever comes.
        assert_eq!(s.get_token(now + 15_000), TokenStep::JoinInFlight);
        let after = now + 15_001;
        assert_eq!(ready_token(s.get_token(after)), "a1", "the valid token is served again");
        assert!(!s.is_refreshing());
        assert!(matches!(s.get_token(T0 + 3_600_000), TokenStep::Ended(e) if e.code() == "session_ended"));
        // r1 may have been spent: it is never offered again.
        for t in (after..after + 600_000).step_by(7_000) {
            assert!(!matches!(s.get_token(t), TokenStep::StartRefresh { .. }));
        }
    }

    #[test]
    fn abandoning_a_refresh_releases_the_lock_and_spends_only_a_maybe_sent_token() {
        let mut s = session_with("a1", "r1", 300);
        let _ = start(&mut s, T0 + 300_000);
        s.abandon_refresh(false); // aborted before sending
        assert!(!s.is_refreshing());
        assert_eq!(start(&mut s, T0 + 300_001).secret(), "r1", "no cooldown, same token");
        s.abandon_refresh(true); // aborted after sending
        assert!(matches!(s.get_token(T0 + 300_002), TokenStep::Ended(_)));
    }

    #[test]
    fn stray_response_without_refresh_in_flight_changes_nothing() {
        let mut s = session_with("a1", "r1", 300);
        let g = s.generation();
        assert!(matches!(s.on_token_response(ok("x", None, 1), T0, 0.0), RefreshOutcome::Failed { .. }));
        assert_eq!(s.generation(), g);
        assert_eq!(ready_token(s.get_token(T0 + 1)), "a1");
    }
    /// A tiny deterministic PRNG for the simulation (no crate needed).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn unit(&mut self) -> f64 {
            self.below(1_000_000) as f64 / 1_000_000.0
        }
    }

    /// A provider with rotating refresh tokens and reuse detection, like
    /// oidc-provider: presenting a consumed refresh token revokes the grant.
    struct Provider {
        valid: Option<String>,
        consumed: std::collections::HashSet<String>,
        issued: u32,
        reuses: u32,
        requests: u32,
    }
    impl Provider {
        fn login(&mut self, now: i64) -> TokenSet {
            self.issued += 1;
            let rt = format!("r{}", self.issued);
            self.valid = Some(rt.clone());
            tokens(&format!("a{}", self.issued), Some(&rt), 30, now)
        }
        /// Processes a refresh; returns what the server answered.
        fn refresh(&mut self, rt: &RefreshToken) -> TokenAnswer {
            self.requests += 1;
            let rt = rt.secret().to_owned();
            if self.valid.as_deref() != Some(rt.as_str()) {
                if self.consumed.contains(&rt) {
                    self.reuses += 1;
                    self.valid = None; // the whole grant is revoked
                }
                return oauth_err(400, "invalid_grant");
            }
            self.consumed.insert(rt);
            self.issued += 1;
            let next = format!("r{}", self.issued);
            self.valid = Some(next.clone());
            ok(&format!("a{}", self.issued), Some(&next), 30)
        }
    }

    #[test]
    fn simulation_never_reuses_a_refresh_token_and_never_serves_an_expired_one() {
        for seed in 0..40u64 {
            let mut rng = Lcg(seed);
            let mut p = Provider { valid: None, consumed: Default::default(), issued: 0, reuses: 0, requests: 0 };
            let policy = RefreshPolicy { cooldown_ms: 2_000, ..RefreshPolicy::default() };
            let mut s = Session::new(policy);
            let mut now = T0;
            s.set_session(p.login(now));
            // (refresh token sent, when the answer arrives) of the one request in flight
            let mut pending: Option<(RefreshToken, i64)> = None;
            let mut resend_at: Option<i64> = None;
            let mut logins = 0;
            for _ in 0..3_000 {
                now += rng.below(1_500) as i64;
                // Callers, some of them after a 401 for a random generation.
                for _ in 0..rng.below(4) {
                    let step = if rng.below(5) == 0 {
                        let g = s.generation().saturating_sub(rng.below(2));
                        s.force_refresh(g, now)
                    } else {
                        s.get_token(now)
                    };
                    match step {
                        TokenStep::Ready(r) | TokenStep::ServeWhileCoolingDown(r) => {
                            let ts = s.tokens().unwrap();
                            assert_eq!(&r.token, &ts.access_token);
                            assert!(!ts.is_expired(now), "seed {seed}: served an expired token");
                        }
                        TokenStep::StartRefresh { refresh_token } => {
                            assert!(pending.is_none() && resend_at.is_none(), "seed {seed}: two refreshes at once");
                            let SendStep::Send { refresh_token: rt } = s.before_send(None, now) else { panic!() };
                            assert_eq!(rt, refresh_token);
                            pending = Some((rt, now + rng.below(800) as i64));
                        }
                        TokenStep::JoinInFlight => assert!(pending.is_some() || resend_at.is_some()),
                        TokenStep::Ended(_) | TokenStep::Fail(_) => {}
                    }
                }
                if resend_at.is_some_and(|at| now >= at) {
                    let rt = s.in_flight.as_ref().unwrap().refresh_token.clone();
                    pending = Some((rt, now + rng.below(800) as i64));
                    resend_at = None;
                }
                if let Some((rt, _)) = pending.take_if(|(_, at)| now >= *at) {
                    let jitter = rng.unit();
                    let outcome = match rng.below(20) {
                        0..=1 => s.on_token_response(status(503, None), now, jitter),
                        2 => s.on_token_response(status(429, Some(rng.below(5_000) as i64)), now, jitter),
                        3 => {
                            // Processed, then the answer was lost.
                            let _ = p.refresh(&rt);
                            s.on_timeout(now, jitter)
                        }
                        4 => s.on_network_error(false, now, jitter), // never arrived
                        _ => {
                            let answer = p.refresh(&rt);
                            s.on_token_response(answer, now, jitter)
                        }
                    };
                    match outcome {
                        RefreshOutcome::RetryIn { ms } => resend_at = Some(now + ms),
                        RefreshOutcome::Done(r) => assert_eq!(&r.token, &s.tokens().unwrap().access_token),
                        RefreshOutcome::Failed { .. } | RefreshOutcome::Ended(_) => {}
                    }
                }
                if s.tokens().is_none() && pending.is_none() && resend_at.is_none() {
                    logins += 1;
                    s.set_session(p.login(now));
                }
                assert_eq!(p.reuses, 0, "seed {seed}: a refresh token was sent twice");
            }
            // The session mostly survives: lost answers end it, nothing else.
            assert!(p.requests > 100, "seed {seed}: only {} refreshes", p.requests);
            assert!(logins < 80, "seed {seed}: {logins} re-logins");
        }
    }
}
