//! The edge service token's configuration and wire format: `MESH_SERVICE_TOKEN`
//! (which client, at which token endpoint, for which scope and audience), the
//! client-credentials token request (RFC 6749 §4.4) and how its answer is
//! read. The token's life (when to refresh, backoff, what the isolates keep)
//! is [`super::token_broker`]'s.
//!
//! The client secret is never in `MESH_SERVICE_TOKEN` itself: it names the
//! variable that holds it (`client_secret_var`, a Worker secret), so the JSON
//! can sit in `wrangler.toml` and the secret in `wrangler secret put`.

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::client::grant::{discovery_url, API_PARAMS};
use crate::client::oauth::{retry_after_ms, OAuthErrorBody, TokenAnswer, TokenReply};
use crate::client::token::{decode_jwt_payload, JwtClaims, TokenResponse};

use super::config::{base_url, ConfigError, GatewaySecret, VARIABLES};

/// The variable of the JSON configuration.
pub const VARIABLE: &str = "MESH_SERVICE_TOKEN";
/// Where the client secret is read from when `client_secret_var` is not given.
pub const DEFAULT_SECRET_VAR: &str = "MESH_SERVICE_CLIENT_SECRET";
/// The Durable Object namespace binding of the brokers.
pub const BROKER_BINDING: &str = "MESH_TOKEN_BROKER";
/// A token request that has not answered by then is abandoned (and counts
/// as a failure): a hung token endpoint must not hold the refresh forever.
pub const TOKEN_REQUEST_TIMEOUT_MS: u32 = 5_000;
/// A token endpoint answer larger than this is refused unread.
pub const MAX_TOKEN_BODY_BYTES: usize = 64 * 1024;

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` of the form-encoded id and secret (the default).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Post,
}

/// `MESH_SERVICE_TOKEN`, validated, with the secret it names.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTokenConfig {
    pub issuer: String,
    /// `None`: from the issuer's discovery document.
    pub token_endpoint: Option<String>,
    pub client_id: String,
    pub client_secret_var: String,
    pub client_secret: GatewaySecret,
    pub scope: Option<String>,
    /// Sent as `audience` (Auth0) and `resource` (RFC 8707), as the client does.
    pub audience: Option<String>,
    pub auth: ClientAuth,
}

/// `MESH_SERVICE_TOKEN` exactly as documented.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    issuer: String,
    token_endpoint: Option<String>,
    client_id: String,
    client_secret_var: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
    auth_method: Option<String>,
}

fn err(problem: impl Into<String>) -> ConfigError {
    ConfigError { variable: VARIABLE, problem: problem.into() }
}

/// The name of the variable holding the secret, read from the JSON without
/// validating the rest: the binding reads that variable by this name (and
/// fingerprints it, so a rotated secret reconfigures the isolate).
pub fn secret_var(json: Option<&str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json?).ok()?;
    let named = value.get("client_secret_var").and_then(|v| v.as_str());
    Some(named.unwrap_or(DEFAULT_SECRET_VAR).to_string()).filter(|n| valid_var_name(n))
}

/// A Worker variable name of the kind a secret can have, and not one of the
/// gateway's own settings.
fn valid_var_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_uppercase() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
        && !VARIABLES.contains(&name)
}

impl ServiceTokenConfig {
    /// Parses `json` (the value of `MESH_SERVICE_TOKEN`); `var` reads the
    /// secret variable it names.
    pub fn parse(json: &str, var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw: Json = serde_json::from_str(json).map_err(|e| {
            err(format!("must be a JSON object {{\"issuer\", \"token_endpoint\"?, \"client_id\", \"client_secret_var\"?, \"scope\"?, \"audience\"?, \"auth_method\"?}}: {e}"))
        })?;
        let issuer = base_url(VARIABLE, raw.issuer.trim()).map_err(|e| err(format!("issuer {}", e.problem)))?;
        let token_endpoint = raw.token_endpoint.map(|t| base_url(VARIABLE, t.trim()).map_err(|e| err(format!("token_endpoint {}", e.problem)))).transpose()?;
        let client_id = raw.client_id.trim().to_string();
        if client_id.is_empty() || client_id.chars().any(|c| c.is_control()) {
            return Err(err("client_id must be a non-empty string without control characters"));
        }
        let client_secret_var = raw.client_secret_var.unwrap_or_else(|| DEFAULT_SECRET_VAR.into());
        if !valid_var_name(&client_secret_var) {
            return Err(err(format!("client_secret_var `{client_secret_var}` must be a variable name (A-Z 0-9 _) that is not a gateway setting")));
        }
        // The message names the variable, never its value.
        let secret = var(&client_secret_var).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let client_secret = GatewaySecret::new(secret.ok_or_else(|| err(format!("the client secret variable {client_secret_var} is not set (use `wrangler secret put {client_secret_var}`)")))?);
        let text = |name: &str, v: Option<String>| -> Result<Option<String>, ConfigError> {
            let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            if v.as_deref().is_some_and(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\')) {
                return Err(err(format!("{name} must not contain control characters, quotes or backslashes")));
            }
            Ok(v)
        };
        let auth = match raw.auth_method.as_deref() {
            None | Some("client_secret_basic") => ClientAuth::Basic,
            Some("client_secret_post") => ClientAuth::Post,
            Some(other) => return Err(err(format!("auth_method `{other}` must be client_secret_basic or client_secret_post"))),
        };
        Ok(ServiceTokenConfig {
            issuer,
            token_endpoint,
            client_id,
            client_secret_var,
            client_secret,
            scope: text("scope", raw.scope)?,
            audience: text("audience", raw.audience)?,
            auth,
        })
    }

    /// The broker's name (`idFromName`): one object per token endpoint (or
    /// issuer, when discovered), client, scope and audience, so gateways that
    /// share a client share its token. A hash, so no name is ever shown.
    pub fn broker_name(&self) -> String {
        let mut h = Sha256::new();
        let endpoint = self.token_endpoint.as_deref().unwrap_or(&self.issuer);
        for part in [endpoint, &self.client_id, self.scope.as_deref().unwrap_or(""), self.audience.as_deref().unwrap_or("")] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        super::identity::hex(&h.finalize())
    }

    /// A short hash of the secret: the broker forgets a refused client once
    /// the secret changes. Never the secret, never reversible to it.
    pub fn secret_tag(&self) -> String {
        super::identity::hex(&Sha256::digest(self.client_secret.secret().as_bytes())[..8])
    }

    /// The discovery document's URL, when the token endpoint is not configured.
    pub fn discovery_url(&self) -> Option<String> {
        self.token_endpoint.is_none().then(|| discovery_url(&self.issuer))
    }

    /// The token request to `endpoint`: headers and the form body.
    pub fn token_request(&self, endpoint: &str) -> TokenRequest {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = &self.scope {
            form.push(("scope", s));
        }
        if let Some(a) = &self.audience {
            form.extend(API_PARAMS.map(|name| (name, a.as_str())));
        }
        let mut headers = vec![
            ("content-type", "application/x-www-form-urlencoded".to_string()),
            ("accept", "application/json".to_string()),
        ];
        match self.auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: each part form-encoded before base64.
                let pair = format!("{}:{}", form_encode(&self.client_id), form_encode(self.client_secret.secret()));
                headers.push(("authorization", format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))));
            }
            ClientAuth::Post => form.extend([("client_id", self.client_id.as_str()), ("client_secret", self.client_secret.secret())]),
        }
        let body = form.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect::<Vec<_>>().join("&");
        TokenRequest { url: endpoint.to_string(), headers, body: GatewaySecret::new(body) }
    }
}

/// One token request. The body may hold the secret (`client_secret_post`),
/// so it is a redacted newtype.
#[derive(Debug)]
pub struct TokenRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: GatewaySecret,
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The token endpoint's answer as the client's state machines take it:
/// status, the body read as tokens or an OAuth error, `Retry-After`, and
/// the token's claims when `expires_in` is missing.
pub fn token_answer(status: u16, body: &[u8], retry_after: Option<&str>, now_ms: i64) -> TokenAnswer {
    let reply = match serde_json::from_slice::<serde_json::Value>(body) {
        Err(_) => TokenReply::Unparseable,
        Ok(v) => match serde_json::from_value::<TokenResponse>(v.clone()) {
            Ok(t) if (200..300).contains(&status) => TokenReply::Tokens(t),
            _ => serde_json::from_value::<OAuthErrorBody>(v).map_or(TokenReply::Unparseable, TokenReply::Error),
        },
    };
    let claims = match &reply {
        TokenReply::Tokens(t) if t.needs_jwt_claims() => {
            decode_jwt_payload(t.access_token.secret()).and_then(|p| serde_json::from_str::<JwtClaims>(&p).ok())
        }
        _ => None,
    };
    TokenAnswer { status, reply, retry_after_ms: retry_after.and_then(|h| retry_after_ms(h, now_ms)), claims }
}

/// The token endpoint from the issuer's discovery answer.
pub fn discovered_endpoint(issuer: &str, status: u16, body: &[u8]) -> Result<String, String> {
    let document = serde_json::from_slice::<serde_json::Value>(body).ok().map(|v| crate::client::discovery::DiscoveryDocument {
        issuer: v.get("issuer").and_then(|s| s.as_str()).map(String::from),
        token_endpoint: v.get("token_endpoint").and_then(|s| s.as_str()).map(String::from),
        ..Default::default()
    });
    crate::client::discovery::endpoints(issuer, status, document).map(|e| e.token).map_err(|e| e.message().to_string())
}

/// A configured service token needs the brokers' Durable Object binding.
pub fn check_binding(cfg: &super::config::GatewayConfig, has_broker: bool) -> Result<(), ConfigError> {
    if cfg.service_token.is_some() && !has_broker {
        return Err(ConfigError { variable: BROKER_BINDING, problem: "Durable Object binding (class TokenBroker) is required when MESH_SERVICE_TOKEN is set".into() });
    }
    Ok(())
}

/// The configuration's description for logs: what, never the secret.
pub fn describe(cfg: &ServiceTokenConfig) -> serde_json::Value {
    json!({ "issuer": cfg.issuer, "client_id": cfg.client_id, "scope": cfg.scope, "audience": cfg.audience })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t:with/odd&chars";

    fn parse(json: &str) -> Result<ServiceTokenConfig, ConfigError> {
        ServiceTokenConfig::parse(json, |n| match n {
            "MESH_SERVICE_CLIENT_SECRET" | "EDGE_SECRET" => Some(SECRET.to_string()),
            _ => None,
        })
    }

    #[test]
    fn a_full_configuration_is_read() {
        let c = parse(r#"{"issuer":"https://idp.example/","token_endpoint":"https://idp.example/oauth/token","client_id":"edge","scope":"api:read","audience":"https://api.example","auth_method":"client_secret_post","client_secret_var":"EDGE_SECRET"}"#).unwrap();
        assert_eq!(c.issuer, "https://idp.example");
        assert_eq!(c.token_endpoint.as_deref(), Some("https://idp.example/oauth/token"));
        assert_eq!((c.client_secret_var.as_str(), c.client_secret.secret(), c.auth), ("EDGE_SECRET", SECRET, ClientAuth::Post));
        assert_eq!(c.discovery_url(), None);
        assert!(!format!("{c:?}").contains(SECRET));
    }

    #[test]
    fn defaults_are_discovery_basic_auth_and_the_default_secret_var() {
        let c = parse(r#"{"issuer":"http://127.0.0.1:9400","client_id":"edge"}"#).unwrap();
        assert_eq!(c.discovery_url().as_deref(), Some("http://127.0.0.1:9400/.well-known/openid-configuration"));
        assert_eq!((c.client_secret_var.as_str(), c.auth, c.scope.clone()), (DEFAULT_SECRET_VAR, ClientAuth::Basic, None));
    }

    #[test]
    fn bad_configurations_name_the_problem_and_never_the_secret() {
        let problem = |json: &str| parse(json).unwrap_err().problem;
        assert!(problem("{").contains("JSON object"));
        assert!(problem(r#"{"issuer":"x","client_id":"a"}"#).contains("issuer"));
        assert!(problem(r#"{"issuer":"https://i","client_id":""}"#).contains("client_id"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","extra":1}"#).contains("unknown field"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","client_secret_var":"NOPE"}"#).contains("NOPE is not set"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","client_secret_var":"MESH_IDENTITY_SECRET"}"#).contains("not a gateway setting"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","client_secret_var":"lower"}"#).contains("variable name"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","auth_method":"private_key_jwt"}"#).contains("auth_method"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","token_endpoint":"ftp://x"}"#).contains("token_endpoint"));
        assert!(problem(r#"{"issuer":"https://i","client_id":"a","scope":"a\"b"}"#).contains("scope"));
        let e = ServiceTokenConfig::parse(r#"{"issuer":"https://i","client_id":"a"}"#, |_| Some("   ".into())).unwrap_err();
        assert!(e.problem.contains("MESH_SERVICE_CLIENT_SECRET is not set"));
    }

    #[test]
    fn the_secret_variable_is_named_by_the_json() {
        assert_eq!(secret_var(None), None);
        assert_eq!(secret_var(Some(r#"{"client_id":"a"}"#)).as_deref(), Some(DEFAULT_SECRET_VAR));
        assert_eq!(secret_var(Some(r#"{"client_secret_var":"EDGE_SECRET"}"#)).as_deref(), Some("EDGE_SECRET"));
        assert_eq!(secret_var(Some(r#"{"client_secret_var":"MESH_ROUTES"}"#)), None);
        assert_eq!(secret_var(Some("not json")), None);
    }

    #[test]
    fn the_broker_name_is_per_endpoint_client_scope_and_audience_not_secret() {
        let a = parse(r#"{"issuer":"https://i","client_id":"a","scope":"s"}"#).unwrap();
        let same = ServiceTokenConfig::parse(r#"{"issuer":"https://i","client_id":"a","scope":"s"}"#, |_| Some("other".into())).unwrap();
        assert_eq!(a.broker_name(), same.broker_name());
        assert_ne!(a.secret_tag(), same.secret_tag());
        for other in [r#"{"issuer":"https://j","client_id":"a","scope":"s"}"#, r#"{"issuer":"https://i","client_id":"b","scope":"s"}"#,
                      r#"{"issuer":"https://i","client_id":"a"}"#, r#"{"issuer":"https://i","client_id":"a","scope":"s","audience":"x"}"#] {
            assert_ne!(parse(other).unwrap().broker_name(), a.broker_name(), "{other}");
        }
        assert_eq!(a.broker_name().len(), 64);
    }

    #[test]
    fn token_requests_follow_rfc_6749() {
        let c = parse(r#"{"issuer":"https://i","client_id":"edge id","scope":"a b","audience":"https://api"}"#).unwrap();
        let r = c.token_request("https://i/token");
        assert_eq!(r.body.secret(), "grant_type=client_credentials&scope=a+b&audience=https%3A%2F%2Fapi&resource=https%3A%2F%2Fapi");
        let basic = r.headers.iter().find(|(n, _)| *n == "authorization").unwrap().1.clone();
        let decoded = base64::engine::general_purpose::STANDARD.decode(basic.strip_prefix("Basic ").unwrap()).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "edge+id:s3cr3t%3Awith%2Fodd%26chars");
        assert!(!format!("{r:?}").contains("s3cr3t"));

        let post = parse(r#"{"issuer":"https://i","client_id":"edge","auth_method":"client_secret_post"}"#).unwrap().token_request("https://i/token");
        assert!(post.headers.iter().all(|(n, _)| *n != "authorization"));
        assert_eq!(post.body.secret(), "grant_type=client_credentials&client_id=edge&client_secret=s3cr3t%3Awith%2Fodd%26chars");
    }

    #[test]
    fn answers_are_read_as_the_client_reads_them() {
        let ok = token_answer(200, br#"{"access_token":"t","token_type":"Bearer","expires_in":20}"#, None, 0);
        assert!(matches!(&ok.reply, TokenReply::Tokens(t) if t.expires_in == Some(20)));
        let limited = token_answer(429, br#"{"error":"slow_down"}"#, Some("7"), 0);
        assert_eq!((limited.oauth_error(), limited.retry_after_ms), (Some("slow_down"), Some(7000)));
        assert_eq!(token_answer(500, b"<html>", None, 0).reply, TokenReply::Unparseable);
        // A token-shaped error body is an error, not a token.
        assert!(matches!(token_answer(401, br#"{"access_token":"t","error":"invalid_client"}"#, None, 0).reply, TokenReply::Error(_)));
        // No expires_in: the JWT's claims are read.
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":120,"iat":100}"#);
        let jwt = token_answer(200, format!(r#"{{"access_token":"h.{payload}.s"}}"#).as_bytes(), None, 0);
        assert_eq!(jwt.claims.map(|c| (c.exp, c.iat)), Some((Some(120), Some(100))));
    }

    #[test]
    fn discovery_gives_the_token_endpoint_of_the_same_issuer() {
        let body = br#"{"issuer":"http://127.0.0.1:9400","token_endpoint":"http://127.0.0.1:9400/token"}"#;
        assert_eq!(discovered_endpoint("http://127.0.0.1:9400", 200, body).unwrap(), "http://127.0.0.1:9400/token");
        assert!(discovered_endpoint("http://evil", 200, body).is_err());
        assert!(discovered_endpoint("http://127.0.0.1:9400", 500, body).is_err());
    }
}
