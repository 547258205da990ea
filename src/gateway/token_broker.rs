//! The edge service token's life, sans IO: the [`Broker`] a `TokenBroker`
//! Durable Object runs (one token for every isolate of every location), and
//! the [`IsolateToken`] each gateway isolate keeps in memory.
//!
//! - The broker refreshes **before** expiry, on an alarm, with the client's
//!   margin rule ([`TokenSet::refresh_due_at_ms`]: [`LEEWAY_SECS`], capped at
//!   half the lifetime), so no request waits for a token request once a
//!   token exists. Only a call that finds no valid token waits, and every
//!   such call shares the one token request in flight.
//! - A failed refresh (429, 5xx, a hang, `invalid_client`) keeps the current
//!   token in service while it is valid and retries after `Retry-After` or a
//!   bounded exponential backoff. A refused client is logged once per episode.
//! - What is stored: the token, and *before* each token request the time it
//!   started. An object evicted during a request finds that mark when it
//!   loads: the request is counted as a failed attempt (backoff), not sent
//!   again at once, so evictions cannot turn into a storm of token requests.
//!   The answer's token is stored before anything else is done with it.
//! - An isolate asks the broker when half of the broker's own margin is
//!   left: by then the broker has refreshed, so each isolate asks about once
//!   per lifetime, and never hands out a token within [`EXPIRY_SAFETY_MS`]
//!   of its expiry.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::config::DEFAULT_REFRESH_LEEWAY_SECS;
use crate::client::oauth::{backoff_ms, classify, ErrorClass, TokenAnswer, TokenReply};
use crate::client::token::TokenSet;
use crate::secret::AccessToken;

use super::reject::Reply;

/// The proactive-refresh margin: the client's default, capped at half the
/// token's lifetime by the same rule ([`TokenSet::effective_leeway_ms`]).
pub const LEEWAY_SECS: i64 = DEFAULT_REFRESH_LEEWAY_SECS;
/// No token is handed out (or used) this close to its expiry: it must still
/// be valid when the origin reads it. One second for the trip to the origin,
/// one for `expires_in` and `exp` counting whole seconds (a token issued at
/// 10.9 s for 20 s says `exp` 30, not 30.9).
pub const EXPIRY_SAFETY_MS: i64 = 2_000;
pub const BACKOFF_BASE_MS: i64 = 1_000;
pub const BACKOFF_MAX_MS: i64 = 60_000;
/// The lifetime assumed for a token whose answer says none (no
/// `expires_in`, not a JWT with `exp`): refreshed within it, never trusted longer.
pub const ASSUMED_LIFETIME_SECS: i64 = 300;
/// An isolate asks the broker at most this often while the broker cannot refresh.
pub const MIN_ASK_INTERVAL_MS: i64 = 1_000;
/// A token request in flight longer than this (its timeout and some) is
/// taken as lost: the next call starts another.
const LOST_AFTER_MS: i64 = super::service_token::TOKEN_REQUEST_TIMEOUT_MS as i64 + 5_000;

/// The broker's durable state: one JSON value in the object's storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Stored {
    token: Option<Held>,
    /// Set before a token request is sent, cleared with its answer.
    attempt_started_ms: Option<i64>,
    failures: u32,
    retry_at_ms: Option<i64>,
    /// The secret's tag under which the client was refused: a new secret
    /// clears the refusal.
    refused: Option<String>,
    /// Whether the current token was asked for since it came: an idle
    /// gateway's token is left to lapse instead of refreshed forever.
    used: bool,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Held {
    access_token: String,
    received_at_ms: i64,
    expires_at_ms: i64,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held([redacted], {}..{})", self.received_at_ms, self.expires_at_ms)
    }
}

impl Held {
    fn set(&self) -> TokenSet {
        let mut set = TokenSet::explicit(AccessToken::new(""), None, None, self.received_at_ms);
        set.expires_at_ms = Some(self.expires_at_ms);
        set
    }
    fn due_ms(&self) -> i64 {
        self.set().refresh_due_at_ms(LEEWAY_SECS).unwrap_or(self.expires_at_ms)
    }
    fn valid(&self, now_ms: i64) -> bool {
        now_ms < self.expires_at_ms - EXPIRY_SAFETY_MS
    }
}

