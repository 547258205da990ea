//! The first decision for each request: which route, which credential, or an
//! answer straight away (404, CORS preflight, 401 for a missing or wrong kind
//! of credential). A credential is only ever taken from the header its route
//! accepts: `Authorization: Bearer` for JWTs (never a query string or
//! cookie), `X-API-Key` or `Authorization: Bearer` for API keys.

use std::borrow::Cow;

use crate::client::request::KEY_ROTATE_SUFFIX;

use super::config::GatewayConfig;
use super::headers::bearer_token;
use super::jwt::{Reason, Rejection};
use super::authorize::Rules;
use super::route::{keys_path, AuthMode, Inject, KeysPath, Route};

/// A credential as the request carried it (borrowed: the hot path copies no token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    Jwt(&'a str),
    ApiKey(&'a str),
}

/// The keys API operation of a request on `<keys path>[/{id}[/rotate]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysOp {
    List,
    Create,
    Revoke(String),
    /// `POST {id}/rotate`: a replacement, and the old key's grace.
    Rotate(String),
    /// Wrong method; the value is the `Allow` header.
    MethodNotAllowed(&'static str),
    NotFound,
}

/// Borrows from the configuration (route prefixes) and the request (tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan<'a> {
    /// Nothing here (404).
    NotFound,
    /// A path the origin could read as another path: an encoded `/`, `\\`
    /// or NUL, an empty segment, or one that decoded goes elsewhere
    /// ([`canonical_path`]) (400).
    BadPath,
    /// The route does not take this method (405); the value is `Allow`.
    MethodNotAllowed { route: &'a str, allow: String },
    /// A CORS preflight on a browser-facing path: answer it (204).
    Preflight,
    /// Served by the gateway's keys API after JWT verification, when the
    /// token's grants pass `rules` (its issuer: [`GatewayConfig::keys_rules`]).
    Keys { op: KeysOp, token: &'a str, rules: &'a Rules },
    /// Refused before any verification.
    Reject { route: &'a str, auth: AuthMode, rejection: Rejection },
    /// RFC 9728 metadata of the resource at this path ("" for the gateway).
    ResourceMetadata(&'a str),
    /// Authenticate `credential` (none on public routes), check the route's
    /// `rules` against what it grants, then forward.
    /// `inject`: what the gateway adds for the origin.
    Forward { route: &'a str, auth: AuthMode, rules: &'a Rules, credential: Option<Credential<'a>>, inject: Option<Inject> },
}

/// Headers the plan needs, as the request carried them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeaders<'a> {
    pub authorization: Option<&'a str>,
    pub x_api_key: Option<&'a str>,
    pub access_control_request_method: Option<&'a str>,
}

fn reject(reason: Reason) -> Rejection {
    reason.into()
}

fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") || s.matches('.').count() == 2
}

/// The credential a route of mode `auth` accepts from these headers.
pub fn credential<'a>(auth: AuthMode, h: &RequestHeaders<'a>, key_prefix: &str) -> Result<Option<Credential<'a>>, Rejection> {
    let x_api_key = h.x_api_key.map(str::trim).filter(|k| !k.is_empty());
    let bearer = h.authorization.and_then(bearer_token);
    match auth {
        AuthMode::Public => Ok(None),
        AuthMode::Jwt => {
            if x_api_key.is_some() {
                return Err(reject(Reason::WrongCredentialType));
            }
            match bearer {
                None => Err(reject(Reason::MissingCredential)),
                Some(t) if t.starts_with(key_prefix) => Err(reject(Reason::WrongCredentialType)),
                Some(t) => Ok(Some(Credential::Jwt(t))),
            }
        }
        AuthMode::ApiKey => {
            // A non-Bearer Authorization (Basic...) is not a key either.
            if h.authorization.is_some() && bearer.is_none() && x_api_key.is_none() {
                return Err(reject(Reason::MissingCredential));
            }
            let key = match (x_api_key, bearer) {
                (None, None) => return Err(reject(Reason::MissingCredential)),
                (Some(a), Some(b)) if a != b => return Err(reject(Reason::WrongCredentialType)),
                (Some(k), _) | (None, Some(k)) => k,
            };
            if !key.starts_with(key_prefix) && looks_like_jwt(key) {
                return Err(reject(Reason::WrongCredentialType));
            }
            Ok(Some(Credential::ApiKey(key)))
        }
    }
}

