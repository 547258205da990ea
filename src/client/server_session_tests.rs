use super::*;
use crate::client::config::OptionValue;
use crate::client::refresh::tests::{session_with, T0};
use crate::client::refresh::{RefreshOutcome, RefreshPolicy, TokenStep};
use crate::client::token::{ExpirySource, TokenSet};
use crate::secret::{AccessToken, RefreshToken};

const SID: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const NOW: i64 = 1_764_000_000_000;

fn names(writes: &[CookieWrite]) -> Vec<(&str, i64)> {
    writes.iter().map(|w| (w.name.as_str(), w.max_age_secs)).collect()
}

#[test]
fn secure_and_host_prefixed_outside_loopback_http() {
    let names = |url: &str| [SESSION_COOKIE, LOGIN_COOKIE, DEVICE_COOKIE].map(|n| cookie_name(n, secure_cookies(url)));
    for url in ["https://app.example.com", "https://localhost:3000", "http://app.example.com", "http://127.evil.com", "http://localhost.evil.com"] {
        assert!(secure_cookies(url), "{url}");
        assert_eq!(names(url), ["__Host-mesh.session", "__Host-mesh.login", "__Host-mesh.device"], "{url}");
    }
    // A `__Host-` cookie without `Secure` is refused by browsers.
    for url in ["http://localhost:3000", "http://127.0.0.1:3000/x", "http://[::1]:3000", "http://app.localhost", "http://LOCALHOST"] {
        assert!(!secure_cookies(url), "{url}");
        assert_eq!(names(url), ["mesh.session", "mesh.login", "mesh.device"], "{url}");
    }
}

#[test]
fn a_host_cookie_is_written_as_browsers_keep_it_and_never_read_from_the_bare_name() {
    let name = cookie_name(SESSION_COOKIE, true);
    let big = "v".repeat(CHUNK_CHARS + 1);
    let writes = write_cookie(&name, Some(&big), 60, true, &[]).unwrap();
    assert_eq!(names(&writes), vec![("__Host-mesh.session.0", 60), ("__Host-mesh.session.1", 60)]);
    for w in &writes {
        // RFC 6265bis 4.1.3.2: Secure, Path=/, no Domain.
        let header = w.header();
        assert!(header.ends_with("; Secure") && header.contains("; Path=/;") && !header.to_ascii_lowercase().contains("domain"), "{header}");
    }
    // A sibling subdomain can set the bare name (with its Domain), never the prefixed one.
    let planted = parse_cookie_header("mesh.session=sealed-by-the-attacker; mesh.session.0=a; mesh.session.1=b");
    assert_eq!(read_cookie(&planted, &name), None);
    let both = parse_cookie_header("mesh.session=planted; __Host-mesh.session=mine");
    assert_eq!(read_cookie(&both, &name).as_deref(), Some("mine"));
}

#[test]
fn a_host_cookie_write_deletes_the_bare_cookies_an_older_version_left() {
    let present: Vec<String> = ["mesh.session", "mesh.session.0", "mesh.session.1", "mesh.sessionx", "mesh.login", "__Host-mesh.session.2", "other"].map(String::from).into();
    let writes = write_cookie(&cookie_name(SESSION_COOKIE, true), Some("v"), 60, true, &present).unwrap();
    assert_eq!(
        names(&writes),
        vec![("__Host-mesh.session", 60), ("mesh.session", 0), ("mesh.session.0", 0), ("mesh.session.1", 0), ("__Host-mesh.session.2", 0)]
    );
    // The deletions carry the attributes the old cookies were set with (https: Secure).
    assert!(writes.iter().all(|w| w.header().ends_with("; HttpOnly; SameSite=Lax; Secure")));
    // Signing out deletes both generations; a request without old cookies gets no extra header.
    let out = write_cookie(&cookie_name(SESSION_COOKIE, true), None, 0, true, &present).unwrap();
    assert_eq!(names(&out), vec![("mesh.session", 0), ("mesh.session.0", 0), ("mesh.session.1", 0), ("__Host-mesh.session.2", 0)]);
    assert_eq!(names(&write_cookie(&cookie_name(LOGIN_COOKIE, true), Some("v"), 60, true, &["__Host-mesh.login".into()]).unwrap()), vec![("__Host-mesh.login", 60)]);
    // Each cookie clears its own old name only; a bare name (loopback HTTP) has no older one.
    let login = write_cookie(&cookie_name(LOGIN_COOKIE, true), None, 0, true, &present).unwrap();
    assert_eq!(names(&login), vec![("mesh.login", 0)]);
    let plain = write_cookie(SESSION_COOKIE, None, 0, false, &["__Host-mesh.session".into(), "mesh.login".into()]).unwrap();
    assert!(plain.is_empty());
}

