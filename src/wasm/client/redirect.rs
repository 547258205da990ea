//! `RedirectCore`: the redirect login's rules (`client::redirect`,
//! `client::id_token`) for the JavaScript layer (`pkg-template/redirect.js`),
//! which brings random bytes, SHA-256 and signature checks (WebCrypto), the
//! pending list from `sessionStorage` and the HTTP answers; every rule is the
//! core's. The browser build keeps it in a module of its own
//! (`wasm/redirect/`, fetched on the first redirect-login call): an app that
//! never calls `authorizeUrl`/`handleRedirectCallback` does not download it.
//! The server build has it beside `ClientCore` (`ClientCore.redirectCore()`).

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use super::convert::{extra_params, form_js, get, opt_string, or_null, parse_json, set, string_prop};
use crate::client::grant::{self, Grant};
use super::records::token_answer;
use crate::client::id_token::{check_claims, IdTokenAlg, choose_key, signature_verdict, split_id_token, IdTokenClaims, IdTokenHeader, JwkInfo, Nonce};
use crate::client::oauth::TokenReply;
use crate::client::redirect::{self, AuthorizeOptions, PendingRedirect, RANDOM_BYTES};
use crate::client::token::decode_jwt_payload;
use crate::error::{Error, ErrorKind};
use crate::secret::ClientSecret;
use crate::wasm::error::to_js_error;

/// What the redirect login needs of the client's configuration.
#[wasm_bindgen]
pub struct RedirectCore {
    issuer: String,
    client_id: String,
    audience: Option<String>,
    scope: Option<String>,
    /// The server's confidential client; never in the browser's module.
    client_secret: Option<ClientSecret>,
}

#[cfg(feature = "client")]
impl RedirectCore {
    pub(super) fn of(config: &crate::client::ClientConfig) -> RedirectCore {
        RedirectCore {
            issuer: config.issuer_normalized().to_owned(),
            client_id: config.client_id.clone().unwrap_or_default(),
            audience: config.audience.clone(),
            scope: config.scope.clone(),
            client_secret: config.client_secret.clone(),
        }
    }
}

fn pending_list(stored: Option<String>) -> Vec<PendingRedirect> {
    let Some(list) = stored.as_deref().and_then(parse_json).filter(Array::is_array) else { return Vec::new() };
    let int = |v: &JsValue, key: &str| get(v, key).as_f64().filter(|n| n.fract() == 0.0).map(|n| n as i64);
    Array::from(&list)
        .iter()
        .filter_map(|v| {
            Some(PendingRedirect {
                v: int(&v, "v")?.clamp(0, u32::MAX as i64) as u32,
                issuer: string_prop(&v, "issuer")?,
                client_id: string_prop(&v, "clientId")?,
                state: string_prop(&v, "state")?,
                nonce: string_prop(&v, "nonce")?,
                code_verifier: string_prop(&v, "codeVerifier")?,
                redirect_uri: string_prop(&v, "redirectUri")?,
                return_to: string_prop(&v, "returnTo"),
                started_at: int(&v, "startedAt")?,
            })
        })
        .collect()
}

fn pending_list_json(list: &[PendingRedirect]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    let out = Array::new();
    for p in list {
        let o = Object::new();
        set(&o, "v", &JsValue::from_f64(p.v as f64));
        for (k, v) in [("issuer", &p.issuer), ("clientId", &p.client_id), ("state", &p.state), ("nonce", &p.nonce), ("codeVerifier", &p.code_verifier), ("redirectUri", &p.redirect_uri)] {
            set(&o, k, &JsValue::from_str(v));
        }
        if let Some(r) = &p.return_to {
            set(&o, "returnTo", &JsValue::from_str(r));
        }
        set(&o, "startedAt", &JsValue::from_f64(p.started_at as f64));
        out.push(&o);
    }
    js_sys::JSON::stringify(&out).ok()?.as_string()
}

fn random_of(bytes: &[u8]) -> Result<[u8; RANDOM_BYTES], Error> {
    bytes.try_into().map_err(|_| Error::new(ErrorKind::InvalidConfig, "the redirect login needs 96 random bytes"))
}

#[wasm_bindgen]
impl RedirectCore {
    /// From `ClientCore.settings()` (the browser's separate module).
    #[wasm_bindgen(constructor)]
    pub fn new(settings: JsValue) -> RedirectCore {
        let text = |k: &str| string_prop(&settings, k);
        RedirectCore { issuer: text("issuer").unwrap_or_default(), client_id: text("clientId").unwrap_or_default(), audience: text("audience"), scope: text("scope"), client_secret: None }
    }

    /// The number of random bytes `redirectStart` takes.
    #[wasm_bindgen(js_name = redirectRandomBytes)]
    pub fn redirect_random_bytes(&self) -> usize {
        RANDOM_BYTES
    }