fn keys_op(method: &str, path: KeysPath<'_>) -> KeysOp {
    match (path, method) {
        (KeysPath::Collection, "GET") => KeysOp::List,
        (KeysPath::Collection, "POST") => KeysOp::Create,
        (KeysPath::Collection, _) => KeysOp::MethodNotAllowed("GET, POST"),
        (KeysPath::Item(id), "DELETE") if !id.is_empty() && !id.contains('/') => KeysOp::Revoke(id.to_string()),
        (KeysPath::Item(id), _) if !id.is_empty() && !id.contains('/') => KeysOp::MethodNotAllowed("DELETE"),
        (KeysPath::Item(item), _) => match item.strip_suffix(KEY_ROTATE_SUFFIX) {
            Some(id) if !id.is_empty() && !id.contains('/') && method == "POST" => KeysOp::Rotate(id.to_string()),
            Some(id) if !id.is_empty() && !id.contains('/') => KeysOp::MethodNotAllowed("POST"),
            _ => KeysOp::NotFound,
        },
    }
}

/// Whether browsers may call `path` cross-origin (the web app's routes: jwt
/// routes and the keys API).
pub fn is_cors_path(cfg: &GatewayConfig, path: &str) -> bool {
    (cfg.serves_keys_api() && keys_path(&cfg.keys_path, path).is_some())
        || cfg.routes.find(path).is_some_and(|r| r.auth == AuthMode::Jwt)
}

/// Where [`plan`] sends a path, before method and credential: what must
/// not change when an origin decodes the path.
enum Destination<'a> {
    Metadata(&'a str),
    Keys(KeysPath<'a>),
    Route(&'a Route),
    Nowhere,
}

impl Destination<'_> {
    fn same_as(&self, other: &Destination<'_>) -> bool {
        match (self, other) {
            (Destination::Route(a), Destination::Route(b)) => a.prefix == b.prefix,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

fn destination<'a>(cfg: &'a GatewayConfig, method: &str, path: &'a str) -> Destination<'a> {
    if let Some(resource) = super::resource::metadata_path(path).filter(|_| method == "GET" || method == "HEAD") {
        return Destination::Metadata(resource);
    }
    if let Some(kp) = keys_path(&cfg.keys_path, path).filter(|_| cfg.serves_keys_api()) {
        return Destination::Keys(kp);
    }
    cfg.routes.find(path).map_or(Destination::Nowhere, Destination::Route)
}

/// Decides what to do with `method path` before any verification.
pub fn plan<'a>(cfg: &'a GatewayConfig, method: &str, path: &'a str, h: &RequestHeaders<'a>) -> Plan<'a> {
    match path_shape(path) {
        PathShape::Ambiguous => return Plan::BadPath,
        PathShape::Escaped if reads_elsewhere(cfg, method, path) => return Plan::BadPath,
        PathShape::Escaped | PathShape::Plain => {}
    }
    if method == "OPTIONS" && h.access_control_request_method.is_some() && is_cors_path(cfg, path) {
        return Plan::Preflight;
    }
    let route = match destination(cfg, method, path) {
        Destination::Metadata(resource) => return Plan::ResourceMetadata(resource),
        Destination::Nowhere => return Plan::NotFound,
        Destination::Keys(kp) => {
            let op = keys_op(method, kp);
            return match credential(AuthMode::Jwt, h, &cfg.api_key_prefix) {
                Ok(Some(Credential::Jwt(token))) => Plan::Keys { op, token, rules: &cfg.keys_rules },
                Ok(_) => unreachable!("jwt credentials are JWTs"),
                Err(rejection) => Plan::Reject { route: &cfg.keys_path, auth: AuthMode::Jwt, rejection },
            };
        }
        Destination::Route(route) => route,
    };
    // Before the credential: a wrong method needs no verification to refuse.
    if !route.rules.allows_method(method) {
        return Plan::MethodNotAllowed { route: &route.prefix, allow: route.rules.allow_header() };
    }
    match credential(route.auth, h, &cfg.api_key_prefix) {
        Ok(credential) => Plan::Forward { route: &route.prefix, auth: route.auth, rules: &route.rules, credential, inject: route.inject },
        Err(rejection) => Plan::Reject { route: &route.prefix, auth: route.auth, rejection },
    }
}

#[derive(Debug, PartialEq, Eq)]
enum PathShape {
    /// Refused whatever the routes: see [`path_shape`].
    Ambiguous,
    /// No `%` and no `;`: every origin reads it as the gateway does.
    Plain,
    /// Compare with its [`canonical_path`].
    Escaped,
}

/// A `\\`, a `%2F`/`%5C` (any case) that the origin could decode into a
/// path separator, an empty segment (`//`), which origins variously
/// collapse or keep, a `%00`, which origins variously cut the path at, or a
/// `%` without two hex digits (RFC 3986 has no such path; decoding the
/// escape after it can make a new one: `%6%61` reads `%6a`, then `j`):
/// the route check must see exactly the path the origin acts on. (workerd
/// has already resolved `.`/`..` and `%2e` segments.) One pass over the
/// bytes, no allocation: this runs on every request.
fn path_shape(path: &str) -> PathShape {
    let b = path.as_bytes();
    let mut shape = PathShape::Plain;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'\\' => return PathShape::Ambiguous,
            b'/' if b.get(i + 1) == Some(&b'/') => return PathShape::Ambiguous,
            b'%' if !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) => return PathShape::Ambiguous,
            b'%' if matches!((b[i + 1], b[i + 2] | 0x20), (b'2', b'f') | (b'5', b'c') | (b'0', b'0')) => return PathShape::Ambiguous,
            b'%' | b';' => shape = PathShape::Escaped,
            _ => {}
        }
    }
    shape
}

