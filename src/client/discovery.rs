//! OIDC discovery (RFC 8414, OpenID Connect Discovery 1.0): which endpoints a
//! fetched document yields, or why it is refused.

use crate::error::{Error, ErrorKind};

use super::oauth::itoa;

/// The fields of a discovery document the client reads; `None` when absent
/// or not a string.
#[derive(Default)]
pub struct DiscoveryDocument {
    pub issuer: Option<String>,
    pub token_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    /// RFC 9207 §3: the provider sends `iss` in every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
}

/// The provider's endpoints, once discovery succeeded.
#[derive(Debug, PartialEq)]
pub struct Endpoints {
    pub token: String,
    pub device: Option<String>,
    pub revocation: Option<String>,
    /// The redirect login's endpoints; `None` where the provider has none.
    pub authorization: Option<String>,
    pub end_session: Option<String>,
    pub jwks: Option<String>,
    /// Whether a callback without `iss` must be refused.
    pub iss_required: bool,
}

/// An http(s) URL, or `None`.
fn endpoint(value: Option<String>) -> Option<String> {
    value.filter(|v| v.starts_with("https://") || v.starts_with("http://"))
}

/// The endpoints of `issuer` (normalized: no trailing slash) from the
/// discovery answer: `status`, and `document` (`None` when the body was
/// not JSON; a JSON value that is not an object has no fields).
pub fn endpoints(issuer: &str, status: u16, document: Option<DiscoveryDocument>) -> Result<Endpoints, Error> {
    if !(200..300).contains(&status) {
        let mut message = String::from("OIDC discovery failed: HTTP ");
        message.push_str(&itoa(status as i64));
        if super::request::is_redirect(status) {
            message.push_str(super::request::REDIRECT_NOT_FOLLOWED);
        }
        return Err(Error::new(ErrorKind::Http, message));
    }
    let invalid = |message: &str| Error::new(ErrorKind::InvalidResponse, message);
    let doc = document.ok_or_else(|| invalid("OIDC discovery returned no JSON document"))?;
    // RFC 8414 §3.3: the document must name the issuer it was fetched for.
    let named = doc.issuer.as_deref().unwrap_or("");
    if named.trim_end_matches('/') != issuer {
        // Both named: `localhost` against `127.0.0.1` is the usual slip. The
        // provider's value is the server's text: cut short, no control characters.
        let shown: String = named.chars().take(200).filter(|c| !c.is_control()).collect();
        let message = ["OIDC discovery document names another issuer: \"", &shown, "\", not \"", issuer, "\" (the issuer option)"].concat();
        return Err(invalid(&message));
    }
    let token = endpoint(doc.token_endpoint).ok_or_else(|| invalid("OIDC discovery document has no token_endpoint"))?;
    Ok(Endpoints {
        token,
        device: endpoint(doc.device_authorization_endpoint),
        revocation: endpoint(doc.revocation_endpoint),
        authorization: endpoint(doc.authorization_endpoint),
        end_session: endpoint(doc.end_session_endpoint),
        jwks: endpoint(doc.jwks_uri),
        iss_required: doc.authorization_response_iss_parameter_supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "http://127.0.0.1:9400";

    fn doc(issuer: &str, token: &str) -> DiscoveryDocument {
        DiscoveryDocument { issuer: Some(issuer.into()), token_endpoint: Some(token.into()), ..Default::default() }
    }

    #[test]
    fn a_valid_document_yields_its_http_endpoints() {
        let mut d = doc("http://127.0.0.1:9400/", "http://127.0.0.1:9400/token");
        d.device_authorization_endpoint = Some("https://idp/device".into());
        d.revocation_endpoint = Some("javascript:alert(1)".into());
        let e = endpoints(ISS, 200, Some(d)).unwrap();
        assert_eq!(e.token, "http://127.0.0.1:9400/token");
        assert_eq!((e.device.as_deref(), e.revocation, e.authorization, e.iss_required), (Some("https://idp/device"), None, None, false));
        let mut d = doc(ISS, "http://t");
        d.authorization_endpoint = Some("http://127.0.0.1:9400/auth".into());
        d.end_session_endpoint = Some("data:x".into());
        d.jwks_uri = Some("http://127.0.0.1:9400/jwks".into());
        d.authorization_response_iss_parameter_supported = true;
        let e = endpoints(ISS, 200, Some(d)).unwrap();
        assert_eq!((e.authorization.as_deref(), e.end_session, e.jwks.as_deref(), e.iss_required), (Some("http://127.0.0.1:9400/auth"), None, Some("http://127.0.0.1:9400/jwks"), true));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let fail = |status, d| endpoints(ISS, status, d).unwrap_err();
        let e = fail(503, Some(doc(ISS, "http://t")));
        assert_eq!((e.code(), e.message()), ("http_error", "OIDC discovery failed: HTTP 503"));
        assert_eq!(fail(200, None).message(), "OIDC discovery returned no JSON document");
        let other = "OIDC discovery document names another issuer: \"http://evil\", not \"http://127.0.0.1:9400\" (the issuer option)";
        assert_eq!(fail(200, Some(doc("http://evil", "http://t"))).message(), other);
        let none = "OIDC discovery document names another issuer: \"\", not \"http://127.0.0.1:9400\" (the issuer option)";
        assert_eq!(fail(200, Some(DiscoveryDocument::default())).message(), none);
        let long = format!("http://\n{}", "x".repeat(300));
        assert!(!fail(200, Some(doc(&long, "http://t"))).message().contains('\n'), "no control character of the server's");
        assert!(fail(307, None).message().ends_with("HTTP 307, a redirect, which is not followed: credentials go to their own origin only"));
        let e = fail(200, Some(doc(ISS, "ftp://t")));
        assert_eq!((e.code(), e.message()), ("invalid_response", "OIDC discovery document has no token_endpoint"));
    }
}