    /// The PKCE verifier of `random`, for the binding to hash (SHA-256).
    #[wasm_bindgen(js_name = redirectVerifier)]
    pub fn redirect_verifier(&self, random: &[u8]) -> Result<String, JsValue> {
        Ok(redirect::code_verifier(&random_of(random)?))
    }

    /// `[url, pendingListJson]` for `authorizeUrl(options)`.
    #[wasm_bindgen(js_name = redirectStart)]
    pub fn redirect_start(&self, options: JsValue, endpoints: JsValue, random: &[u8], digest: &[u8], stored: Option<String>, now: f64) -> Result<Array, JsValue> {
        if !options.is_object() {
            return Err(Error::config("redirectUri", "is required").into());
        }
        let opts = AuthorizeOptions {
            redirect_uri: opt_string(&options, "redirectUri")?.ok_or_else(|| Error::config("redirectUri", "is required"))?,
            scope: opt_string(&options, "scope")?.or_else(|| self.scope.clone()),
            prompt: opt_string(&options, "prompt")?,
            login_hint: opt_string(&options, "loginHint")?,
            return_to: opt_string(&options, "returnTo")?,
            extra_params: extra_params(&get(&options, "extraParams"))?,
        };
        let endpoint = string_prop(&endpoints, "authorization");
        let issuer = &self.issuer;
        let started = redirect::authorize_url(endpoint.as_deref(), issuer, &self.client_id, self.audience.as_deref(), &opts, &random_of(random)?, digest, now as i64)?;
        let list = redirect::add_pending(pending_list(stored), started.pending, now as i64);
        Ok(Array::of2(&JsValue::from_str(&started.url), &or_null(pending_list_json(&list).map(|j| JsValue::from_str(&j)))))
    }

    /// The callback `url` against the pending list: `{ remaining, grant?, error? }`.
    /// `remaining` (the list without this login, `null` when empty) must be
    /// written back before the code is exchanged, whatever the verdict.
    #[wasm_bindgen(js_name = redirectCallback)]
    pub fn redirect_callback(&self, url: &str, stored: Option<String>, endpoints: JsValue, now: f64) -> JsValue {
        let params = redirect::parse_callback(url);
        let mut list = pending_list(stored);
        let issuer = &self.issuer;
        let pending = redirect::take_pending(&mut list, params.state.as_deref(), issuer, &self.client_id, now as i64);
        let iss_required = get(&endpoints, "issRequired").as_bool() == Some(true);
        let o = Object::new();
        set(&o, "remaining", &or_null(pending_list_json(&list).map(|j| JsValue::from_str(&j))));
        match redirect::check_callback(&params, pending, issuer, iss_required) {
            Ok(grant) => {
                let g = Object::new();
                let secret = self.client_secret.as_ref().map(ClientSecret::secret);
                let client = grant::Client { client_id: &self.client_id, audience: self.audience.as_deref(), secret };
                let exchange = Grant::AuthorizationCode { code: &grant.code, redirect_uri: &grant.pending.redirect_uri, code_verifier: &grant.pending.code_verifier };
                set(&g, "form", &form_js(&client.token_form(exchange)));
                set(&g, "nonce", &JsValue::from_str(&grant.pending.nonce));
                set(&g, "returnTo", &or_null(grant.pending.return_to.as_deref().and_then(redirect::same_origin_path).map(|r| JsValue::from_str(&r))));
                set(&o, "grant", &g);
            }
            Err(e) => set(&o, "error", &to_js_error(&e)),
        }
        o.into()
    }

    /// The token endpoint's answer to the code exchange: the ID token to
    /// verify, as `{ idToken, alg, key, data, signature }` (`key`: the JWK
    /// of `jwks` to import, `data` the signing input); throws why not.
    #[wasm_bindgen(js_name = redirectTokens)]
    pub fn redirect_tokens(&self, status: u16, body: JsValue, jwks: JsValue) -> Result<JsValue, JsValue> {
        let answer = token_answer(status, &body, None, 0);
        if !matches!(answer.reply, TokenReply::Tokens(_)) {
            return Err(redirect::code_exchange_error(status, answer.oauth_error()).into());
        }
        let id_token = string_prop(&body, "id_token").ok_or_else(|| Error::new(ErrorKind::InvalidIdToken, "the ID token was refused: the token response has none"))?;
        Ok(id_token_check(&id_token, &jwks)?)
    }

