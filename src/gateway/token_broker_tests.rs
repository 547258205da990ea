use super::*;
use crate::client::oauth::OAuthErrorBody;
use crate::client::token::TokenResponse;

const TAG: &str = "tag";

fn ok(token: &str, expires_in: i64) -> TokenAnswer {
    let response = TokenResponse { access_token: AccessToken::new(token), token_type: Some("Bearer".into()), expires_in: Some(expires_in), refresh_token: None, scope: None };
    TokenAnswer::new(200, TokenReply::Tokens(response))
}

fn error(status: u16, code: Option<&str>, retry_after_ms: Option<i64>) -> TokenAnswer {
    let reply = code.map_or(TokenReply::Unparseable, |c| TokenReply::Error(OAuthErrorBody { error: c.into(), error_description: None }));
    TokenAnswer { retry_after_ms, ..TokenAnswer::new(status, reply) }
}

fn served(call: Call) -> String {
    match call {
        Call::Serve { token, .. } => token.secret().to_string(),
        other => panic!("expected a token, got {other:?}"),
    }
}

/// A broker holding `token` (lifetime 20 s) received at `at`.
fn holding(token: &str, at: i64) -> Broker {
    let (mut b, _) = Broker::load(None, TAG, at);
    assert_eq!(b.call(at), Call::Start);
    b.begin(at);
    assert_eq!(b.finish(ok(token, 20), at, 0.5), Outcome::Refreshed { lifetime_secs: 20 });
    b.call(at);
    b
}

#[test]
fn a_cold_broker_sends_one_token_request_and_every_caller_waits_for_it() {
    let (mut b, lost) = Broker::load(None, TAG, 0);
    assert!(!lost);
    assert_eq!(b.call(0), Call::Start);
    b.begin(0);
    for t in [1, 50, 900] {
        assert_eq!(b.call(t), Call::Wait, "a second caller shares the request in flight");
    }
    b.finish(ok("t1", 20), 1_000, 0.5);
    assert_eq!(served(b.call(1_000)), "t1");
}

#[test]
fn the_refresh_is_due_at_the_clients_margin_capped_at_half_the_lifetime() {
    let mut b = holding("t1", 0);
    // 20 s lifetime: the 60 s margin is capped at 10 s.
    assert!(!b.alarm(9_999));
    assert_eq!(b.next_alarm_ms(), Some(10_000));
    assert!(b.alarm(10_000));
    // A long lifetime keeps the whole 60 s margin.
    b.begin(10_000);
    b.finish(ok("long", 3_600), 10_000, 0.5);
    b.call(10_001);
    assert_eq!(b.next_alarm_ms(), Some(10_000 + 3_540_000));
}

#[test]
fn callers_during_a_refresh_get_the_current_token_without_waiting() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    assert_eq!(served(b.call(10_001)), "t1");
    assert!(!b.alarm(10_002), "one refresh in flight at a time");
    b.finish(ok("t2", 20), 10_100, 0.5);
    assert_eq!(served(b.call(10_200)), "t2");
}

#[test]
fn a_429_keeps_the_current_token_and_honours_retry_after() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    let out = b.finish(error(429, None, Some(7_000)), 10_000, 0.5);
    assert_eq!(out, Outcome::Failed { status: Some(429), error: None, retry_in_ms: 7_000, failures: 1 });
    assert_eq!(served(b.call(12_000)), "t1");
    assert!(!b.alarm(16_999));
    assert_eq!(b.next_alarm_ms(), Some(17_000));
    assert!(b.alarm(17_000));
    b.begin(17_000);
    b.finish(ok("t2", 20), 17_000, 0.5);
    assert_eq!(served(b.call(17_001)), "t2");
    assert_eq!(b.next_alarm_ms(), Some(27_000), "the backoff is over once a token came");
}

#[test]
fn server_errors_back_off_exponentially_and_boundedly() {
    let mut b = holding("t1", 0);
    let mut waits = Vec::new();
    let mut now = 10_000;
    for _ in 0..9 {
        b.begin(now);
        match b.finish(error(503, None, None), now, 1.0) {
            Outcome::Failed { retry_in_ms, .. } => waits.push(retry_in_ms),
            other => panic!("{other:?}"),
        }
        now += waits.last().unwrap();
    }
    assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
}

