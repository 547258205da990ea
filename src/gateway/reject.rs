//! The gateway's own answers (401, 404, 500, 503, ...; the 502 and 504 of an
//! upstream fetch are [`super::upstream::Failure`]'s) and its structured log
//! lines. Bodies are uniform and leak nothing: the reason goes to the log,
//! never to the client, and no token or key goes anywhere.

use serde_json::{json, Value};

use super::authorize::{Missing, Rules};
use super::jwt::{Reason, Rejection};

/// A response the gateway makes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into()), ("cache-control", "no-store".into())],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Reply { status, headers: vec![], body: String::new() }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// 401 per RFC 6750: the body's `error` is `invalid_request` when no
/// credential was sent, `invalid_token` for everything else, whatever the
/// reason. The challenge names `invalid_token` only: a request with no
/// credential at all gets a bare `Bearer` challenge, since §3.1 says it
/// SHOULD NOT carry an error code (a client that never tried to
/// authenticate has done nothing wrong yet).
pub fn unauthorized(rejection: &Rejection) -> Reply {
    challenged(rejection, None)
}

/// [`unauthorized`], naming the route's RFC 9728 metadata URL on `jwt`
/// routes (`resource_metadata`), where an MCP client learns where to log in.
pub fn challenged(rejection: &Rejection, resource_metadata: Option<&str>) -> Reply {
    let missing = rejection.reason == Reason::MissingCredential;
    let error = if missing { "invalid_request" } else { "invalid_token" };
    let mut params = Vec::new();
    if !missing {
        params.push(format!("error=\"{error}\""));
    }
    if let Some(url) = resource_metadata {
        params.push(format!("resource_metadata=\"{url}\""));
    }
    let challenge = if params.is_empty() { "Bearer".to_string() } else { format!("Bearer {}", params.join(", ")) };
    Reply::json(401, json!({ "error": error })).with_header("www-authenticate", challenge)
}

/// A verified caller the route's rules refuse. Lacking a scope or a claim is
/// 403 `insufficient_scope` (RFC 6750 §3.1) naming what is missing, with the
/// route's scopes in the challenge so a client knows what to ask for; a
/// token from an issuer the route does not accept is not a token for this
/// route at all, so 401 `invalid_token`, like any other unacceptable token.
pub fn forbidden(rules: &Rules, missing: &Missing) -> Reply {
    if missing.issuer {
        return unauthorized(&Reason::BadIssuer.into());
    }
    let mut challenge = String::from("Bearer error=\"insufficient_scope\"");
    if !rules.scopes.is_empty() {
        // Scope tokens hold no `"` or `\` (checked at load): no escaping needed.
        challenge += &format!(", scope=\"{}\"", rules.scopes.join(" "));
    }
    let body = json!({ "error": "insufficient_scope", "missing_scopes": missing.scopes, "missing_claims": missing.claims });
    Reply::json(403, body).with_header("www-authenticate", challenge)
}

/// The log line of [`forbidden`]: which rule refused and what was missing.
pub fn forbidden_log(route: &str, missing: &Missing, request_id: &str) -> String {
    let fields = json!({ "route": route, "rule": missing.rule(), "missing_scopes": missing.scopes, "missing_claims": missing.claims });
    event_log("warn", "auth_forbidden", request_id, fields)
}

pub fn not_found() -> Reply {
    Reply::json(404, json!({ "error": "not_found" }))
}

pub fn bad_request(message: &str) -> Reply {
    Reply::json(400, json!({ "error": "invalid_request", "message": message }))
}

/// The 400 of [`super::request::Plan::BadPath`].
pub fn bad_path() -> Reply {
    bad_request("the path is ambiguous: an encoded / or \\ or NUL, a % without two hex digits, an empty segment, or a path that reads differently once decoded")
}

pub fn method_not_allowed(allow: &str) -> Reply {
    Reply::json(405, json!({ "error": "method_not_allowed" })).with_header("allow", allow)
}

pub fn misconfigured() -> Reply {
    Reply::json(500, json!({ "error": "gateway_misconfigured", "message": "gateway misconfigured" }))
}

pub fn internal_error() -> Reply {
    Reply::json(500, json!({ "error": "server_error" }))
}

/// The JWKS (or the key store) cannot be reached and nothing cached helps.
pub fn unavailable() -> Reply {
    Reply::json(503, json!({ "error": "temporarily_unavailable" })).with_header("retry-after", "30")
}

