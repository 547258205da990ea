//! Client options as JavaScript passes them (`new MeshClient({...})`), with
//! defaults and validation. Errors name the JavaScript option.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::secret::{ApiKey, ClientSecret};

/// Default proactive-refresh leeway.
pub const DEFAULT_REFRESH_LEEWAY_SECS: i64 = 60;
/// Default budget for one request, retries included.
pub const DEFAULT_TIMEOUT_MS: i64 = 60_000;
/// Default number of retries of one refresh (so at most 4 token requests).
pub const DEFAULT_MAX_REFRESH_RETRIES: i64 = 3;
/// Default number of retries of one idempotent API request.
pub const DEFAULT_MAX_REQUEST_RETRIES: i64 = 2;
/// Default first cooldown after a failed refresh; it doubles per consecutive
/// failure up to [`MAX_COOLDOWN_MS`].
pub const DEFAULT_REFRESH_COOLDOWN_MS: i64 = 10_000;
/// Upper bound of the doubling cooldown.
pub const MAX_COOLDOWN_MS: i64 = 60_000;

/// The options of `new MeshClient({...})`, camelCase as in JavaScript.
///
/// The binding may fill it with `serde_wasm_bindgen::from_value` (unknown
/// keys such as `storage` are ignored) or field by field. Numbers are `i64`
/// so that [`ClientConfig::validate`] can reject negatives by option name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientConfig {
    /// OIDC issuer; endpoints come from discovery. Required in OAuth mode.
    pub issuer: Option<String>,
    /// OAuth client id. Required in OAuth mode.
    pub client_id: Option<String>,
    /// Sent as `audience` where the provider wants it (Auth0).
    pub audience: Option<String>,
    /// Requested scope; [`DEFAULT_SCOPE`] when the options give none.
    pub scope: Option<String>,
    /// Base URL of the API (or the gateway in front of it).
    pub api_url: Option<String>,
    /// API-key mode: sends `X-API-Key` and loads no OAuth state.
    #[serde(deserialize_with = "de_secret")]
    pub api_key: Option<ApiKey>,
    /// A confidential client's secret, sent in the form of every request to
    /// the provider (`client_secret_post`, RFC 6749 §2.3.1). Server code
    /// only: the server build reads the option, the browser's does not.
    #[serde(deserialize_with = "de_secret")]
    pub client_secret: Option<ClientSecret>,
    /// Refresh proactively when less than this remains (capped at half the
    /// token's lifetime, see [`crate::client::token::TokenSet::refresh_due_at_ms`]).
    #[serde(rename = "refreshLeewaySeconds")]
    pub refresh_leeway_secs: i64,
    /// Budget of every request, retries included.
    pub timeout_ms: i64,
    /// Treat 404 on an authenticated call as a possible auth failure.
    #[serde(rename = "treat404AsUnauthorized")]
    pub treat_404_as_unauthorized: bool,
    /// Retries of one refresh on network errors, 5xx and 429.
    pub max_refresh_retries: i64,
    /// Retries of one idempotent API call on network errors and 502/503/504.
    pub max_request_retries: i64,
    /// First cooldown after a failed refresh (doubles per failure, max 60 s).
    pub refresh_cooldown_ms: i64,
    /// Where the gateway serves the keys API (its `MESH_KEYS_PATH`).
    pub keys_path: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            issuer: None,
            client_id: None,
            audience: None,
            // A session SDK needs a refresh token; providers such as
            // oidc-provider cancel a device approval that asks for no scope.
            scope: Some(DEFAULT_SCOPE.to_string()),
            api_url: None,
            api_key: None,
            client_secret: None,
            refresh_leeway_secs: DEFAULT_REFRESH_LEEWAY_SECS,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            treat_404_as_unauthorized: false,
            max_refresh_retries: DEFAULT_MAX_REFRESH_RETRIES,
            max_request_retries: DEFAULT_MAX_REQUEST_RETRIES,
            refresh_cooldown_ms: DEFAULT_REFRESH_COOLDOWN_MS,
            keys_path: DEFAULT_KEYS_PATH.to_string(),
        }
    }
}

/// The gateway's default `MESH_KEYS_PATH`.
pub const DEFAULT_KEYS_PATH: &str = "/api/v1/keys";

fn de_secret<'de, D: serde::Deserializer<'de>, S: From<String>>(d: D) -> Result<Option<S>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(S::from))
}