#[test]
fn the_lifetime_counts_from_when_the_request_was_sent_not_answered() {
    let (mut b, _) = Broker::load(None, TAG, 0);
    assert_eq!(b.call(0), Call::Start);
    b.begin(0);
    // Answered 3 s later: the 20 s token expires at 20 s, not 23 s.
    assert_eq!(b.finish(ok("t1", 20), 3_000, 0.5), Outcome::Refreshed { lifetime_secs: 20 });
    assert_eq!(served(b.call(3_000)), "t1");
    assert_eq!(b.next_alarm_ms(), Some(10_000), "the refresh is due at half of the 20 s");
    b.begin(10_000);
    b.finish(error(500, None, Some(30_000)), 10_000, 0.5);
    assert_eq!(served(b.call(17_999)), "t1");
    assert!(matches!(b.call(18_000), Call::Unavailable { .. }), "two seconds before 20 s, not 23 s");
}

#[test]
fn no_token_is_served_at_or_after_its_expiry_and_callers_then_learn_when_to_retry() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    b.finish(error(500, None, Some(30_000)), 10_000, 0.5);
    assert_eq!(served(b.call(17_999)), "t1");
    assert_eq!(b.call(18_000), Call::Unavailable { retry_after_secs: 22 }, "within the safety margin of expiry");
    assert_eq!(b.call(39_999), Call::Unavailable { retry_after_secs: 1 });
    assert_eq!(b.call(40_000), Call::Start);
}

#[test]
fn invalid_client_is_reported_once_per_episode_and_answered_as_refused() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    let first = b.finish(error(401, Some("invalid_client"), None), 10_000, 0.0);
    assert!(matches!(first, Outcome::Refused { status: 401, first: true, .. }), "{first:?}");
    assert_eq!(served(b.call(10_001)), "t1", "the current token stays in service");
    b.begin(10_500);
    let again = b.finish(error(400, Some("invalid_client"), None), 10_500, 0.0);
    assert!(matches!(again, Outcome::Refused { first: false, .. }), "{again:?}");
    // Past the token's expiry, callers are told the client is refused.
    assert_eq!(b.call(19_500), Call::Start, "the backoff is over: retry");
    b.begin(19_500);
    assert!(matches!(b.finish(error(401, Some("invalid_client"), None), 19_500, 0.0), Outcome::Refused { first: false, .. }));
    assert_eq!(b.call(19_600), Call::Refused);
    // The endpoint accepts the client again: the episode ends.
    let retry = b.next_alarm_ms().unwrap();
    assert_eq!(b.call(retry), Call::Start);
    b.begin(retry);
    b.finish(ok("t2", 20), retry, 0.5);
    b.begin(retry + 10_000);
    assert!(matches!(b.finish(error(401, Some("invalid_client"), None), retry + 10_000, 0.0), Outcome::Refused { first: true, .. }));
}

#[test]
fn other_permanent_errors_count_as_refusals_and_bad_answers_as_failures() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    assert!(matches!(b.finish(error(400, Some("invalid_scope"), None), 10_000, 0.0), Outcome::Refused { .. }));
    let mut b = holding("t1", 0);
    b.begin(10_000);
    let empty = TokenAnswer::new(200, TokenReply::Tokens(TokenResponse { access_token: AccessToken::new(""), token_type: None, expires_in: Some(20), refresh_token: None, scope: None }));
    assert!(matches!(b.finish(empty, 10_000, 0.0), Outcome::Failed { error: Some(e), .. } if e == "invalid_response"));
    assert_eq!(served(b.call(10_001)), "t1");
}

#[test]
fn a_hung_request_times_out_into_the_backoff() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    let out = b.fail("timeout", 20_000, 0.0);
    assert_eq!(out, Outcome::Failed { status: None, error: Some("timeout".into()), retry_in_ms: 500, failures: 1 });
    assert!(b.alarm(20_500));
}

#[test]
fn a_request_lost_in_flight_is_started_again_by_the_next_call() {
    let (mut b, _) = Broker::load(None, TAG, 0);
    b.call(0);
    b.begin(0);
    assert_eq!(b.call(LOST_AFTER_MS - 1), Call::Wait);
    assert_eq!(b.call(LOST_AFTER_MS), Call::Start);
}