    /// A device login's token response (`body`): the check of its ID token
    /// as `redirectTokens` gives it, or `undefined` when it has none.
    #[wasm_bindgen(js_name = deviceIdTokenCheck)]
    pub fn device_id_token_check(&self, body: JsValue, jwks: JsValue) -> Result<JsValue, JsValue> {
        match string_prop(&body, "id_token") {
            Some(id_token) => Ok(id_token_check(&id_token, &jwks)?),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The verdict on a device login's ID token (OIDC Core 3.1.3.7 but the
    /// nonce: the device grant sends none); throws `invalid_id_token`.
    /// `ClientCore.keepIdToken` then keeps it for the user's claims and the
    /// logout's `id_token_hint`.
    #[wasm_bindgen(js_name = deviceIdToken)]
    pub fn device_id_token(&self, id_token: &str, verified: bool, now: f64) -> Result<(), JsValue> {
        signature_verdict(verified)?;
        check_claims(&id_token_claims(id_token)?, &self.issuer, &self.client_id, Nonce::NoneSent, now as i64)?;
        Ok(())
    }
}

/// How to check `id_token`'s signature with WebCrypto: the key of `jwks`
/// its header names, the parameters, the signed data and the signature.
fn id_token_check(id_token: &str, jwks: &JsValue) -> Result<JsValue, Error> {
    let parts = split_id_token(id_token)?;
    let header = parse_json(&parts.header_json).filter(JsValue::is_object).ok_or_else(|| Error::new(ErrorKind::InvalidIdToken, "the ID token was refused: its header is not JSON"))?;
    let crit = (!get(&header, "crit").is_undefined()).then_some(serde::de::IgnoredAny);
    let header = IdTokenHeader { alg: string_prop(&header, "alg"), kid: string_prop(&header, "kid"), crit };
    let keys = get(jwks, "keys");
    let keys: Vec<JsValue> = if Array::is_array(&keys) { Array::from(&keys).iter().collect() } else { Vec::new() };
    let infos: Vec<JwkInfo> = keys
        .iter()
        .map(|k| JwkInfo { kty: string_prop(k, "kty").unwrap_or_default(), kid: string_prop(k, "kid"), alg: string_prop(k, "alg"), use_: string_prop(k, "use"), crv: string_prop(k, "crv") })
        .collect();
    let (alg, index) = choose_key(&header, &infos, parts.signature.len())?;
    let o = Object::new();
    set(&o, "idToken", &JsValue::from_str(id_token));
    set(&o, "alg", &JsValue::from_str(alg.name()));
    let (import, verify) = (Object::new(), Object::new());
    let (name, param, value) = match alg {
        IdTokenAlg::Rs256 => ("RSASSA-PKCS1-v1_5", "hash", JsValue::from_str("SHA-256")),
        IdTokenAlg::Ps256 => ("RSA-PSS", "hash", JsValue::from_str("SHA-256")),
        IdTokenAlg::Es256 => ("ECDSA", "namedCurve", JsValue::from_str("P-256")),
    };
    set(&import, "name", &JsValue::from_str(name));
    set(&import, param, &value);
    set(&verify, "name", &JsValue::from_str(name));
    match alg {
        IdTokenAlg::Rs256 => {}
        IdTokenAlg::Ps256 => set(&verify, "saltLength", &JsValue::from_f64(32.0)),
        IdTokenAlg::Es256 => set(&verify, "hash", &JsValue::from_str("SHA-256")),
    }
    set(&o, "importParams", &import);
    set(&o, "verifyParams", &verify);
    set(&o, "key", &keys[index]);
    set(&o, "data", &Uint8Array::from(parts.signing_input.as_bytes()));
    set(&o, "signature", &Uint8Array::from(parts.signature.as_slice()));
    Ok(o.into())
}

/// The claims of an ID token's payload.
fn id_token_claims(id_token: &str) -> Result<IdTokenClaims, Error> {
    let payload = decode_jwt_payload(id_token).and_then(|p| parse_json(&p)).filter(JsValue::is_object);
    let payload = payload.ok_or_else(|| Error::new(ErrorKind::InvalidIdToken, "the ID token was refused: its payload is not JSON"))?;
    let seconds = |k: &str| get(&payload, k).as_f64().map(|n| n as i64);
    let aud = get(&payload, "aud");
    let aud = if Array::is_array(&aud) { Array::from(&aud).iter().filter_map(|a| a.as_string()).collect() } else { aud.as_string().into_iter().collect() };
    Ok(IdTokenClaims {
        iss: string_prop(&payload, "iss"),
        sub: string_prop(&payload, "sub"),
        aud,
        azp: string_prop(&payload, "azp"),
        exp: seconds("exp"),
        iat: seconds("iat"),
        nonce: string_prop(&payload, "nonce"),
        ..Default::default()
    })
}

#[wasm_bindgen]
impl RedirectCore {
    /// The verdict of WebCrypto's `verify` and the claims: the session,
    /// signed in (the tokens of `body`, the answer `redirectTokens` took).
    /// The verdict of WebCrypto's `verify` and the ID token's claims; throws
    /// why the login is refused. `ClientCore.redirectSession` then takes the
    /// tokens.
    #[wasm_bindgen(js_name = redirectFinish)]
    pub fn redirect_finish(&self, id_token: &str, verified: bool, nonce: &str, now: f64) -> Result<(), JsValue> {
        signature_verdict(verified)?;
        check_claims(&id_token_claims(id_token)?, &self.issuer, &self.client_id, Nonce::Sent(nonce), now as i64)?;
        Ok(())
    }
}
