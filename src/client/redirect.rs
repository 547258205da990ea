//! The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636), as a
//! browser app runs it: build the authorization URL, keep what the callback
//! needs in the tab's `sessionStorage`, and check the callback before the
//! binding exchanges the code.
//!
//! The binding supplies the randomness (96 bytes from `getrandom`), the
//! SHA-256 of the verifier (WebCrypto `digest`) and the storage; every rule
//! is here. The pending logins are one record per client, a list with one
//! entry per `state` (a tab may have started several logins), bounded and
//! expiring:
//!
//! ```json
//! {"v":1,"issuer":"http://127.0.0.1:9400","clientId":"mesh-demo","state":"…","nonce":"…",
//!  "codeVerifier":"…","redirectUri":"http://app/callback","returnTo":"/settings","startedAt":1764000000000}
//! ```
//! The verifier is a short-lived credential; it stays in the tab's storage
//! and is removed before the code is exchanged, so a replayed callback finds
//! no pending login (`state_mismatch`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, RequestContext, Result};

use super::oauth::token_endpoint_error;
use super::token::base64url_decode;

/// The current record version.
pub const PENDING_REDIRECT_VERSION: u32 = 1;
/// How many pending redirect logins a tab keeps; the oldest goes first.
pub const MAX_PENDING_REDIRECTS: usize = 5;
/// How long a pending login waits for its callback (a user at the
/// provider's login page for longer starts again).
pub const PENDING_REDIRECT_TTL_MS: i64 = 15 * 60 * 1000;
/// Random bytes the binding supplies per login: 32 each for the state, the
/// nonce and the code verifier (43 base64url characters each, RFC 7636 §4.1).
pub const RANDOM_BYTES: usize = 96;

/// Where a client's pending redirect logins are kept, beside its session.
pub fn pending_redirect_key(storage_key: &str) -> String {
    let mut key = String::from(storage_key);
    key.push_str(":redirect-logins");
    key
}

/// `authorizeUrl`'s options, as the binding read them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthorizeOptions {
    pub redirect_uri: String,
    pub scope: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub return_to: Option<String>,
    /// Provider-specific authorization request parameters (a terminal's
    /// long-lived session); a name of [`RESERVED_AUTHORIZE_PARAMS`] is refused.
    pub extra_params: Vec<(String, String)>,
}

/// The authorization request parameters this login sets itself: no extra
/// parameter may replace or double them.
pub const RESERVED_AUTHORIZE_PARAMS: [&str; 13] = [
    "response_type", "response_mode", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "prompt", "login_hint", "audience", "resource",
];

/// A login's `extraParams` (the authorization request's, or the device
/// authorization request's: RFC 8628 §3.1 sends `client_id` and `scope`,
/// and the client adds `audience` and `resource`, all in this list): each
/// name a parameter name, none that the login sets itself. (No `{:?}` in
/// the message: the browser build formats Debug as nothing.)
pub fn check_extra_params(extra: &[(String, String)]) -> Result<()> {
    for (name, _) in extra {
        if !is_param_name(name) {
            return Err(Error::config("extraParams", "parameter names are letters, digits, _, - and ."));
        }
        if RESERVED_AUTHORIZE_PARAMS.contains(&name.as_str()) {
            return Err(Error::config("extraParams", ["may not set ", name].concat()));
        }
    }
    Ok(())
}

/// One pending redirect login, as stored.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRedirect {
    pub v: u32,
    pub issuer: String,
    pub client_id: String,
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    pub started_at: i64,
}

impl std::fmt::Debug for PendingRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingRedirect([redacted])")
    }
}

impl PendingRedirect {
    /// Whether this client may still complete it at `now_ms`.
    fn live(&self, issuer: &str, client_id: &str, now_ms: i64) -> bool {
        self.v == PENDING_REDIRECT_VERSION
            && self.issuer == issuer
            && self.client_id == client_id
            && self.started_at <= now_ms
            && now_ms < self.started_at.saturating_add(PENDING_REDIRECT_TTL_MS)
            && !self.state.is_empty()
            && !self.nonce.is_empty()
            && self.code_verifier.len() >= 43
    }
}

