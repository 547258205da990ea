//! OAuth 2.0 Protected Resource Metadata (RFC 9728): how an MCP client
//! finds out which authorization server issues tokens for a route.
//!
//! `GET /.well-known/oauth-protected-resource` describes the gateway, and the
//! per-path form `/.well-known/oauth-protected-resource/mcp/messages/`
//! describes the `jwt` route whose path follows (RFC 9728 §3.1: the
//! resource's path goes after the well-known name). Every 401 on a `jwt`
//! route names its metadata URL in `WWW-Authenticate: ... resource_metadata=`
//! (§5.1), which is where an MCP client starts.

use serde_json::json;

use super::config::GatewayConfig;
use super::forwarded::scheme_and_host;
use super::reject::Reply;
use super::route::AuthMode;

pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The resource path a metadata request asks about ("" for the gateway
/// itself), if `path` is a metadata path.
pub fn metadata_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(WELL_KNOWN)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// `scheme://host` of an absolute request URL.
fn origin_of(url: &str) -> Option<String> {
    scheme_and_host(url).map(|(scheme, host)| format!("{scheme}://{host}"))
}

/// The metadata URL of the route with `prefix`, on the gateway at `url`.
pub fn metadata_url(url: &str, prefix: &str) -> Option<String> {
    origin_of(url).map(|origin| format!("{origin}{WELL_KNOWN}{prefix}"))
}

/// The metadata document for `resource_path` (from [`metadata_path`]) asked
/// at `url`; `None` when no `jwt` route is there (404).
pub fn metadata(cfg: &GatewayConfig, url: &str, resource_path: &str) -> Option<Reply> {
    if cfg.issuers.is_empty() {
        return None;
    }
    let servers: Vec<&str> = cfg.issuers.iter().map(|j| j.issuer.as_str()).collect();
    let prefix = if resource_path.is_empty() {
        ""
    } else {
        let route = cfg.routes.find(resource_path).filter(|r| r.auth == AuthMode::Jwt)?;
        route.prefix.as_str()
    };
    let resource = match &cfg.resource {
        Some(r) => format!("{r}{prefix}"),
        None => format!("{}{prefix}", origin_of(url)?),
    };
    let mut scopes: Vec<&str> = cfg.routes.iter().flat_map(|r| r.rules.scopes.iter().map(String::as_str)).collect();
    scopes.sort_unstable();
    scopes.dedup();
    let body = json!({
        "resource": resource,
        "authorization_servers": servers,
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    });
    // Public metadata, read by clients on any origin.
    Some(Reply::json(200, body).with_header("access-control-allow-origin", "*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn cfg(extra: &[(&str, &str)]) -> GatewayConfig {
        let routes = r#"[{"prefix": "/mcp/messages/", "auth": "jwt", "scopes": ["mcp:tools", "mcp:read"]},
            {"prefix": "/api/v1/", "auth": "jwt", "scopes": ["mcp:read", "memories:write"]},
            {"prefix": "/health", "auth": "public"}]"#;
        let mut vars = vec![
            ("MESH_UPSTREAM_URL", "http://o"),
            ("MESH_JWT_ISSUER", "https://issuer.example"),
            ("MESH_JWT_AUDIENCE", "api"),
            ("MESH_ROUTES", routes),
        ];
        vars.extend(extra);
        GatewayConfig::from_env(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()), false).unwrap()
    }

    fn body(r: Reply) -> Value {
        assert_eq!(r.status, 200);
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn the_metadata_names_the_issuer_the_scopes_and_the_header_method() {
        let b = body(metadata(&cfg(&[]), "https://gw.example:8443/x", "").unwrap());
        assert_eq!(b["resource"], "https://gw.example:8443");
        assert_eq!(b["authorization_servers"], json!(["https://issuer.example"]));
        assert_eq!(b["scopes_supported"], json!(["mcp:read", "mcp:tools", "memories:write"]));
        assert_eq!(b["bearer_methods_supported"], json!(["header"]));
    }

    #[test]
    fn the_per_path_form_describes_the_jwt_route_there() {
        let c = cfg(&[]);
        assert_eq!(metadata_path("/.well-known/oauth-protected-resource/mcp/messages/"), Some("/mcp/messages/"));
        assert_eq!(metadata_path("/.well-known/oauth-protected-resource"), Some(""));
        assert_eq!(metadata_path("/.well-known/oauth-protected-resourcex"), None);
        let b = body(metadata(&c, "https://gw.example/", "/mcp/messages/").unwrap());
        assert_eq!(b["resource"], "https://gw.example/mcp/messages/");
        // A path below the route describes the route.
        let b = body(metadata(&c, "https://gw.example/", "/mcp/messages/deeper").unwrap());
        assert_eq!(b["resource"], "https://gw.example/mcp/messages/");
        // No jwt route there: 404.
        assert!(metadata(&c, "https://gw.example/", "/health").is_none());
        assert!(metadata(&c, "https://gw.example/", "/nothing").is_none());
        // MESH_RESOURCE replaces the request's origin.
        let b = body(metadata(&cfg(&[("MESH_RESOURCE", "https://api.example.com")]), "http://internal:8787/", "/api/v1/").unwrap());
        assert_eq!(b["resource"], "https://api.example.com/api/v1/");
    }

    #[test]
    fn the_challenge_url_is_the_routes_per_path_metadata() {
        assert_eq!(
            metadata_url("https://gw.example/mcp/messages/?x", "/mcp/messages/").as_deref(),
            Some("https://gw.example/.well-known/oauth-protected-resource/mcp/messages/")
        );
        assert_eq!(metadata_url("/relative", "/a/"), None);
    }
}
