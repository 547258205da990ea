//! The `jsonwebtoken` [`CryptoProvider`] the gateway installs: HS256 on the
//! `hmac`/`sha2` crates, and for RS256/ES256/PS256/EdDSA the verdict WebCrypto already
//! gave, bound to the exact bytes it checked. No RSA or ECDSA code is linked:
//! every other algorithm, signing and the JWK helpers answer an error.

use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::Sha256;

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
    verifier_factory,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        compute_digest: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
    },
};

/// Installs [`PROVIDER`] as jsonwebtoken's process default, once; true when
/// it is the one installed (false would mean another provider got there
/// first, and nothing may be decoded).
pub fn install() -> bool {
    match PROVIDER.install_default() {
        Ok(()) => true,
        Err(installed) => std::ptr::eq(installed, &PROVIDER),
    }
}

fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let bytes = key.try_get_as_bytes()?;
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256(keyed_hmac(bytes)))),
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::PS256 | Algorithm::EdDSA => {
            Ok(Box::new(Attested { alg: *alg, verified: bytes.to_vec() }))
        }
        _ => Err(ErrorKind::UnsupportedAlgorithm.into()),
    }
}

thread_local! {
    /// The last secret's HMAC state with both padded key blocks hashed: a
    /// gateway has one secret, and each token then clones this state instead
    /// of hashing them again (two of the few SHA-256 blocks a token needs).
    static KEYED: std::cell::RefCell<Option<(Vec<u8>, Hmac<Sha256>)>> = const { std::cell::RefCell::new(None) };
}

fn keyed_hmac(secret: &[u8]) -> Hmac<Sha256> {
    KEYED.with_borrow_mut(|keyed| match keyed {
        Some((s, mac)) if s.as_slice() == secret => mac.clone(),
        _ => {
            // HMAC takes a key of any length (a long one is hashed first).
            let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
            *keyed = Some((secret.to_vec(), mac.clone()));
            mac
        }
    })
}

/// The bytes an attested key holds: the signature's length (so no other
/// split of the same bytes matches), the signature, the signed message.
pub fn attestation(signature: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + signature.len() + message.len());
    out.extend_from_slice(&(signature.len() as u32).to_be_bytes());
    out.extend_from_slice(signature);
    out.extend_from_slice(message);
    out
}

/// HMAC-SHA-256 over the signed bytes, compared in constant time
/// (`verify_slice`).
struct Hs256(Hmac<Sha256>);

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        mac.verify_slice(sig).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

/// A "key" that accepts exactly one signature over exactly one message: the
/// pair WebCrypto verified, as [`attestation`] lays it out (made only by
/// `jwt::VerifiedSignature`). Neither is secret, so a plain compare will do.
struct Attested {
    alg: Algorithm,
    verified: Vec<u8>,
}

impl Verifier<Vec<u8>> for Attested {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let (len, rest) = self.verified.split_at(4.min(self.verified.len()));
        let (s, m) = rest.split_at(sig.len().min(rest.len()));
        if len == (sig.len() as u32).to_be_bytes() && s == sig.as_slice() && m == msg {
            Ok(())
        } else {
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for Attested {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_is_the_installed_provider_and_refuses_what_it_does_not_verify() {
        assert!(install());
        assert!(install(), "installing again is a no-op");
        let key = DecodingKey::from_secret(b"k");
        for alg in [Algorithm::HS384, Algorithm::HS512, Algorithm::RS384, Algorithm::PS384, Algorithm::ES384, Algorithm::RS512] {
            assert!(verifier_factory(&alg, &key).is_err(), "{alg:?}");
        }
        let signer = jsonwebtoken::EncodingKey::from_secret(b"k");
        assert!((PROVIDER.signer_factory)(&Algorithm::HS256, &signer).is_err(), "the gateway never signs a JWT");
        assert!((PROVIDER.key_utils.compute_digest)(b"x", jsonwebtoken::jwk::ThumbprintHash::SHA256).is_err());
    }

    #[test]
    fn the_keyed_hmac_state_follows_the_secret() {
        let mac = |secret: &[u8]| {
            let mut m = keyed_hmac(secret);
            m.update(b"msg");
            m.finalize().into_bytes()
        };
        let fresh = |secret: &[u8]| {
            let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            m.update(b"msg");
            m.finalize().into_bytes()
        };
        assert_eq!(mac(b"one"), fresh(b"one"));
        assert_eq!(mac(b"one"), fresh(b"one"), "from the kept state");
        assert_eq!(mac(b"two"), fresh(b"two"), "another secret is keyed anew");
    }

    #[test]
    fn an_attestation_accepts_only_its_own_signature_and_message() {
        let key = DecodingKey::from_rsa_der(&attestation(b"SIG", b"message"));
        let v = verifier_factory(&Algorithm::RS256, &key).unwrap();
        assert!(v.verify(b"message", &b"SIG".to_vec()).is_ok());
        assert!(v.verify(b"messagf", &b"SIG".to_vec()).is_err());
        assert!(v.verify(b"message", &b"SIH".to_vec()).is_err());
        // The same bytes split elsewhere are another pair.
        assert!(v.verify(b"essage", &b"SIGm".to_vec()).is_err());
        assert!(v.verify(b"", &b"SIGmessage".to_vec()).is_err());
    }
}
