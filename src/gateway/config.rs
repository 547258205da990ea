//! The gateway's configuration, parsed from the Worker's environment.
//!
//! Every setting is a string variable (see `docs/gateway.md`); [`GatewayConfig::from_env`]
//! takes a lookup function, so the wasm layer passes `env` and tests pass a map.
//! A bad value is a [`ConfigError`] naming the variable: the gateway then answers
//! 500 "gateway misconfigured" to every request, never opens.

use std::fmt;

use super::authorize::{ClaimRule, Rules};
use super::headers::{stripped_names, AUTH_SCOPES, IDENTITY_HEADERS, IDENTITY_PREFIX};
use super::route::{check_prefix, keys_path, AuthMode, Inject, Route, Routes, DEFAULT_KEYS_PATH};
use super::service_token::ServiceTokenConfig;
use super::stores::Stores;
use super::upstream;

/// A gateway secret (`MESH_JWT_HS256_SECRET`, `MESH_IDENTITY_SECRET`), with a
/// redacted `Debug`. Read it with `.secret()`.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewaySecret(String);

impl GatewaySecret {
    pub fn new(value: impl Into<String>) -> Self {
        GatewaySecret(value.into())
    }
    /// The secret itself. Never log or format it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GatewaySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GatewaySecret([redacted])")
    }
}

/// The JWS algorithms this gateway can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (WebCrypto).
    Rs256,
    /// ECDSA P-256 with SHA-256, raw r||s signature (WebCrypto).
    Es256,
    /// RSASSA-PSS with SHA-256 and a 32-byte salt (WebCrypto).
    Ps256,
    /// Ed25519 (WebCrypto).
    EdDsa,
    /// HMAC-SHA-256 with `MESH_JWT_HS256_SECRET` (Rust).
    Hs256,
}

impl Alg {
    /// Parses an `alg` value exactly (JOSE names are case-sensitive).
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            "PS256" => Some(Alg::Ps256),
            "EdDSA" => Some(Alg::EdDsa),
            "HS256" => Some(Alg::Hs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::Ps256 => "PS256",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
        }
    }
}

/// Where the JWT signing keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum JwksSource {
    /// `MESH_JWKS_URL`.
    Url(String),
    /// `jwks_uri` from `<issuer>/.well-known/openid-configuration`.
    Discovery(String),
}

/// JWT verification settings (present when a route or the keys API uses `jwt`).
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Asymmetric algorithms allowed (verified with JWKS keys).
    pub algorithms: Vec<Alg>,
    pub jwks: Option<JwksSource>,
    pub hs256_secret: Option<GatewaySecret>,
    pub clock_skew_secs: i64,
    /// The claim paths route rules and `MESH_FORWARD_CLAIMS` read from a
    /// verified token (its grants keep their values).
    pub claim_paths: Vec<String>,
}

impl JwtConfig {
    pub fn allows(&self, alg: Alg) -> bool {
        self.algorithms.contains(&alg)
    }
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Origin base URL without a trailing slash.
    pub upstream_url: String,
    /// `MESH_UPSTREAM_TIMEOUT_SECONDS`: how long to wait for the origin's response headers, in ms.
    pub upstream_timeout_ms: u32,
    pub routes: Routes,
    /// The issuers whose tokens are verified: `MESH_JWT_ISSUERS`, or the
    /// one of `MESH_JWT_ISSUER` and its siblings; empty when no route needs one.
    pub issuers: Vec<JwtConfig>,
    pub api_key_prefix: String,
    pub identity_secret: Option<GatewaySecret>,
    /// Exact origins allowed to call jwt routes from a browser; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Whether the KV binding `MESH_API_KEYS` exists.
    pub has_key_store: bool,
    /// `MESH_RESOURCE`: the protected resource's identifier in its RFC 9728
    /// metadata (the request's origin when unset), without a trailing slash.
    pub resource: Option<String>,
    /// `MESH_FORWARD_CLAIMS`: `(claim path, header)` pairs; the verified
    /// claim's value goes to the origin in that header.
    pub forward_claims: Vec<(String, String)>,
    /// `MESH_KEYS_PATH`: where the keys API is served, without a trailing slash.
    pub keys_path: String,
    /// What the keys API's caller must hold: with several issuers, a token
    /// of the first. A key's owner is a `sub` alone, and two issuers' subs
    /// may collide.
    pub keys_rules: Rules,
    /// Where keys and rate-limit counts live (`MESH_KEYS_STORE` and siblings).
    pub stores: Stores,
    /// `MESH_SERVICE_TOKEN` and its secret: the gateway's own token for
    /// routes with `"inject": "service_token"`.
    pub service_token: Option<ServiceTokenConfig>,
}

/// A configuration problem, naming the variable. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

/// The default routes of the issue: web app, MCP integration, agents, health.
pub fn default_routes() -> Vec<Route> {
    vec![
        Route::new("/api/v1/", AuthMode::Jwt),
        Route::new("/mcp/messages/", AuthMode::Jwt),
        Route::new("/agent/v1/", AuthMode::ApiKey),
        Route::new("/health", AuthMode::Public),
    ]
}

pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 30;
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
pub const DEFAULT_API_KEY_PREFIX: &str = "mesh_sk_";
/// Shortest HS256 secret accepted: RFC 7518 §3.2 wants a key of the hash size.
pub const MIN_HS256_SECRET_BYTES: usize = 32;
pub const MIN_IDENTITY_SECRET_BYTES: usize = 32;

