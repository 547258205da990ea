//! JWKS and discovery documents (`gateway::jwks`): `parse_jwks`, and the
//! cache fed a fetched body after a good set (the old keys must survive a
//! bad body) or a discovery document.
//!
//! Input: a mode byte, then the body: a key set (mode even) or a discovery
//! document (mode odd).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::{Alg, JwksSource};
use mesh_sdk::gateway::jwks::{parse_jwks, FetchStep, Jwk, JwksCache, JwksPolicy, KeyLookup, KeyMaterial, MAX_KEYS};
use mesh_sdk::gateway::jwt::{b64url_decode, MAX_KID_BYTES};
use mesh_sdk_fuzz::{b64url, NOW_SECS};

const ISSUER: &str = "https://issuer.example";

fn check_key(k: &Jwk) {
    assert!(k.kid.as_ref().is_none_or(|kid| !kid.is_empty() && kid.len() <= MAX_KID_BYTES));
    let bytes = |s: &str| b64url_decode(s).expect("kept key material is strict base64url");
    match &k.material {
        KeyMaterial::Rsa { n, e } => {
            assert!((256..=1024).contains(&bytes(n).len()));
            assert!((1..=8).contains(&bytes(e).len()));
            assert!(k.fits(Alg::Rs256) || k.fits(Alg::Ps256));
            assert!(!k.fits(Alg::Es256) && !k.fits(Alg::EdDsa) && !k.fits(Alg::Hs256));
        }
        KeyMaterial::P256 { x, y } => {
            assert!(bytes(x).len() == 32 && bytes(y).len() == 32);
            assert!(k.fits(Alg::Es256) && !k.fits(Alg::Rs256) && !k.fits(Alg::Ps256) && !k.fits(Alg::EdDsa) && !k.fits(Alg::Hs256));
        }
        KeyMaterial::Ed25519 { x } => {
            assert!(bytes(x).len() == 32);
            assert!(k.fits(Alg::EdDsa) && !k.fits(Alg::Es256) && !k.fits(Alg::Rs256) && !k.fits(Alg::Ps256) && !k.fits(Alg::Hs256));
        }
    }
    // A key that names its algorithm fits that one only.
    if let Some(alg) = k.alg {
        assert!(k.fits(alg) && [Alg::Rs256, Alg::Ps256, Alg::Es256, Alg::EdDsa].iter().filter(|a| k.fits(**a)).count() == 1);
    }
}

/// A valid set the cache holds before the fuzzed body arrives.
fn good_set() -> String {
    let n = b64url(&[0xc5; 256]);
    let (x, y) = (b64url(&[1; 32]), b64url(&[2; 32]));
    format!(
        r#"{{"keys":[{{"kty":"RSA","kid":"r1","n":"{n}","e":"AQAB"}},{{"kty":"EC","crv":"P-256","kid":"e1","x":"{x}","y":"{y}"}}]}}"#
    )
}

fn key_set(body: &[u8]) {
    let parsed = parse_jwks(body);
    if let Ok(keys) = &parsed {
        assert!(!keys.is_empty() && keys.len() <= MAX_KEYS);
        for (i, k) in keys.iter().enumerate() {
            check_key(k);
            assert!(k.kid.is_none() || keys[..i].iter().all(|o| o.kid != k.kid), "one kid, one key");
        }
    }
    let mut cache = JwksCache::new(&JwksSource::Url("https://issuer.example/jwks".into()), ISSUER, JwksPolicy::default());
    let _ = cache.begin_fetch(NOW_SECS);
    cache.on_jwks(good_set().as_bytes(), NOW_SECS).unwrap();
    let old = cache.keys().to_vec();
    let later = NOW_SECS + 1;
    let _ = cache.begin_fetch(later);
    match (cache.on_jwks(body, later), parsed) {
        (Ok(gone), Ok(keys)) => {
            assert_eq!(cache.keys(), &keys[..]);
            // Exactly the kids whose key left or changed are reported gone.
            for o in &old {
                let kid = o.kid.clone().unwrap();
                assert_eq!(gone.contains(&kid), !keys.contains(o), "{kid}");
            }
            for k in &keys {
                if let Some(kid) = &k.kid {
                    assert_eq!(cache.lookup(Some(kid), k.alg(), later), KeyLookup::Key(k));
                }
            }
        }
        (Err(e), Err(e2)) => {
            assert_eq!(e, e2);
            assert_eq!(cache.keys(), &old[..], "a bad body keeps the old keys");
            assert!(matches!(cache.lookup(Some("r1"), Alg::Rs256, later), KeyLookup::Key(_)));
        }
        (a, b) => panic!("the cache and parse_jwks disagree: {a:?} / {b:?}"),
    }
}

fn discovery(body: &[u8]) {
    let source = JwksSource::Discovery(format!("{ISSUER}/.well-known/openid-configuration"));
    let mut cache = JwksCache::new(&source, ISSUER, JwksPolicy::default());
    assert!(matches!(cache.begin_fetch(NOW_SECS), FetchStep::Discovery(_)));
    match cache.on_discovery(body, NOW_SECS) {
        Ok(uri) => {
            assert!((uri.starts_with("https://") || uri.starts_with("http://")) && uri.len() <= 2048);
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(v["issuer"], ISSUER);
            assert_eq!(v["jwks_uri"], uri.as_str());
            assert_eq!(cache.begin_fetch(NOW_SECS + 1), FetchStep::Jwks(uri));
        }
        Err(_) => {
            // A failed discovery is a failed fetch: no key, and within the
            // cooldown the gateway answers 503 rather than refetching.
            assert_eq!(cache.lookup(None, Alg::Rs256, NOW_SECS + 1), KeyLookup::Unavailable);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    if mode & 1 == 0 { key_set(body) } else { discovery(body) }
});