/// Whether an origin that decodes `path` ([`canonical_path`]) acts on a
/// path the gateway routes elsewhere, or on an empty or dot segment the
/// runtime never resolved (`/a/.%2e;x/b` reads as `/a/../b` at Tomcat).
/// When the destination is the same, the raw path is forwarded unchanged:
/// an origin that does not decode must see what the client sent.
fn reads_elsewhere(cfg: &GatewayConfig, method: &str, path: &str) -> bool {
    let canonical = canonical_path(path);
    canonical != path
        && (canonical.contains("//")
            || canonical.split('/').any(|s| s == "." || s == "..")
            || !destination(cfg, method, &canonical).same_as(&destination(cfg, method, path)))
}

/// `path` as a decoding origin reads it: the escapes of unreserved
/// characters (RFC 3986 §2.3: `A-Z a-z 0-9 - . _ ~`, either hex case)
/// decoded, which RFC 3986 §6.2.2.2 makes equivalent, and each segment's
/// `;` parameters removed up to the next `/`, as Tomcat, Spring and Jetty
/// do. Other escapes stay as they are. Borrowed when nothing changes.
pub fn canonical_path(path: &str) -> Cow<'_, str> {
    let b = path.as_bytes();
    if !b.iter().any(|&c| c == b'%' || c == b';') {
        return Cow::Borrowed(path);
    }
    let mut out = Vec::with_capacity(b.len());
    let (mut i, mut in_params) = (0, false);
    // Each turn consumes at least one byte.
    while i < b.len() {
        in_params = match b[i] {
            b'/' => false,
            b';' => true,
            _ => in_params,
        };
        match unreserved_escape(b, i) {
            _ if in_params => i += 1,
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    // Only ASCII was removed or put for ASCII: still UTF-8.
    Cow::Owned(String::from_utf8(out).expect("ASCII edits keep UTF-8"))
}

/// The unreserved character a `%XX` at `i` encodes, if it is one.
fn unreserved_escape(b: &[u8], i: usize) -> Option<u8> {
    if b.get(i) != Some(&b'%') {
        return None;
    }
    let hex = |at: usize| b.get(at).and_then(|c| (*c as char).to_digit(16));
    let d = (hex(i + 1)? * 16 + hex(i + 2)?) as u8;
    (d.is_ascii_alphanumeric() || matches!(d, b'-' | b'.' | b'_' | b'~')).then_some(d)
}

/// What the gateway reads of a request, from the one line the binding's
/// JavaScript builds (one crossing instead of six): method, URL,
/// `authorization`, `x-api-key`, `origin`, `access-control-request-method`
/// and `cf-connecting-ip`, separated by `\n`, an absent header as
/// `\0`. Header values never hold a NUL or a newline (Fetch refuses them),
/// so the split is unambiguous; any other shape gives `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inbound<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: RequestHeaders<'a>,
    pub origin: Option<&'a str>,
    /// `CF-Connecting-IP`: the address the request came from ([`super::forwarded`]).
    pub client_ip: Option<&'a str>,
}