/// Checks an http(s) URL with a host and no credentials, query or fragment;
/// returns it without a trailing slash.
pub(crate) fn base_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| err(variable, "must be an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err(err(variable, "must name a host (and no user:password@)"));
    }
    if value.contains(['?', '#']) || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(variable, "must not contain a query, a fragment or spaces"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

fn csv(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// Every variable [`GatewayConfig::from_env`] reads, and only those: the
/// binding reads exactly these from the env (and fingerprints them), so a
/// variable is added here or it is not read at all. One more is read by a
/// name the configuration gives: the service token's secret
/// ([`super::service_token::secret_var`]), which the binding reads and
/// fingerprints too.
pub const VARIABLES: &[&str] = &[
    "MESH_UPSTREAM_URL",
    "MESH_UPSTREAM_TIMEOUT_SECONDS",
    "MESH_JWT_ISSUER",
    "MESH_JWT_ISSUERS",
    "MESH_JWT_AUDIENCE",
    "MESH_JWKS_URL",
    "MESH_JWT_ALGORITHMS",
    "MESH_JWT_HS256_SECRET",
    "MESH_CLOCK_SKEW_SECONDS",
    "MESH_ROUTES",
    "MESH_API_KEY_PREFIX",
    "MESH_IDENTITY_SECRET",
    "MESH_CORS_ORIGINS",
    "MESH_RESOURCE",
    "MESH_FORWARD_CLAIMS",
    "MESH_KEYS_PATH",
    "MESH_KEYS_STORE",
    "MESH_KEYS_CACHE_SECONDS",
    "MESH_RATE_LIMIT_STORE",
    "MESH_RATE_LIMIT_UNREACHABLE",
    "MESH_SERVICE_TOKEN",
];

/// The name of the KV binding of API-key records.
pub const KEY_STORE_BINDING: &str = "MESH_API_KEYS";

impl GatewayConfig {
    /// Parses and validates the configuration. `var` returns a variable's value
    /// (unset and empty are the same); `has_key_store` tells whether the KV
    /// binding `MESH_API_KEYS` exists.
    pub fn from_env(var: impl Fn(&str) -> Option<String>, has_key_store: bool) -> Result<Self, ConfigError> {
        // A name outside VARIABLES would read as absent in production.
        let get = |name: &str| {
            assert!(VARIABLES.contains(&name), "{name} is not in config::VARIABLES");
            var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
        };

        let upstream_url = base_url(
            "MESH_UPSTREAM_URL",
            &get("MESH_UPSTREAM_URL").ok_or_else(|| err("MESH_UPSTREAM_URL", "is required"))?,
        )?;
        let upstream_timeout_ms = upstream::timeout_ms(get("MESH_UPSTREAM_TIMEOUT_SECONDS").as_deref())?;

        let routes = match get("MESH_ROUTES") {
            None => default_routes(),
            Some(json) => parse_routes(&json)?,
        };
        let routes = Routes::new(routes).map_err(|p| err("MESH_ROUTES", p))?;

        let api_key_prefix = get("MESH_API_KEY_PREFIX").unwrap_or_else(|| DEFAULT_API_KEY_PREFIX.into());
        if api_key_prefix.len() > 32
            || !api_key_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(err("MESH_API_KEY_PREFIX", "must be 1-32 characters of A-Z a-z 0-9 _ -"));
        }
        // A key must never be mistaken for a JWT: JWTs start with `eyJ`.
        if api_key_prefix.starts_with("eyJ") {
            return Err(err("MESH_API_KEY_PREFIX", "must not start like a JWT (eyJ)"));
        }

        let identity_secret = get("MESH_IDENTITY_SECRET").map(GatewaySecret::new);
        if let Some(s) = &identity_secret {
            if s.secret().len() < MIN_IDENTITY_SECRET_BYTES {
                return Err(err("MESH_IDENTITY_SECRET", format!("must be at least {MIN_IDENTITY_SECRET_BYTES} bytes")));
            }
        }

        let mut cors_origins = get("MESH_CORS_ORIGINS").map(|v| csv(&v)).unwrap_or_default();
        for o in cors_origins.iter_mut().filter(|o| *o != "*") {
            *o = super::cors::configured_origin(o)
                .ok_or_else(|| err("MESH_CORS_ORIGINS", format!("`{o}` is not an origin like https://app.example.com")))?;
        }

        // The keys API (/api/v1/keys) authenticates with JWTs, so it counts as a
        // jwt user when the key store is bound.
        let needs_jwt = routes.uses(AuthMode::Jwt);
        let named = get("MESH_JWT_ISSUER").is_some() || get("MESH_JWT_ISSUERS").is_some();
        let issuers = if needs_jwt || (has_key_store && named) { parse_issuers(&get)? } else { Vec::new() };

        if routes.uses(AuthMode::ApiKey) && !has_key_store {
            return Err(err("MESH_API_KEYS", "KV binding is required when a route uses api_key"));
        }
        // A route's `issuers` may only name an issuer the gateway trusts: a
        // typo would otherwise refuse every token on that route.
        for r in routes.iter() {
            if let Some(unknown) = r.rules.issuers.iter().flatten().find(|i| !issuers.iter().any(|j| j.issuer == **i)) {
                return Err(err("MESH_ROUTES", format!("route `{}`: issuer `{unknown}` is not a configured issuer", r.prefix)));
            }
        }

        let resource = get("MESH_RESOURCE").map(|r| base_url("MESH_RESOURCE", &r)).transpose()?;

        let keys_path = parse_keys_path(get("MESH_KEYS_PATH").as_deref().unwrap_or(DEFAULT_KEYS_PATH), &routes)?;

        let forward_claims = get("MESH_FORWARD_CLAIMS").map(|v| parse_forward_claims(&v)).transpose()?.unwrap_or_default();

        // The secret variable is named by MESH_SERVICE_TOKEN, so it is read
        // through `var` (the binding reads it by that name too).
        let service_token = get("MESH_SERVICE_TOKEN").map(|json| ServiceTokenConfig::parse(&json, &var)).transpose()?;
        if let Some(r) = routes.iter().find(|r| r.inject == Some(Inject::ServiceToken)) {
            if service_token.is_none() {
                return Err(err("MESH_ROUTES", format!("route `{}` injects the service token, but MESH_SERVICE_TOKEN is not set", r.prefix)));
            }
        }

        // Several issuers: the keys API takes the first one's tokens only.
        let keys_issuer = if issuers.len() > 1 { Some(vec![issuers[0].issuer.clone()]) } else { None };
        let keys_rules = Rules { issuers: keys_issuer, ..Rules::default() };
        let mut cfg = GatewayConfig {
            upstream_url,
            upstream_timeout_ms,
            routes,
            issuers,
            api_key_prefix,
            identity_secret,
            cors_origins,
            has_key_store,
            resource,
            forward_claims,
            keys_path,
            keys_rules,
            stores: Stores::from_env(&get)?,
            service_token,
        };
        // Each issuer's verifier keeps the values of these paths with a token.
        let paths: Vec<String> = cfg.claim_paths().into_iter().map(String::from).collect();
        for j in &mut cfg.issuers {
            j.claim_paths = paths.clone();
        }
        Ok(cfg)
    }

    /// The headers the gateway sets beside the identity, so never taken from
    /// a client: the forwarded claims' and `x-auth-scopes`.
    pub fn claim_headers(&self) -> Vec<&str> {
        let mut names = vec![AUTH_SCOPES];
        names.extend(self.forward_claims.iter().map(|(_, h)| h.as_str()));
        names
    }

    /// Every claim path a verified token's grants must keep: the routes'
    /// claim rules and the forwarded claims.
    pub fn claim_paths(&self) -> Vec<&str> {
        let mut paths = self.routes.claim_paths();
        for (path, _) in &self.forward_claims {
            if !paths.contains(&path.as_str()) {
                paths.push(path);
            }
        }
        paths
    }

    /// Whether the gateway serves its keys API (`keys_path`) itself.
    pub fn serves_keys_api(&self) -> bool {
        self.has_key_store && !self.issuers.is_empty()
    }

    /// The path part of MESH_UPSTREAM_URL (`/base` of `https://o/base`, "" for
    /// none): the identity is signed over it plus the request's path.
    pub fn upstream_path(&self) -> &str {
        let after_scheme = self.upstream_url.find("://").map_or(0, |i| i + 3);
        self.upstream_url[after_scheme..].find('/').map_or("", |i| &self.upstream_url[after_scheme + i..])
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if allowed.
    pub fn cors_allow(&self, origin: &str) -> Option<String> {
        if self.cors_origins.iter().any(|o| o == "*") {
            return Some("*".into());
        }
        self.cors_origins.iter().find(|o| o.as_str() == origin).cloned()
    }
}

/// `MESH_KEYS_PATH`, checked like a route prefix. The keys API answers for
/// its path and everything below it before any route is looked at, so keys
/// traffic never reaches the origin; a route at or under that path could
/// never be reached, and is refused as the mistake it is.
fn parse_keys_path(value: &str, routes: &Routes) -> Result<String, ConfigError> {
    check_prefix(value).map_err(|p| err("MESH_KEYS_PATH", p))?;
    let path = value.trim_end_matches('/');
    if path.is_empty() {
        return Err(err("MESH_KEYS_PATH", "must not be / (the keys API would take every path)"));
    }
    if path == "/.well-known" || path.starts_with("/.well-known/") {
        return Err(err("MESH_KEYS_PATH", "must not be under /.well-known/"));
    }
    if let Some(r) = routes.iter().find(|r| keys_path(path, &r.prefix).is_some()) {
        return Err(err("MESH_KEYS_PATH", format!("route `{}` is at or under the keys API's path and could never be reached", r.prefix)));
    }
    Ok(path.to_string())
}

/// One entry of `MESH_JWT_ISSUERS`, exactly as documented.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerJson {
    issuer: String,
    audience: serde_json::Value,
    jwks_url: Option<String>,
    algorithms: Option<Vec<String>>,
}

/// `MESH_JWT_ISSUERS`, or the one-issuer shorthand (`MESH_JWT_ISSUER`,
/// `MESH_JWT_AUDIENCE`, `MESH_JWKS_URL`, `MESH_JWT_ALGORITHMS`,
/// `MESH_JWT_HS256_SECRET`), never both.
fn parse_issuers(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<JwtConfig>, ConfigError> {
    let Some(json) = get("MESH_JWT_ISSUERS") else { return Ok(vec![parse_jwt(get)?]) };
    let bad = |p: String| err("MESH_JWT_ISSUERS", p);
    if get("MESH_JWT_ISSUER").is_some() || get("MESH_JWT_HS256_SECRET").is_some() {
        return Err(bad("set either MESH_JWT_ISSUERS or MESH_JWT_ISSUER (HS256 is for that one issuer only)".into()));
    }
    let raw: Vec<IssuerJson> = serde_json::from_str(&json).map_err(|e| {
        bad(format!("must be a JSON array of {{\"issuer\", \"audience\", \"jwks_url\"?, \"algorithms\"?}}: {e}"))
    })?;
    if raw.is_empty() {
        return Err(bad("must list at least one issuer".into()));
    }
    let mut out: Vec<JwtConfig> = Vec::new();
    for r in raw {
        let one = |name: &str| match name {
            "MESH_JWT_ISSUER" => Some(r.issuer.clone()),
            "MESH_JWT_AUDIENCE" => match &r.audience {
                serde_json::Value::String(a) => Some(a.clone()),
                serde_json::Value::Array(list) => list.iter().map(|a| a.as_str().map(str::to_string)).collect::<Option<Vec<_>>>().map(|l| l.join(",")),
                _ => None,
            },
            "MESH_JWKS_URL" => r.jwks_url.clone(),
            "MESH_JWT_ALGORITHMS" => r.algorithms.as_ref().map(|a| a.join(",")),
            "MESH_JWT_HS256_SECRET" => None,
            other => get(other),
        };
        let cfg = parse_jwt(&one).map_err(|e| bad(format!("issuer `{}`: {}", r.issuer, e)))?;
        if out.iter().any(|o| o.issuer == cfg.issuer) {
            return Err(bad(format!("issuer `{}` is listed twice", cfg.issuer)));
        }
        out.push(cfg);
    }
    Ok(out)
}

fn parse_jwt(get: &impl Fn(&str) -> Option<String>) -> Result<JwtConfig, ConfigError> {
    let issuer = get("MESH_JWT_ISSUER")
        .ok_or_else(|| err("MESH_JWT_ISSUER", "is required when a route uses jwt"))?;
    if issuer.chars().any(|c| c.is_control()) {
        return Err(err("MESH_JWT_ISSUER", "contains control characters"));
    }
    let audiences = get("MESH_JWT_AUDIENCE").map(|v| csv(&v)).unwrap_or_default();
    if audiences.is_empty() {
        return Err(err("MESH_JWT_AUDIENCE", "is required when a route uses jwt"));
    }

    let hs256_secret = get("MESH_JWT_HS256_SECRET").map(GatewaySecret::new);
    if let Some(s) = &hs256_secret {
        if s.secret().len() < MIN_HS256_SECRET_BYTES {
            return Err(err("MESH_JWT_HS256_SECRET", format!("must be at least {MIN_HS256_SECRET_BYTES} bytes")));
        }
    }

    let mut algorithms = Vec::new();
    for name in csv(&get("MESH_JWT_ALGORITHMS").unwrap_or_else(|| "RS256,ES256".into())) {
        let alg = Alg::parse(&name).ok_or_else(|| {
            err("MESH_JWT_ALGORITHMS", format!("`{name}` is not supported (use RS256, PS256, ES256, EdDSA, HS256)"))
        })?;
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    if algorithms.contains(&Alg::Hs256) && hs256_secret.is_none() {
        return Err(err("MESH_JWT_ALGORITHMS", "HS256 needs MESH_JWT_HS256_SECRET"));
    }
    // A configured HS256 secret means HS256 tokens are accepted too.
    if hs256_secret.is_some() && !algorithms.contains(&Alg::Hs256) {
        algorithms.push(Alg::Hs256);
    }
    if algorithms.is_empty() {
        return Err(err("MESH_JWT_ALGORITHMS", "is empty"));
    }

    let needs_jwks = algorithms.iter().any(|a| *a != Alg::Hs256);
    let jwks = match get("MESH_JWKS_URL") {
        Some(url) => Some(JwksSource::Url(base_url("MESH_JWKS_URL", &url).map(|_| url.clone())?)),
        None if needs_jwks => {
            let iss = base_url("MESH_JWT_ISSUER", &issuer).map_err(|_| {
                err("MESH_JWKS_URL", "is required when MESH_JWT_ISSUER is not an http(s) URL")
            })?;
            Some(JwksSource::Discovery(format!("{iss}/.well-known/openid-configuration")))
        }
        None => None,
    };

    let clock_skew_secs = match get("MESH_CLOCK_SKEW_SECONDS") {
        None => DEFAULT_CLOCK_SKEW_SECS,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=MAX_CLOCK_SKEW_SECS).contains(s))
            .ok_or_else(|| err("MESH_CLOCK_SKEW_SECONDS", format!("must be a whole number 0-{MAX_CLOCK_SKEW_SECS}")))?,
    };

    Ok(JwtConfig { issuer, audiences, algorithms, jwks, hs256_secret, clock_skew_secs, claim_paths: Vec::new() })
}

/// One `MESH_ROUTES` entry, exactly as documented: an unknown field or a
/// value of the wrong type is an error, never ignored.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteJson {
    prefix: String,
    auth: String,
    methods: Option<Vec<String>>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    claims: serde_json::Map<String, serde_json::Value>,
    issuers: Option<Vec<String>>,
    inject: Option<String>,
}

