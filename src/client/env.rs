//! Sessions given from outside: `setSession({...})` ([`SessionInput`]) and
//! the environment variables for CI and scripts ([`EnvVars`]):
//! `MESH_ACCESS_TOKEN`, `MESH_REFRESH_TOKEN`, `MESH_TOKEN_EXPIRES_AT` (Unix
//! seconds) and `MESH_TOKEN_FROM_ENV`.
//!
//! `MESH_TOKEN_FROM_ENV`: `true`/`1` means the environment must supply the
//! session (a missing `MESH_ACCESS_TOKEN` is an error); `false`/`0` means
//! ignore these variables; unset means use them when `MESH_ACCESS_TOKEN` is
//! present. A session from the environment lives in memory: refreshes work,
//! but nothing is written back to the environment (use `exportEnv()`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::{AccessToken, RefreshToken};

use super::config::{opt_integer, opt_string, OptionValue};
use super::oauth::itoa;
use super::token::{JwtClaims, TokenSet, UNIX_SECS};

/// The argument of `setSession({ accessToken, refreshToken, expiresAt })`,
/// values loose so that errors name the field. `expiresAt` is Unix seconds,
/// as `MESH_TOKEN_EXPIRES_AT`.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionInput {
    pub access_token: Option<OptionValue>,
    pub refresh_token: Option<OptionValue>,
    pub expires_at: Option<OptionValue>,
}

impl std::fmt::Debug for SessionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionInput([redacted])")
    }
}

impl SessionInput {
    /// Validates and converts; errors name the field, never show a token.
    /// Without `expiresAt`, the access token's own `exp` is the expiry:
    /// `claims` reads a JWT's unverified claims (`None` for an opaque
    /// token), and an `exp` that is not Unix seconds leaves it unknown.
    pub fn to_tokens(&self, now_ms: i64, claims: impl FnOnce(&str) -> Option<JwtClaims>) -> Result<TokenSet> {
        let access = opt_string("accessToken", &self.access_token)?.filter(|s| !s.is_empty());
        let access = access.ok_or_else(|| Error::config("accessToken", "is required"))?;
        check_token("accessToken", &access)?;
        let refresh = opt_string("refreshToken", &self.refresh_token)?.filter(|s| !s.is_empty());
        if let Some(r) = &refresh {
            check_token("refreshToken", r)?;
        }
        let expires_at = opt_integer("expiresAt", &self.expires_at)?;
        if let Some(secs) = expires_at {
            check_unix_secs("expiresAt", secs)?;
        }
        let expires_at = expires_at.or_else(|| claims(&access).and_then(|c| c.exp_secs()));
        Ok(TokenSet::explicit(AccessToken::new(access), refresh.map(RefreshToken::new), expires_at, now_ms))
    }
}

/// The variables as strings, as in `process.env`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvVars {
    #[serde(rename = "MESH_ACCESS_TOKEN", default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(rename = "MESH_REFRESH_TOKEN", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(rename = "MESH_TOKEN_EXPIRES_AT", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(rename = "MESH_TOKEN_FROM_ENV", default, skip_serializing)]
    pub from_env: Option<String>,
}

impl std::fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvVars([redacted])")
    }
}

