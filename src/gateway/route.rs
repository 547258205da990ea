//! Route policy: which credential a path requires.
//!
//! Each route names exactly one auth mode, and a credential only ever unlocks
//! routes of its own mode: an API key on a `jwt` route and a JWT on an
//! `api_key` route are both rejected (see [`super::request`]). The longest
//! matching prefix wins; a path no route matches gets 404.
//!
//! Matching is by path segment: a prefix that ends in `/` covers everything
//! below it (`/api/v1/` matches `/api/v1/chat`), and one that does not matches
//! itself and what is below it (`/health` matches `/health` and `/health/live`,
//! not `/healthz`).
//!
//! The keys API (`MESH_KEYS_PATH`, default `/api/v1/keys`, and everything
//! below it) is served by the gateway itself, before this table is
//! consulted, and always authenticates with a JWT.

use super::authorize::{validate, Rules};

/// How a route authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// `Authorization: Bearer <JWT>`, verified against the issuer's keys.
    Jwt,
    /// `X-API-Key: <key>` or `Authorization: Bearer <key>`, looked up in KV.
    ApiKey,
    /// No credential; identity headers are still stripped.
    Public,
}

impl AuthMode {
    pub fn parse(s: &str) -> Option<AuthMode> {
        match s {
            "jwt" => Some(AuthMode::Jwt),
            "api_key" => Some(AuthMode::ApiKey),
            "public" => Some(AuthMode::Public),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthMode::Jwt => "jwt",
            AuthMode::ApiKey => "api_key",
            AuthMode::Public => "public",
        }
    }
}

/// A credential of the gateway's own that a route sends to the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inject {
    /// `Authorization: Bearer <the edge service token>` (`MESH_SERVICE_TOKEN`),
    /// in place of the caller's.
    ServiceToken,
}

impl Inject {
    pub fn parse(s: &str) -> Option<Inject> {
        (s == "service_token").then_some(Inject::ServiceToken)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: String,
    pub auth: AuthMode,
    /// What an authenticated caller must also hold here ([`super::authorize`]).
    pub rules: Rules,
    /// `"inject"`: what the gateway adds for the origin.
    pub inject: Option<Inject>,
}

impl Route {
    pub fn new(prefix: &str, auth: AuthMode) -> Self {
        Route { prefix: prefix.to_string(), auth, rules: Rules::default(), inject: None }
    }

    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    fn matches(&self, path: &str) -> bool {
        match path.strip_prefix(self.prefix.as_str()) {
            None => false,
            Some(rest) => self.prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        }
    }
}

/// Checks a path prefix as configured (a route's, the keys API's).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.starts_with('/') || prefix.len() > 256 {
        return Err(format!("prefix `{prefix}` must start with / (at most 256 bytes)"));
    }
    if prefix.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#' || b == b'%') {
        return Err(format!("prefix `{prefix}` must be a plain path (no spaces, ?, # or %)"));
    }
    Ok(())
}

/// A validated route table.
#[derive(Debug, Clone)]
pub struct Routes(Vec<Route>);

pub const MAX_ROUTES: usize = 64;

impl Routes {
    pub fn new(routes: Vec<Route>) -> Result<Self, String> {
        if routes.is_empty() {
            return Err("must list at least one route".into());
        }
        if routes.len() > MAX_ROUTES {
            return Err(format!("at most {MAX_ROUTES} routes"));
        }
        for (i, r) in routes.iter().enumerate() {
            check_prefix(&r.prefix)?;
            if routes[..i].iter().any(|o| o.prefix == r.prefix) {
                return Err(format!("prefix `{}` is listed twice", r.prefix));
            }
            // `/a` and `/a/` both cover `/a/x` (the longer wins), so two
            // such routes leave the rules of `/a/...` to a trailing slash.
            if let Some(o) = routes[..i].iter().find(|o| o.prefix.trim_end_matches('/') == r.prefix.trim_end_matches('/')) {
                return Err(format!("prefixes `{}` and `{}` overlap: list one", o.prefix, r.prefix));
            }
            validate(&r.rules, r.auth).map_err(|p| format!("route `{}`: {p}", r.prefix))?;
        }
        Ok(Routes(routes))
    }

    /// The route with the longest prefix matching `path`.
    pub fn find(&self, path: &str) -> Option<&Route> {
        self.0.iter().filter(|r| r.matches(path)).max_by_key(|r| r.prefix.len())
    }

    pub fn uses(&self, mode: AuthMode) -> bool {
        self.0.iter().any(|r| r.auth == mode)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.0.iter()
    }