pub const ABSENT: &str = "\0";

impl<'a> Inbound<'a> {
    pub fn parse(line: &'a str) -> Option<Inbound<'a>> {
        // Byte splits: `str::split` sets up a char searcher per call, which
        // measured as a visible share of a request's CPU in workerd.
        let mut rest = Some(line);
        let mut next = || {
            let s = rest?;
            match s.bytes().position(|b| b == b'\n') {
                Some(i) => {
                    rest = Some(&s[i + 1..]);
                    Some(&s[..i])
                }
                None => rest.take(),
            }
        };
        let header = |v: &'a str| (v != ABSENT).then_some(v);
        let (method, url) = (next()?, next()?);
        let (authorization, x_api_key, origin, acrm, client_ip) = (next()?, next()?, next()?, next()?, next()?);
        if next().is_some() || method.is_empty() || url.is_empty() {
            return None;
        }
        let headers = RequestHeaders {
            authorization: header(authorization),
            x_api_key: header(x_api_key),
            access_control_request_method: header(acrm),
        };
        Some(Inbound { method, url, headers, origin: header(origin), client_ip: header(client_ip) })
    }
}

/// Splits a request URL (absolute, or a path as Node's `req.url`) into its
/// path ("/" when empty) and its `?query` ("" when none); a `#fragment` is
/// dropped. The gateway signs the identity over this path and
/// `verifyIdentity` checks it over the same, so both use this one function.
pub fn split_url(url: &str) -> (&str, &str) {
    let (start, mid, end) = url_parts(url);
    let (path, query) = (&url[start..mid], &url[mid..end]);
    (if path.is_empty() { "/" } else { path }, query)
}

/// Byte offsets of the path's start, the query's start and the query's end
/// (where a fragment or the URL ends). Byte scans: every delimiter is ASCII,
/// and this runs on every request.
fn url_parts(url: &str) -> (usize, usize, usize) {
    let b = url.as_bytes();
    let find = |from: usize, stop: &[u8]| b[from..].iter().position(|c| stop.contains(c)).map_or(b.len(), |i| from + i);
    let start = if b.first() == Some(&b'/') {
        0
    } else {
        let after_scheme = b.windows(3).position(|w| w == b"://").map_or(0, |i| i + 3);
        find(after_scheme, b"/?#")
    };
    (start, find(start, b"?#"), find(start, b"#"))
}

/// Where [`split_url`]'s path and query sit in `url`, as UTF-16 offsets
/// (what JavaScript's `slice` takes), so that the binding can build the
/// upstream URL from the request's own `url` instead of a string made here
/// and decoded there. `None` when the path is empty (it becomes "/", which
/// is not in `url`).
pub fn path_span(url: &str) -> Option<(u32, u32)> {
    let (start, mid, end) = url_parts(url);
    if start == mid {
        return None;
    }
    let units = |s: &str| if s.is_ascii() { s.len() } else { s.encode_utf16().count() };
    let from = units(&url[..start]);
    Some((u32::try_from(from).ok()?, u32::try_from(from + units(&url[start..end])).ok()?))
}

/// Where a request goes upstream: MESH_UPSTREAM_URL + the request's path and
/// query. `From`: they run from this UTF-16 offset (see [`path_span`]) to the
/// end of the request's URL, for the binding to slice; `Url`: the whole URL,
/// made here (an empty path, or a fragment after the query).
#[derive(Debug, PartialEq, Eq)]
pub enum Upstream {
    From(u32),
    Url(String),
}

pub fn upstream_target(cfg: &GatewayConfig, url: &str) -> Upstream {
    let (start, mid, end) = url_parts(url);
    match path_span(url) {
        Some((from, _)) if start < mid && end == url.len() => Upstream::From(from),
        _ => {
            let (path, query) = split_url(url);
            Upstream::Url([cfg.upstream_url.as_str(), path, query].concat())
        }
    }
}

#[cfg(test)]
mod inbound_tests {
    use super::*;