/// One JSON log line for a refused credential: route, reason code, kid, how
/// far past expiry, request id. Built from the rejection only, which never
/// holds a token or key.
pub fn rejection_log(route: &str, rejection: &Rejection, request_id: &str) -> String {
    let mut line = json!({
        "level": "warn",
        "event": "auth_rejected",
        "route": route,
        "reason": rejection.reason.code(),
        "request_id": request_id,
    });
    if let Some(kid) = &rejection.kid {
        line["kid"] = kid.as_str().into();
    }
    if let Some(secs) = rejection.expired_secs {
        line["expired_seconds_ago"] = secs.into();
    }
    line.to_string()
}

/// A JSON log line for other events (`event`, then extra fields).
pub fn event_log(level: &str, event: &str, request_id: &str, fields: Value) -> String {
    let mut line = json!({ "level": level, "event": event, "request_id": request_id });
    if let (Value::Object(line), Value::Object(extra)) = (&mut line, fields) {
        line.extend(extra);
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_uniform() {
        let r = unauthorized(&Reason::Expired.into());
        assert_eq!((r.status, r.body.as_str()), (401, r#"{"error":"invalid_token"}"#));
        assert!(r.headers.contains(&("www-authenticate", "Bearer error=\"invalid_token\"".into())));
        let r = unauthorized(&Reason::BadSignature.into());
        assert_eq!(r.body, r#"{"error":"invalid_token"}"#);
        let r = unauthorized(&Reason::MissingCredential.into());
        assert_eq!(r.body, r#"{"error":"invalid_request"}"#);
        assert!(r.headers.contains(&("www-authenticate", "Bearer".into())), "no error code without a credential: {:?}", r.headers);
        assert!(misconfigured().body.contains("gateway misconfigured"));
        let r = challenged(&Reason::MissingCredential.into(), Some("https://gw/.well-known/oauth-protected-resource/mcp/"));
        let challenge = "Bearer resource_metadata=\"https://gw/.well-known/oauth-protected-resource/mcp/\"";
        assert!(r.headers.contains(&("www-authenticate", challenge.into())), "{:?}", r.headers);
        let r = challenged(&Reason::Expired.into(), Some("https://gw/m"));
        let challenge = "Bearer error=\"invalid_token\", resource_metadata=\"https://gw/m\"";
        assert!(r.headers.contains(&("www-authenticate", challenge.into())), "{:?}", r.headers);
    }

    #[test]
    fn a_caller_without_the_rules_gets_403_naming_what_is_missing() {
        let rules = Rules { scopes: vec!["memories:write".into(), "x".into()], ..Rules::default() };
        let missing = Missing { scopes: vec!["memories:write".into()], claims: vec!["org.id".into()], issuer: false };
        let r = forbidden(&rules, &missing);
        assert_eq!(r.status, 403);
        let challenge = "Bearer error=\"insufficient_scope\", scope=\"memories:write x\"";
        assert!(r.headers.contains(&("www-authenticate", challenge.into())), "{:?}", r.headers);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body, json!({"error": "insufficient_scope", "missing_scopes": ["memories:write"], "missing_claims": ["org.id"]}));
        let line: Value = serde_json::from_str(&forbidden_log("/api/", &missing, "r1")).unwrap();
        assert_eq!((line["event"].as_str(), line["rule"].as_str()), (Some("auth_forbidden"), Some("scope")));
        // Claims only: no scope attribute to ask for.
        let r = forbidden(&Rules::default(), &Missing { claims: vec!["role".into()], ..Missing::default() });
        assert!(r.headers.contains(&("www-authenticate", "Bearer error=\"insufficient_scope\"".into())));
        // Another issuer's token is not a token for this route: 401.
        let r = forbidden(&Rules::default(), &Missing { issuer: true, ..Missing::default() });
        assert_eq!((r.status, r.body.as_str()), (401, r#"{"error":"invalid_token"}"#));
    }

    #[test]
    fn log_lines_are_json_with_the_reason() {
        let rej = Rejection { reason: Reason::Expired, kid: Some("k\"1".into()), expired_secs: Some(42) };
        let line: Value = serde_json::from_str(&rejection_log("/api/v1/", &rej, "req-1")).unwrap();
        assert_eq!(line["reason"], "expired");
        assert_eq!(line["kid"], "k\"1");
        assert_eq!(line["expired_seconds_ago"], 42);
        assert_eq!(line["route"], "/api/v1/");
        assert_eq!(line["request_id"], "req-1");
        let line: Value = serde_json::from_str(&event_log("error", "upstream_failed", "r", json!({"status": 1}))).unwrap();
        assert_eq!((line["event"].as_str(), line["status"].as_i64()), (Some("upstream_failed"), Some(1)));
    }
}
