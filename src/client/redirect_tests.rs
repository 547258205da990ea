use super::*;

const T0: i64 = 1_700_000_000_000;
const ISS: &str = "http://127.0.0.1:9400";
// A verifier and its S256 challenge (computed with Python hashlib).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92IF2oGu2oQ0C2B7f4Jy8bT5fe0k";
const CHALLENGE: &str = "i_uGos70C1MubDNWd0DTmaZNNjY61RL9C0LVMxrs054";

fn random(seed: u8) -> [u8; RANDOM_BYTES] {
    let mut r = [seed; RANDOM_BYTES];
    r[32..64].fill(seed ^ 0x55);
    r[64..].copy_from_slice(&base64url_decode(VERIFIER).unwrap());
    r
}

fn options() -> AuthorizeOptions {
    AuthorizeOptions { redirect_uri: "http://app.test/callback".into(), ..Default::default() }
}

fn start(opts: &AuthorizeOptions, seed: u8, now: i64) -> Result<StartedLogin> {
    let digest = base64url_decode(CHALLENGE).unwrap();
    authorize_url(Some("http://127.0.0.1:9400/auth"), "http://127.0.0.1:9400/", "app", None, opts, &random(seed), &digest, now)
}

fn query(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?').unwrap().1;
    q.split('&').find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(|v| percent_decode(v).unwrap())
}

#[test]
fn base64url_round_trips() {
    assert_eq!(base64url_encode(&base64url_decode(VERIFIER).unwrap()), VERIFIER);
    assert_eq!(base64url_encode(b""), "");
    assert_eq!(base64url_encode(b"f"), "Zg");
    assert_eq!(base64url_encode(b"fo"), "Zm8");
    assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
}