    #[test]
    fn the_inbound_line_reads_back_what_the_request_carried() {
        let line = "POST\nhttps://gw.example/api/v1/chat?x=1\nBearer abc\n\0\nhttps://app.example\n\0\n203.0.113.7";
        let i = Inbound::parse(line).unwrap();
        assert_eq!((i.method, i.url, i.origin), ("POST", "https://gw.example/api/v1/chat?x=1", Some("https://app.example")));
        assert_eq!(i.client_ip, Some("203.0.113.7"));
        assert_eq!(i.headers, RequestHeaders { authorization: Some("Bearer abc"), x_api_key: None, access_control_request_method: None });
        // An empty header is present, and differs from an absent one.
        let i = Inbound::parse("GET\nhttps://gw/\n\n\0\n\0\n\0\n\0").unwrap();
        assert_eq!(i.headers.authorization, Some(""));
    }

    #[test]
    fn the_upstream_target_is_the_base_plus_path_and_query() {
        let cfg = GatewayConfig::from_env(
            |n| match n {
                "MESH_UPSTREAM_URL" => Some("https://o.example/base".into()),
                "MESH_ROUTES" => Some(r#"[{"prefix":"/","auth":"public"}]"#.into()),
                _ => None,
            },
            false,
        )
        .unwrap();
        assert_eq!(upstream_target(&cfg, "https://gw.example/a/b?x=1"), Upstream::From(18));
        assert_eq!(upstream_target(&cfg, "https://gw.example/é?x"), Upstream::From(18));
        assert_eq!(upstream_target(&cfg, "https://gw.example"), Upstream::Url("https://o.example/base/".into()));
        assert_eq!(upstream_target(&cfg, "https://gw.example/a?x#frag"), Upstream::Url("https://o.example/base/a?x".into()));
    }

    #[test]
    fn any_other_shape_is_refused() {
        for bad in ["", "GET", "GET\nhttps://gw/\n\0\n\0\n\0\n\0", "GET\nhttps://gw/\n\0\n\0\n\0\n\0\n\0\nextra", "\nhttps://gw/\n\0\n\0\n\0\n\0\n\0"] {
            assert_eq!(Inbound::parse(bad), None, "{bad:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::GatewayConfig;

    fn cfg() -> GatewayConfig {
        let vars = [
            ("MESH_UPSTREAM_URL", "http://o"),
            ("MESH_JWT_ISSUER", "http://i"),
            ("MESH_JWT_AUDIENCE", "a"),
        ];
        GatewayConfig::from_env(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()), true).unwrap()
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig";
    const KEY: &str = "mesh_sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn h<'a>(authorization: Option<&'a str>, x_api_key: Option<&'a str>) -> RequestHeaders<'a> {
        RequestHeaders { authorization, x_api_key, access_control_request_method: None }
    }

    fn reason(p: Plan) -> Reason {
        match p {
            Plan::Reject { rejection, .. } => rejection.reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_credential_unlocks_only_its_own_routes() {
        let c = cfg();
        let bearer_jwt = format!("Bearer {JWT}");
        let bearer_key = format!("Bearer {KEY}");
        // JWT route.
        assert!(matches!(plan(&c, "GET", "/api/v1/chat", &h(Some(&bearer_jwt), None)), Plan::Forward { credential: Some(Credential::Jwt(_)), .. }));
        assert_eq!(reason(plan(&c, "GET", "/api/v1/chat", &h(Some(&bearer_key), None))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "GET", "/api/v1/chat", &h(None, Some(KEY)))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "GET", "/mcp/messages/", &h(Some(&bearer_jwt), Some(KEY)))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "GET", "/api/v1/chat", &h(None, None))), Reason::MissingCredential);
        assert_eq!(reason(plan(&c, "GET", "/api/v1/chat", &h(Some("Basic dTpw"), None))), Reason::MissingCredential);
        // API-key route.
        assert!(matches!(plan(&c, "POST", "/agent/v1/x", &h(None, Some(KEY))), Plan::Forward { credential: Some(Credential::ApiKey(_)), .. }));
        assert!(matches!(plan(&c, "POST", "/agent/v1/x", &h(Some(&bearer_key), None)), Plan::Forward { credential: Some(Credential::ApiKey(_)), .. }));
        assert!(matches!(plan(&c, "POST", "/agent/v1/x", &h(Some(&bearer_key), Some(KEY))), Plan::Forward { .. }));
        assert_eq!(reason(plan(&c, "POST", "/agent/v1/x", &h(Some(&bearer_jwt), None))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "POST", "/agent/v1/x", &h(Some(&bearer_jwt), Some(KEY)))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "POST", "/agent/v1/x", &h(None, Some(JWT)))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "POST", "/agent/v1/x", &h(None, None))), Reason::MissingCredential);
        // Public route: no credential needed, whatever is sent.
        assert!(matches!(plan(&c, "GET", "/health", &h(Some(&bearer_jwt), Some(KEY))), Plan::Forward { credential: None, .. }));
        assert_eq!(plan(&c, "GET", "/nowhere", &h(None, None)), Plan::NotFound);
    }