/// A JavaScript option value of any type, kept loose so that a wrong type
/// is reported by option name ([`ClientConfig::from_options`]) instead of by
/// a serde message that names no field.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Str(String),
    Num(f64),
    Bool(bool),
    /// `null` (and `undefined` where it reaches serde): treated as absent.
    Null,
    /// An array, each entry as loose as this.
    List(Vec<OptionValue>),
    /// An object or anything else.
    Other,
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OptionValueVisitor)
    }
}

struct OptionValueVisitor;

impl<'de> serde::de::Visitor<'de> for OptionValueVisitor {
    type Value = OptionValue;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an option value")
    }
    fn visit_str<E>(self, v: &str) -> Result<OptionValue, E> {
        Ok(OptionValue::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<OptionValue, E> {
        Ok(OptionValue::Str(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<OptionValue, E> {
        Ok(OptionValue::Num(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<OptionValue, E> {
        Ok(OptionValue::Num(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<OptionValue, E> {
        Ok(OptionValue::Num(v as f64))
    }
    fn visit_bool<E>(self, v: bool) -> Result<OptionValue, E> {
        Ok(OptionValue::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<OptionValue, E> {
        Ok(OptionValue::Null)
    }
    fn visit_none<E>(self) -> Result<OptionValue, E> {
        Ok(OptionValue::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<OptionValue, D::Error> {
        d.deserialize_any(OptionValueVisitor)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<OptionValue, A::Error> {
        while m.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Ok(OptionValue::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<OptionValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = s.next_element::<OptionValue>()? {
            entries.push(entry);
        }
        Ok(OptionValue::List(entries))
    }
}

/// The options object exactly as JavaScript passed it, every value loose.
/// The binding fills it field by field (no serde in the browser build) and
/// calls [`ClientConfig::from_options`]; serde callers can deserialize it.
/// Keys it does not know (`storage`) are ignored without being inspected.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawOptions {
    pub issuer: Option<OptionValue>,
    pub client_id: Option<OptionValue>,
    pub audience: Option<OptionValue>,
    pub scope: Option<OptionValue>,
    pub api_url: Option<OptionValue>,
    pub api_key: Option<OptionValue>,
    pub client_secret: Option<OptionValue>,
    pub refresh_leeway_seconds: Option<OptionValue>,
    pub timeout_ms: Option<OptionValue>,
    #[serde(rename = "treat404AsUnauthorized")]
    pub treat_404_as_unauthorized: Option<OptionValue>,
    pub max_refresh_retries: Option<OptionValue>,
    pub max_request_retries: Option<OptionValue>,
    pub refresh_cooldown_ms: Option<OptionValue>,
    pub keys_path: Option<OptionValue>,
}

/// A string option; `null`/absent is `None`.
pub fn opt_string(option: &str, v: &Option<OptionValue>) -> Result<Option<String>> {
    match v {
        None | Some(OptionValue::Null) => Ok(None),
        Some(OptionValue::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::config(option, "must be a string")),
    }
}

/// An integer option (a JS number without fraction); `null`/absent is `None`.
pub fn opt_integer(option: &str, v: &Option<OptionValue>) -> Result<Option<i64>> {
    match v {
        None | Some(OptionValue::Null) => Ok(None),
        Some(OptionValue::Num(n)) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.0e15 => Ok(Some(*n as i64)),
        Some(_) => Err(Error::config(option, "must be a whole number")),
    }
}

fn opt_bool(option: &str, v: &Option<OptionValue>) -> Result<Option<bool>> {
    match v {
        None | Some(OptionValue::Null) => Ok(None),
        Some(OptionValue::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Error::config(option, "must be true or false")),
    }
}

/// Which credential the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// OAuth session: bearer access tokens, refresh, device login.
    OAuth,
    /// A static API key sent as `X-API-Key`; no OAuth state.
    ApiKey,
}

impl ClientConfig {
    pub fn mode(&self) -> AuthMode {
        if self.api_key.is_some() {
            AuthMode::ApiKey
        } else {
            AuthMode::OAuth
        }
    }

    /// Converts and validates the options JavaScript passed; every error
    /// names the option. The binding's only path from options to a config.
    pub fn from_options(raw: &RawOptions) -> Result<ClientConfig> {
        let d = ClientConfig::default();
        let c = ClientConfig {
            issuer: opt_string("issuer", &raw.issuer)?,
            client_id: opt_string("clientId", &raw.client_id)?,
            audience: opt_string("audience", &raw.audience)?,
            scope: opt_string("scope", &raw.scope)?.or(d.scope.clone()),
            api_url: opt_string("apiUrl", &raw.api_url)?,
            api_key: opt_string("apiKey", &raw.api_key)?.map(ApiKey::new),
            client_secret: opt_string("clientSecret", &raw.client_secret)?.map(ClientSecret::new),
            refresh_leeway_secs: opt_integer("refreshLeewaySeconds", &raw.refresh_leeway_seconds)?.unwrap_or(d.refresh_leeway_secs),
            timeout_ms: opt_integer("timeoutMs", &raw.timeout_ms)?.unwrap_or(d.timeout_ms),
            treat_404_as_unauthorized: opt_bool("treat404AsUnauthorized", &raw.treat_404_as_unauthorized)?.unwrap_or(false),
            max_refresh_retries: opt_integer("maxRefreshRetries", &raw.max_refresh_retries)?.unwrap_or(d.max_refresh_retries),
            max_request_retries: opt_integer("maxRequestRetries", &raw.max_request_retries)?.unwrap_or(d.max_request_retries),
            refresh_cooldown_ms: opt_integer("refreshCooldownMs", &raw.refresh_cooldown_ms)?.unwrap_or(d.refresh_cooldown_ms),
            keys_path: opt_string("keysPath", &raw.keys_path)?.map(|p| p.trim_end_matches('/').to_string()).unwrap_or(d.keys_path),
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks every option; the error names the JavaScript option.
    pub fn validate(&self) -> Result<()> {
        match self.mode() {
            AuthMode::ApiKey => {
                let url = self.api_url.as_deref().ok_or_else(|| {
                    Error::config("apiUrl", "is required with `apiKey`")
                })?;
                check_base_url("apiUrl", url)?;
                check_api_key(self.api_key.as_ref().map(ApiKey::secret).unwrap_or(""))?;
                // Unused in this mode, but a given URL is still a URL: a typo
                // here is refused now, not when the app switches to OAuth.
                if let Some(url) = &self.issuer {
                    check_base_url("issuer", url)?;
                }
            }
            AuthMode::OAuth => {
                check_base_url("issuer", required("issuer", &self.issuer)?)?;
                check_text("clientId", required("clientId", &self.client_id)?)?;
                if let Some(url) = &self.api_url {
                    check_base_url("apiUrl", url)?;
                }
            }
        }
        if let Some(a) = &self.audience {
            check_text("audience", a)?;
        }
        if let Some(secret) = &self.client_secret {
            check_client_secret(secret.secret())?;
        }
        if let Some(s) = &self.scope {
            check_text("scope", s)?;
        }
        check_range("refreshLeewaySeconds", self.refresh_leeway_secs, 0, 86_400)?;
        check_range("timeoutMs", self.timeout_ms, 1, 600_000)?;
        check_range("maxRefreshRetries", self.max_refresh_retries, 0, 10)?;
        check_range("maxRequestRetries", self.max_request_retries, 0, 10)?;
        check_range("refreshCooldownMs", self.refresh_cooldown_ms, 0, 3_600_000)?;
        // A path on `apiUrl`'s origin, like the gateway's MESH_KEYS_PATH.
        let p = &self.keys_path;
        if !p.starts_with('/') || p.starts_with("//") || p.len() > 256 || p.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#' || b == b'%') {
            return Err(Error::config("keysPath", "must be a path such as /api/v1/keys"));
        }
        Ok(())
    }

    /// The issuer without a trailing slash, as used in storage keys and
    /// discovery (`{issuer}/.well-known/openid-configuration`).
    pub fn issuer_normalized(&self) -> &str {
        self.issuer.as_deref().map(|s| s.trim_end_matches('/')).unwrap_or("")
    }
}

fn required<'a>(option: &str, value: &'a Option<String>) -> Result<&'a str> {
    match value.as_deref() {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(Error::config(option, "is required")),
    }
}

fn check_text(option: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::config(option, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::config(option, "must not contain control characters"));
    }
    Ok(())
}

/// `issuer` and `apiUrl`: a [`check_url`] URL that other URLs are made
/// from, so it has no query (a path appended to `?tenant=a` would land in
/// the query) and no `user:password@` (fetch refuses such a URL, and the
/// message would quote the password).
pub fn check_base_url(option: &str, url: &str) -> Result<()> {
    check_url(option, url)?;
    if crate::origin::split(url).is_some_and(|p| p.userinfo) {
        return Err(Error::config(option, "must not carry a user name or password (user:password@)"));
    }
    if url.contains('?') {
        return Err(Error::config(option, "must not contain a query (?): paths are appended to it"));
    }
    Ok(())
}

/// Minimal URL check: `http://` or `https://`, a host, no fragment, no
/// whitespace. The binding's `new URL()` does the full parse.
pub fn check_url(option: &str, url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| Error::config(option, "must be an http:// or https:// URL"))?;
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    if rest[..host_end].is_empty() {
        return Err(Error::config(option, "must name a host"));
    }
    if url.contains('#') {
        return Err(Error::config(option, "must not contain a fragment (#)"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::config(option, "must not contain whitespace"));
    }
    Ok(())
}

/// Keys look like `mesh_sk_...` (the prefix is the gateway's choice, so
/// only the shape is checked). The message never repeats the key.
fn check_api_key(key: &str) -> Result<()> {
    if key.len() < 12 {
        return Err(Error::config("apiKey", "is too short to be an API key"));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::config("apiKey", "must be printable ASCII without spaces"));
    }
    if !key.contains('_') {
        return Err(Error::config("apiKey", "does not look like an API key (expected a prefix such as `mesh_sk_`)"));
    }
    if key.starts_with("eyJ") && key.matches('.').count() == 2 {
        return Err(Error::config("apiKey", "looks like a JWT access token, not an API key"));
    }
    Ok(())
}

/// Never quoted in the message: it is a secret.
fn check_client_secret(secret: &str) -> Result<()> {
    if secret.is_empty() {
        return Err(Error::config("clientSecret", "must not be empty (leave it out for a public client)"));
    }
    if secret.chars().any(char::is_control) {
        return Err(Error::config("clientSecret", "must not contain control characters"));
    }
    Ok(())
}

fn check_range(option: &str, value: i64, min: i64, max: i64) -> Result<()> {
    if value < min || value > max {
        return Err(Error::config(option, format_args!("must be between {min} and {max}")));
    }
    Ok(())
}

/// The scope asked for when the options name none: an ID token and a
/// refresh token (`offline_access`), which proactive refresh needs.
pub const DEFAULT_SCOPE: &str = "openid offline_access";

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> ClientConfig {
        ClientConfig {
            issuer: Some("http://127.0.0.1:9400/".into()),
            client_id: Some("mesh-demo".into()),
            api_url: Some("http://127.0.0.1:8787".into()),
            ..ClientConfig::default()
        }
    }

    fn err_msg(c: &ClientConfig) -> String {
        let e = c.validate().unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        e.to_string()
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = ClientConfig::default();
        assert_eq!(c.refresh_leeway_secs, 60);
        assert_eq!(c.timeout_ms, 60_000);
        assert!(!c.treat_404_as_unauthorized);
        assert_eq!(c.max_refresh_retries, 3);
    }

    #[test]
    fn valid_oauth_config_passes_and_issuer_is_normalized() {
        let c = oauth();
        c.validate().unwrap();
        assert_eq!(c.mode(), AuthMode::OAuth);
        assert_eq!(c.issuer_normalized(), "http://127.0.0.1:9400");
    }

    #[test]
    fn missing_oauth_options_are_named() {
        let mut c = oauth();
        c.client_id = None;
        assert!(err_msg(&c).contains("`clientId`"));
        let mut c = oauth();
        c.issuer = Some("  ".into());
        assert!(err_msg(&c).contains("`issuer`"));
    }

    #[test]
    fn scope_defaults_to_openid_offline_access_and_keeps_what_is_given() {
        let raw = |scope: Option<&str>| RawOptions {
            issuer: Some(OptionValue::Str("http://127.0.0.1:9400".into())),
            client_id: Some(OptionValue::Str("mesh-demo".into())),
            scope: scope.map(|s| OptionValue::Str(s.into())),
            ..RawOptions::default()
        };
        assert_eq!(ClientConfig::from_options(&raw(None)).unwrap().scope.as_deref(), Some("openid offline_access"));
        assert_eq!(ClientConfig::from_options(&raw(Some("openid"))).unwrap().scope.as_deref(), Some("openid"));
    }

    #[test]
    fn keys_path_defaults_to_the_gateways_and_must_be_a_path() {
        let raw = |p: Option<&str>| RawOptions {
            api_url: Some(OptionValue::Str("http://a".into())),
            api_key: Some(OptionValue::Str("mesh_sk_abcdefgh1234".into())),
            keys_path: p.map(|p| OptionValue::Str(p.into())),
            ..RawOptions::default()
        };
        assert_eq!(ClientConfig::from_options(&raw(None)).unwrap().keys_path, "/api/v1/keys");
        assert_eq!(ClientConfig::from_options(&raw(Some("/me/keys/"))).unwrap().keys_path, "/me/keys");
        for bad in ["me/keys", "//evil.example/keys", "/a?b", "/a#b", "/a b", "/%2e"] {
            let e = ClientConfig::from_options(&raw(Some(bad))).unwrap_err();
            assert!(e.code() == "invalid_config" && e.to_string().contains("`keysPath`"), "{bad}: {e}");
        }
    }

    #[test]
    fn api_key_mode_needs_only_api_url() {
        let c = ClientConfig {
            api_url: Some("https://api.example.com".into()),
            api_key: Some(ApiKey::new("mesh_sk_0123456789abcdef")),
            ..ClientConfig::default()
        };
        c.validate().unwrap();
        assert_eq!(c.mode(), AuthMode::ApiKey);
        let c = ClientConfig { api_url: None, ..c };
        assert!(err_msg(&c).contains("`apiUrl`"));
    }

    #[test]
    fn an_issuer_given_in_api_key_mode_is_still_checked() {
        // Found by the client_config fuzz target: the issuer was not looked
        // at in API-key mode, so any text passed as one.
        let c = ClientConfig {
            api_url: Some("https://api.example.com".into()),
            api_key: Some(ApiKey::new("mesh_sk_0123456789abcdef")),
            issuer: Some("ht2tp://127.0.0.1:9400".into()),
            ..ClientConfig::default()
        };
        assert!(err_msg(&c).contains("`issuer`"));
        let c = ClientConfig { issuer: Some("https://id.example.com".into()), ..c };
        c.validate().unwrap();
        assert_eq!(c.mode(), AuthMode::ApiKey);
    }

    #[test]
    fn a_client_secret_is_checked_and_never_quoted() {
        let raw = |secret: OptionValue| RawOptions {
            issuer: Some(OptionValue::Str("http://127.0.0.1:9400".into())),
            client_id: Some(OptionValue::Str("app".into())),
            client_secret: Some(secret),
            ..RawOptions::default()
        };
        let c = ClientConfig::from_options(&raw(OptionValue::Str("s3cret-value".into()))).unwrap();
        assert_eq!(c.client_secret.as_ref().map(ClientSecret::secret), Some("s3cret-value"));
        assert!(!format!("{c:?}").contains("s3cret-value"));
        for bad in [OptionValue::Str(String::new()), OptionValue::Str("s3cret\nvalue".into()), OptionValue::Num(7.0), OptionValue::Bool(true)] {
            let e = ClientConfig::from_options(&raw(bad)).unwrap_err();
            assert!(e.code() == "invalid_config" && e.to_string().contains("`clientSecret`"), "{e}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        // Absent or null: a public client.
        assert!(ClientConfig::from_options(&raw(OptionValue::Null)).unwrap().client_secret.is_none());
    }

    #[test]
    fn bad_api_keys_are_rejected_without_echoing_them() {
        for key in ["short_1", "mesh sk 0123456789", "nounderscore0123456", "eyJhbGciOi_x.eyJzdWIi.sig"] {
            let c = ClientConfig {
                api_url: Some("https://api.example.com".into()),
                api_key: Some(ApiKey::new(key)),
                ..ClientConfig::default()
            };
            let m = err_msg(&c);
            assert!(m.contains("`apiKey`"), "{m}");
            assert!(!m.contains(key), "message must not echo the key: {m}");
        }
    }

    #[test]
    fn a_base_url_has_no_query_and_no_password() {
        assert!(check_base_url("apiUrl", "https://api.example.com/v2/").is_ok());
        assert!(check_base_url("issuer", "https://id.example.com/realms/a@b").is_ok(), "an @ in the path is not userinfo");
        let e = check_base_url("apiUrl", "https://api.example.com/v2?tenant=acme").unwrap_err();
        assert_eq!(e.to_string(), "option `apiUrl`: must not contain a query (?): paths are appended to it");
        for url in ["https://svc:hunter2@api.example.com/x", "https://svc@api.example.com"] {
            let e = check_base_url("issuer", url).unwrap_err();
            assert!(e.to_string().contains("`issuer`: must not carry a user name or password"), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        // Through the options: both modes.
        let c = ClientConfig { api_url: Some("https://u:p@api.example.com".into()), api_key: Some(ApiKey::new("mesh_sk_0123456789abcdef")), ..ClientConfig::default() };
        assert!(err_msg(&c).contains("`apiUrl`"));
        let c = ClientConfig { issuer: Some("https://id.example.com?x=1".into()), client_id: Some("app".into()), ..ClientConfig::default() };
        assert!(err_msg(&c).contains("`issuer`"));
    }

    #[test]
    fn urls_are_checked_minimally() {
        assert!(check_url("apiUrl", "https://a.example/x?y=1").is_ok());
        assert!(check_url("apiUrl", "HTTP://127.0.0.1:1").is_ok());
        for bad in ["ftp://x", "127.0.0.1:8787", "https://", "https:///path", "https://a/#frag", "https://a b"] {
            let e = check_url("apiUrl", bad).unwrap_err();
            assert!(e.to_string().contains("`apiUrl`"), "{bad}");
        }
    }

    #[test]
    fn numbers_must_be_in_range() {
        let mut c = oauth();
        c.timeout_ms = 0;
        assert!(err_msg(&c).contains("`timeoutMs`"));
        let mut c = oauth();
        c.refresh_leeway_secs = -1;
        assert!(err_msg(&c).contains("`refreshLeewaySeconds`"));
        let mut c = oauth();
        c.max_refresh_retries = 11;
        assert!(err_msg(&c).contains("`maxRefreshRetries`"));
    }

    fn from_json(json: &str) -> Result<ClientConfig> {
        ClientConfig::from_options(&serde_json::from_str::<RawOptions>(json).unwrap())
    }

    #[test]
    fn loose_options_convert_with_defaults() {
        let c = from_json(
            r#"{"issuer":"http://i","clientId":"c","refreshLeewaySeconds":30,"timeoutMs":null,
                "treat404AsUnauthorized":true,"storage":{"get":1,"set":[2]}}"#,
        )
        .unwrap();
        assert_eq!(c.issuer.as_deref(), Some("http://i"));
        assert_eq!(c.refresh_leeway_secs, 30);
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(c.treat_404_as_unauthorized);
        let k = from_json(r#"{"apiUrl":"http://a","apiKey":"mesh_sk_abcdefgh1234"}"#).unwrap();
        assert_eq!(k.mode(), AuthMode::ApiKey);
    }

    #[test]
    fn wrong_types_are_reported_by_option_name() {
        for (json, option) in [
            (r#"{"issuer":"http://i","clientId":42}"#, "`clientId`"),
            (r#"{"issuer":"http://i","clientId":"c","timeoutMs":"soon"}"#, "`timeoutMs`"),
            (r#"{"issuer":"http://i","clientId":"c","timeoutMs":1.5}"#, "`timeoutMs`"),
            (r#"{"issuer":"http://i","clientId":"c","timeoutMs":-1}"#, "`timeoutMs`"),
            (r#"{"issuer":"http://i","clientId":"c","treat404AsUnauthorized":"yes"}"#, "`treat404AsUnauthorized`"),
            (r#"{"issuer":["http://i"],"clientId":"c"}"#, "`issuer`"),
            (r#"{"issuer":"http://i","clientId":"c","apiUrl":"ftp//x"}"#, "`apiUrl`"),
            (r#"{"apiKey":"mesh_sk_abcdefghijklmnop"}"#, "`apiUrl`"),
            ("{}", "`issuer`"),
        ] {
            let e = from_json(json).unwrap_err();
            assert_eq!(e.code(), "invalid_config");
            assert!(e.to_string().contains(option), "{json}: {e}");
        }
    }

    #[test]
    fn deserializes_camel_case_options_with_defaults() {
        let c: ClientConfig = serde_json::from_str(
            r#"{"issuer":"http://i","clientId":"c","refreshLeewaySeconds":30,
                "treat404AsUnauthorized":true,"storage":"memory"}"#,
        )
        .unwrap();
        assert_eq!(c.client_id.as_deref(), Some("c"));
        assert_eq!(c.refresh_leeway_secs, 30);
        assert!(c.treat_404_as_unauthorized);
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        let k: ClientConfig =
            serde_json::from_str(r#"{"apiUrl":"http://a","apiKey":"mesh_sk_abcdefgh1234"}"#).unwrap();
        assert_eq!(k.api_key.unwrap().secret(), "mesh_sk_abcdefgh1234");
    }
}
