//! The gateway's request line (`gateway::request::Inbound::parse`), the URL
//! split the identity is signed over, the `Authorization` reader, the path
//! a decoding origin reads (`canonical_path`), and the plan every request
//! gets (`gateway::request::plan`).
//!
//! Input: the line exactly as the binding's JavaScript builds it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::GatewayConfig;
use mesh_sdk::gateway::headers::bearer_token;
use mesh_sdk::gateway::jwt::Reason;
use mesh_sdk::gateway::request::{canonical_path, path_span, plan, split_url, Credential, Inbound, Plan, ABSENT};
use mesh_sdk::gateway::request::KeysOp;
use mesh_sdk::gateway::route::AuthMode;
use std::sync::OnceLock;

fn config() -> &'static GatewayConfig {
    static CFG: OnceLock<GatewayConfig> = OnceLock::new();
    CFG.get_or_init(|| {
        let env = [
            ("MESH_UPSTREAM_URL", "https://origin.example"),
            ("MESH_JWT_ISSUER", "https://issuer.example"),
            ("MESH_JWT_AUDIENCE", "api"),
            ("MESH_CORS_ORIGINS", "https://app.example"),
        ];
        let var = |n: &str| env.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string());
        GatewayConfig::from_env(var, true).expect("the fuzz configuration is valid")
    })
}

/// A path that an origin could decode into another route's path, whatever
/// the routes. The refusal rule restated the slow way: an encoded
/// separator or NUL, `//`, or a `%` without two hex digits after it.
fn is_ambiguous(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.contains('\\') || path.contains("//") || lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") || malformed(path)
}

/// A `%` not followed by two hex digits.
fn malformed(path: &str) -> bool {
    path.match_indices('%').any(|(i, _)| !path.get(i + 1..i + 3).is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// Which route or answer a plan goes to, whatever the credential.
fn place<'p>(p: &Plan<'p>) -> (std::mem::Discriminant<Plan<'p>>, Option<&'p str>) {
    let route = match p {
        Plan::Forward { route, .. } | Plan::Reject { route, .. } | Plan::MethodNotAllowed { route, .. } => Some(*route),
        _ => None,
    };
    (std::mem::discriminant(p), route)
}

/// The canonical path: idempotent (for a path with no malformed escape),
/// never longer, no `;` left, borrowed exactly when there was no `%` or `;`,
/// and no escape left that decodes to an unreserved character.
fn check_canonical(path: &str) -> String {
    let c = canonical_path(path);
    let plain = !path.contains(['%', ';']);
    assert_eq!(matches!(c, std::borrow::Cow::Borrowed(_)), plain, "{path:?}");
    assert!(c.len() <= path.len() && !c.contains(';'), "{path:?} -> {c:?}");
    // A malformed escape is refused before its canonical form matters
    // (decoding next to one can make a new escape: `%6%61` gives `%6a`).
    if !malformed(path) {
        assert_eq!(canonical_path(&c), c, "idempotent: {path:?}");
        for (i, _) in c.match_indices('%') {
            if let Some(d) = c.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                assert!(!(d.is_ascii_alphanumeric() || b"-._~".contains(&d)), "{c:?} keeps an unreserved escape");
            }
        }
    }
    c.into_owned()
}

fn check_url(url: &str) {
    let (path, query) = split_url(url);
    assert!(path.starts_with('/') && !path.contains(['?', '#']), "{path:?}");
    assert!((query.is_empty() || query.starts_with('?')) && !query.contains('#'), "{query:?}");
    match path_span(url) {
        // The UTF-16 span JavaScript slices holds exactly the path and query.
        Some((from, to)) => {
            let units: Vec<u16> = url.encode_utf16().collect();
            let (from, to) = (from as usize, to as usize);
            assert!(from <= to && to <= units.len());
            assert_eq!(String::from_utf16(&units[from..to]).unwrap(), format!("{path}{query}"));
        }
        None => assert_eq!(path, "/"),
    }
}

