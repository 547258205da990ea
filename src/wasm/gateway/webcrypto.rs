//! RS256 and ES256 through WebCrypto (`crypto.subtle`): public keys imported
//! from their JWK once per key and cached; the signature checked over the
//! exact signed bytes. JWS ES256 signatures are raw `r || s`, which is the
//! form WebCrypto's ECDSA verify takes, so no DER conversion is needed.

use std::collections::HashMap;

use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
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

    /// Whether `jwk` is imported.
    pub fn has(&self, jwk: &Jwk) -> bool {
        self.keys.contains_key(jwk)
    }

    /// `crypto.subtle.importKey(...)`: a promise of the `CryptoKey`, to
    /// [`WebCrypto::remember`] once it settles.
    pub fn import(&self, jwk: &Jwk) -> Result<Promise, JsValue> {
        let params = if jwk.alg() == Alg::Es256 { &self.es_import } else { &self.rs_import };
        self.subtle.import_key_with_object("jwk", &jwk_object(jwk), params, false, &self.usages)
    }

    pub fn remember(&mut self, jwk: Jwk, key: CryptoKey) {
        self.keys.insert(jwk, key);
    }

    /// `crypto.subtle.verify(...)` with the imported key for `jwk`: a
    /// promise of the verdict.
    pub fn verify(&self, jwk: &Jwk, signature: &[u8], data: &[u8]) -> Result<Promise, JsValue> {
        let key = self.keys.get(jwk).ok_or_else(|| JsValue::from_str("the key is not imported"))?;
        let params = if jwk.alg() == Alg::Es256 { &self.es_verify } else { &self.rs_verify };
        self.subtle.verify_with_object_and_u8_array_and_u8_array(params, key, signature, data)
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