/// What a call to the broker gets.
#[derive(Debug, PartialEq)]
pub enum Call {
    /// A valid token. `refresh_in_ms` is when the broker means to refresh
    /// (negative: overdue, it is backing off).
    Serve { token: AccessToken, expires_in_ms: i64, refresh_in_ms: i64 },
    /// No valid token; one token request is in flight: wait for it, then call again.
    Wait,
    /// No valid token and none asked for: send the token request ([`Broker::begin`]), then call again.
    Start,
    /// No valid token; the token endpoint refused the client.
    Refused,
    /// No valid token; the next attempt is not before this many seconds.
    Unavailable { retry_after_secs: i64 },
}

/// What the binding logs after a token request: never the token.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Refreshed { lifetime_secs: i64 },
    Failed { status: Option<u16>, error: Option<String>, retry_in_ms: i64, failures: u32 },
    /// `invalid_client` and kin: logged loudly, once per episode (`first`).
    Refused { status: u16, error: Option<String>, retry_in_ms: i64, first: bool },
}

#[derive(Debug)]
pub struct Broker {
    s: Stored,
    in_flight: bool,
    secret_tag: String,
}

impl Broker {
    /// The broker as its storage holds it (`None`: a new object). Returns
    /// whether a token request was lost with the previous instance.
    pub fn load(stored: Option<&str>, secret_tag: &str, now_ms: i64) -> (Broker, bool) {
        let mut s: Stored = stored.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        if s.refused.as_deref().is_some_and(|t| t != secret_tag) {
            (s.refused, s.failures, s.retry_at_ms) = (None, 0, None);
        }
        let mut b = Broker { s, in_flight: false, secret_tag: secret_tag.to_string() };
        let lost = b.s.attempt_started_ms.take();
        if let Some(started) = lost {
            b.s.failures += 1;
            let retry = started.max(now_ms - BACKOFF_BASE_MS) + backoff_ms(b.s.failures - 1, BACKOFF_BASE_MS, BACKOFF_MAX_MS, 0.5);
            b.s.retry_at_ms = Some(b.s.retry_at_ms.unwrap_or(0).max(retry));
        }
        (b, lost.is_some())
    }

    /// The state to store (JSON).
    pub fn stored(&self) -> String {
        serde_json::to_string(&self.s).unwrap_or_default()
    }

    /// A call from an isolate (or a waiter coming back).
    pub fn call(&mut self, now_ms: i64) -> Call {
        self.s.used = true;
        if let Some(h) = self.s.token.as_ref().filter(|h| h.valid(now_ms)) {
            return Call::Serve {
                token: AccessToken::new(h.access_token.clone()),
                expires_in_ms: h.expires_at_ms - now_ms,
                refresh_in_ms: h.due_ms().max(self.s.retry_at_ms.unwrap_or(0)) - now_ms,
            };
        }
        if self.in_flight && self.s.attempt_started_ms.is_some_and(|t| now_ms - t < LOST_AFTER_MS) {
            return Call::Wait;
        }
        match self.s.retry_at_ms.filter(|t| *t > now_ms) {
            Some(_) if self.s.refused.is_some() => Call::Refused,
            Some(t) => Call::Unavailable { retry_after_secs: (t - now_ms + 999) / 1000 },
            None => Call::Start,
        }
    }

    /// Whether the alarm should refresh now: a token asked for since it
    /// came, due, no request in flight, not backing off.
    pub fn alarm(&self, now_ms: i64) -> bool {
        let Some(h) = &self.s.token else { return false };
        !self.in_flight && self.s.used && now_ms >= h.due_ms() && self.s.retry_at_ms.is_none_or(|t| now_ms >= t)
    }

    /// When the alarm should next run: the refresh due time, or the end of a
    /// backoff; `None` for nothing to do.
    pub fn next_alarm_ms(&self) -> Option<i64> {
        let retry = self.s.retry_at_ms.unwrap_or(0);
        match &self.s.token {
            Some(h) if self.s.used => Some(h.due_ms().max(retry)),
            _ => None,
        }
    }

    /// A token request is about to be sent: store [`Broker::stored`] before sending.
    pub fn begin(&mut self, now_ms: i64) {
        self.in_flight = true;
        self.s.attempt_started_ms = Some(now_ms);
    }

