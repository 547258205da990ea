//! RS256, PS256, ES256 and EdDSA through WebCrypto (`crypto.subtle`): public
//! keys imported from their JWK once per key and algorithm and cached; the
//! signature checked over the exact signed bytes. JWS ES256 signatures are
//! raw `r || s`, which is the form WebCrypto's ECDSA verify takes, so no DER
//! conversion is needed.

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
    /// Per algorithm: the import and the verify parameters.
    params: Vec<(Alg, Object, Object)>,
    usages: Array,
    /// By issuer (its index in the configuration), then key: a lookup
    /// borrows the key, no copy of its material per request.
    keys: Vec<HashMap<Jwk, CryptoKey>>,
}

impl WebCrypto {
    pub fn new() -> WebCrypto {
        let s = |v: &str| JsValue::from_str(v);
        let sha256 = s("SHA-256");
        let rs = s("RSASSA-PKCS1-v1_5");
        let (pss, ecdsa, ed) = (s("RSA-PSS"), s("ECDSA"), s("Ed25519"));
        let params = vec![
            (Alg::Rs256, object(&[("name", rs.clone()), ("hash", sha256.clone())]), object(&[("name", rs)])),
            // RFC 7518 §3.5: the salt is as long as the hash.
            (Alg::Ps256, object(&[("name", pss.clone()), ("hash", sha256.clone())]), object(&[("name", pss), ("saltLength", JsValue::from(32))])),
            (Alg::Es256, object(&[("name", ecdsa.clone()), ("namedCurve", s("P-256"))]), object(&[("name", ecdsa), ("hash", sha256)])),
            (Alg::EdDsa, object(&[("name", ed.clone())]), object(&[("name", ed)])),
        ];
        WebCrypto { subtle: crate::wasm::global::CRYPTO.with(|c| c.subtle()), params, usages: Array::of1(&s("verify")), keys: Vec::new() }
    }

    /// Whether `jwk` of issuer `issuer` is imported.
    pub fn has(&self, issuer: usize, jwk: &Jwk) -> bool {
        self.keys.get(issuer).is_some_and(|k| k.contains_key(jwk))
    }

    /// `crypto.subtle.importKey(...)`: a promise of the `CryptoKey`, to
    /// [`WebCrypto::remember`] once it settles.
    pub fn import(&self, jwk: &Jwk) -> Result<Promise, JsValue> {
        let (import, _) = self.params_for(jwk.alg())?;
        self.subtle.import_key_with_object("jwk", &jwk_object(jwk), import, false, &self.usages)
    }

    fn params_for(&self, alg: Alg) -> Result<(&Object, &Object), JsValue> {
        let found = self.params.iter().find(|(a, _, _)| *a == alg);
        found.map(|(_, import, verify)| (import, verify)).ok_or_else(|| JsValue::from_str("no WebCrypto algorithm for this alg"))
    }

    pub fn remember(&mut self, issuer: usize, jwk: Jwk, key: CryptoKey) {
        if self.keys.len() <= issuer {
            self.keys.resize_with(issuer + 1, HashMap::new);
        }
        self.keys[issuer].insert(jwk, key);
    }

    /// `crypto.subtle.verify(...)` with the imported key for `jwk`: a
    /// promise of the verdict.
    pub fn verify(&self, issuer: usize, jwk: &Jwk, signature: &[u8], data: &[u8]) -> Result<Promise, JsValue> {
        let key = self.keys.get(issuer).and_then(|k| k.get(jwk)).ok_or_else(|| JsValue::from_str("the key is not imported"))?;
        let (_, params) = self.params_for(jwk.alg())?;
        self.subtle.verify_with_object_and_u8_array_and_u8_array(params, key, signature, data)
    }

    /// Keeps only the keys of `issuer` still in its current set (after a
    /// JWKS refetch); other issuers' keys stay.
    pub fn retain(&mut self, issuer: usize, current: &[Jwk]) {
        if let Some(keys) = self.keys.get_mut(issuer) {
            keys.retain(|jwk, _| current.iter().any(|c| c.same_key(jwk)));
        }
    }
}

fn jwk_object(jwk: &Jwk) -> Object {
    let s = |v: &str| JsValue::from_str(v);
    match &jwk.material {
        KeyMaterial::Rsa { n, e } => object(&[("kty", s("RSA")), ("n", s(n)), ("e", s(e)), ("alg", s(jwk.alg().name())), ("ext", JsValue::TRUE)]),
        KeyMaterial::P256 { x, y } => object(&[("kty", s("EC")), ("crv", s("P-256")), ("x", s(x)), ("y", s(y)), ("ext", JsValue::TRUE)]),
        KeyMaterial::Ed25519 { x } => object(&[("kty", s("OKP")), ("crv", s("Ed25519")), ("x", s(x)), ("ext", JsValue::TRUE)]),
    }
}