    #[test]
    fn keys_api_is_served_here_with_jwts_only() {
        let c = cfg();
        let bearer_jwt = format!("Bearer {JWT}");
        let bearer_key = format!("Bearer {KEY}");
        assert!(matches!(plan(&c, "GET", "/api/v1/keys", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::List, .. }));
        assert!(matches!(plan(&c, "POST", "/api/v1/keys", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::Create, .. }));
        assert!(matches!(plan(&c, "DELETE", "/api/v1/keys/key_x", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::Revoke(id), .. } if id == "key_x"));
        assert!(matches!(plan(&c, "PUT", "/api/v1/keys", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::MethodNotAllowed(_), .. }));
        assert!(matches!(plan(&c, "DELETE", "/api/v1/keys/a/b", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::NotFound, .. }));
        let rotate = |method, path| plan(&c, method, path, &h(Some(&bearer_jwt), None));
        assert!(matches!(rotate("POST", "/api/v1/keys/key_x/rotate"), Plan::Keys { op: KeysOp::Rotate(id), .. } if id == "key_x"));
        assert!(matches!(rotate("GET", "/api/v1/keys/key_x/rotate"), Plan::Keys { op: KeysOp::MethodNotAllowed("POST"), .. }));
        for path in ["/api/v1/keys//rotate", "/api/v1/keys/a/b/rotate", "/api/v1/keys/rotate/x", "/api/v1/keys/a/rotatex"] {
            assert!(matches!(rotate("POST", path), Plan::Keys { op: KeysOp::NotFound, .. } | Plan::BadPath), "{path}");
        }
        // An API key cannot manage keys.
        assert_eq!(reason(plan(&c, "GET", "/api/v1/keys", &h(Some(&bearer_key), None))), Reason::WrongCredentialType);
        assert_eq!(reason(plan(&c, "POST", "/api/v1/keys", &h(None, Some(KEY)))), Reason::WrongCredentialType);
        // MESH_KEYS_PATH moves it: the old path is an ordinary route's again.
        let mut moved = cfg();
        moved.keys_path = "/me/keys".into();
        assert!(matches!(plan(&moved, "GET", "/me/keys/", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::List, .. }));
        assert!(matches!(plan(&moved, "POST", "/me/keys/key_x/rotate", &h(Some(&bearer_jwt), None)), Plan::Keys { op: KeysOp::Rotate(_), .. }));
        assert!(matches!(plan(&moved, "GET", "/api/v1/keys", &h(Some(&bearer_jwt), None)), Plan::Forward { route: "/api/v1/", .. }));
        assert!(matches!(plan(&moved, "GET", "/me/keys", &h(None, None)), Plan::Reject { route: "/me/keys", .. }));
    }

    #[test]
    fn a_method_the_route_does_not_take_is_405_before_any_credential() {
        use super::super::authorize::Rules;
        use super::super::route::{Route, Routes};
        let mut c = cfg();
        let rules = Rules { methods: Some(vec!["GET".into(), "POST".into()]), ..Rules::default() };
        c.routes = Routes::new(vec![Route::new("/api/v1/", AuthMode::Jwt).with_rules(rules)]).unwrap();
        let allow = "GET, POST".to_string();
        for method in ["DELETE", "PUT", "get", "HEAD"] {
            let p = plan(&c, method, "/api/v1/x", &h(None, None));
            assert_eq!(p, Plan::MethodNotAllowed { route: "/api/v1/", allow: allow.clone() }, "{method}");
        }
        assert!(matches!(plan(&c, "POST", "/api/v1/x", &h(None, None)), Plan::Reject { .. }));
        assert!(matches!(plan(&c, "GET", "/api/v1/x", &h(Some("Bearer a.b.c"), None)), Plan::Forward { .. }));
    }