    /// The token endpoint's answer. `jitter` in `[0, 1)` spreads retries.
    pub fn finish(&mut self, answer: TokenAnswer, now_ms: i64, jitter: f64) -> Outcome {
        self.in_flight = false;
        // The lifetime counts from when the request was sent, not answered:
        // a slow answer must not stretch the token past its real expiry.
        let sent_ms = self.s.attempt_started_ms.take().map_or(now_ms, |t| t.min(now_ms));
        let status = answer.status;
        if answer.is_success() {
            if let TokenReply::Tokens(response) = answer.reply {
                if let Ok(set) = TokenSet::from_response(response, answer.claims.as_ref(), None, sent_ms) {
                    let expires_at_ms = set.expires_at_ms.unwrap_or(sent_ms + ASSUMED_LIFETIME_SECS * 1000);
                    let held = Held { access_token: set.access_token.secret().to_string(), received_at_ms: sent_ms, expires_at_ms };
                    // `used` starts over: the new token is refreshed in turn only if asked for.
                    self.s = Stored { token: Some(held), ..Stored::default() };
                    return Outcome::Refreshed { lifetime_secs: (expires_at_ms - sent_ms) / 1000 };
                }
            }
            return self.failed(Some(status), Some("invalid_response".into()), None, now_ms, jitter);
        }
        let error = answer.oauth_error().map(str::to_string);
        let refused = matches!(error.as_deref(), Some("invalid_client" | "unauthorized_client")) || status == 401;
        if refused || classify(status, error.as_deref()) != ErrorClass::Transient {
            let first = self.s.refused.is_none();
            self.s.refused = Some(self.secret_tag.clone());
            let retry_in_ms = self.back_off(answer.retry_after_ms, now_ms, jitter);
            return Outcome::Refused { status, error, retry_in_ms, first };
        }
        self.failed(Some(status), error, answer.retry_after_ms, now_ms, jitter)
    }

    /// The token request failed without an answer: network error or timeout.
    pub fn fail(&mut self, why: &str, now_ms: i64, jitter: f64) -> Outcome {
        self.in_flight = false;
        self.s.attempt_started_ms = None;
        self.failed(None, Some(why.to_string()), None, now_ms, jitter)
    }

    fn failed(&mut self, status: Option<u16>, error: Option<String>, retry_after_ms: Option<i64>, now_ms: i64, jitter: f64) -> Outcome {
        let retry_in_ms = self.back_off(retry_after_ms, now_ms, jitter);
        Outcome::Failed { status, error, retry_in_ms, failures: self.s.failures }
    }

    fn back_off(&mut self, retry_after_ms: Option<i64>, now_ms: i64, jitter: f64) -> i64 {
        self.s.failures += 1;
        let wait = retry_after_ms.unwrap_or_else(|| backoff_ms(self.s.failures - 1, BACKOFF_BASE_MS, BACKOFF_MAX_MS, jitter));
        self.s.retry_at_ms = Some(now_ms + wait);
        wait
    }
}

/// The broker's answer to a call as the isolate receives it: status and
/// JSON body. A [`Call::Wait`] or [`Call::Start`] never reaches the wire.
pub fn reply(call: &Call, waited: bool) -> (u16, String) {
    match call {
        Call::Serve { token, expires_in_ms, refresh_in_ms } => {
            let body = json!({ "access_token": token.secret(), "expires_in_ms": expires_in_ms, "refresh_in_ms": refresh_in_ms, "waited": waited });
            (200, body.to_string())
        }
        Call::Refused => (502, json!({ "error": "refused" }).to_string()),
        Call::Unavailable { retry_after_secs } => (503, json!({ "error": "unavailable", "retry_after": retry_after_secs }).to_string()),
        Call::Wait | Call::Start => (503, json!({ "error": "unavailable", "retry_after": 1 }).to_string()),
    }
}

/// A broker answer, read by the isolate.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Token { token: AccessToken, expires_in_ms: i64, refresh_in_ms: i64, waited: bool },
    Refused,
    Unavailable { retry_after_secs: i64 },
}

#[derive(Deserialize)]
struct Wire {
    access_token: Option<String>,
    expires_in_ms: Option<i64>,
    refresh_in_ms: Option<i64>,
    #[serde(default)]
    waited: bool,
    error: Option<String>,
    retry_after: Option<i64>,
}

