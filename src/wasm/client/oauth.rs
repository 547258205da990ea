//! The provider's endpoints: OIDC discovery (cached per client), token
//! requests (`application/x-www-form-urlencoded`) and RFC 7009 revocation.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::convert::get;
use super::Inner;
use super::records;
use crate::client::{decode_jwt_payload, JwtClaims, TokenAnswer, TokenReply};
use crate::client::retry_after_ms;
use crate::error::{Error, ErrorKind};
use crate::wasm::global::now_ms;
use crate::wasm::http::{self, parse_json};
use crate::wasm::timer::Cancel;

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const FORM: &str = "application/x-www-form-urlencoded";

/// The endpoints the client uses, from `{issuer}/.well-known/openid-configuration`.
pub struct Endpoints {
    pub token: String,
    pub device_authorization: Option<String>,
    pub revocation: Option<String>,
}

/// The provider's endpoints, fetched once per client. A failed discovery is
/// not cached, so the next call tries again.
pub async fn endpoints(inner: &Inner, cancel: &Cancel) -> Result<Rc<Endpoints>, Error> {
    if let Some(e) = inner.endpoints.borrow().as_ref() {
        return Ok(e.clone());
    }
    let issuer = inner.config.issuer_normalized().to_string();
    let url = issuer.clone() + "/.well-known/openid-configuration";
    let request = http::build("GET", &url, &[("Accept", "application/json")], None)?;
    let response = http::send(&request, &[], inner.timeout_ms(), cancel, "OIDC discovery").await?;
    let status = response.status;
    if !response.ok() {
        let mut msg = String::from("OIDC discovery failed: HTTP ");
        msg.push_str(&crate::client::oauth::itoa(status as i64));
        return Err(Error::new(ErrorKind::Http, msg));
    }
    let doc = response
        .json()
        .await?
        .ok_or_else(|| Error::new(ErrorKind::InvalidResponse, "OIDC discovery returned no JSON document"))?;
    let field = |name: &str| get(&doc, name).as_string().filter(|s| s.starts_with("https://") || s.starts_with("http://"));
    // RFC 8414 §3.3: the document must name the issuer it was fetched for.
    let named = get(&doc, "issuer").as_string().unwrap_or_default();
    if named.trim_end_matches('/') != issuer {
        return Err(Error::new(ErrorKind::InvalidResponse, "OIDC discovery document names another issuer"));
    }
    let found = Rc::new(Endpoints {
        token: field("token_endpoint")
            .ok_or_else(|| Error::new(ErrorKind::InvalidResponse, "OIDC discovery document has no token_endpoint"))?,
        device_authorization: field("device_authorization_endpoint"),
        revocation: field("revocation_endpoint"),
    });
    *inner.endpoints.borrow_mut() = Some(found.clone());
    Ok(found)
}

/// The parameters every request to the provider carries: `client_id`, and
/// the API's identifier as `audience` (Auth0) and `resource` (RFC 8707, as
/// oidc-provider wants it for JWT access tokens).
pub fn base_params(inner: &Inner) -> Vec<(&str, &str)> {
    let mut params = vec![("client_id", inner.config.client_id.as_deref().unwrap_or(""))];
    if let Some(aud) = inner.config.audience.as_deref() {
        params.push(("audience", aud));
        params.push(("resource", aud));
    }
    params
}

/// POSTs a form to `url` and returns the answer as the core takes it.
/// `timeout_ms` bounds this one request (body included).
pub async fn post_form(url: &str, params: &[(&str, &str)], timeout_ms: u32, cancel: &Cancel, what: &str) -> Result<TokenAnswer, Error> {
    let body = http::form_body(params);
    let request = http::build("POST", url, &[("Content-Type", FORM), ("Accept", "application/json")], Some(&body))?;
    let response = http::send(&request, &[], timeout_ms, cancel, what).await?;
    let status = response.status;
    let retry_after = response.header("retry-after").and_then(|h| retry_after_ms(&h, now_ms() as i64));
    let body = response.json().await?;
    let reply = parse_reply(status, body);
    let claims = match &reply {
        TokenReply::Tokens(t) if t.needs_jwt_claims() => claims_of(t.access_token.secret()),
        _ => None,
    };
    Ok(TokenAnswer { status, reply, retry_after_ms: retry_after, claims })
}

fn parse_reply(status: u16, body: Option<JsValue>) -> TokenReply {
    let Some(body) = body else { return TokenReply::Unparseable };
    if (200..300).contains(&status) {
        if let Some(tokens) = records::token_response(&body) {
            return TokenReply::Tokens(tokens);
        }
    }
    match records::oauth_error(&body) {
        Some(e) => TokenReply::Error(e),
        None => TokenReply::Unparseable,
    }
}

/// The unverified claims of a JWT access token (`None` for opaque tokens).
pub fn claims_of(token: &str) -> Option<JwtClaims> {
    records::jwt_claims(&parse_json(&decode_jwt_payload(token)?)?)
}

/// RFC 7009: revokes `refresh_token` where the provider advertises a
/// revocation endpoint. Returns whether the provider confirmed (200).
pub async fn revoke(inner: &Inner, refresh_token: &str, cancel: &Cancel) -> Result<bool, Error> {
    let endpoints = endpoints(inner, cancel).await?;
    let Some(url) = endpoints.revocation.as_deref() else { return Ok(false) };
    let mut params = vec![("client_id", inner.config.client_id.as_deref().unwrap_or(""))];
    params.push(("token", refresh_token));
    params.push(("token_type_hint", "refresh_token"));
    let answer = post_form(url, &params, inner.timeout_ms(), cancel, "token revocation").await?;
    Ok(answer.is_success())
}