    #[test]
    fn preflight_and_encoded_slashes() {
        let c = cfg();
        let pre = RequestHeaders { access_control_request_method: Some("POST"), ..Default::default() };
        assert_eq!(plan(&c, "OPTIONS", "/api/v1/chat", &pre), Plan::Preflight);
        assert_eq!(plan(&c, "OPTIONS", "/api/v1/keys", &pre), Plan::Preflight);
        assert!(matches!(plan(&c, "OPTIONS", "/agent/v1/x", &pre), Plan::Reject { .. }));
        assert_eq!(plan(&c, "GET", "/health/..%2Fapi%2fv1/x", &h(None, None)), Plan::BadPath);
        assert_eq!(plan(&c, "GET", "/health/%5C", &h(None, None)), Plan::BadPath);
        assert_eq!(plan(&c, "GET", "/health/a\\b", &h(None, None)), Plan::BadPath);
        // An empty segment, anywhere, on every route.
        for empty in ["//api/v1/x", "/api//v1/x", "/api/v1//x", "/health//", "/agent/v1/x//y"] {
            assert_eq!(plan(&c, "GET", empty, &h(None, None)), Plan::BadPath, "{empty}");
        }
        // (`/health/%2e` is refused: a dot segment once decoded; workerd resolves it first anyway.)
        for fine in ["/health/%25", "/health/x%2e", "/health/2f", "/health/%7B%7d"] {
            assert!(matches!(plan(&c, "GET", fine, &h(None, None)), Plan::Forward { .. }), "{fine}");
        }
        // A `%` without two hex digits: no URI path has one (fuzz: `%6%61` read `%6a` once decoded).
        for malformed in ["/health/%2", "/health/%", "/health/%5", "/health/%zz", "/health/%6%61"] {
            assert_eq!(plan(&c, "GET", malformed, &h(None, None)), Plan::BadPath, "{malformed}");
        }
    }