/// Reads the broker's answer; anything unexpected is "unavailable".
pub fn read_reply(status: u16, body: &str) -> Answer {
    let unavailable = Answer::Unavailable { retry_after_secs: 1 };
    let Ok(w) = serde_json::from_str::<Wire>(body) else { return unavailable };
    match (status, w.access_token, w.expires_in_ms) {
        (200, Some(t), Some(e)) if !t.is_empty() && super::headers::is_safe_header_value(&t) => {
            Answer::Token { token: AccessToken::new(t), expires_in_ms: e, refresh_in_ms: w.refresh_in_ms.unwrap_or(0), waited: w.waited }
        }
        (502, _, _) if w.error.as_deref() == Some("refused") => Answer::Refused,
        _ => Answer::Unavailable { retry_after_secs: w.retry_after.unwrap_or(1).clamp(1, 3600) },
    }
}

/// The gateway's answer when a route needs the service token and there is
/// none to send. The body says what is wrong; the details are in the logs.
pub fn failure_reply(answer: &Answer) -> Reply {
    match answer {
        Answer::Refused => Reply::json(502, json!({
            "error": "service_token_refused",
            "message": "the token endpoint refused the gateway's client credentials (invalid_client); the gateway's logs say more",
        })),
        Answer::Unavailable { retry_after_secs } => Reply::json(503, json!({
            "error": "temporarily_unavailable",
            "message": "the gateway has no service token for the origin yet",
        }))
        .with_header("retry-after", retry_after_secs.to_string()),
        Answer::Token { .. } => super::reject::internal_error(),
    }
}

/// The service token as one isolate keeps it.
#[derive(Debug, Default)]
pub struct IsolateToken {
    held: Option<(AccessToken, i64, i64)>,
    asking_since: Option<i64>,
    /// The broker's last refusal while no token was held, and until when
    /// it stands: an outage must not send every request on to the broker.
    failed: Option<(Answer, i64)>,
}

/// What a request on an `inject: "service_token"` route does.
#[derive(Debug, PartialEq)]
pub enum Use<'a> {
    Token(&'a AccessToken),
    /// Ask the broker, then [`IsolateToken::on_answer`].
    Ask,
    /// No token, and the broker said why less than [`MIN_ASK_INTERVAL_MS`] ago.
    Failed(Answer),
}

impl IsolateToken {
    pub fn get(&mut self, now_ms: i64) -> Use<'_> {
        let asking = self.asking_since.is_some_and(|t| now_ms - t < LOST_AFTER_MS);
        match &self.held {
            Some((_, expires, ask_at)) if now_ms < *ask_at || (asking && now_ms < expires - EXPIRY_SAFETY_MS) => {
                Use::Token(&self.held.as_ref().expect("matched").0)
            }
            _ => match &self.failed {
                Some((answer, until)) if now_ms < *until => Use::Failed(answer.clone()),
                _ => {
                    self.asking_since = Some(now_ms);
                    Use::Ask
                }
            },
        }
    }

    /// Keeps a token the broker gave: until half of the broker's remaining
    /// margin is left, at least [`MIN_ASK_INTERVAL_MS`], never past the
    /// safety margin. Without one (the broker unreachable, say), the held
    /// token stays in use while valid, and the broker is asked again after
    /// [`MIN_ASK_INTERVAL_MS`]; with none, requests in that interval get
    /// the broker's answer again without asking. Returns whether a token is
    /// there to use.
    pub fn on_answer(&mut self, answer: &Answer, now_ms: i64) -> bool {
        self.asking_since = None;
        self.failed = None;
        if let Answer::Token { token, expires_in_ms, refresh_in_ms, .. } = answer {
            let expires = now_ms + expires_in_ms;
            let broker_due = now_ms + refresh_in_ms.clamp(&0, expires_in_ms);
            let ask_at = (broker_due + (expires - broker_due) / 2).max(now_ms + MIN_ASK_INTERVAL_MS).min(expires - EXPIRY_SAFETY_MS);
            self.held = Some((token.clone(), expires, ask_at));
            return true;
        }
        match &mut self.held {
            Some((_, expires, ask_at)) if now_ms < *expires - EXPIRY_SAFETY_MS => {
                *ask_at = (now_ms + MIN_ASK_INTERVAL_MS).min(*expires - EXPIRY_SAFETY_MS);
                true
            }
            _ => {
                self.failed = Some((answer.clone(), now_ms + MIN_ASK_INTERVAL_MS));
                false
            }
        }
    }
}

#[cfg(test)]
#[path = "token_broker_tests.rs"]
mod tests;