    /// Every claim path some route's rules name: what a verified token's
    /// [`super::authorize::Grants`] must keep.
    pub fn claim_paths(&self) -> Vec<&str> {
        let mut paths: Vec<&str> = Vec::new();
        for rule in self.0.iter().flat_map(|r| &r.rules.claims) {
            if !paths.contains(&rule.path.as_str()) {
                paths.push(&rule.path);
            }
        }
        paths
    }
}

/// The gateway's own keys API, if `path` addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysPath<'a> {
    /// `<keys path>`
    Collection,
    /// `<keys path>/{id}`, or anything deeper (`{id}/rotate`).
    Item(&'a str),
}

/// The keys API's default path (`MESH_KEYS_PATH`).
pub const DEFAULT_KEYS_PATH: &str = "/api/v1/keys";

/// Whether `path` addresses the keys API at `keys` (a path without a
/// trailing slash), segment by segment: `/api/v1/keysx` is not under it.
pub fn keys_path<'p>(keys: &str, path: &'p str) -> Option<KeysPath<'p>> {
    let rest = path.strip_prefix(keys)?;
    if rest.is_empty() || rest == "/" {
        return Some(KeysPath::Collection);
    }
    let id = rest.strip_prefix('/')?;
    // Any deeper path is still ours (and gets 404 from the keys API), so that
    // /api/v1/keys/... is never forwarded to the origin by accident.
    Some(KeysPath::Item(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Routes {
        Routes::new(super::super::config::default_routes()).unwrap()
    }

    #[test]
    fn longest_prefix_wins_and_unmatched_is_none() {
        let mut routes = super::super::config::default_routes();
        routes.push(Route::new("/api/v1/public/", AuthMode::Public));
        let t = Routes::new(routes).unwrap();
        assert_eq!(t.find("/api/v1/chat").unwrap().auth, AuthMode::Jwt);
        assert_eq!(t.find("/api/v1/public/x").unwrap().auth, AuthMode::Public);
        assert_eq!(t.find("/agent/v1/mcp/messages/").unwrap().auth, AuthMode::ApiKey);
        assert_eq!(t.find("/mcp/messages/").unwrap().auth, AuthMode::Jwt);
        assert!(t.find("/").is_none());
        assert!(t.find("/api/v1").is_none());
        assert!(t.find("/agent/v2/x").is_none());
    }

    #[test]
    fn prefix_without_slash_matches_by_segment() {
        let t = table();
        assert_eq!(t.find("/health").unwrap().auth, AuthMode::Public);
        assert_eq!(t.find("/health/live").unwrap().auth, AuthMode::Public);
        assert!(t.find("/healthz").is_none());
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(Routes::new(vec![]).is_err());
        assert!(Routes::new(vec![Route::new("api/", AuthMode::Jwt)]).is_err());
        assert!(Routes::new(vec![Route::new("/a/", AuthMode::Jwt), Route::new("/a/", AuthMode::Public)]).is_err());
        assert!(Routes::new(vec![Route::new("/a b/", AuthMode::Jwt)]).is_err());
        let overlap = Routes::new(vec![Route::new("/a", AuthMode::Public), Route::new("/a/", AuthMode::Jwt)]);
        assert!(overlap.unwrap_err().contains("overlap"));
        let scoped_public = Rules { scopes: vec!["s".into()], ..Rules::default() };
        let err = Routes::new(vec![Route::new("/p/", AuthMode::Public).with_rules(scoped_public)]).unwrap_err();
        assert!(err.contains("route `/p/`"), "{err}");
    }

    #[test]
    fn a_prefix_never_matches_a_longer_segment() {
        let t = Routes::new(vec![Route::new("/api/v1/", AuthMode::Jwt), Route::new("/x/y", AuthMode::Jwt)]).unwrap();
        assert!(t.find("/api/v1evil").is_none());
        assert!(t.find("/api/v1evil/x").is_none());
        assert!(t.find("/x/yz").is_none());
        assert!(t.find("/x/y").is_some() && t.find("/x/y/z").is_some());
    }

    #[test]
    fn keys_paths() {
        let k = DEFAULT_KEYS_PATH;
        assert_eq!(keys_path(k, "/api/v1/keys"), Some(KeysPath::Collection));
        assert_eq!(keys_path(k, "/api/v1/keys/"), Some(KeysPath::Collection));
        assert_eq!(keys_path(k, "/api/v1/keys/abc"), Some(KeysPath::Item("abc")));
        assert_eq!(keys_path(k, "/api/v1/keys/abc/rotate"), Some(KeysPath::Item("abc/rotate")));
        assert_eq!(keys_path(k, "/api/v1/keysx"), None);
        assert_eq!(keys_path(k, "/api/v1/chat"), None);
        assert_eq!(keys_path("/me/keys", "/me/keys/abc"), Some(KeysPath::Item("abc")));
        assert_eq!(keys_path("/me/keys", "/api/v1/keys"), None);
    }
}
