//! The ID token's checks (`client::id_token`, OIDC Core 3.1.3.7): the
//! compact JWS split, the key choice, and the claims.
//!
//! Input: claims JSON, NUL, header JSON, NUL, a key set's `keys` as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::id_token::{
    check_claims, choose_key, split_id_token, IdTokenAlg, IdTokenClaims, IdTokenHeader, JwkInfo, Nonce, ID_TOKEN_LEEWAY_SECS,
    MAX_IAT_AHEAD_SECS,
};
use mesh_sdk::ErrorKind;
use mesh_sdk_fuzz::{b64url, fields, NOW_MS, NOW_SECS};

const ISS: &str = "https://op.example";

fuzz_target!(|data: &[u8]| {
    let Some([claims_json, header_json, keys_json]) = fields::<3>(data) else { return };

    // A token built from the parts splits back into them.
    let sig = [claims_json.len() as u8 | 1; 64];
    let token = format!("{}.{}.{}", b64url(header_json.as_bytes()), b64url(claims_json.as_bytes()), b64url(&sig));
    let parts = split_id_token(&token).unwrap();
    assert_eq!((parts.header_json.as_str(), parts.payload_json.as_str()), (header_json, claims_json));
    assert_eq!(parts.signature, sig);
    assert_eq!(token.strip_prefix(parts.signing_input).and_then(|r| r.strip_prefix('.')), Some(b64url(&sig).as_str()));
    // Any text: a split is three parts, a refusal is invalid_id_token.
    match split_id_token(claims_json) {
        Ok(p) => assert!(claims_json.starts_with(p.signing_input) && claims_json.matches('.').count() >= 2 && !p.signature.is_empty()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidIdToken),
    }

    // The key: only RS256, PS256, ES256; the one key that fits.
    if let (Ok(header), Ok(keys)) = (serde_json::from_str::<IdTokenHeader>(header_json), serde_json::from_str::<Vec<JwkInfo>>(keys_json)) {
        let usable = |k: &JwkInfo, alg: IdTokenAlg| {
            let kty = match alg {
                IdTokenAlg::Es256 => k.kty == "EC" && k.crv.as_deref() == Some("P-256"),
                _ => k.kty == "RSA",
            };
            kty && k.use_.as_deref().is_none_or(|u| u == "sig") && k.alg.as_deref().is_none_or(|a| a == alg.name())
        };
        for len in [64, 256] {
            match choose_key(&header, &keys, len) {
                Ok((alg, i)) => {
                    assert!(header.crit.is_none());
                    assert_eq!(header.alg.as_deref(), Some(alg.name()));
                    assert!(alg != IdTokenAlg::Es256 || len == 64);
                    assert!(usable(&keys[i], alg));
                    match header.kid.as_deref() {
                        Some(kid) => assert_eq!(keys[i].kid.as_deref(), Some(kid)),
                        None => assert_eq!(keys.iter().filter(|k| usable(k, alg)).count(), 1, "several candidates: the attacker would choose"),
                    }
                }
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidIdToken),
            }
        }
    }

    // The claims: accepted exactly when every check of 3.1.3.7 holds.
    if let Ok(claims) = serde_json::from_str::<IdTokenClaims>(claims_json) {
        let but_nonce = claims.iss.as_deref().map(|i| i.trim_end_matches('/')) == Some(ISS)
            && claims.aud.iter().any(|a| a == "app")
            && claims.azp.as_deref().map_or(claims.aud.len() == 1, |a| a == "app")
            && claims.exp.is_some_and(|e| NOW_SECS < e.saturating_add(ID_TOKEN_LEEWAY_SECS))
            && claims.iat.is_some_and(|i| i <= NOW_SECS + MAX_IAT_AHEAD_SECS)
            && claims.sub.as_deref().is_some_and(|s| !s.is_empty());
        // The code flow checks the nonce too; the device grant (none sent) everything else.
        for (nonce, holds) in [(Nonce::Sent("n1"), but_nonce && claims.nonce.as_deref() == Some("n1")), (Nonce::NoneSent, but_nonce)] {
            match check_claims(&claims, ISS, "app", nonce, NOW_MS) {
                Ok(user) => {
                    assert!(holds);
                    assert_eq!(Some(user.sub.as_str()), claims.sub.as_deref());
                    assert_eq!(user.name, claims.name);
                }
                Err(e) => {
                    assert!(!holds);
                    assert_eq!(e.kind(), ErrorKind::InvalidIdToken);
                    assert!(e.to_string().starts_with("the ID token was refused: "));
                }
            }
        }
    }
});
