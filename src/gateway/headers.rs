//! Which request headers reach the origin, and which the gateway adds.
//!
//! The origin trusts `x-user-id`, so no client may set it: every route,
//! `public` included, drops the identity headers in any letter case before
//! forwarding. API keys never reach the origin; a verified JWT does (origins
//! may call other services on the user's behalf), see [`stripped_names`].

use std::rc::Rc;

pub const USER_ID: &str = "x-user-id";
pub const AUTH_METHOD: &str = "x-auth-method";
pub const API_KEY_ID: &str = "x-api-key-id";
pub const IDENTITY_TIMESTAMP: &str = "x-mesh-identity-timestamp";
pub const IDENTITY_SIGNATURE: &str = "x-mesh-identity-signature";
pub const IDENTITY_PREFIX: &str = "x-mesh-identity-";
/// The scopes a verified caller holds, space-separated.
pub const AUTH_SCOPES: &str = "x-auth-scopes";
/// The identity headers every forwarded request's identity may carry.
pub const IDENTITY_HEADERS: [&str; 3] = [USER_ID, AUTH_METHOD, API_KEY_ID];
/// The names of the headers the identity signature covers, in order.
pub const IDENTITY_SIGNED_HEADERS: &str = "x-mesh-identity-headers";
/// The client sends keys in it (`client::request`).
pub use crate::client::request::API_KEY_HEADER;

/// The names (lower case) every route drops.
pub const ALWAYS_STRIPPED: [&str; 5] = [USER_ID, AUTH_METHOD, API_KEY_ID, API_KEY_HEADER, "host"];

/// Headers with which a client overrides the path (IIS, Symfony) or the
/// method (many frameworks) at the origin, around a route's prefix and
/// `methods`: every route drops them.
pub const OVERRIDES: [&str; 5] = ["x-original-url", "x-rewrite-url", "x-http-method-override", "x-http-method", "x-method-override"];

/// The request headers the gateway drops before forwarding, as the exact
/// lower-case names a `Headers` object lists; every name starting with
/// [`IDENTITY_PREFIX`] goes too. A name with a `_` is compared with each
/// `_` read as `-`: CGI, WSGI and PHP origins read `x_user_id` and
/// `x-user-id` as the same `HTTP_X_USER_ID`.
///
/// - identity headers (`x-user-id`, `x-auth-method`, `x-api-key-id`,
///   `x-mesh-identity-*`): always; the gateway sets its own;
/// - `x-api-key`: always; a key is a credential for the gateway only;
/// - `host`: always; fetch sets it from the upstream URL;
/// - the proxy headers (`x-forwarded-*`, `x-real-ip`, `forwarded`): always;
///   the gateway sets its own ([`super::forwarded`]); and the ones it does
///   not set (`true-client-ip`, `x-client-ip`, ...);
/// - the path and method overrides ([`OVERRIDES`]): always;
/// - `x-auth-scopes`, and each `MESH_FORWARD_CLAIMS` header (the binding adds
///   those from the configuration): always; they come from verified claims;
/// - `authorization` when `drop_authorization`: on `api_key` routes (it may
///   carry the key), and on any route when it carries an API key (see
///   [`authorization_carries_api_key`]).
pub fn stripped_names(drop_authorization: bool) -> Vec<&'static str> {
    let mut names = ALWAYS_STRIPPED.to_vec();
    names.extend(super::forwarded::CLIENT_SENT);
    names.extend(super::forwarded::NOT_SET);
    names.extend(OVERRIDES);
    names.push(AUTH_SCOPES);
    if drop_authorization {
        names.push("authorization");
    }
    names
}

/// Whether an `Authorization` value carries an API key (never forwarded):
/// the key prefix anywhere in it, so an unusual form (`Bearer\t<key>`, two
/// headers joined as `Bearer a, Bearer <key>`) that an origin may still
/// read a key from is dropped too.
pub fn authorization_carries_api_key(value: &str, key_prefix: &str) -> bool {
    value.contains(key_prefix)
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// case-insensitive (RFC 7235); anything else (Basic, an empty token, a token
/// with spaces, two joined headers) gives `None` or a token that fails later.
pub fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    // A byte scan: this runs on every request with a credential.
    let space = value.bytes().position(|b| b == b' ')?;
    let (scheme, rest) = (&value[..space], &value[space + 1..]);
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    (!token.is_empty()).then_some(token)
}

/// Who the gateway vouches for, injected as headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Shared with the verified token's cached `sub`: a cache hit copies no string.
    pub user_id: Rc<str>,
    pub method: AuthMethod,
    /// The API key's id (`x-api-key-id`) for key-authenticated requests.
    pub api_key_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Jwt,
    ApiKey,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Jwt => "jwt",
            AuthMethod::ApiKey => "api_key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jwt" => Some(AuthMethod::Jwt),
            "api_key" => Some(AuthMethod::ApiKey),
            _ => None,
        }
    }
}

/// The identity headers for `identity`, in the order they are signed.
/// `None` when a value could not travel as a header unchanged (see
/// [`is_safe_header_value`]): the request is then refused, never forwarded
/// with a mangled identity.
pub fn identity_headers(identity: &Identity) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::with_capacity(3);
    out.push((USER_ID, &*identity.user_id));
    out.push((AUTH_METHOD, identity.method.name()));
    if let Some(id) = &identity.api_key_id {
        out.push((API_KEY_ID, id.as_str()));
    }
    out.iter().all(|(_, v)| is_safe_header_value(v)).then_some(out)
}

