//! The gateway's configuration (`gateway::config::GatewayConfig::from_env`):
//! every variable, and `MESH_ROUTES` JSON.
//!
//! Input: a mode byte, then `NAME=value` lines. Mode bit 0: the KV binding
//! exists; bit 1: start from a valid base environment that the lines then
//! override (so that one bad variable is reached behind the good ones).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::{Alg, GatewayConfig, MAX_CLOCK_SKEW_SECS, MIN_HS256_SECRET_BYTES, MIN_IDENTITY_SECRET_BYTES};
use mesh_sdk::gateway::route::{AuthMode, MAX_ROUTES};
use mesh_sdk::gateway::upstream::MAX_TIMEOUT_SECS;
use mesh_sdk_fuzz::assert_not_leaked;

const BASE: &[(&str, &str)] = &[
    ("MESH_UPSTREAM_URL", "https://origin.example"),
    ("MESH_JWT_ISSUER", "https://issuer.example"),
    ("MESH_JWT_AUDIENCE", "api"),
    ("MESH_JWT_HS256_SECRET", "0123456789abcdef0123456789abcdef"),
];

const SECRETS: &[&str] = &["MESH_JWT_HS256_SECRET", "MESH_IDENTITY_SECRET"];

fn lookup(env: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    // The last line naming a variable wins, as an override should.
    |name| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn check_ok(c: &GatewayConfig, env: &[(String, String)], has_key_store: bool) {
    assert!(c.upstream_url.starts_with("https://") || c.upstream_url.starts_with("http://"));
    assert!(!c.upstream_url.ends_with('/'));
    let timeout = c.upstream_timeout_ms;
    assert!((1000..=MAX_TIMEOUT_SECS * 1000).contains(&timeout) && timeout % 1000 == 0, "{timeout}");
    let routes: Vec<_> = c.routes.iter().collect();
    assert!(!routes.is_empty() && routes.len() <= MAX_ROUTES);
    for (i, r) in routes.iter().enumerate() {
        assert!(r.prefix.starts_with('/') && r.prefix.len() <= 256);
        assert!(!r.prefix.bytes().any(|b| b <= b' ' || b == 0x7f || matches!(b, b'?' | b'#' | b'%')));
        assert!(routes[..i].iter().all(|o| o.prefix != r.prefix));
    }
    let p = &c.api_key_prefix;
    assert!((1..=32).contains(&p.len()) && !p.starts_with("eyJ"));
    assert!(p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    assert!(c.identity_secret.as_ref().is_none_or(|s| s.secret().len() >= MIN_IDENTITY_SECRET_BYTES));
    for o in &c.cors_origins {
        assert!(o == "*" || ((o.starts_with("https://") || o.starts_with("http://")) && !o.ends_with('/')), "{o:?}");
        assert!(o == "*" || mesh_sdk::origin::of(o).as_ref() == Some(o), "kept as browsers send it: {o:?}");
    }
    assert_eq!(c.has_key_store, has_key_store);
    assert!(!c.routes.uses(AuthMode::ApiKey) || has_key_store);
    assert!(!c.routes.uses(AuthMode::Jwt) || !c.issuers.is_empty());
    for (i, j) in c.issuers.iter().enumerate() {
        assert!(c.issuers[..i].iter().all(|o| o.issuer != j.issuer), "an issuer twice");
        assert!(!j.issuer.is_empty() && !j.issuer.chars().any(char::is_control));
        assert!(!j.audiences.is_empty() && j.audiences.iter().all(|a| !a.is_empty()));
        assert!(!j.algorithms.is_empty());
        for (i, a) in j.algorithms.iter().enumerate() {
            assert!(!j.algorithms[..i].contains(a));
        }
        assert_eq!(j.allows(Alg::Hs256), j.hs256_secret.is_some());
        assert!(j.hs256_secret.as_ref().is_none_or(|s| s.secret().len() >= MIN_HS256_SECRET_BYTES));
        assert!(j.jwks.is_some() || j.algorithms == [Alg::Hs256]);
        assert!((0..=MAX_CLOCK_SKEW_SECS).contains(&j.clock_skew_secs));
    }
    // The route table written back as MESH_ROUTES reads back the same.
    let json: Vec<_> = routes.iter().map(|r| serde_json::json!({"prefix": r.prefix, "auth": r.auth.name()})).collect();
    let mut again = env.to_vec();
    again.push(("MESH_ROUTES".into(), serde_json::to_string(&json).unwrap()));
    let c2 = GatewayConfig::from_env(lookup(&again), has_key_store).expect("the same routes parse again");
    assert!(c2.routes.iter().eq(c.routes.iter()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let has_key_store = mode & 1 == 1;
    let mut env: Vec<(String, String)> = Vec::new();
    if mode & 2 == 2 {
        env.extend(BASE.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    env.extend(text.split('\n').filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())));

    match GatewayConfig::from_env(lookup(&env), has_key_store) {
        Ok(c) => check_ok(&c, &env, has_key_store),
        Err(e) => {
            assert!(e.variable.starts_with("MESH_") && !e.problem.is_empty());
            let shown = e.to_string();
            assert_eq!(shown, format!("{}: {}", e.variable, e.problem));
            // A secret is never quoted back (unless another variable holds it too).
            let get = lookup(&env);
            for name in SECRETS {
                if let Some(secret) = get(name) {
                    let others: Vec<&str> =
                        env.iter().filter(|(k, _)| k != name).map(|(_, v)| v.as_str()).collect();
                    assert_not_leaked(&shown, secret.trim(), &others);
                }
            }
        }
    }
});