#[test]
fn options_checked() {
    assert_eq!(base_url("https://app.example.com/").unwrap(), "https://app.example.com");
    for bad in ["app.example.com", "javascript:alert(1)", "https://a b", "ftp://a", "https://", "https:///x", "https://:443", "https://a:x", "https://a:70000", "https://a:0", "https://a\\b", "https://[::g]"] {
        let e = base_url(bad).unwrap_err();
        assert_eq!((e.code(), e.message()), ("invalid_config", "option `baseUrl`: must be the app's absolute http(s) URL, such as https://app.example.com"), "{bad}");
    }
}

#[test]
fn base_url_is_an_origin_as_browsers_send_it() {
    // The `Origin` a browser sends: lower case, no default port.
    for (given, origin) in [
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("https://app.example.com:443/", "https://app.example.com"),
        ("http://localhost:80", "http://localhost"),
        ("http://localhost:3000/", "http://localhost:3000"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("http://app.example.com:443", "http://app.example.com:443"),
        ("https://a:0443", "https://a"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://[2001:DB8::1]:443", "https://[2001:db8::1]"),
    ] {
        assert_eq!(base_url(given).unwrap(), origin, "{given}");
    }
    let post = |base: &str, origin: &str| dispatch(&base_url(base).unwrap(), "POST", "/auth/logout", Some(origin));
    assert_eq!(post("https://app.example.com:443", "https://app.example.com"), Dispatch::Serve(Route::Logout));
    assert_eq!(post("https://App.Example.com", "https://app.example.com"), Dispatch::Serve(Route::Logout));
    // What the routes and `protect` cannot serve, and userinfo, whose password is never quoted.
    let origin_only = "option `baseUrl`: must be the app's origin only, such as https://app.example.com: mesh-sdk/next serves its routes and protects paths from / (no path, query or fragment)";
    for bad in ["https://app.example.com/myapp", "https://app.example.com/myapp/", "https://a//", "https://a?x=1", "https://a/?x", "https://a#f", "https://a/#"] {
        assert_eq!(base_url(bad).unwrap_err().message(), origin_only, "{bad}");
    }
    for bad in ["https://user:hunter2@app.example.com", "https://user@app.example.com", "https://:hunter2@a/x"] {
        let e = base_url(bad).unwrap_err();
        assert_eq!((e.code(), e.message()), ("invalid_config", "option `baseUrl`: must not hold a user name or password"), "{bad}");
        assert!(!format!("{e:?}").contains("hunter2"));
    }
    assert!(check_secret(Some("0123456789abcdef0123456789abcdef")).is_ok(), "hex");
    assert!(check_secret(Some("k3Jx9Qw2LmZ8vB4nR7tY1uE5oP0aS6dF")).is_ok());
    for placeholder in [" ".repeat(32), "x".repeat(32), "abababababababababababababababab".into(), "changeme".repeat(4)] {
        assert!(check_secret(Some(&placeholder)).is_err(), "{placeholder:?}");
    }
    assert!(check_secret(Some("short")).is_err());
    assert!(check_secret(None).is_err());
    let text = |p: &str| OptionValue::Str(p.into());
    let list = |paths: Vec<OptionValue>| Some(OptionValue::List(paths));
    assert_eq!(protect_paths(&list(vec![text("/settings"), text("/api/keys")])).unwrap(), ["/settings", "/api/keys"]);
    assert_eq!(protect_paths(&None).unwrap(), Vec::<String>::new());
    assert_eq!(protect_paths(&Some(OptionValue::Null)).unwrap(), Vec::<String>::new());
    for bad in [list(vec![text("settings")]), list(vec![text("/a?b")]), list(vec![text("/a"), OptionValue::Num(1.0)]), Some(text("/settings")), Some(OptionValue::Other)] {
        let e = protect_paths(&bad).unwrap_err();
        assert!(e.message().contains("`protect`"), "{bad:?}: {}", e.message());
    }
}

#[test]
fn routes_and_urls() {
    assert_eq!(route("/auth/login"), Some(Route::Login));
    assert_eq!(route("/auth/callback/"), Some(Route::Callback));
    assert_eq!(route("/auth/logout"), Some(Route::Logout));
    assert_eq!(route("/auth/other"), None);
    assert_eq!(route("/authx/login"), None);
    assert_eq!(route("/auth/device"), Some(Route::Device));
    assert_eq!(route("/auth/device/poll"), Some(Route::DevicePoll));
    assert_eq!(route("/auth/device/cancel/"), Some(Route::DeviceCancel));
    assert_eq!(redirect_uri("http://a:3000"), "http://a:3000/auth/callback");
    assert_eq!(return_url("http://a", Some("/settings?x=1")), "http://a/settings?x=1");
    for open in ["//evil.example", "https://evil.example", "/\\evil.example", "settings"] {
        assert_eq!(return_url("http://a", Some(open)), "http://a/", "{open}");
    }
    assert_eq!(return_url("http://a", None), "http://a/");
}

#[test]
fn payload_round_trip_and_refusals() {
    let p = SessionPayload { sid: SID.into(), created_at: NOW, record: Some(r#"{"v":1,"a":"x|y"}"#.into()) };
    let text = p.encode();
    assert_eq!(SessionPayload::decode(&text, false, NOW + 1), Some(p.clone()));
    // A cookie-store payload read by a server store and the reverse.
    assert_eq!(SessionPayload::decode(&text, true, NOW), None);
    let server = SessionPayload { sid: SID.into(), created_at: NOW, record: None };
    assert_eq!(SessionPayload::decode(&server.encode(), true, NOW), Some(server.clone()));
    assert_eq!(SessionPayload::decode(&server.encode(), false, NOW), None);
    // Past its lifetime, from the future, another version, a bad id.
    assert_eq!(SessionPayload::decode(&text, false, NOW + SESSION_MAX_MS), None);
    assert!(SessionPayload::decode(&text, false, NOW + SESSION_MAX_MS - 1).is_some());
    assert_eq!(SessionPayload::decode(&text, false, NOW - SKEW_MS - 1), None);
    assert_eq!(SessionPayload::decode(&text.replacen('1', "2", 1), false, NOW), None);
    assert_eq!(SessionPayload::decode(&text.replace(SID, "short"), false, NOW), None);
    assert_eq!(SessionPayload::decode("garbage", false, NOW), None);
    assert_eq!(p.ttl_ms(NOW + 1000), SESSION_MAX_MS - 1000);
    assert_eq!(format!("{p:?}"), "SessionPayload([redacted])");
    assert_eq!(session_id(&[0u8; 32]).unwrap(), SID);
    assert!(session_id(&[0u8; 31]).is_err());
}

#[test]
fn signed_in_while_refreshable_or_unexpired() {
    let t = |refresh: bool, expires: i64| TokenSet {
        access_token: AccessToken::new("a"),
        refresh_token: refresh.then(|| RefreshToken::new("r")),
        received_at_ms: NOW,
        expires_at_ms: Some(expires),
        expiry_source: ExpirySource::ExpiresIn,
        scope: None,
    };
    let session = |tokens: TokenSet| {
        let mut s = Session::new(RefreshPolicy::default());
        s.set_session(tokens);
        s
    };
    assert!(signed_in(&session(t(true, NOW - 1)), NOW));
    assert!(signed_in(&session(t(false, NOW + 1)), NOW));
    assert!(!signed_in(&session(t(false, NOW)), NOW));
    assert!(!signed_in(&Session::new(RefreshPolicy::default()), NOW));
}

#[test]
fn a_refresh_of_unknown_outcome_keeps_the_session_until_its_access_token_expires() {
    // A 300 s token, refreshed in its leeway; the token request times out (it may have arrived).
    let mut s = session_with("a1", "r1", 300);
    let start = T0 + 241_000;
    assert!(matches!(s.get_token(start), TokenStep::StartRefresh { .. }));
    assert!(matches!(s.on_timeout(start + 30_000, 0.5), RefreshOutcome::Failed { still_valid: Some(_), .. }));
    // auth() and fetchApi go on with a1 to its expiry; r1 is never offered again.
    for now in (start + 30_000..T0 + 300_000).step_by(1_000) {
        assert!(signed_in(&s, now), "{now}");
        assert!(matches!(s.get_token(now), TokenStep::Ready(r) if r.token.secret() == "a1"), "{now}");
    }
    // Then the session ends, and auth() says so before any call ends it.
    assert!(!signed_in(&s, T0 + 300_000));
    assert!(matches!(s.get_token(T0 + 300_000), TokenStep::Ended(e) if e.code() == "session_ended"));
}

#[test]
fn sealed_values() {
    let sealed = seal(&[1; 12], &[2; 20]);
    assert_eq!(unseal(&sealed), Some((vec![1; 12], vec![2; 20])));
    assert_eq!(unseal(&seal(&[1; 12], &[2; 15])), None, "shorter than IV and tag");
    assert_eq!(unseal("not base64!"), None);
}

#[test]
fn cookie_header_and_chunks() {
    let pairs = parse_cookie_header(r#"a=1; mesh.session="xyz"; =bad; b"#);
    assert_eq!(pairs, vec![("a".into(), "1".into()), ("mesh.session".into(), "xyz".into())]);
    assert_eq!(read_cookie(&pairs, SESSION_COOKIE).as_deref(), Some("xyz"));

    let big = "v".repeat(CHUNK_CHARS * 2 + 10);
    let writes = write_cookie(SESSION_COOKIE, Some(&big), 60, true, &["mesh.session".into(), "mesh.session.5".into(), "other".into()]).unwrap();
    assert_eq!(names(&writes), vec![("mesh.session.0", 60), ("mesh.session.1", 60), ("mesh.session.2", 60), ("mesh.session", 0), ("mesh.session.5", 0)]);
    assert!(writes.iter().all(|w| w.header().len() < 4096));
    assert_eq!(writes[0].header(), ["mesh.session.0=", &"v".repeat(CHUNK_CHARS), "; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"].concat());
    let back: Vec<(String, String)> = writes.iter().filter(|w| w.max_age_secs > 0).map(|w| (w.name.clone(), w.value.clone())).collect();
    assert_eq!(read_cookie(&back, SESSION_COOKIE), Some(big.clone()));
    // A missing middle chunk or a stray extra one reads as no cookie.
    let gap: Vec<_> = back.iter().filter(|(k, _)| k != "mesh.session.1").cloned().collect();
    assert_eq!(read_cookie(&gap, SESSION_COOKIE), None);
    let mut stray = back.clone();
    stray.push(("mesh.session.7".into(), "x".into()));
    assert_eq!(read_cookie(&stray, SESSION_COOKIE), None);
    // Deleting removes every part the request carried.
    let gone = write_cookie(SESSION_COOKIE, None, 0, false, &["mesh.session.0".into(), "mesh.session.1".into(), "mesh.sessionx".into()]).unwrap();
    assert_eq!(names(&gone), vec![("mesh.session.0", 0), ("mesh.session.1", 0)]);
    assert!(!gone[0].header().contains("Secure"));
}

/// The `Cookie` header a browser sends back for `writes`.
fn cookie_header(writes: &[CookieWrite]) -> String {
    writes.iter().map(|w| [w.name.as_str(), "=", &w.value].concat()).collect::<Vec<_>>().join("; ")
}

#[test]
fn a_written_session_leaves_room_under_nodes_16_kib_of_headers() {
    // Node's http server (`next start`) answers 431 past 16 KiB of request headers in all.
    const NODE_MAX_HEADER_BYTES: usize = 16 * 1024;
    let largest = "v".repeat(CHUNK_CHARS * MAX_WRITTEN_CHUNKS);
    let writes = write_cookie(SESSION_COOKIE, Some(&largest), 60, true, &[]).unwrap();
    let header = cookie_header(&writes);
    assert!(header.len() + 4096 <= NODE_MAX_HEADER_BYTES, "{} bytes leave under 4 KB for the rest of the request", header.len());
    assert!(TOO_LARGE.contains(&format!("over {},{:03} characters", largest.len() / 1000, largest.len() % 1000)), "the message says the bound");
    // One character more is refused at write time, pointing to a server store.
    let e = write_cookie(SESSION_COOKIE, Some(&[largest.as_str(), "v"].concat()), 60, true, &[]).unwrap_err();
    assert_eq!(e.code(), "storage");
    assert!(e.message().contains("use a server store, such as store: { redis:"), "{}", e.message());
    // A larger cookie an older version wrote is still read.
    let legacy: Vec<(String, String)> = (0..MAX_CHUNKS).map(|i| (chunk_name(SESSION_COOKIE, i), "v".repeat(CHUNK_CHARS))).collect();
    assert_eq!(read_cookie(&legacy, SESSION_COOKIE).map(|v| v.len()), Some(CHUNK_CHARS * MAX_CHUNKS));
}

#[test]
fn middleware_decisions() {
    let protect = vec!["/settings".to_string(), "/api/keys".to_string()];
    let g = |path: &str, search: &str, signed_in: bool| guard("http://a", path, search, &protect, signed_in);
    assert_eq!(g("/settings", "", true), Guard::Pass);
    assert_eq!(g("/", "", false), Guard::Pass);
    assert_eq!(g("/settingsx", "", false), Guard::Pass);
    assert_eq!(g("/auth/login", "", false), Guard::Pass);
    assert_eq!(g("/settings/keys", "?tab=1&x=a b", false), Guard::Login("http://a/auth/login?returnTo=%2Fsettings%2Fkeys%3Ftab%3D1%26x%3Da%20b".into()));
    assert_eq!(g("/api/keys", "", false), Guard::Unauthorized);
    assert_eq!(g("/api/keys/1", "", false), Guard::Unauthorized);
    assert_eq!(g("/api/other", "", false), Guard::Pass);
}

#[test]
fn redis_keys_and_lock_times() {
    assert_eq!(redis::session_key(SID), ["mesh:session:", SID].concat());
    assert_ne!(redis::lock_key(SID), redis::fence_key(SID));
    assert!(redis::lock_wait_ms(10_000) > redis::lock_ttl_ms(10_000), "a waiter outlives a dead holder's lock");
    for script in [redis::ACQUIRE, redis::WRITE, redis::REMOVE, redis::RELEASE] {
        assert!(script.contains("KEYS[1]"));
    }
}

#[test]
fn redis_connection_rules_are_bounded_and_coded() {
    // Every wait is bounded: the attempts, their backoff and each attempt's time.
    let delays = redis::RECONNECT_DELAYS_MS;
    assert!(delays.windows(2).all(|w| w[1] > w[0]), "backoff grows");
    assert!(delays.iter().sum::<i64>() + (delays.len() as i64 + 1) * redis::CONNECT_TIMEOUT_MS <= 15_000, "a command gives up within 15 s");
    assert_eq!(redis::command_timeout_ms(10_000), 10_000);
    assert_eq!(redis::uses_tls("redis:").unwrap(), false);
    assert_eq!(redis::uses_tls("rediss:").unwrap(), true);
    for scheme in ["http:", "redis", "", "REDIS:"] {
        assert_eq!(redis::uses_tls(scheme).unwrap_err().code(), "invalid_config", "{scheme}");
    }
    let cases = [
        (redis::failure("closed", ""), "the Redis connection closed before the command was answered"),
        (redis::failure("unreachable", "127.0.0.1:6379, 5 attempts: ECONNREFUSED"), "Redis could not be reached: 127.0.0.1:6379, 5 attempts: ECONNREFUSED"),
        (redis::failure("timeout", "10000"), "Redis did not answer within 10000 ms"),
        (redis::failure("reply", "NOAUTH Authentication required."), "Redis refused the command: NOAUTH Authentication required."),
        (redis::failure("protocol", "type byte 63"), "Redis sent a reply that is not RESP (type byte 63): the connection was dropped"),
    ];
    for (e, message) in cases {
        assert_eq!((e.code(), e.message()), ("storage", message));
    }
}

#[test]
fn redis_error_replies_fail_their_command_and_drop_a_replicas_connection() {
    for (reply, drops) in [
        ("ERR unknown command 'NOSUCH', with args beginning with: ", false),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", false),
        ("LOADING Redis is loading the dataset in memory", false),
        ("NOSCRIPT No matching script.", false),
        ("READONLY You can't write against a read only replica.", true),
        ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true),
        ("READONLYX not the word", false),
        ("", false),
    ] {
        let (e, drop) = redis::error_reply(reply);
        assert_eq!(drop, drops, "{reply}");
        assert_eq!((e.code(), e.message()), ("storage", ["Redis refused the command: ", reply].concat().as_str()));
    }
}

#[test]
fn state_changes_are_post_only_and_from_the_apps_origin() {
    let base = "http://localhost:3000";
    let own = Some("http://localhost:3000");
    assert_eq!(dispatch(base, "GET", "/auth/login", None), Dispatch::Serve(Route::Login));
    assert_eq!(dispatch(base, "GET", "/auth/device", None), Dispatch::Serve(Route::Device), "reading the pending login");
    assert_eq!(dispatch(base, "POST", "/auth/device", own), Dispatch::Serve(Route::DeviceStart), "starting one");
    assert_eq!(dispatch(base, "GET", "/auth/logout", own), Dispatch::MethodNotAllowed("POST".into()), "an <img> cannot sign out");
    assert_eq!(dispatch(base, "POST", "/auth/login", own), Dispatch::MethodNotAllowed("GET".into()));
    assert_eq!(dispatch(base, "post", "/auth/logout", own), Dispatch::Serve(Route::Logout));
    assert_eq!(dispatch(base, "POST", "/auth/device/poll", own), Dispatch::Serve(Route::DevicePoll));
    for origin in [None, Some("http://evil.example"), Some("http://localhost:3001"), Some("https://localhost:3000"), Some("null")] {
        for path in ["/auth/logout", "/auth/device", "/auth/device/poll", "/auth/device/cancel"] {
            assert_eq!(dispatch(base, "POST", path, origin), Dispatch::ForeignOrigin, "{path} from {origin:?}");
        }
    }
    assert_eq!(dispatch("https://app.example/sub", "POST", "/auth/logout", Some("https://app.example")), Dispatch::Serve(Route::Logout));
    assert_eq!(dispatch(base, "GET", "/auth/nope", None), Dispatch::NotFound);
}

#[test]
fn a_head_is_answered_bare_where_its_get_only_reads_and_refused_where_it_would_start_or_spend_a_login() {
    let base = "http://localhost:3000";
    assert_eq!(dispatch(base, "HEAD", "/auth/device", None), Dispatch::Serve(Route::Device));
    assert_eq!(dispatch(base, "head", "/auth/device", Some("http://evil.example")), Dispatch::Serve(Route::Device), "a HEAD changes nothing");
    for path in ["/auth/login", "/auth/callback"] {
        assert_eq!(dispatch(base, "HEAD", path, None), Dispatch::MethodNotAllowed("GET".into()), "{path}");
    }
    for path in ["/auth/logout", "/auth/device/poll", "/auth/device/cancel"] {
        assert_eq!(dispatch(base, "HEAD", path, None), Dispatch::MethodNotAllowed("POST".into()), "{path}");
    }
    assert_eq!(dispatch(base, "PUT", "/auth/device", None), Dispatch::MethodNotAllowed("GET, HEAD, POST".into()));
    assert!(answers_bare("HEAD") && answers_bare("head"));
    assert!(["GET", "POST", "OPTIONS", "HEADER"].iter().all(|m| !answers_bare(m)));
}

#[test]
fn failures_and_device_states() {
    assert_eq!(failure_status("network"), UPSTREAM_FAILED_STATUS);
    assert_eq!(failure_status("timeout"), UPSTREAM_FAILED_STATUS);
    assert_eq!(failure_status("state_mismatch"), REFUSED_STATUS);
    for (code, status) in [("network", 502), ("timeout", 502), ("login_required", 401), ("unauthorized", 401), ("refresh_failed", 502), ("session_ended", 401), ("forbidden", 403), ("storage", 500), ("invalid_config", 500), ("", 500)] {
        assert_eq!(api_failure_status(code), status, "{code}");
    }
    assert_eq!(device_end("device_code_expired"), ("expired", 200));
    assert_eq!(device_end("access_denied"), ("denied", 200));
    assert_eq!(device_end("http_error"), ("failed", REFUSED_STATUS));
    assert_eq!(device_end("network"), ("failed", UPSTREAM_FAILED_STATUS), "the provider kept failing");
}

#[test]
fn route_handlers_of_the_app_refuse_foreign_state_changes() {
    let base = "https://app.example/sub";
    for method in ["GET", "head", "OPTIONS"] {
        assert!(origin_allowed(base, method, None), "{method} changes nothing");
        assert!(origin_allowed(base, method, Some("https://evil.example")), "{method} changes nothing");
    }
    for method in ["POST", "put", "PATCH", "DELETE"] {
        assert!(origin_allowed(base, method, Some("https://app.example")), "{method} from the app");
        assert!(origin_allowed(base, method, Some("HTTPS://APP.EXAMPLE")), "origins compare without case");
        for origin in [None, Some("https://evil.example"), Some("https://app.example.evil.example"), Some("http://app.example"), Some("null")] {
            assert!(!origin_allowed(base, method, origin), "{method} from {origin:?}");
        }
    }
}

#[test]
fn a_call_outside_nextjs_without_a_request_says_what_to_pass() {
    for (call, usage) in [("auth", "auth(request)"), ("getAccessToken", "getAccessToken(request, headers)"), ("fetchApi", "fetchApi(input, init, { request, headers })")] {
        let e = outside_next(call, "Cannot find package 'next'");
        assert_eq!(e.code(), "invalid_config");
        assert!(e.message().starts_with(&[call, "() without a request"].concat()), "{}", e.message());
        assert!(e.message().contains("(Cannot find package 'next')") && e.message().contains("Next.js"), "{}", e.message());
        assert!(e.message().ends_with(&["pass the request: ", usage].concat()), "{}", e.message());
    }
}

#[test]
fn the_store_option_names_where_the_session_lives() {
    use StoreShape::*;
    assert_eq!(Store::of(Absent).unwrap(), Store::Cookie);
    assert_eq!(Store::of(Text("cookie".into())).unwrap(), Store::Cookie);
    assert_eq!(Store::of(Text("memory".into())).unwrap(), Store::Memory);
    assert_eq!(Store::of(Redis("redis://127.0.0.1:6379".into())).unwrap(), Store::Redis("redis://127.0.0.1:6379".into()));
    assert_eq!(Store::of(Methods).unwrap(), Store::Custom);
    assert!(!Store::Cookie.is_server() && Store::Memory.is_server() && Store::Custom.is_server());
    for shape in [Text("disk".into()), Text("Cookie".into()), Text(String::new()), Other] {
        let e = Store::of(shape.clone()).unwrap_err();
        assert_eq!(e.code(), "invalid_config", "{shape:?}");
        assert!(e.message().contains("`store`"), "{shape:?}: {}", e.message());
    }
}