/// The headers to set on the forwarded request, as `name\nvalue\n...` (the
/// form the binding hands to its JavaScript in one string); `signature` is
/// `(timestamp, signature)` from [`super::identity::sign`] when
/// `MESH_IDENTITY_SECRET` is set, with the list of the names it covers.
pub fn identity_lines(headers: &[(&str, &str)], signature: Option<(i64, &str)>) -> String {
    let mut out = String::with_capacity(IDENTITY_LINES_CAPACITY);
    let mut put = |name: &str, value: &str| push_line(&mut out, name, value);
    for (name, value) in headers {
        put(name, value);
    }
    if let Some((ts, sig)) = signature {
        let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
        put(IDENTITY_SIGNED_HEADERS, &names.join(","));
        put(IDENTITY_TIMESTAMP, &ts.to_string());
        put(IDENTITY_SIGNATURE, sig);
    }
    out
}

/// What a forwarded request's header lines are made with room for: the
/// identity, its scopes and the proxy headers
/// ([`super::forwarded::push_lines`]) of a typical request, so the string
/// is not grown on the way.
/// Under 256 bytes, an allocation stays in the allocator's small bins
/// (dlmalloc's larger chunks cost more to take and give back); a signed
/// identity grows it once.
pub const IDENTITY_LINES_CAPACITY: usize = 240;

/// Appends one header to a `name\nvalue\n...` string.
pub fn push_line(out: &mut String, name: &str, value: &str) {
    for part in [name, value] {
        out.push_str(part);
        out.push('\n');
    }
}

/// Whether `s` can travel as an HTTP header value unchanged: visible ASCII
/// and inner spaces only. Leading or trailing whitespace would be trimmed in
/// transit and change the identity, so it is refused too.
pub fn is_safe_header_value(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `forward` in plumbing.js does with the names (lower case, as
    /// `Headers` lists them).
    fn dropped(name: &str, drop_authorization: bool) -> bool {
        let dashed = name.replace('_', "-");
        stripped_names(drop_authorization).contains(&dashed.as_str()) || dashed.starts_with(IDENTITY_PREFIX)
    }

    #[test]
    fn identity_headers_keys_and_host_are_stripped_on_every_route() {
        for with in [false, true] {
            for name in ["x-user-id", "x-auth-method", "x-api-key-id", "x-mesh-identity-signature", "x-mesh-identity-timestamp",
                "x-mesh-identity-anything", "x-api-key", "host", "x-original-url", "x-http-method-override", "x_rewrite_url",
                "x-forwarded-prefix", "true-client-ip"] {
                assert!(dropped(name, with), "{name}");
            }
            // Read with `_` as `-`, as a CGI origin reads them.
            for name in ["x_user_id", "x-user_id", "x_auth_method", "x_api_key", "x_mesh_identity_signature", "x_forwarded_for"] {
                assert!(dropped(name, with), "{name}");
            }
            for name in ["content-type", "x-user", "x-mesh-other", "x-user-id-2", "x-mesh-identity", "cookie", "x_user", "my_header"] {
                assert!(!dropped(name, with), "{name}");
            }
        }
        assert!(dropped("authorization", true));
        assert!(!dropped("authorization", false));
        // Lower case, and dashed: a `_` in a received name is compared as `-`.
        assert!(stripped_names(true).iter().chain([&IDENTITY_PREFIX]).all(|n| n.bytes().all(|b| !b.is_ascii_uppercase() && b != b'_')));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert!(authorization_carries_api_key("Bearer mesh_sk_x", "mesh_sk_"));
        assert!(!authorization_carries_api_key("Bearer eyJ", "mesh_sk_"));
        for odd in ["Bearer\tmesh_sk_x", "Bearer foo, Bearer mesh_sk_x", "mesh_sk_x", "Basic bWVzaA==, mesh_sk_x", "Token mesh_sk_x"] {
            assert!(authorization_carries_api_key(odd, "mesh_sk_"), "{odd:?}");
        }
    }

    #[test]
    fn identity_lines_for_keys_and_signatures() {
        let id = Identity { user_id: "u1".into(), method: AuthMethod::ApiKey, api_key_id: Some("k1".into()) };
        let headers = identity_headers(&id).unwrap();
        assert_eq!(
            identity_lines(&headers, Some((1700000000, "sig"))),
            "x-user-id\nu1\nx-auth-method\napi_key\nx-api-key-id\nk1\nx-mesh-identity-headers\nx-user-id,x-auth-method,x-api-key-id\n\
             x-mesh-identity-timestamp\n1700000000\nx-mesh-identity-signature\nsig\n"
        );
        let jwt = Identity { user_id: "auth0|abc 1".into(), method: AuthMethod::Jwt, api_key_id: None };
        assert_eq!(identity_lines(&identity_headers(&jwt).unwrap(), None), "x-user-id\nauth0|abc 1\nx-auth-method\njwt\n");
        // A value that is not header-safe refuses the whole identity.
        for bad in ["a\nx-user-id", "a\r\nb", " u", ""] {
            let forged = Identity { user_id: bad.into(), method: AuthMethod::Jwt, api_key_id: None };
            assert_eq!(identity_headers(&forged), None, "{bad:?}");
        }
        let bad_key = Identity { user_id: "u".into(), method: AuthMethod::ApiKey, api_key_id: Some("k\n".into()) };
        assert_eq!(identity_headers(&bad_key), None);
    }

    #[test]
    fn header_value_safety() {
        assert!(is_safe_header_value("auth0|abc 123"));
        for bad in ["", "a\r\nx-user-id: admin", "a\nb", "a\0", "tab\there", " lead", "trail ", "é", "a\x7f"] {
            assert!(!is_safe_header_value(bad), "{bad:?}");
        }
    }
}
