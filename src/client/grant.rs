//! What the client sends the provider: the discovery URL and the form of
//! every POST (token, device authorization, revocation). The binding
//! url-encodes the pairs and sends them; no parameter name lives in
//! JavaScript.

/// `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery
/// 1.0 §4), for an issuer without its trailing slash.
pub fn discovery_url(issuer_normalized: &str) -> String {
    [issuer_normalized, "/.well-known/openid-configuration"].concat()
}

/// The API a token is for goes out under both names: `audience` (Auth0's)
/// and `resource` (RFC 8707's, which oidc-provider reads); each provider
/// ignores the one it does not know.
pub const API_PARAMS: [&str; 2] = ["audience", "resource"];

/// The client as every request to the provider names it.
pub struct Client<'a> {
    pub client_id: &'a str,
    /// The API a token is for.
    pub audience: Option<&'a str>,
    /// A confidential client's secret: `client_secret_post` (RFC 6749
    /// §2.3.1) on every request, after the request's own parameters.
    pub secret: Option<&'a str>,
}

/// A grant at the token endpoint.
pub enum Grant<'a> {
    /// RFC 6749 §6.
    Refresh { refresh_token: &'a str },
    /// RFC 8628 §3.4.
    DeviceCode { device_code: &'a str },
    /// RFC 6749 §4.1.3, with the PKCE verifier (RFC 7636 §4.5).
    AuthorizationCode { code: &'a str, redirect_uri: &'a str, code_verifier: &'a str },
}

/// Name/value pairs in the order sent, borrowed from the request's parts.
pub type Form<'a> = Vec<(&'a str, &'a str)>;

impl<'a> Client<'a> {
    /// `client_id`, and the API ([`API_PARAMS`]).
    fn base(&self) -> Form<'a> {
        let mut form = vec![("client_id", self.client_id)];
        if let Some(a) = self.audience {
            form.extend(API_PARAMS.map(|name| (name, a)));
        }
        form
    }

    /// The token request for `grant`.
    pub fn token_form(&self, grant: Grant<'a>) -> Form<'a> {
        let mut form = self.base();
        match grant {
            Grant::Refresh { refresh_token } => form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh_token)]),
            Grant::DeviceCode { device_code } => form.extend([("grant_type", DEVICE_GRANT_TYPE), ("device_code", device_code)]),
            Grant::AuthorizationCode { code, redirect_uri, code_verifier } => form.extend([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
            ]),
        }
        self.authenticated(form)
    }

    fn authenticated(&self, mut form: Form<'a>) -> Form<'a> {
        if let Some(s) = self.secret {
            form.push(("client_secret", s));
        }
        form
    }

    /// The device authorization request (RFC 8628 §3.1): the scope, then
    /// the app's `extraParams` (already checked by
    /// `redirect::check_extra_params`, so none repeats a name above).
    pub fn device_authorization_form(&self, scope: Option<&'a str>, extra: &'a [(String, String)]) -> Form<'a> {
        let mut form = self.base();
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        form.extend(extra.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        self.authenticated(form)
    }

    /// Revokes a refresh token (RFC 7009 §2.1); a public client names
    /// itself with `client_id`.
    pub fn revocation_form(&self, refresh_token: &'a str) -> Form<'a> {
        self.authenticated(vec![("client_id", self.client_id), ("token", refresh_token), ("token_type_hint", "refresh_token")])
    }
}

/// RFC 8628 §3.4's grant type.
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Whether the provider revoked the token: RFC 7009 §2.2 answers 200 (any
/// 2xx is taken as done; the token is forgotten locally either way).
pub fn revoked(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(form: &Form<'a>) -> Vec<&'a str> {
        form.iter().map(|(n, _)| *n).collect()
    }

    const PUBLIC: Client<'static> = Client { client_id: "mesh-cli", audience: None, secret: None };
    const WITH_API: Client<'static> = Client { client_id: "mesh-cli", audience: Some("https://api.example.com"), secret: None };
    const CONFIDENTIAL: Client<'static> = Client { client_id: "app", audience: None, secret: Some("s3cret") };

    #[test]
    fn the_discovery_url_is_the_issuers_well_known_document() {
        assert_eq!(discovery_url("https://id.example.com/tenant"), "https://id.example.com/tenant/.well-known/openid-configuration");
    }

    #[test]
    fn a_refresh_names_the_client_the_grant_and_the_token() {
        let form = PUBLIC.token_form(Grant::Refresh { refresh_token: "rt-1" });
        assert_eq!(form, [("client_id", "mesh-cli"), ("grant_type", "refresh_token"), ("refresh_token", "rt-1")]);
    }

    #[test]
    fn the_api_is_sent_as_audience_and_as_resource() {
        let form = WITH_API.token_form(Grant::Refresh { refresh_token: "rt-1" });
        assert_eq!(names(&form), ["client_id", "audience", "resource", "grant_type", "refresh_token"]);
        assert_eq!(form[1].1, "https://api.example.com");
        assert_eq!(form[2].1, "https://api.example.com");
    }

    #[test]
    fn the_device_code_grant_uses_rfc_8628s_grant_type() {
        let form = PUBLIC.token_form(Grant::DeviceCode { device_code: "dc" });
        assert_eq!(form[1], ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"));
        assert_eq!(form[2], ("device_code", "dc"));
    }

    #[test]
    fn the_code_exchange_carries_the_redirect_uri_and_the_pkce_verifier() {
        let form = WITH_API.token_form(Grant::AuthorizationCode { code: "c", redirect_uri: "https://app/cb", code_verifier: "v" });
        assert_eq!(names(&form), ["client_id", "audience", "resource", "grant_type", "code", "redirect_uri", "code_verifier"]);
        assert_eq!(form[3].1, "authorization_code");
    }

    #[test]
    fn the_device_authorization_sends_the_scope_then_the_apps_parameters() {
        let extra = [("acr_values".to_string(), "mfa".to_string())];
        let form = WITH_API.device_authorization_form(Some("openid offline_access"), &extra);
        assert_eq!(names(&form), ["client_id", "audience", "resource", "scope", "acr_values"]);
        assert_eq!(names(&PUBLIC.device_authorization_form(None, &[])), ["client_id"]);
    }

    #[test]
    fn revocation_names_the_token_type_and_not_the_api() {
        let form = WITH_API.revocation_form("rt-9");
        assert_eq!(form, [("client_id", "mesh-cli"), ("token", "rt-9"), ("token_type_hint", "refresh_token")]);
    }

    #[test]
    fn a_confidential_client_sends_its_secret_last_in_every_form() {
        let extra = [("prompt".to_string(), "consent".to_string())];
        for form in [
            CONFIDENTIAL.token_form(Grant::Refresh { refresh_token: "rt" }),
            CONFIDENTIAL.token_form(Grant::DeviceCode { device_code: "dc" }),
            CONFIDENTIAL.token_form(Grant::AuthorizationCode { code: "c", redirect_uri: "https://app/cb", code_verifier: "v" }),
            CONFIDENTIAL.device_authorization_form(Some("openid"), &extra),
            CONFIDENTIAL.revocation_form("rt"),
        ] {
            assert_eq!(form[0], ("client_id", "app"));
            assert_eq!(form.last(), Some(&("client_secret", "s3cret")));
            assert_eq!(form.iter().filter(|(n, _)| *n == "client_secret").count(), 1);
        }
        assert!(!PUBLIC.revocation_form("rt").iter().any(|(n, _)| *n == "client_secret"));
    }

    #[test]
    fn only_a_2xx_answer_is_a_revocation() {
        assert!(revoked(200) && revoked(204));
        assert!(!revoked(199) && !revoked(301) && !revoked(400) && !revoked(503));
    }
}