#[test]
fn an_eviction_mid_refresh_keeps_the_token_and_does_not_resend_at_once() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    // The binding stores the state before sending: that is what survives.
    let stored = b.stored();
    let (mut b, lost) = Broker::load(Some(&stored), TAG, 10_200);
    assert!(lost);
    assert_eq!(served(b.call(10_200)), "t1", "the stored token is served after the eviction");
    assert!(!b.alarm(10_200), "the lost request counts as an attempt: no immediate second one");
    let retry = b.next_alarm_ms().unwrap();
    assert!((10_500..=11_500).contains(&retry), "{retry}");
    assert!(b.alarm(retry));
    // Loaded with no mark, nothing is lost.
    let (_, lost) = Broker::load(Some(&holding("t", 0).stored()), TAG, 1);
    assert!(!lost);
}

#[test]
fn a_new_secret_ends_a_refusal() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    b.finish(error(401, Some("invalid_client"), None), 10_000, 0.0);
    let stored = b.stored();
    let (mut same, _) = Broker::load(Some(&stored), TAG, 25_000);
    assert!(matches!(same.call(10_600), Call::Refused | Call::Serve { .. }));
    let (mut rotated, _) = Broker::load(Some(&stored), "new-tag", 25_000);
    assert_eq!(rotated.call(25_000), Call::Start);
}

#[test]
fn an_idle_token_lapses_instead_of_being_refreshed_forever() {
    let mut b = holding("t1", 0);
    b.begin(10_000);
    b.finish(ok("t2", 20), 10_000, 0.5);
    // Nobody asked for t2: no alarm, no refresh.
    assert_eq!(b.next_alarm_ms(), None);
    assert!(!b.alarm(20_000));
    assert_eq!(served(b.call(20_000)), "t2");
    assert_eq!(b.next_alarm_ms(), Some(20_000));
}

#[test]
fn storage_and_debug_never_show_what_they_should_not() {
    let b = holding("tok-SECRET", 0);
    assert!(!format!("{b:?}").contains("tok-SECRET"));
    assert!(b.stored().contains("tok-SECRET"), "the object's own storage holds the token");
    let (_, reply_body) = reply(&Call::Refused, false);
    assert!(!reply_body.contains("tok"));
}