/// A claim rule's value: a string, or a list of strings (any one matches).
fn claim_rule(prefix: &str, path: String, value: serde_json::Value) -> Result<ClaimRule, ConfigError> {
    use serde_json::Value;
    let allowed = match value {
        Value::String(s) => vec![s],
        Value::Array(items) => items.into_iter().map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        }).collect::<Option<Vec<_>>>().unwrap_or_default(),
        _ => vec![],
    };
    if allowed.is_empty() {
        return Err(err("MESH_ROUTES", format!("route `{prefix}`: claim `{path}` must be a string or a non-empty list of strings")));
    }
    Ok(ClaimRule { path, allowed })
}

/// `MESH_FORWARD_CLAIMS`: `claim.path:x-header,...`. A header must be an
/// `x-` name of the gateway's choosing, not one it sets for itself, so a
/// claim can never overwrite the identity or a proxy header.
fn parse_forward_claims(value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in csv(value) {
        let bad = |why: &str| err("MESH_FORWARD_CLAIMS", format!("`{pair}`: {why}"));
        let (path, header) = pair.split_once(':').ok_or_else(|| bad("must be claim:header, e.g. email:x-user-email"))?;
        let (path, header) = (path.trim(), header.trim().to_ascii_lowercase());
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(bad("the claim must be a dotted path such as org.id"));
        }
        let name_ok = header.starts_with("x-") && header.len() <= 64 && header.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(bad("the header must be a name starting with x- (letters, digits, -)"));
        }
        if header == AUTH_SCOPES || stripped_names(true).contains(&header.as_str()) || header.starts_with(IDENTITY_PREFIX) || IDENTITY_HEADERS.contains(&header.as_str()) {
            return Err(bad("the header is one the gateway sets itself"));
        }
        if out.iter().any(|(_, h)| *h == header) {
            return Err(bad("the header is listed twice"));
        }
        out.push((path.to_string(), header));
    }
    Ok(out)
}