impl EnvVars {
    /// The session the variables describe, or `None` when they should be
    /// ignored. Errors name the variable.
    pub fn to_tokens(&self, now_ms: i64) -> Result<Option<TokenSet>> {
        let wanted = match self.from_env.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("true") | Some("1") => Some(true),
            Some("false") | Some("0") => Some(false),
            Some(_) => return Err(Error::config("MESH_TOKEN_FROM_ENV", "must be `true` or `false`")),
        };
        let access = non_empty(&self.access_token);
        match (wanted, access) {
            (Some(false), _) | (None, None) => Ok(None),
            (Some(true), None) => Err(Error::config("MESH_ACCESS_TOKEN", "is required when MESH_TOKEN_FROM_ENV=true")),
            (_, Some(access)) => {
                check_token("MESH_ACCESS_TOKEN", access)?;
                let refresh = non_empty(&self.refresh_token);
                if let Some(r) = refresh {
                    check_token("MESH_REFRESH_TOKEN", r)?;
                }
                let expires_at = self.expires_at_secs()?;
                Ok(Some(TokenSet::explicit(
                    AccessToken::new(access),
                    refresh.map(RefreshToken::new),
                    expires_at,
                    now_ms,
                )))
            }
        }
    }

    /// For `MeshClient.fromEnv`: like [`EnvVars::to_tokens`], but a missing
    /// session is an error naming `MESH_ACCESS_TOKEN`.
    pub fn require_tokens(&self, now_ms: i64) -> Result<TokenSet> {
        self.to_tokens(now_ms)?.ok_or_else(|| {
            Error::config("MESH_ACCESS_TOKEN", "is not set (or MESH_TOKEN_FROM_ENV=false disables the environment session)")
        })
    }

    fn expires_at_secs(&self) -> Result<Option<i64>> {
        let Some(raw) = non_empty(&self.expires_at) else { return Ok(None) };
        let secs: i64 = raw
            .parse()
            .map_err(|_| Error::config("MESH_TOKEN_EXPIRES_AT", "must be Unix seconds (an integer)"))?;
        check_unix_secs("MESH_TOKEN_EXPIRES_AT", secs)?;
        Ok(Some(secs))
    }

    /// The variables for `exportEnv()`. The expiry is rounded down to whole
    /// seconds, so it never claims more life than the token has.
    pub fn from_tokens(tokens: &TokenSet) -> Self {
        EnvVars {
            access_token: Some(tokens.access_token.secret().to_owned()),
            refresh_token: tokens.refresh_token.as_ref().map(|r| r.secret().to_owned()),
            expires_at: tokens.expires_at_secs().map(itoa),
            from_env: None,
        }
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Seconds, not milliseconds: 2001-09-09 .. 2286-11-20.
fn check_unix_secs(name: &str, secs: i64) -> Result<()> {
    match secs {
        _ if UNIX_SECS.contains(&secs) => Ok(()),
        _ if secs > *UNIX_SECS.end() => Err(Error::config(name, "must be Unix seconds (10 digits), not milliseconds")),
        _ => Err(Error::config(name, "must be Unix seconds (10 digits): a point in time, not a duration")),
    }
}

fn check_token(var: &str, value: &str) -> Result<()> {
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(Error::config(var, "must be printable ASCII without spaces"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::token::ExpirySource;

    const NOW: i64 = 1_700_000_000_000;

    fn vars(a: Option<&str>, r: Option<&str>, e: Option<&str>, f: Option<&str>) -> EnvVars {
        EnvVars {
            access_token: a.map(Into::into),
            refresh_token: r.map(Into::into),
            expires_at: e.map(Into::into),
            from_env: f.map(Into::into),
        }
    }

    fn input(json: &str) -> Result<TokenSet> {
        serde_json::from_str::<SessionInput>(json).unwrap().to_tokens(NOW, |_| None)
    }

    #[test]
    fn set_session_input_is_validated_by_field() {
        let ts = input(r#"{"accessToken":"a.b.c","refreshToken":"r","expiresAt":1700000300}"#).unwrap();
        assert_eq!(ts.expires_at_ms, Some(1_700_000_300_000));
        assert_eq!(ts.refresh_token.unwrap().secret(), "r");
        let ts = input(r#"{"accessToken":"a.b.c","refreshToken":null}"#).unwrap();
        assert_eq!((ts.refresh_token, ts.expires_at_ms), (None, None));
        for (json, field) in [
            (r#"{"refreshToken":"r","expiresAt":1700000300}"#, "accessToken"),
            (r#"{"accessToken":""}"#, "accessToken"),
            (r#"{"accessToken":7}"#, "accessToken"),
            (r#"{"accessToken":"a.b.c","expiresAt":"soon"}"#, "expiresAt"),
            (r#"{"accessToken":"a.b.c","expiresAt":1700000300000}"#, "expiresAt"),
            (r#"{"accessToken":"a.b.c","refreshToken":{"x":1}}"#, "refreshToken"),
            (r#"{"accessToken":"a b.c-SECRET"}"#, "accessToken"),
            (r#"{"accessToken":"   "}"#, "accessToken"),
            (r#"{"accessToken":"a.b.c","expiresAt":1700000300.5}"#, "expiresAt"),
        ] {
            let e = input(json).unwrap_err();
            assert!(e.to_string().contains(field), "{json}: {e}");
            assert!(!e.to_string().contains("SECRET"));
        }
    }

    #[test]
    fn without_expires_at_the_token_states_its_own_expiry() {
        let session = |json: &str| serde_json::from_str::<SessionInput>(json).unwrap();
        let exp = |exp| move |token: &str| (token == "a.b.c").then_some(JwtClaims { exp: Some(exp), ..JwtClaims::default() });
        let own = exp(1_700_000_600);
        let ts = session(r#"{"accessToken":"a.b.c"}"#).to_tokens(NOW, own).unwrap();
        assert_eq!(ts.expires_at_ms, Some(1_700_000_600_000));
        // An `exp` in milliseconds would read as 50,000 years out and turn
        // off proactive refresh: the expiry is unknown instead (a 401 refreshes).
        let ts = session(r#"{"accessToken":"a.b.c"}"#).to_tokens(NOW, exp(1_700_000_600_000)).unwrap();
        assert_eq!((ts.expires_at_ms, ts.expiry_source), (None, ExpirySource::Unknown));
        // An explicit expiresAt wins over the token's own.
        let ts = session(r#"{"accessToken":"a.b.c","expiresAt":1700000300}"#).to_tokens(NOW, own).unwrap();
        assert_eq!(ts.expires_at_ms, Some(1_700_000_300_000));
    }

    #[test]
    fn from_env_requires_a_session() {
        let e = EnvVars::default().require_tokens(NOW).unwrap_err();
        assert!(e.to_string().contains("MESH_ACCESS_TOKEN"));
        assert!(vars(Some("at"), None, None, None).require_tokens(NOW).is_ok());
    }

    #[test]
    fn imports_a_full_session() {
        let ts = vars(Some("at"), Some("rt"), Some("1700000300"), None).to_tokens(NOW).unwrap().unwrap();
        assert_eq!(ts.access_token.secret(), "at");
        assert_eq!(ts.refresh_token.as_ref().unwrap().secret(), "rt");
        assert_eq!(ts.expires_at_ms, Some(1_700_000_300_000));
        assert_eq!(ts.received_at_ms, NOW);
    }

    #[test]
    fn from_env_flag_semantics() {
        assert_eq!(vars(None, None, None, None).to_tokens(NOW).unwrap(), None);
        assert_eq!(vars(Some("at"), None, None, Some("false")).to_tokens(NOW).unwrap(), None);
        assert!(vars(Some("at"), None, None, Some("true")).to_tokens(NOW).unwrap().is_some());
        let e = vars(None, None, None, Some("true")).to_tokens(NOW).unwrap_err();
        assert!(e.to_string().contains("MESH_ACCESS_TOKEN"));
        let e = vars(Some("at"), None, None, Some("yes")).to_tokens(NOW).unwrap_err();
        assert!(e.to_string().contains("MESH_TOKEN_FROM_ENV"));
    }

    #[test]
    fn rejects_bad_expiry_and_tokens_without_echoing_them() {
        for bad in ["soon", "1700000300000", "-5"] {
            let e = vars(Some("at"), None, Some(bad), None).to_tokens(NOW).unwrap_err();
            assert_eq!(e.code(), "invalid_config");
            assert!(e.to_string().contains("MESH_TOKEN_EXPIRES_AT"), "{bad}");
        }
        // Each wrong magnitude says which mistake it looks like.
        let problem = |v| vars(Some("at"), None, Some(v), None).to_tokens(NOW).unwrap_err().to_string();
        assert!(problem("1700000300000").contains("not milliseconds"));
        assert!(problem("3600").contains("not a duration"));
        let e = vars(Some("a t-secret"), None, None, None).to_tokens(NOW).unwrap_err();
        assert!(e.to_string().contains("MESH_ACCESS_TOKEN") && !e.to_string().contains("secret"));
    }

    #[test]
    fn export_round_trips_and_rounds_expiry_down() {
        let ts = TokenSet::explicit(AccessToken::new("at"), Some(RefreshToken::new("rt")), None, NOW);
        let ts = TokenSet { expires_at_ms: Some(1_700_000_300_999), ..ts };
        let env = EnvVars::from_tokens(&ts);
        assert_eq!(env.expires_at.as_deref(), Some("1700000300"));
        let json = serde_json::to_string(&env).unwrap();
        assert_eq!(json, r#"{"MESH_ACCESS_TOKEN":"at","MESH_REFRESH_TOKEN":"rt","MESH_TOKEN_EXPIRES_AT":"1700000300"}"#);
        let back = env.to_tokens(NOW).unwrap().unwrap();
        assert_eq!(back.expires_at_ms, Some(1_700_000_300_000));
        assert_eq!(format!("{env:?}"), "EnvVars([redacted])");
    }
}
