//! CORS for the web app's routes (jwt routes and the keys API): which
//! origin a response allows, and the headers that say so.

use super::config::GatewayConfig;
use super::reject::Reply;
use super::request::is_cors_path;

/// What a browser may read from a gateway response besides the safelisted headers.
pub const EXPOSE_HEADERS: &str = "www-authenticate, retry-after, x-mesh-request-id";

/// The origin to allow on the response to a request from `origin` for
/// `path`, if any.
pub fn allowed_origin(cfg: &GatewayConfig, path: &str, origin: Option<&str>) -> Option<String> {
    let origin = origin.filter(|_| !cfg.cors_origins.is_empty())?;
    if !is_cors_path(cfg, path) {
        return None;
    }
    cfg.cors_allow(origin)
}

/// A `MESH_CORS_ORIGINS` entry as browsers send `Origin`
/// ([`crate::origin`]): compared exactly, `https://App.Example.com` or
/// `https://app.example.com:443` would never match. `None` for what is not
/// an origin alone (a path, even `/`, a query, a `user@`).
pub fn configured_origin(entry: &str) -> Option<String> {
    let parts = crate::origin::split(entry).filter(|p| !p.userinfo && p.rest.is_empty())?;
    parts.origin()
}

/// How a header goes on a response: replacing any value, or added to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Set,
    Append,
}

/// The headers that allow `origin` on a response (`vary` is added to the
/// upstream's own).
pub fn response_headers(origin: &str) -> [(&'static str, &str, Put); 3] {
    [
        ("access-control-allow-origin", origin, Put::Set),
        ("vary", "Origin", Put::Append),
        ("access-control-expose-headers", EXPOSE_HEADERS, Put::Set),
    ]
}

/// The answer to a preflight. Another origin's gets no CORS header at all
/// (the browser refuses it for want of Allow-Origin either way).
pub fn preflight(allowed: bool) -> Reply {
    if !allowed {
        return Reply::empty(204);
    }
    Reply::empty(204)
        .with_header("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
        .with_header("access-control-allow-headers", "authorization, content-type, x-request-id")
        .with_header("access-control-max-age", "600")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(origins: &str) -> GatewayConfig {
        let vars = [
            ("MESH_UPSTREAM_URL", "https://o.example"),
            ("MESH_ROUTES", r#"[{"prefix":"/api/","auth":"jwt"},{"prefix":"/pub/","auth":"public"}]"#),
            ("MESH_JWT_ISSUER", "https://issuer.example"),
            ("MESH_JWT_AUDIENCE", "api"),
            ("MESH_CORS_ORIGINS", origins),
        ];
        GatewayConfig::from_env(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string()), false).unwrap()
    }

    #[test]
    fn only_listed_origins_on_jwt_routes_are_allowed() {
        let c = cfg("https://app.example");
        assert_eq!(allowed_origin(&c, "/api/x", Some("https://app.example")).as_deref(), Some("https://app.example"));
        assert_eq!(allowed_origin(&c, "/api/x", Some("https://evil.example")), None);
        assert_eq!(allowed_origin(&c, "/pub/x", Some("https://app.example")), None, "public routes get no CORS");
        assert_eq!(allowed_origin(&c, "/api/x", None), None);
        assert_eq!(allowed_origin(&cfg("*"), "/api/x", Some("https://any.example")).as_deref(), Some("*"));
    }

    #[test]
    fn configured_origins_are_read_as_browsers_send_them() {
        let c = cfg("https://App.Example.com, https://app2.example:443, HTTP://app3.example:80, http://app4.example:8080, http://[::1]:80, https://app5.example:80");
        assert_eq!(c.cors_origins, ["https://app.example.com", "https://app2.example", "http://app3.example", "http://app4.example:8080", "http://[::1]", "https://app5.example:80"]);
        for origin in ["https://app.example.com", "https://app2.example", "http://app3.example", "http://[::1]"] {
            assert_eq!(allowed_origin(&c, "/api/x", Some(origin)).as_deref(), Some(origin));
        }
        assert_eq!(configured_origin("http://[::80]").as_deref(), Some("http://[::80]"));
    }

    #[test]
    fn a_preflight_from_another_origin_carries_no_cors_header() {
        assert!(preflight(false).headers.is_empty());
        let allowed = preflight(true);
        assert_eq!(allowed.status, 204);
        assert!(allowed.headers.iter().any(|(n, v)| *n == "access-control-max-age" && v == "600"));
        assert_eq!(response_headers("https://a.example")[0], ("access-control-allow-origin", "https://a.example", Put::Set));
    }
}