fn parse_routes(json: &str) -> Result<Vec<Route>, ConfigError> {
    let raw: Vec<RouteJson> = serde_json::from_str(json).map_err(|e| {
        err("MESH_ROUTES", format!("must be a JSON array of {{\"prefix\", \"auth\", \"methods\"?, \"scopes\"?, \"claims\"?, \"issuers\"?, \"inject\"?}}: {e}"))
    })?;
    raw.into_iter()
        .map(|r| {
            let auth = AuthMode::parse(&r.auth).ok_or_else(|| {
                err("MESH_ROUTES", format!("route `{}`: auth must be jwt, api_key or public", r.prefix))
            })?;
            let claims = (r.claims.into_iter())
                .map(|(path, value)| claim_rule(&r.prefix, path, value))
                .collect::<Result<_, _>>()?;
            let rules = Rules { methods: r.methods, scopes: r.scopes, claims, issuers: r.issuers };
            let inject = r.inject.map(|i| {
                Inject::parse(&i).ok_or_else(|| err("MESH_ROUTES", format!("route `{}`: inject must be service_token", r.prefix)))
            });
            Ok(Route { inject: inject.transpose()?, ..Route::new(&r.prefix, auth).with_rules(rules) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_typescript_env_names_every_variable() {
        // The types users write their env against (GatewayEnv) list the
        // variables too; a variable missing there is one users cannot type.
        let types = include_str!("../../pkg-template/index.d.ts");
        for name in VARIABLES.iter().chain([&KEY_STORE_BINDING]) {
            assert!(types.contains(&format!("{name}?:")), "{name} is missing from GatewayEnv in pkg-template/index.d.ts");
        }
    }

    #[test]
    fn the_configuration_reads_exactly_the_declared_variables() {
        let asked = std::cell::RefCell::new(Vec::new());
        let all = env(BASE);
        let _ = GatewayConfig::from_env(
            |name| {
                asked.borrow_mut().push(name.to_string());
                all(name)
            },
            true,
        );
        let mut asked = asked.into_inner();
        asked.sort();
        asked.dedup();
        let mut declared: Vec<String> = VARIABLES.iter().map(|s| s.to_string()).collect();
        declared.sort();
        assert_eq!(asked, declared);
    }

    #[test]
    fn a_route_injecting_the_service_token_needs_mesh_service_token() {
        let routes = r#"[{"prefix":"/partner/","auth":"public","inject":"service_token"}]"#;
        let st = r#"{"issuer":"http://127.0.0.1:9400","client_id":"edge","client_secret_var":"EDGE_SECRET"}"#;
        let base = [("MESH_UPSTREAM_URL", "http://o"), ("MESH_ROUTES", routes)];
        let e = GatewayConfig::from_env(env(&base), false).unwrap_err();
        assert_eq!(e.variable, "MESH_ROUTES");
        assert!(e.problem.contains("MESH_SERVICE_TOKEN is not set"), "{e}");
        let e = GatewayConfig::from_env(env(&[base[0], base[1], ("MESH_SERVICE_TOKEN", st)]), false).unwrap_err();
        assert!(e.problem.contains("EDGE_SECRET is not set"), "{e}");
        let c = GatewayConfig::from_env(env(&[base[0], base[1], ("MESH_SERVICE_TOKEN", st), ("EDGE_SECRET", "the-secret")]), false).unwrap();
        assert_eq!(c.routes.find("/partner/x").unwrap().inject, Some(Inject::ServiceToken));
        assert_eq!(c.service_token.unwrap().client_secret.secret(), "the-secret");
        let bad = r#"[{"prefix":"/p/","auth":"public","inject":"api_key"}]"#;
        let e = GatewayConfig::from_env(env(&[base[0], ("MESH_ROUTES", bad)]), false).unwrap_err();
        assert!(e.problem.contains("inject must be service_token"), "{e}");
    }

    #[test]
    fn the_upstream_path_is_the_base_urls_path() {
        let with = |url: &str| GatewayConfig::from_env(env(&[("MESH_UPSTREAM_URL", url), ("MESH_ROUTES", r#"[{"prefix":"/","auth":"public"}]"#)]), false).unwrap();
        assert_eq!(with("https://o.example/base").upstream_path(), "/base");
        assert_eq!(with("https://o.example").upstream_path(), "");
    }

    const BASE: &[(&str, &str)] = &[
        ("MESH_UPSTREAM_URL", "http://127.0.0.1:9401/"),
        ("MESH_JWT_ISSUER", "http://127.0.0.1:9400"),
        ("MESH_JWT_AUDIENCE", "api, http://127.0.0.1:8787"),
    ];

    #[test]
    fn the_keys_path_is_a_prefix_no_route_lies_under() {
        let with = |path: &str, routes: Option<&str>| {
            let mut pairs = BASE.to_vec();
            pairs.push(("MESH_KEYS_PATH", path));
            if let Some(r) = routes {
                pairs.push(("MESH_ROUTES", r));
            }
            GatewayConfig::from_env(env(&pairs), true)
        };
        assert_eq!(GatewayConfig::from_env(env(BASE), true).unwrap().keys_path, "/api/v1/keys");
        assert_eq!(with("/me/keys/", None).unwrap().keys_path, "/me/keys");
        // Under a route is fine: the keys API answers first, nothing is forwarded.
        assert_eq!(with("/api/v1/tokens", None).unwrap().keys_path, "/api/v1/tokens");
        for bad in ["/", "keys", "/a b", "/keys?x", "/k%2f", "/.well-known/keys"] {
            assert_eq!(with(bad, None).unwrap_err().variable, "MESH_KEYS_PATH", "{bad}");
        }
        // A route at or under it could never be reached.
        let e = with("/health", None).unwrap_err();
        assert!(e.problem.contains("/health"), "{e}");
        let routes = r#"[{"prefix":"/api/","auth":"jwt"},{"prefix":"/api/keys/admin/","auth":"public"}]"#;
        assert_eq!(with("/api/keys", Some(routes)).unwrap_err().variable, "MESH_KEYS_PATH");
        assert!(with("/api/keysx", Some(routes)).is_ok(), "segments, not bytes");
    }

    #[test]
    fn defaults() {
        let c = GatewayConfig::from_env(env(BASE), true).unwrap();
        assert_eq!(c.upstream_url, "http://127.0.0.1:9401");
        assert_eq!(c.upstream_timeout_ms, 30_000);
        let jwt = &c.issuers[0];
        assert_eq!(jwt.algorithms, vec![Alg::Rs256, Alg::Es256]);
        assert_eq!(jwt.audiences, vec!["api", "http://127.0.0.1:8787"]);
        assert_eq!(jwt.clock_skew_secs, 30);
        assert_eq!(
            jwt.jwks,
            Some(JwksSource::Discovery("http://127.0.0.1:9400/.well-known/openid-configuration".into()))
        );
        assert_eq!(c.api_key_prefix, "mesh_sk_");
        assert!(c.serves_keys_api());
        assert_eq!(c.routes.find("/agent/v1/x").unwrap().auth, AuthMode::ApiKey);
    }

    #[test]
    fn missing_or_bad_values_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "MESH_UPSTREAM_URL"),
            (&[("MESH_UPSTREAM_URL", "ftp://x")], "MESH_UPSTREAM_URL"),
            (&[("MESH_UPSTREAM_URL", "http://o")], "MESH_JWT_ISSUER"),
            (&[("MESH_UPSTREAM_URL", "http://o"), ("MESH_JWT_ISSUER", "http://i")], "MESH_JWT_AUDIENCE"),
        ];
        for (vars, name) in cases {
            let e = GatewayConfig::from_env(env(vars), true).unwrap_err();
            assert_eq!(e.variable, *name, "{e}");
        }
        let with = |k: &'static str, v: &'static str| {
            let mut vars = BASE.to_vec();
            vars.push((k, v));
            GatewayConfig::from_env(env(&vars), true).map(|_| ()).map_err(|e| e.variable)
        };
        assert_eq!(with("MESH_JWT_ALGORITHMS", "none"), Err("MESH_JWT_ALGORITHMS"));
        assert_eq!(with("MESH_JWT_ALGORITHMS", "HS256"), Err("MESH_JWT_ALGORITHMS"));
        assert_eq!(with("MESH_JWT_HS256_SECRET", "short"), Err("MESH_JWT_HS256_SECRET"));
        assert_eq!(with("MESH_CLOCK_SKEW_SECONDS", "-1"), Err("MESH_CLOCK_SKEW_SECONDS"));
        assert_eq!(with("MESH_CLOCK_SKEW_SECONDS", "abc"), Err("MESH_CLOCK_SKEW_SECONDS"));
        for bad in ["0", "-5", "abc", "1e3", "601", "86400000"] {
            assert_eq!(with("MESH_UPSTREAM_TIMEOUT_SECONDS", bad), Err("MESH_UPSTREAM_TIMEOUT_SECONDS"), "{bad}");
        }
        assert_eq!(with("MESH_UPSTREAM_TIMEOUT_SECONDS", " 5 "), Ok(()));
        assert_eq!(with("MESH_ROUTES", "{}"), Err("MESH_ROUTES"));
        assert_eq!(with("MESH_ROUTES", r#"[{"prefix":"/a/","auth":"open"}]"#), Err("MESH_ROUTES"));
        assert_eq!(with("MESH_ROUTES", r#"[{"prefix":"a/","auth":"jwt"}]"#), Err("MESH_ROUTES"));
        assert_eq!(with("MESH_API_KEY_PREFIX", "bad prefix"), Err("MESH_API_KEY_PREFIX"));
        assert_eq!(with("MESH_IDENTITY_SECRET", "short"), Err("MESH_IDENTITY_SECRET"));
        assert_eq!(with("MESH_CORS_ORIGINS", "https://a.example/path"), Err("MESH_CORS_ORIGINS"));
        assert_eq!(with("MESH_CORS_ORIGINS", "http://127.0.0.1:3000, *"), Ok(()));
        // Without the KV binding an api_key route cannot work: fail closed.
        assert_eq!(GatewayConfig::from_env(env(BASE), false).unwrap_err().variable, "MESH_API_KEYS");
    }

    #[test]
    fn hs256_secret_adds_hs256_and_jwks_url_overrides_discovery() {
        let mut vars = BASE.to_vec();
        vars.push(("MESH_JWT_HS256_SECRET", "0123456789abcdef0123456789abcdef"));
        vars.push(("MESH_JWKS_URL", "http://127.0.0.1:9400/jwks"));
        let c = GatewayConfig::from_env(env(&vars), true).unwrap();
        let jwt = &c.issuers[0];
        assert!(jwt.allows(Alg::Hs256) && jwt.allows(Alg::Rs256));
        assert_eq!(jwt.jwks, Some(JwksSource::Url("http://127.0.0.1:9400/jwks".into())));
        assert!(!format!("{:?}", jwt.hs256_secret).contains("0123"));
    }

    /// Found by the `gateway_config` fuzz target: a non-ASCII character
    /// right after `http://` made the path check slice inside it (a panic
    /// where a bad value must be a `ConfigError`).
    #[test]
    fn a_cors_origin_with_a_non_ascii_host_is_checked_not_a_panic() {
        let with = |origin: &str| {
            let vars = [("MESH_UPSTREAM_URL", "http://o"), ("MESH_ROUTES", r#"[{"prefix":"/","auth":"public"}]"#), ("MESH_CORS_ORIGINS", origin)];
            GatewayConfig::from_env(env(&vars), false).map(|c| c.cors_origins).map_err(|e| e.variable)
        };
        // Refused since origins are read by `crate::origin`: a browser sends
        // such a host in punycode (`xn--9ca.example`), so it never matched.
        assert_eq!(with("http://é.example"), Err("MESH_CORS_ORIGINS"));
        assert_eq!(with("http://é/x"), Err("MESH_CORS_ORIGINS"));
        assert_eq!(with("https://ü"), Err("MESH_CORS_ORIGINS"));
        assert_eq!(with("http://xn--9ca.example"), Ok(vec!["http://xn--9ca.example".to_string()]));
    }

    /// BASE with the KV binding, plus `extra`.
    fn from(extra: &[(&str, &str)]) -> Result<GatewayConfig, ConfigError> {
        let vars: Vec<_> = BASE.iter().chain(extra).copied().collect();
        GatewayConfig::from_env(env(&vars), true)
    }

    #[test]
    fn routes_carry_their_rules() {
        let routes = r#"[{ "prefix": "/api/v1/", "auth": "jwt", "methods": ["GET", "POST"], "scopes": ["memories:write"],
            "claims": { "org.id": "acme", "role": ["admin", "owner"] }, "issuers": ["http://127.0.0.1:9400"] },
            { "prefix": "/health", "auth": "public", "methods": ["GET"] }]"#;
        let c = from(&[("MESH_ROUTES", routes)]).unwrap();
        let r = c.routes.find("/api/v1/x").unwrap();
        assert_eq!(r.rules.methods.as_deref(), Some(&["GET".to_string(), "POST".to_string()][..]));
        assert_eq!(r.rules.scopes, ["memories:write"]);
        assert_eq!(r.rules.claims[0], ClaimRule { path: "org.id".into(), allowed: vec!["acme".into()] });
        assert_eq!(r.rules.claims[1].allowed, ["admin", "owner"]);
        assert_eq!(c.routes.claim_paths(), ["org.id", "role"]);
        assert!(!c.routes.find("/health").unwrap().rules.allows_method("POST"));
    }

    #[test]
    fn every_route_rule_mistake_is_an_error_naming_it() {
        for (routes, says) in [
            (r#"[{"prefix": "/a/", "auth": "jwt", "scope": ["x"]}]"#, "unknown field `scope`"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "scopes": [1]}]"#, "invalid type"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "scopes": "x"}]"#, "invalid type"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "methods": ["get"]}]"#, "upper-case"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "claims": {"role": 1}}]"#, "claim `role`"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "claims": {"role": ["a", 2]}}]"#, "claim `role`"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "claims": {"role": []}}]"#, "claim `role`"),
            (r#"[{"prefix": "/a/", "auth": "jwt", "issuers": ["https://other.example"]}]"#, "is not a configured issuer"),
            (r#"[{"prefix": "/a/", "auth": "public", "scopes": ["x"]}]"#, "public route"),
            (r#"[{"prefix": "/a", "auth": "public"}, {"prefix": "/a/", "auth": "jwt"}]"#, "overlap"),
        ] {
            let e = from(&[("MESH_ROUTES", routes)]).unwrap_err();
            assert_eq!(e.variable, "MESH_ROUTES");
            assert!(e.problem.contains(says), "{routes}: {}", e.problem);
        }
    }

    #[test]
    fn forwarded_claims_map_paths_to_headers_the_gateway_owns() {
        let c = from(&[("MESH_FORWARD_CLAIMS", "email:x-user-email, org.id:X-Org-Id")]).unwrap();
        assert_eq!(c.forward_claims, [("email".to_string(), "x-user-email".to_string()), ("org.id".into(), "x-org-id".into())]);
        assert_eq!(c.claim_headers(), ["x-auth-scopes", "x-user-email", "x-org-id"]);
        assert_eq!(c.claim_paths(), ["email", "org.id"]);
        assert_eq!(c.issuers[0].claim_paths, ["email", "org.id"]);
        for bad in ["email", "email:user-email", ":x-a", "a..b:x-a", "sub:x-user-id", "sub:x-mesh-identity-a", "sub:x-forwarded-for",
            "s:x-auth-scopes", "a:x-a,b:x-a", "a:x-a b", "sub:x-api-key", "sub:x-auth-method"] {
            assert_eq!(from(&[("MESH_FORWARD_CLAIMS", bad)]).map(|_| ()).unwrap_err().variable, "MESH_FORWARD_CLAIMS", "{bad}");
        }
    }

    #[test]
    fn several_issuers_each_with_its_audience_keys_and_algorithms() {
        let issuers = r#"[{"issuer": "https://a.example", "audience": "https://api.example", "jwks_url": "https://a.example/jwks", "algorithms": ["RS256", "ES256"]},
            {"issuer": "https://b.example", "audience": ["x", "y"], "algorithms": ["EdDSA"]}]"#;
        let vars = [("MESH_UPSTREAM_URL", "http://o"), ("MESH_JWT_ISSUERS", issuers),
            ("MESH_ROUTES", r#"[{"prefix": "/a/", "auth": "jwt", "issuers": ["https://a.example"]}, {"prefix": "/any/", "auth": "jwt"}]"#)];
        let c = GatewayConfig::from_env(env(&vars), false).unwrap();
        assert_eq!(c.issuers.len(), 2);
        let (a, b) = (&c.issuers[0], &c.issuers[1]);
        assert_eq!((a.issuer.as_str(), a.audiences.as_slice()), ("https://a.example", &["https://api.example".to_string()][..]));
        assert_eq!(a.jwks, Some(JwksSource::Url("https://a.example/jwks".into())));
        assert_eq!((b.audiences.len(), b.algorithms.as_slice()), (2, &[Alg::EdDsa][..]));
        assert_eq!(b.jwks, Some(JwksSource::Discovery("https://b.example/.well-known/openid-configuration".into())));
        let bad = |issuers: &str, extra: &[(&str, &str)]| {
            let mut v = vec![("MESH_UPSTREAM_URL", "http://o"), ("MESH_JWT_ISSUERS", issuers)];
            v.extend_from_slice(extra);
            GatewayConfig::from_env(env(&v), false).map(|_| ()).unwrap_err()
        };
        let one = r#"[{"issuer": "https://a.example", "audience": "x"}]"#;
        for (issuers, extra) in [
            ("[]", &[][..]),
            (r#"[{"issuer": "https://a.example"}]"#, &[][..]),
            (r#"[{"issuer": "https://a.example", "audience": "x", "jwks": "u"}]"#, &[][..]),
            (r#"[{"issuer": "https://a.example", "audience": 7}]"#, &[][..]),
            (r#"[{"issuer": "https://a.example", "audience": "x", "algorithms": ["HS256"]}]"#, &[][..]),
            (r#"[{"issuer": "https://a.example", "audience": "x"}, {"issuer": "https://a.example", "audience": "y"}]"#, &[][..]),
            (one, &[("MESH_JWT_ISSUER", "https://a.example")][..]),
        ] {
            assert_eq!(bad(issuers, extra).variable, "MESH_JWT_ISSUERS", "{issuers}");
        }
        let unknown = [("MESH_ROUTES", r#"[{"prefix": "/a/", "auth": "jwt", "issuers": ["https://c.example"]}]"#)];
        assert_eq!(bad(one, &unknown).variable, "MESH_ROUTES");
        // The keys API takes the first issuer's tokens only; with one issuer, any token it verifies.
        assert_eq!(c.keys_rules.issuers, Some(vec!["https://a.example".to_string()]));
        let from = |iss: &str| super::super::authorize::Grants { issuer: Some(iss.into()), scopes: vec![], claims: vec![] };
        assert!(c.keys_rules.check(&from("https://a.example")).is_ok());
        assert!(c.keys_rules.check(&from("https://b.example")).unwrap_err().issuer);
        let single = GatewayConfig::from_env(env(&[("MESH_UPSTREAM_URL", "http://o"), ("MESH_JWT_ISSUERS", one)]), true).unwrap();
        assert!(!single.keys_rules.authorizes());
    }

    #[test]
    fn public_only_routes_need_no_jwt_or_kv() {
        let vars = [("MESH_UPSTREAM_URL", "http://o"), ("MESH_ROUTES", r#"[{"prefix":"/","auth":"public"}]"#)];
        let c = GatewayConfig::from_env(env(&vars), false).unwrap();
        assert!(c.issuers.is_empty() && !c.serves_keys_api());
    }
}
