use super::*;
use crate::error::ErrorKind;

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// A Linux desktop: a display, no SSH, no CI, no container.
fn desktop() -> TerminalFacts {
    TerminalFacts { platform: "linux".into(), display: s(":0"), ..Default::default() }
}

fn flow(f: &TerminalFacts) -> LoginFlow {
    plan_login(f).unwrap().flow
}

#[test]
fn a_desktop_opens_the_browser() {
    let p = plan_login(&desktop()).unwrap();
    assert_eq!((p.flow, p.headless, p.extended, p.prompt), (LoginFlow::Browser, false, false, None));
    assert_eq!(p.scope, TERMINAL_DEFAULT_SCOPE);
    assert!(p.params.is_empty());
    assert_eq!(flow(&TerminalFacts { display: None, wayland_display: s("wayland-0"), ..desktop() }), LoginFlow::Browser);
    // macOS and Windows have no DISPLAY and still have a browser.
    for platform in ["darwin", "win32"] {
        assert_eq!(flow(&TerminalFacts { platform: platform.into(), ..Default::default() }), LoginFlow::Browser);
    }
}

#[test]
fn headless_environments_take_the_device_code() {
    let cases = [
        TerminalFacts { display: None, ..desktop() },
        TerminalFacts { display: s(" "), ..desktop() },
        TerminalFacts { platform: "freebsd".into(), display: None, ..desktop() },
        TerminalFacts { ssh_connection: s("10.0.0.1 5000 10.0.0.2 22"), ..desktop() },
        TerminalFacts { ssh_tty: s("/dev/pts/3"), ..desktop() },
        TerminalFacts { ci: s("true"), ..desktop() },
        TerminalFacts { ci: s("1"), platform: "darwin".into(), ..desktop() },
        TerminalFacts { container: true, ..desktop() },
        TerminalFacts { mesh_headless: s("TRUE"), ..desktop() },
        TerminalFacts { mesh_headless: s("1"), platform: "win32".into(), ..desktop() },
    ];
    for f in cases {
        let p = plan_login(&f).unwrap();
        assert_eq!((p.flow, p.headless, p.extended, p.prompt), (LoginFlow::Device, true, true, None), "{f:?}");
    }
    assert_eq!(plan_login(&TerminalFacts { ssh_tty: s("x"), ..desktop() }).unwrap().reason, "this is an SSH session");
}

#[test]
fn ci_false_and_mesh_headless_false_are_not_headless() {
    assert_eq!(flow(&TerminalFacts { ci: s("false"), ..desktop() }), LoginFlow::Browser);
    // MESH_HEADLESS=false: the user says a browser can be opened (an SSH session with X forwarding).
    assert_eq!(flow(&TerminalFacts { mesh_headless: s("false"), ssh_tty: s("x"), display: None, ..desktop() }), LoginFlow::Browser);
    assert_eq!(flow(&TerminalFacts { mesh_headless: s(""), ssh_tty: s("x"), ..desktop() }), LoginFlow::Device);
}

#[test]
fn flags_override_the_environment() {
    let headless = TerminalFacts { ssh_tty: s("x"), mesh_headless: s("true"), ..desktop() };
    let p = plan_login(&TerminalFacts { force_browser: true, ..headless.clone() }).unwrap();
    assert_eq!((p.flow, p.reason), (LoginFlow::Browser, "--browser was given"));
    // The session still lasts long: the machine is headless.
    assert!(p.extended);
    assert_eq!(p.prompt, Some("consent"));
    let p = plan_login(&TerminalFacts { force_device: true, ..desktop() }).unwrap();
    assert_eq!((p.flow, p.extended), (LoginFlow::Device, false));
    let e = plan_login(&TerminalFacts { force_device: true, force_browser: true, ..desktop() }).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
}

#[test]
fn bad_booleans_are_refused_naming_the_variable() {
    for f in [TerminalFacts { mesh_headless: s("maybe"), ..desktop() }, TerminalFacts { extended_lifetime: s("2"), ..desktop() }] {
        let e = plan_login(&f).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains("MESH_"), "{e}");
    }
}

#[test]
fn extended_lifetime_adds_offline_access_and_the_provider_specific_parts() {
    let f = TerminalFacts {
        scope: s("openid profile"),
        extended_lifetime: s("true"),
        extended_scope: s("long_session  profile"),
        extended_param: s("session_duration=30d&acr_values=x"),
        ..desktop()
    };
    let p = plan_login(&f).unwrap();
    assert!(p.extended);
    assert_eq!(p.scope, "openid profile offline_access long_session");
    assert_eq!(p.params, vec![("session_duration".to_owned(), "30d".to_owned()), ("acr_values".to_owned(), "x".to_owned())]);
    // Not asked for: the configured scope as it is, no parameters.
    let p = plan_login(&TerminalFacts { extended_lifetime: s("false"), ssh_tty: s("x"), ..f.clone() }).unwrap();
    assert_eq!((p.extended, p.scope.as_str(), p.params.len()), (false, "openid profile", 0));
}

#[test]
fn extended_params_cannot_take_over_the_login() {
    for bad in ["state=x", "redirect_uri=http://evil", "scope=admin", "code_challenge_method=plain", "nonce=1", "novalue", "=x", "a=", "a=1&a=2", "a b=1"] {
        let f = TerminalFacts { extended_lifetime: s("true"), extended_param: s(bad), ..desktop() };
        let e = plan_login(&f).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{bad}");
        assert!(e.to_string().contains("MESH_EXTENDED_TOKEN_PARAM"), "{e}");
    }
}

#[test]
fn the_device_flow_carries_the_extended_params_too() {
    // Headless: the device code, with the same parameters the browser login would send.
    let f = TerminalFacts { extended_param: s("session_duration=30d"), ssh_tty: s("/dev/pts/0"), ..desktop() };
    let p = plan_login(&f).unwrap();
    assert_eq!((p.flow, p.extended, p.prompt), (LoginFlow::Device, true, None));
    assert_eq!(p.params, vec![("session_duration".to_owned(), "30d".to_owned())]);
    // They pass the device authorization request's check (the binding's deviceForm).
    assert!(crate::client::redirect::check_extra_params(&p.params).is_ok());
}