/// A started login: the URL to open and the record to add to the pending list.
#[derive(Debug)]
pub struct StartedLogin {
    pub url: String,
    pub pending: PendingRedirect,
}

/// The state, nonce and verifier from the binding's random bytes.
pub fn login_secrets(random: &[u8; RANDOM_BYTES]) -> (String, String, String) {
    (base64url_encode(&random[..32]), base64url_encode(&random[32..64]), base64url_encode(&random[64..]))
}

/// The verifier the binding must hash (SHA-256) for [`authorize_url`].
pub fn code_verifier(random: &[u8; RANDOM_BYTES]) -> String {
    login_secrets(random).2
}

/// `prompt` (OIDC Core 3.1.2.1): the values providers define, space-separated.
/// mesh-sdk/next checks its option when `createMeshAuth` runs, not at the
/// first login.
pub fn check_prompt(prompt: Option<&str>) -> Result<()> {
    let known = ["none", "login", "consent", "select_account"];
    match prompt {
        Some(p) if p.is_empty() || !p.split(' ').all(|v| known.contains(&v)) => {
            Err(Error::config("prompt", "must be none, login, consent or select_account (space-separated)"))
        }
        _ => Ok(()),
    }
}

/// Builds the authorization URL and the pending record. `verifier_sha256`
/// is the SHA-256 of [`code_verifier`]`(random)`; only S256 is ever sent.
#[allow(clippy::too_many_arguments)]
pub fn authorize_url(
    authorization_endpoint: Option<&str>,
    issuer: &str,
    client_id: &str,
    audience: Option<&str>,
    options: &AuthorizeOptions,
    random: &[u8; RANDOM_BYTES],
    verifier_sha256: &[u8],
    now_ms: i64,
) -> Result<StartedLogin> {
    let endpoint = authorization_endpoint
        .filter(|e| is_http_url(e))
        .ok_or_else(|| Error::new(ErrorKind::InvalidConfig, "the provider's discovery document has no authorization_endpoint"))?;
    if !is_http_url(&options.redirect_uri) || options.redirect_uri.contains('#') {
        return Err(Error::config("redirectUri", "must be an absolute http(s) URL without a fragment"));
    }
    check_prompt(options.prompt.as_deref())?;
    check_extra_params(&options.extra_params)?;
    if verifier_sha256.len() != 32 {
        return Err(Error::new(ErrorKind::InvalidConfig, "the code challenge must be a SHA-256 digest"));
    }
    let (state, nonce, code_verifier) = login_secrets(random);
    let mut scope = String::from("openid");
    for s in options.scope.as_deref().unwrap_or("").split(' ').filter(|s| !s.is_empty() && *s != "openid") {
        scope.push(' ');
        scope.push_str(s);
    }
    let challenge = base64url_encode(verifier_sha256);
    let mut url = String::from(endpoint);
    url.push(if endpoint.contains('?') { '&' } else { '?' });
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", &options.redirect_uri),
        ("scope", &scope),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(p) = &options.prompt {
        params.push(("prompt", p));
    }
    if let Some(h) = options.login_hint.as_deref().filter(|h| !h.is_empty()) {
        params.push(("login_hint", h));
    }
    if let Some(a) = audience {
        // Auth0 reads `audience`, RFC 8707 providers `resource`.
        params.push(("audience", a));
        params.push(("resource", a));
    }
    for (name, value) in &options.extra_params {
        params.push((name, value));
    }
    append_query(&mut url, &params);
    let pending = PendingRedirect {
        v: PENDING_REDIRECT_VERSION,
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id: client_id.to_owned(),
        state,
        nonce,
        code_verifier,
        redirect_uri: options.redirect_uri.clone(),
        return_to: options.return_to.as_deref().and_then(same_origin_path),
        started_at: now_ms,
    };
    Ok(StartedLogin { url, pending })
}

