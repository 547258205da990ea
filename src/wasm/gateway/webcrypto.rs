//! RS256 and ES256 through WebCrypto (`crypto.subtle`): public keys imported
//! from their JWK once per key and cached; the signature checked over the
//! exact signed bytes. JWS ES256 signatures are raw `r || s`, which is the
//! form WebCrypto's ECDSA verify takes, so no DER conversion is needed.

use std::collections::HashMap;

use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::gateway::config::Alg;
use crate::gateway::jwks::{Jwk, KeyMaterial};

use super::js::object;

/// The algorithm parameter objects, built once, and the imported keys.
pub struct WebCrypto {
    subtle: SubtleCrypto,
    rs_import: Object,
    es_import: Object,
    rs_verify: Object,
    es_verify: Object,
    usages: Array,
    keys: HashMap<Jwk, CryptoKey>,
}

/// What one verification needs, cloned out so no borrow spans an await.
#[derive(Clone)]
pub struct VerifyJob {
    subtle: SubtleCrypto,
    import_params: Object,
    verify_params: Object,
    usages: Array,
    cached: Option<CryptoKey>,
}

impl WebCrypto {
    pub fn new() -> WebCrypto {
        let s = |v: &str| JsValue::from_str(v);
        let sha256 = s("SHA-256");
        WebCrypto {
            subtle: crate::wasm::global::CRYPTO.with(|c| c.subtle()),
            rs_import: object(&[("name", s("RSASSA-PKCS1-v1_5")), ("hash", sha256.clone())]),
            es_import: object(&[("name", s("ECDSA")), ("namedCurve", s("P-256"))]),
            rs_verify: object(&[("name", s("RSASSA-PKCS1-v1_5"))]),
            es_verify: object(&[("name", s("ECDSA")), ("hash", sha256)]),
            usages: Array::of1(&s("verify")),
            keys: HashMap::new(),
        }
    }

    pub fn job(&self, jwk: &Jwk) -> VerifyJob {
        let (import_params, verify_params) = match jwk.alg() {
            Alg::Es256 => (&self.es_import, &self.es_verify),
            _ => (&self.rs_import, &self.rs_verify),
        };
        VerifyJob {
            subtle: self.subtle.clone(),
            import_params: import_params.clone(),
            verify_params: verify_params.clone(),
            usages: self.usages.clone(),
            cached: self.keys.get(jwk).cloned(),
        }
    }

    pub fn remember(&mut self, jwk: Jwk, key: CryptoKey) {
        self.keys.insert(jwk, key);
    }

    /// Keeps only the keys still in the current set (after a JWKS refetch).
    pub fn retain(&mut self, current: &[Jwk]) {
        self.keys.retain(|jwk, _| current.contains(jwk));
    }
}

fn jwk_object(jwk: &Jwk) -> Object {
    let s = |v: &str| JsValue::from_str(v);
    match &jwk.material {
        KeyMaterial::Rsa { n, e } => object(&[("kty", s("RSA")), ("n", s(n)), ("e", s(e)), ("alg", s("RS256")), ("ext", JsValue::TRUE)]),
        KeyMaterial::P256 { x, y } => object(&[("kty", s("EC")), ("crv", s("P-256")), ("x", s(x)), ("y", s(y)), ("ext", JsValue::TRUE)]),
    }
}

impl VerifyJob {
    /// The imported key: from the cache, or imported now (`Ok((key, true))`
    /// when new, so the caller caches it).
    pub async fn key(&self, jwk: &Jwk) -> Result<(CryptoKey, bool), JsValue> {
        if let Some(k) = &self.cached {
            return Ok((k.clone(), false));
        }
        let promise = self.subtle.import_key_with_object("jwk", &jwk_object(jwk), &self.import_params, false, &self.usages)?;
        Ok((JsFuture::from(promise).await?.unchecked_into(), true))
    }

    /// The key already imported, if any.
    pub fn cached(&self) -> Option<&CryptoKey> {
        self.cached.as_ref()
    }

    /// `crypto.subtle.verify(...)`: a promise of the verdict.
    pub fn start_verify(&self, key: &CryptoKey, signature: &[u8], data: &[u8]) -> Result<Promise, JsValue> {
        self.subtle.verify_with_object_and_u8_array_and_u8_array(&self.verify_params, key, signature, data)
    }

    pub async fn verify(&self, key: &CryptoKey, signature: &[u8], data: &[u8]) -> Result<bool, JsValue> {
        Ok(JsFuture::from(self.start_verify(key, signature, data)?).await?.is_truthy())
    }
}