fn check_plan(i: &Inbound<'_>) {
    let cfg = config();
    let (path, _) = split_url(i.url);
    let h = &i.headers;
    let plan = plan(cfg, i.method, path, h);
    let canonical = check_canonical(path);
    if is_ambiguous(path) {
        assert_eq!(plan, Plan::BadPath);
    } else if matches!(plan, Plan::BadPath) {
        // Refused otherwise only when a decoding origin reads another path.
        assert_ne!(canonical, path);
    } else if canonical != path {
        // Accepted with escapes: decoded, it goes to the same place.
        let decoded = mesh_sdk::gateway::request::plan(cfg, i.method, &canonical, h);
        assert!(matches!(decoded, Plan::BadPath) || place(&decoded) == place(&plan), "{path:?}: {plan:?} vs {decoded:?}");
    }
    match plan {
        Plan::BadPath | Plan::NotFound => {}
        Plan::Preflight => assert!(i.method == "OPTIONS" && h.access_control_request_method.is_some()),
        Plan::Keys { token, op, .. } => {
            assert!(path.starts_with(&cfg.keys_path));
            if let KeysOp::Rotate(id) = &op {
                assert!(i.method == "POST" && path.trim_end_matches('/').ends_with(&format!("/{id}/rotate")) && !id.contains('/'));
            }
            assert!(h.authorization.is_some_and(|a| a.contains(token)) && !token.is_empty());
        }
        Plan::ResourceMetadata(resource) => assert!(path.ends_with(resource) && path.starts_with("/.well-known/")),
        Plan::Reject { route, rejection, .. } => {
            assert!(path.starts_with(route));
            assert!(matches!(rejection.reason, Reason::MissingCredential | Reason::WrongCredentialType));
        }
        Plan::MethodNotAllowed { route, allow } => {
            assert!(path.starts_with(route) && !allow.split(", ").any(|m| m == i.method));
        }
        Plan::Forward { route, auth, credential, rules, .. } => {
            assert!(path.starts_with(route) && rules.allows_method(i.method));
            let from_headers = |t: &str| {
                !t.is_empty() && (h.authorization.is_some_and(|a| a.contains(t)) || h.x_api_key.is_some_and(|k| k.contains(t)))
            };
            match (auth, credential) {
                (AuthMode::Public, None) => {}
                (AuthMode::Jwt, Some(Credential::Jwt(t))) => {
                    assert!(h.x_api_key.is_none_or(|k| k.trim().is_empty()));
                    assert!(!t.starts_with(&cfg.api_key_prefix) && from_headers(t));
                }
                (AuthMode::ApiKey, Some(Credential::ApiKey(k))) => assert!(from_headers(k)),
                other => panic!("route {auth:?} got credential {other:?}"),
            }
        }
    }
    if let Some(origin) = i.origin {
        if let Some(allowed) = cfg.cors_allow(origin) {
            assert!(allowed == "*" || allowed == origin);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let fields: Vec<&str> = line.split('\n').collect();
    let Some(i) = Inbound::parse(line) else {
        // Refused exactly when the line is not seven fields with a method and a URL.
        assert!(fields.len() != 7 || fields[0].is_empty() || fields[1].is_empty(), "{line:?}");
        return;
    };
    // Accepted: the parts put back together are the line (nothing lost or moved).
    fn h(v: Option<&str>) -> &str {
        v.unwrap_or(ABSENT)
    }
    let rebuilt = [
        i.method,
        i.url,
        h(i.headers.authorization),
        h(i.headers.x_api_key),
        h(i.origin),
        h(i.headers.access_control_request_method),
        h(i.client_ip),
    ];
    assert_eq!(rebuilt.join("\n"), line);
    if let Some(auth) = i.headers.authorization {
        if let Some(t) = bearer_token(auth) {
            assert!(!t.is_empty() && !t.starts_with(' ') && auth.contains(t));
        }
    }
    check_url(i.url);
    check_plan(&i);
});