/// The pending list after adding `new`: dead entries dropped, at most
/// [`MAX_PENDING_REDIRECTS`], the oldest dropped first.
pub fn add_pending(mut list: Vec<PendingRedirect>, new: PendingRedirect, now_ms: i64) -> Vec<PendingRedirect> {
    list.retain(|p| p.live(&new.issuer, &new.client_id, now_ms) && p.state != new.state);
    list.sort_by_key(|p| p.started_at);
    while list.len() >= MAX_PENDING_REDIRECTS {
        list.remove(0);
    }
    list.push(new);
    list
}

/// `returnTo` as a same-origin path, or `None`: it must start with one `/`
/// and hold no backslash, control or whitespace character, so that no
/// browser reads it as another origin (`//evil`, `/\evil`, `https://evil`).
pub fn same_origin_path(return_to: &str) -> Option<String> {
    let b = return_to.as_bytes();
    let ok = b.first() == Some(&b'/')
        && b.get(1) != Some(&b'/')
        && b.len() <= 2048
        && !return_to.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    ok.then(|| return_to.to_owned())
}

/// The query parameters of a redirect callback URL that the client reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Reads the callback URL's query (the fragment is ignored: this client
/// asks for `response_mode=query`). A parameter given twice is refused
/// (RFC 6749 §3.1), as is a malformed escape: both read as absent.
pub fn parse_callback(url: &str) -> CallbackParams {
    let before_fragment = url.split('#').next().unwrap_or("");
    let query = before_fragment.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut out = CallbackParams::default();
    let mut seen: Vec<&str> = Vec::new();
    let mut twice: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "code" => &mut out.code,
            "state" => &mut out.state,
            "iss" => &mut out.iss,
            "error" => &mut out.error,
            "error_description" => &mut out.error_description,
            _ => continue,
        };
        if seen.contains(&name) {
            twice.push(name);
        }
        seen.push(name);
        *slot = percent_decode(value);
    }
    for name in twice {
        match name {
            "code" => out.code = None,
            "state" => out.state = None,
            "iss" => out.iss = None,
            "error" => out.error = None,
            _ => out.error_description = None,
        }
    }
    out
}

/// Removes and returns the pending login of the callback's `state`: it is
/// consumed before the code exchange, so a replayed callback finds nothing.
/// Dead entries are dropped on the way. `list` is what the binding writes back.
pub fn take_pending(list: &mut Vec<PendingRedirect>, state: Option<&str>, issuer: &str, client_id: &str, now_ms: i64) -> Option<PendingRedirect> {
    let issuer = issuer.trim_end_matches('/');
    list.retain(|p| p.live(issuer, client_id, now_ms));
    let state = state.filter(|s| !s.is_empty())?;
    let i = list.iter().position(|p| p.state == state)?;
    Some(list.remove(i))
}

/// The code to exchange, with the verifier and redirect URI to send.
#[derive(Debug)]
pub struct CodeGrant {
    pub code: String,
    pub pending: PendingRedirect,
}