    fn nested() -> GatewayConfig {
        let routes = r#"[{"prefix":"/pub/","auth":"public"},{"prefix":"/pub/private/","auth":"jwt"},
            {"prefix":"/api/v1/","auth":"jwt"},{"prefix":"/api/v1/admin/","auth":"jwt","scopes":["admin"]},
            {"prefix":"/health","auth":"public"}]"#;
        let vars = [("MESH_UPSTREAM_URL", "http://o"), ("MESH_JWT_ISSUER", "http://i"), ("MESH_JWT_AUDIENCE", "a"), ("MESH_ROUTES", routes)];
        GatewayConfig::from_env(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()), true).unwrap()
    }

    #[test]
    fn a_path_that_decodes_to_another_destination_is_refused() {
        let c = nested();
        let bearer = format!("Bearer {JWT}");
        for path in [
            "/pub/%70rivate/x",      // public route, decoded: the jwt route below it
            "/api/v1/ad%6Din/x",     // either hex case
            "/api/v1/ad%6din/x",
            "/pub/priv%61te/x",
            "/pub/private;x/y",      // Tomcat/Spring drop `;x`
            "/pub/private;/y",
            "/pub/private%00/x",     // NUL: always
            "/health%00",
            "/api/v1/%61dmin/x",     // skips the admin route's scopes
            "/api/v1/adm%69n/x",
            "/api/v1/%6beys",        // the keys API
            "/api/v1/%6Beys/key_x",
            "/api/v1/keys;x",
            "/health;x",             // no route, decoded: /health
            "/pub/%2e%2e;x/private/x", // a dot segment only once decoded
            "/pub/.%2e/api/v1/x",
            "/pub/;x/private/x",     // an empty segment once the parameter goes
            "/api/v1/%6%61dmin/x",   // a malformed escape: decoded once it makes %6a
            "/api/v1/100%",
            "/api/v1/a%zz",
            "/api/v1/a%6",
        ] {
            assert_eq!(plan(&c, "GET", path, &h(Some(&bearer), None)), Plan::BadPath, "{path}");
        }
        // The resource metadata is the gateway's own answer, decoded or not.
        assert_eq!(plan(&c, "GET", "/.well-known/oauth-protected-resourc%65", &h(None, None)), Plan::BadPath);
    }

    #[test]
    fn escapes_that_stay_at_their_destination_forward_the_raw_path() {
        let c = nested();
        let bearer = format!("Bearer {JWT}");
        let fwd = |path| plan(&c, "GET", path, &h(Some(&bearer), None));
        for (path, route) in [
            ("/pub/%41bc", "/pub/"),
            ("/pub/x%7e;jsessionid=1", "/pub/"),
            ("/pub/private/%61dmin", "/pub/private/"),
            ("/api/v1/admin/%78", "/api/v1/admin/"),
            ("/api/v1/chat;v=2", "/api/v1/"),
            ("/api/v1/caf%C3%A9", "/api/v1/"),  // not unreserved: stays encoded
            ("/api/v1/%3b/x", "/api/v1/"),      // an encoded `;` is no parameter
            ("/health/%25", "/health"),
        ] {
            assert!(matches!(fwd(path), Plan::Forward { route: r, .. } if r == route), "{path}: {:?}", fwd(path));
        }
        assert!(matches!(fwd("/api/v1/keys/key_%41"), Plan::Keys { op: KeysOp::MethodNotAllowed(_), .. }));
        assert_eq!(plan(&c, "GET", "/nowhere/%41", &h(None, None)), Plan::NotFound);
    }

    #[test]
    fn canonical_paths() {
        assert!(matches!(canonical_path("/plain/path"), Cow::Borrowed("/plain/path")));
        for (raw, canonical) in [
            ("/a/%41%7a%2D%2e%5F%7E%30", "/a/Az-._~0"),
            ("/a;b/c;d=1;e/f;", "/a/c/f"),
            ("/a/%2F%3B%25%00%C3%A9", "/a/%2F%3B%25%00%C3%A9"),
            ("/a/%4", "/a/%4"),
            ("/a/%", "/a/%"),
            ("/a/%zz%4g", "/a/%zz%4g"),
            ("/a/%2541", "/a/%2541"),
            ("/é;x/%41", "/é/A"),
        ] {
            assert_eq!(canonical_path(raw), canonical, "{raw}");
            assert_eq!(canonical_path(canonical), canonical, "idempotent: {raw}");
        }
    }

    #[test]
    fn split_url_takes_path_and_query_from_absolute_and_relative_urls() {
        assert_eq!(split_url("http://h:1/a/b?x=1#f"), ("/a/b", "?x=1"));
        assert_eq!(split_url("http://h"), ("/", ""));
        assert_eq!(split_url("https://h/"), ("/", ""));
        assert_eq!(split_url("http://o.test?x"), ("/", "?x"));
        assert_eq!(split_url("http://h?next=/y"), ("/", "?next=/y"));
        assert_eq!(split_url("/api/v1/chat?a=1"), ("/api/v1/chat", "?a=1"));
        assert_eq!(split_url("/a?next=http://x/y"), ("/a", "?next=http://x/y"));
        assert_eq!(split_url("http://h/a#f?x"), ("/a", ""));
        assert_eq!(split_url("http://h/é?q=é"), ("/é", "?q=é"));
    }

    #[test]
    fn path_span_slices_what_split_url_says() {
        for url in ["http://h:1/a/b?x=1#f", "https://h/", "/api/v1/chat?a=1", "http://ü.example/é/x?q=😀#frag", "http://h/a#f?x"] {
            let (path, query) = split_url(url);
            let (from, to) = path_span(url).unwrap();
            let units: Vec<u16> = url.encode_utf16().collect();
            assert_eq!(String::from_utf16(&units[from as usize..to as usize]).unwrap(), format!("{path}{query}"), "{url}");
        }
        // An empty path becomes "/", which the URL does not hold.
        for url in ["http://h", "http://o.test?x", "http://h#f"] {
            assert_eq!(path_span(url), None, "{url}");
        }
    }
}