#[test]
fn the_authorization_url_carries_pkce_s256_state_nonce_and_openid() {
    let opts = AuthorizeOptions { scope: Some("profile openid offline_access".into()), prompt: Some("login consent".into()), login_hint: Some("a b@c".into()), return_to: Some("/settings?tab=keys".into()), ..options() };
    let s = start(&opts, 7, T0).unwrap();
    assert!(s.url.starts_with("http://127.0.0.1:9400/auth?response_type=code&client_id=app&redirect_uri=http%3A%2F%2Fapp.test%2Fcallback&scope=openid%20profile%20offline_access&"), "{}", s.url);
    assert_eq!(query(&s.url, "code_challenge").as_deref(), Some(CHALLENGE));
    assert_eq!(query(&s.url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(query(&s.url, "prompt").as_deref(), Some("login consent"));
    assert_eq!(query(&s.url, "login_hint").as_deref(), Some("a b@c"));
    assert_eq!(query(&s.url, "audience"), None);
    let p = &s.pending;
    assert_eq!(query(&s.url, "state").as_deref(), Some(p.state.as_str()));
    assert_eq!(query(&s.url, "nonce").as_deref(), Some(p.nonce.as_str()));
    assert_eq!((p.code_verifier.as_str(), p.state.len(), p.nonce.len()), (VERIFIER, 43, 43));
    assert_ne!(p.state, p.nonce, "independent random halves");
    assert!(!s.url.contains(VERIFIER), "the verifier never leaves the tab");
    assert_eq!((p.issuer.as_str(), p.return_to.as_deref(), p.started_at), (ISS, Some("/settings?tab=keys"), T0));
}

#[test]
fn the_audience_goes_as_audience_and_resource_and_an_existing_query_is_kept() {
    let digest = base64url_decode(CHALLENGE).unwrap();
    let s = authorize_url(Some("https://idp/authorize?tenant=x"), ISS, "app", Some("https://api"), &options(), &random(1), &digest, T0).unwrap();
    assert!(s.url.starts_with("https://idp/authorize?tenant=x&response_type=code&"));
    assert_eq!(query(&s.url, "audience").as_deref(), Some("https://api"));
    assert_eq!(query(&s.url, "resource").as_deref(), Some("https://api"));
}

#[test]
fn bad_options_and_discovery_are_refused() {
    let digest = base64url_decode(CHALLENGE).unwrap();
    let e = authorize_url(None, ISS, "app", None, &options(), &random(1), &digest, T0).unwrap_err();
    assert_eq!(e.code(), "invalid_config");
    let e = authorize_url(Some("javascript:x"), ISS, "app", None, &options(), &random(1), &digest, T0).unwrap_err();
    assert_eq!(e.code(), "invalid_config");
    for uri in ["/callback", "javascript:alert(1)", "http://app/cb#frag", ""] {
        let e = start(&AuthorizeOptions { redirect_uri: uri.into(), ..options() }, 1, T0).unwrap_err();
        assert!(e.message().contains("redirectUri"), "{uri}");
    }
    for prompt in ["", "bogus", "login  consent"] {
        let e = start(&AuthorizeOptions { prompt: Some(prompt.into()), ..options() }, 1, T0).unwrap_err();
        assert!(e.message().contains("prompt"), "{prompt}");
    }
    let e = authorize_url(Some("http://idp/auth"), ISS, "app", None, &options(), &random(1), &[0; 20], T0).unwrap_err();
    assert_eq!(e.code(), "invalid_config");
}

#[test]
fn return_to_is_only_ever_a_same_origin_path() {
    for ok in ["/", "/settings", "/a?b=c#d", "/caf%C3%A9", "/é"] {
        assert_eq!(same_origin_path(ok).as_deref(), Some(ok));
    }
    for bad in ["//evil.com", "/\\evil.com", "\\\\evil", "https://evil.com", "evil.com", "", "/a\nb", "/\t/evil", "/ /evil", "javascript:alert(1)", "/a\u{0}"] {
        assert_eq!(same_origin_path(bad), None, "{bad:?}");
    }
    assert_eq!(same_origin_path(&"/a".repeat(2000)), None);
    let s = start(&AuthorizeOptions { return_to: Some("//evil.com".into()), ..options() }, 1, T0).unwrap();
    assert_eq!(s.pending.return_to, None, "an open returnTo is dropped, the login goes on");
}

#[test]
fn pending_logins_are_bounded_expire_and_belong_to_one_client() {
    let mut list = Vec::new();
    for seed in 0..7u8 {
        list = add_pending(list, start(&options(), seed, T0 + seed as i64).unwrap().pending, T0 + 10);
    }
    assert_eq!(list.len(), MAX_PENDING_REDIRECTS);
    assert_eq!(list[0].started_at, T0 + 2, "the oldest went first");
    let newest = list[4].state.clone();
    let oldest_kept = list[0].state.clone();
    // Another client's entry, and one from the future, are dead.
    let mut foreign = start(&options(), 20, T0).unwrap().pending;
    foreign.client_id = "other".into();
    let mut ahead = start(&options(), 21, T0).unwrap().pending;
    ahead.started_at = T0 + 1_000_000;
    let mut with_dead = list.clone();
    with_dead.extend([foreign.clone(), ahead.clone()]);
    assert!(take_pending(&mut with_dead, Some(&ahead.state), ISS, "app", T0 + 20).is_none(), "from the future");
    assert!(take_pending(&mut with_dead, Some(&foreign.state), ISS, "app", T0 + 20).is_none(), "another client's");
    assert_eq!(with_dead, list, "dead entries are dropped on read");
    let mut l = list.clone();
    let taken = take_pending(&mut l, Some(&newest), ISS, "app", T0 + 20).unwrap();
    assert_eq!(taken.state, newest);
    assert_eq!(l.len(), 4);
    assert!(take_pending(&mut l, Some(&newest), ISS, "app", T0 + 20).is_none(), "consumed: a replay finds nothing");
    assert!(take_pending(&mut l, None, ISS, "app", T0 + 20).is_none());
    assert!(take_pending(&mut l, Some(""), ISS, "app", T0 + 20).is_none());
    assert!(take_pending(&mut l, Some(&oldest_kept), ISS, "other", T0 + 20).is_none(), "another client");
    let mut l = list.clone();
    assert!(take_pending(&mut l, Some(&oldest_kept), ISS, "app", T0 + 2 + PENDING_REDIRECT_TTL_MS).is_none(), "expired");
    assert!(l.len() < list.len(), "dead entries are dropped on read");
    let mut l = list.clone();
    l[0].v = 2;
    assert!(take_pending(&mut l, Some(&oldest_kept), ISS, "app", T0 + 20).is_none(), "another version");
}

#[test]
fn the_record_round_trips_and_hides_its_secrets_from_debug() {
    let p = start(&AuthorizeOptions { return_to: Some("/x".into()), ..options() }, 3, T0).unwrap().pending;
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.starts_with(r#"{"v":1,"issuer":"http://127.0.0.1:9400","clientId":"app","state":""#), "{json}");
    assert!(json.contains(r#""returnTo":"/x","startedAt":1700000000000}"#));
    assert_eq!(serde_json::from_str::<PendingRedirect>(&json).unwrap(), p);
    assert_eq!(format!("{p:?}"), "PendingRedirect([redacted])");
}

#[test]
fn callback_parameters_are_read_from_the_query_only() {
    let p = parse_callback("http://app/cb?code=a%2Bb+c&state=s1&iss=http%3A%2F%2Fidp&extra=1#code=evil");
    assert_eq!(p, CallbackParams { code: Some("a+b c".into()), state: Some("s1".into()), iss: Some("http://idp".into()), ..Default::default() });
    let p = parse_callback("http://app/cb?error=access_denied&error_description=User%20said%20no&state=s");
    assert_eq!((p.error.as_deref(), p.error_description.as_deref()), (Some("access_denied"), Some("User said no")));
    assert_eq!(parse_callback("http://app/cb"), CallbackParams::default());
    assert_eq!(parse_callback("http://app/cb?state=%zz&code=%C3").state, None, "a bad escape reads as absent");
    let p = parse_callback("http://app/cb?state=a&code=c&state=b");
    assert_eq!((p.state, p.code.as_deref()), (None, Some("c")), "a state given twice is no state");
}

fn pending() -> PendingRedirect {
    start(&options(), 9, T0).unwrap().pending
}

fn params(q: &str) -> CallbackParams {
    parse_callback(&format!("http://app.test/callback?{q}"))
}

#[test]
fn a_callback_without_its_pending_login_is_a_state_mismatch() {
    let e = check_callback(&params("code=c&state=x"), None, ISS, false).unwrap_err();
    assert_eq!(e.code(), "state_mismatch");
    // Even an error response for an unknown state is not believed.
    let e = check_callback(&params("error=access_denied&state=x"), None, ISS, false).unwrap_err();
    assert_eq!(e.code(), "state_mismatch");
}

#[test]
fn iss_must_be_the_issuer_and_present_when_promised() {
    let ok = check_callback(&params("code=c&state=s&iss=http%3A%2F%2F127.0.0.1%3A9400"), Some(pending()), ISS, true).unwrap();
    assert_eq!(ok.code, "c");
    assert_eq!(ok.pending.code_verifier, VERIFIER);
    let e = check_callback(&params("code=c&state=s&iss=http%3A%2F%2Fevil"), Some(pending()), ISS, false).unwrap_err();
    assert_eq!(e.code(), "issuer_mismatch");
    let e = check_callback(&params("error=access_denied&iss=http%3A%2F%2Fevil"), Some(pending()), ISS, false).unwrap_err();
    assert_eq!(e.code(), "issuer_mismatch", "a mix-up error response is not believed either");
    let e = check_callback(&params("code=c&state=s"), Some(pending()), ISS, true).unwrap_err();
    assert_eq!(e.code(), "issuer_mismatch");
    assert!(check_callback(&params("code=c&state=s"), Some(pending()), ISS, false).is_ok(), "not promised: may be absent");
}

#[test]
fn error_responses_carry_their_code_and_description() {
    let cases = [
        ("access_denied", "access_denied"),
        ("login_required", "login_required"),
        ("consent_required", "login_required"),
        ("interaction_required", "login_required"),
        ("server_error", "authorization_failed"),
    ];
    for (error, code) in cases {
        let e = check_callback(&params(&format!("error={error}&error_description=Nope%0A%3Cb%3E")), Some(pending()), ISS, false).unwrap_err();
        assert_eq!(e.code(), code);
        assert_eq!(e.message(), format!("the provider refused the login: {error} (Nope<b>)"));
        assert_eq!(e.context().unwrap().oauth_error.as_deref(), Some(error));
    }
    let e = check_callback(&params("state=s"), Some(pending()), ISS, false).unwrap_err();
    assert_eq!(e.code(), "invalid_response");
}

#[test]
fn the_logout_url_carries_the_hint_and_a_valid_return() {
    assert_eq!(logout_url(None, "app", Some("t"), None), None);
    assert_eq!(
        logout_url(Some("http://idp/session/end"), "app", Some("h.p.s"), Some("http://app/bye?x=1")).as_deref(),
        Some("http://idp/session/end?client_id=app&id_token_hint=h.p.s&post_logout_redirect_uri=http%3A%2F%2Fapp%2Fbye%3Fx%3D1")
    );
    assert_eq!(logout_url(Some("http://idp/end?a=b"), "app", None, Some("javascript:x")).as_deref(), Some("http://idp/end?a=b&client_id=app"));
}

#[test]
fn extra_params_are_appended_and_cannot_replace_the_logins_own() {
    let opts = AuthorizeOptions { extra_params: vec![("session_duration".into(), "30 d".into())], ..options() };
    let s = start(&opts, 1, T0).unwrap();
    assert!(s.url.ends_with("&session_duration=30%20d"), "{}", s.url);
    for name in ["state", "redirect_uri", "code_challenge_method", "scope", "", "a b", "a&b"] {
        let opts = AuthorizeOptions { extra_params: vec![(name.into(), "x".into())], ..options() };
        assert_eq!(start(&opts, 1, T0).unwrap_err().kind(), ErrorKind::InvalidConfig, "{name}");
    }
}

#[test]
fn a_refused_code_is_an_authorization_failure_and_other_answers_are_not() {
    let e = code_exchange_error(400, Some("invalid_grant"));
    assert_eq!(e.code(), "authorization_failed");
    assert_eq!(e.message(), "the provider refused the authorization code, expired or already used: sign in again (HTTP 400): invalid_grant");
    assert_eq!(e.context().and_then(|c| c.oauth_error.as_deref()), Some("invalid_grant"));
    for (status, error) in [(400, Some("invalid_client")), (500, None), (200, None), (400, Some("Invalid Grant"))] {
        let e = code_exchange_error(status, error);
        assert_eq!(e.code(), "invalid_response", "{status} {error:?}");
        assert!(e.message().starts_with("authorization code exchange (HTTP "), "{}", e.message());
    }
}

#[test]
fn the_device_requests_own_parameters_cannot_be_replaced_either() {
    assert!(check_extra_params(&[("session_duration".into(), "30d".into()), ("acr_values".into(), "x".into())]).is_ok());
    // RFC 8628 §3.1's client_id and scope, and the client's audience and resource.
    for name in ["client_id", "scope", "audience", "resource"] {
        let e = check_extra_params(&[(name.into(), "x".into())]).unwrap_err();
        assert_eq!((e.code(), e.message()), ("invalid_config", ["option `extraParams`: may not set ", name].concat().as_str()));
    }
    for name in ["", "a=b", "a b", "a\nb"] {
        let e = check_extra_params(&[("ok".into(), "x".into()), (name.into(), "x".into())]).unwrap_err();
        assert_eq!(e.message(), "option `extraParams`: parameter names are letters, digits, _, - and .", "{name:?}");
    }
}