/// Checks a callback against its pending login (from [`take_pending`]).
/// `iss_required` is discovery's `authorization_response_iss_parameter_supported`.
/// The order matters: an answer that is not for this login (state) or not
/// from this provider (iss, RFC 9207 §2.4) is refused before its error or
/// code is believed.
pub fn check_callback(params: &CallbackParams, pending: Option<PendingRedirect>, issuer: &str, iss_required: bool) -> Result<CodeGrant> {
    let pending = pending.ok_or_else(|| {
        Error::new(ErrorKind::StateMismatch, "the login callback's state is missing, unknown, expired or already used")
    })?;
    match params.iss.as_deref() {
        Some(iss) if iss.trim_end_matches('/') != issuer.trim_end_matches('/') => {
            return Err(Error::new(ErrorKind::IssuerMismatch, "the login callback comes from another issuer (iss)"));
        }
        None if iss_required => {
            return Err(Error::new(ErrorKind::IssuerMismatch, "the login callback has no iss, which the provider promises"));
        }
        _ => {}
    }
    if let Some(error) = params.error.as_deref() {
        return Err(authorization_error(error, params.error_description.as_deref()));
    }
    let code = params.code.clone().filter(|c| !c.is_empty());
    let code = code.ok_or_else(|| Error::new(ErrorKind::InvalidResponse, "the login callback has neither code nor error"))?;
    Ok(CodeGrant { code, pending })
}

/// The token endpoint's refusal of the code exchange. `invalid_grant` is
/// the provider refusing the code itself (RFC 6749 §5.2: expired, already
/// used, or not issued for this redirect URI and verifier): the login has
/// to start again, as after a refused authorization request. Anything else
/// is an answer the exchange cannot use.
pub fn code_exchange_error(status: u16, oauth_error: Option<&str>) -> Error {
    if oauth_error == Some("invalid_grant") {
        let what = "the provider refused the authorization code, expired or already used: sign in again";
        return token_endpoint_error(ErrorKind::AuthorizationFailed, what, Some(status), oauth_error);
    }
    token_endpoint_error(ErrorKind::InvalidResponse, "authorization code exchange", Some(status), oauth_error)
}

/// The error of an authorization error response, with the provider's
/// description (printable ASCII only, bounded: it is shown to people).
fn authorization_error(error: &str, description: Option<&str>) -> Error {
    let kind = match error {
        "access_denied" => ErrorKind::AccessDenied,
        "login_required" | "consent_required" | "interaction_required" | "account_selection_required" => ErrorKind::LoginRequired,
        _ => ErrorKind::AuthorizationFailed,
    };
    let clean = |s: &str| s.chars().filter(|c| (' '..='~').contains(c)).take(300).collect::<String>();
    let code = clean(error);
    let mut message = String::from("the provider refused the login: ");
    message.push_str(&code);
    if let Some(d) = description.map(clean).filter(|d| !d.is_empty()) {
        message.push_str(" (");
        message.push_str(&d);
        message.push(')');
    }
    let context = RequestContext { method: "GET".into(), path: "/authorize".into(), oauth_error: Some(code), ..Default::default() };
    Error::new(kind, message).with_context(context)
}

/// The RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0),
/// when discovery has an `end_session_endpoint`.
pub fn logout_url(end_session_endpoint: Option<&str>, client_id: &str, id_token: Option<&str>, post_logout_redirect_uri: Option<&str>) -> Option<String> {
    let endpoint = end_session_endpoint.filter(|e| is_http_url(e))?;
    let mut url = String::from(endpoint);
    url.push(if endpoint.contains('?') { '&' } else { '?' });
    let mut params = vec![("client_id", client_id)];
    if let Some(t) = id_token {
        params.push(("id_token_hint", t));
    }
    if let Some(r) = post_logout_redirect_uri.filter(|r| is_http_url(r)) {
        params.push(("post_logout_redirect_uri", r));
    }
    append_query(&mut url, &params);
    Some(url)
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// A parameter name sent as it is: letters, digits, `_`, `-` and `.`.
pub fn is_param_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn append_query(url: &mut String, params: &[(&str, &str)]) {
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            url.push('&');
        }
        url.push_str(name);
        url.push('=');
        percent_encode(url, value);
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// `application/x-www-form-urlencoded` decoding; `None` on a bad escape or
/// bytes that are not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Unpadded base64url (RFC 4648 §5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    debug_assert!(base64url_decode(&out).is_some_and(|d| d == bytes));
    out
}

#[cfg(test)]
#[path = "redirect_tests.rs"]
mod tests;