#[test]
fn the_wire_round_trips_and_refuses_what_is_odd() {
    let call = Call::Serve { token: AccessToken::new("t1"), expires_in_ms: 20_000, refresh_in_ms: 10_000 };
    let (status, body) = reply(&call, true);
    assert_eq!(read_reply(status, &body), Answer::Token { token: AccessToken::new("t1"), expires_in_ms: 20_000, refresh_in_ms: 10_000, waited: true });
    let (status, body) = reply(&Call::Refused, false);
    assert_eq!(read_reply(status, &body), Answer::Refused);
    let (status, body) = reply(&Call::Unavailable { retry_after_secs: 7 }, false);
    assert_eq!(read_reply(status, &body), Answer::Unavailable { retry_after_secs: 7 });
    assert_eq!(read_reply(200, "oops"), Answer::Unavailable { retry_after_secs: 1 });
    assert_eq!(read_reply(200, r#"{"access_token":"a\nb","expires_in_ms":1}"#), Answer::Unavailable { retry_after_secs: 1 });
    assert_eq!(read_reply(500, r#"{"access_token":"t","expires_in_ms":1}"#), Answer::Unavailable { retry_after_secs: 1 });
    let refused = failure_reply(&Answer::Refused);
    assert_eq!(refused.status, 502);
    assert!(refused.body.contains("invalid_client"));
    assert_eq!(failure_reply(&Answer::Unavailable { retry_after_secs: 3 }).headers.last().unwrap(), &("retry-after", "3".to_string()));
}

#[test]
fn an_isolate_asks_once_the_broker_has_refreshed_and_never_uses_an_expired_token() {
    let mut i = IsolateToken::default();
    assert_eq!(i.get(0), Use::Ask);
    let answer = |t: &str, expires_in_ms, refresh_in_ms| Answer::Token { token: AccessToken::new(t), expires_in_ms, refresh_in_ms, waited: false };
    i.on_answer(&answer("t1", 20_000, 10_000), 0);
    // Halfway between the broker's refresh (10 s) and the expiry (20 s).
    assert_eq!(i.get(14_999), Use::Token(&AccessToken::new("t1")));
    assert_eq!(i.get(15_000), Use::Ask);
    // Others keep the held token while one asks, until the safety margin.
    assert_eq!(i.get(15_001), Use::Token(&AccessToken::new("t1")));
    assert_eq!(i.get(18_000), Use::Ask);
    // A broker backing off (refresh overdue): ask again soon, not per request.
    i.on_answer(&answer("t1", 2_500, -3_000), 17_500);
    assert_eq!(i.get(17_500 + 499), Use::Token(&AccessToken::new("t1")));
    assert_eq!(i.get(17_500 + 500), Use::Ask);
    assert!(!i.on_answer(&Answer::Unavailable { retry_after_secs: 1 }, 21_000));
    assert_eq!(i.get(21_000), Use::Failed(Answer::Unavailable { retry_after_secs: 1 }), "an expired token is never used");
    assert_eq!(i.get(22_000), Use::Ask);
}

#[test]
fn an_isolate_keeps_its_valid_token_while_the_broker_cannot_answer() {
    let mut i = IsolateToken::default();
    i.get(0);
    i.on_answer(&Answer::Token { token: AccessToken::new("t1"), expires_in_ms: 20_000, refresh_in_ms: 10_000, waited: false }, 0);
    assert_eq!(i.get(15_000), Use::Ask);
    assert!(i.on_answer(&Answer::Unavailable { retry_after_secs: 30 }, 15_000), "still valid: used");
    assert_eq!(i.get(15_999), Use::Token(&AccessToken::new("t1")));
    assert_eq!(i.get(16_000), Use::Ask, "asked again a second later");
    assert!(i.on_answer(&Answer::Refused, 17_900));
    assert_eq!(i.get(17_999), Use::Token(&AccessToken::new("t1")));
    assert_eq!(i.get(18_000), Use::Ask);
    assert!(!i.on_answer(&Answer::Unavailable { retry_after_secs: 1 }, 18_000), "within the safety margin: none");
}

#[test]
fn without_a_token_an_isolate_repeats_the_brokers_refusal_for_a_second_instead_of_asking_on_every_request() {
    let mut i = IsolateToken::default();
    assert_eq!(i.get(0), Use::Ask);
    assert!(!i.on_answer(&Answer::Unavailable { retry_after_secs: 5 }, 0));
    for t in [0, 1, 500, 999] {
        assert_eq!(i.get(t), Use::Failed(Answer::Unavailable { retry_after_secs: 5 }), "at {t} ms: the last answer, not the broker");
    }
    assert_eq!(i.get(1_000), Use::Ask, "a second later the broker is asked again");
    assert!(!i.on_answer(&Answer::Refused, 1_000));
    assert_eq!(i.get(1_500), Use::Failed(Answer::Refused));
    assert_eq!(i.get(2_000), Use::Ask);
    assert!(i.on_answer(&Answer::Token { token: AccessToken::new("t"), expires_in_ms: 20_000, refresh_in_ms: 10_000, waited: false }, 2_000));
    assert_eq!(i.get(2_001), Use::Token(&AccessToken::new("t")), "a token ends the refusal at once");
}

/// The model of the edge: isolates with their own cache calling one broker,
/// a request every few ms each, over three token lifetimes.
#[test]
fn at_edge_scale_token_requests_follow_the_refresh_period_and_isolates_ask_once_per_period() {
    let (mut broker, _) = Broker::load(None, TAG, 0);
    let mut isolates: Vec<IsolateToken> = (0..50).map(|_| IsolateToken::default()).collect();
    let (mut token_requests, mut broker_calls, mut waited) = (0, 0, 0);
    let mut issued = 0;
    for now in (0..60_000).step_by(5) {
        if broker.alarm(now) {
            broker.begin(now);
            token_requests += 1;
            issued += 1;
            broker.finish(ok(&format!("t{issued}"), 20), now, 0.5);
        }
        for iso in isolates.iter_mut() {
            if iso.get(now) == Use::Ask {
                broker_calls += 1;
                let call = match broker.call(now) {
                    Call::Start => {
                        broker.begin(now);
                        token_requests += 1;
                        issued += 1;
                        waited += 1;
                        broker.finish(ok(&format!("t{issued}"), 20), now, 0.5);
                        broker.call(now)
                    }
                    other => other,
                };
                let (status, body) = reply(&call, false);
                iso.on_answer(&read_reply(status, &body), now);
            }
        }
    }
    // 60 s of 20 s tokens refreshed every 10 s: the first, then one per 10 s.
    assert_eq!(token_requests, 6);
    assert_eq!(waited, 1, "only the cold start waited");
    assert_eq!(broker_calls, 50 * 6, "each isolate asks once per refresh period");
}
