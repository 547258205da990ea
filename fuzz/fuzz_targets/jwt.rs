//! The gateway's JWT checks (`gateway::jwt`): the size cap and header
//! pre-check, jsonwebtoken's decode and Validation through the gateway's
//! CryptoProvider (HS256, and WebCrypto's verdict for ES256/RS256), and the
//! claim post-check.
//!
//! Input: a mode byte, then either a token as text (mode even), or header
//! JSON, NUL, payload JSON (mode odd), which this target signs with the
//! configured HS256 secret so the claim checks behind the signature are
//! reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::{Alg, GatewaySecret, JwtConfig};
use mesh_sdk::gateway::headers::is_safe_header_value;
use mesh_sdk::gateway::jwt::{
    self, b64url_decode, check_times, JwtRules, Parsed, ParsedJwt, Reason, Rejection, Verified, MAX_KID_BYTES,
    MAX_SUB_BYTES, MAX_TOKEN_BYTES,
};
use mesh_sdk_fuzz::{assert_code, b64url, has_duplicates, hmac_sha256, object_keys, Values, NOW_SECS};
use serde_json::Value;

const SECRET: &str = "fuzz-hs256-secret-fuzz-hs256-secret!";
const ISSUER: &str = "https://issuer.example";
const SKEW: i64 = 30;

#[derive(serde::Deserialize)]
struct Seen {
    iss: Option<Value>,
    sub: Option<Value>,
    exp: Option<Value>,
}

fn cfg() -> JwtConfig {
    JwtConfig {
        issuer: ISSUER.into(),
        audiences: vec!["api".into(), "other".into()],
        algorithms: vec![Alg::Rs256, Alg::Es256, Alg::Hs256],
        jwks: None,
        hs256_secret: Some(GatewaySecret::new(SECRET)),
        clock_skew_secs: SKEW,
        claim_paths: vec!["org.id".into()],
    }
}

fn assert_rejection(r: &Rejection) {
    assert_code(r.reason.code());
    assert_eq!(r.reason.to_string(), r.reason.code());
    assert!(r.kid.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES));
    assert_eq!(r.expired_secs.is_some(), r.reason == Reason::Expired);
}

/// What holds for every token the pre-check accepted: a well-formed header.
fn check_header(token: &str) {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    let header = b64url_decode(segments[0]).expect("accepted header is base64url");
    let keys = object_keys(&header, Values::Skipped).expect("accepted header is a JSON object");
    assert!(!has_duplicates(&keys));
}

/// What holds for an asymmetric token sent on to WebCrypto.
fn check_signed(token: &str, p: &ParsedJwt<'_>) {
    assert_ne!(p.alg, Alg::Hs256);
    assert!(p.kid.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES));
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(p.signing_input, &token[..segments[0].len() + 1 + segments[1].len()]);
    // Strict base64url: the signature re-encodes to exactly what was sent.
    assert_eq!(b64url(&p.signature), segments[2]);
    let len_ok = match p.alg {
        Alg::Es256 => p.signature.len() == 64,
        _ => (256..=1024).contains(&p.signature.len()),
    };
    assert!(len_ok, "signature length {} for {:?}", p.signature.len(), p.alg);
}

/// What holds for the outcome of a token whose signature verified.
fn check_outcome(token: &str, outcome: &Result<Verified, Rejection>) {
    // A header jsonwebtoken cannot read (a member of the wrong type, a lone
    // surrogate in a string the pre-check only skipped) is refused first.
    if jsonwebtoken::decode_header(token).is_err() {
        let r = outcome.as_ref().expect_err("claims accepted under a header jsonwebtoken refuses");
        return assert!(matches!(r.reason, Reason::Malformed | Reason::BadJson), "{r:?}");
    }
    let payload = b64url_decode(token.split('.').nth(1).unwrap());
    let payload = match (&payload, outcome) {
        (Ok(p), _) => p,
        (Err(_), Err(r)) => return assert!(matches!(r.reason, Reason::BadBase64 | Reason::Malformed), "{r:?}"),
        (Err(_), Ok(_)) => panic!("claims accepted from a payload that is not base64url"),
    };
    let strict = object_keys(payload, Values::Built);
    let lenient = object_keys(payload, Values::Skipped);
    match outcome {
        Ok(Verified { claims: c, kid }) => {
            assert!(kid.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES));
            let keys = lenient.expect("accepted claims are a JSON object");
            assert!(!has_duplicates(&keys));
            assert!(c.sub.len() <= MAX_SUB_BYTES && is_safe_header_value(&c.sub));
            assert!(check_times(c.exp, c.nbf, NOW_SECS, SKEW).is_ok());
            assert!(c.exp > NOW_SECS - SKEW);
            // Other members are only skipped (`1e400` passes there), so
            // read back just the claims the gateway uses.
            let v: Seen = serde_json::from_slice(payload).expect("accepted claims parse as JSON");
            assert_eq!(v.iss, Some(Value::from(ISSUER)));
            assert_eq!(v.sub, Some(Value::from(&*c.sub)));
            let exp = v.exp.and_then(|e| e.as_f64()).expect("exp is a number");
            assert_eq!(exp.floor() as i64, c.exp);
        }
        // A header member of the wrong type is refused before the claims.
        Err(r) if r.reason == Reason::Malformed => assert_rejection(r),
        Err(r) => {
            assert_rejection(r);
            match &strict {
                // A valid object: duplicates are named as such, and nothing
                // well-formed is called bad JSON.
                Some(keys) if has_duplicates(keys) => assert_eq!(r.reason, Reason::DuplicateMember),
                Some(_) => assert_ne!(r.reason, Reason::BadJson),
                None => {}
            }
            if lenient.is_none() {
                assert!(matches!(r.reason, Reason::BadJson | Reason::DuplicateMember), "{r:?}");
            }
        }
    }
}

/// Runs `token` through the pipeline; the HS256 outcome, if it got there.
fn run(token: &str, rules: &JwtRules) -> Option<Result<Verified, Rejection>> {
    let parsed = jwt::parse(token, rules);
    if token.len() > MAX_TOKEN_BYTES {
        assert_eq!(parsed.as_ref().map_err(|r| r.reason).err(), Some(Reason::TokenTooLarge));
    }
    match parsed {
        Err(r) => {
            assert_rejection(&r);
            None
        }
        Ok(Parsed::Hs256 { kid }) => {
            check_header(token);
            assert!(kid.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES));
            let outcome = jwt::decode_hs256(token, kid, rules, NOW_SECS);
            let (input, signature) = token.rsplit_once('.').unwrap();
            let genuine = b64url_decode(signature).is_ok_and(|s| s == hmac_sha256(SECRET.as_bytes(), input.as_bytes()));
            match &outcome {
                _ if genuine => check_outcome(token, &outcome),
                Ok(_) => panic!("a forged HS256 signature verified"),
                Err(r) => assert_rejection(r),
            }
            Some(outcome)
        }
        Ok(Parsed::Signed(p)) => {
            check_header(token);
            check_signed(token, &p);
            let kid = p.kid.clone();
            let refused = p.verdict(false).err().expect("no proof without a verdict of true");
            assert_eq!((refused.reason, refused.kid), (Reason::BadSignature, kid));
            let Ok(Parsed::Signed(p)) = jwt::parse(token, rules) else { panic!("parse is deterministic") };
            let outcome = jwt::attested_claims(p.verdict(true).unwrap(), rules, NOW_SECS);
            check_outcome(token, &outcome);
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let rules = JwtRules::new(&cfg());
    if mode & 1 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            run(token, &rules);
        }
        return;
    }
    // Header and payload JSON, signed here: the pre-check's verdict on the
    // header must agree with an independent reading of the same bytes.
    let at = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (header, payload) = (&rest[..at], rest.get(at + 1..).unwrap_or(&[]));
    let input = format!("{}.{}", b64url(header), b64url(payload));
    let mac = hmac_sha256(SECRET.as_bytes(), input.as_bytes());
    let token = format!("{input}.{}", b64url(&mac));
    let outcome = run(&token, &rules);
    let Err(r) = jwt::parse(&token, &rules) else {
        // One flipped signature bit: refused, and for the signature unless
        // the header was refused first.
        let mut bad = mac.to_vec();
        bad[usize::from(mode) % 32] ^= 1 << (mode % 8);
        let forged = format!("{input}.{}", b64url(&bad));
        if let Some(outcome) = outcome {
            let Ok(Parsed::Hs256 { kid }) = jwt::parse(&forged, &rules) else { panic!("the header is the same") };
            let r = jwt::decode_hs256(&forged, kid, &rules, NOW_SECS).expect_err("a forged signature");
            // jsonwebtoken reads the header before the signature: a header
            // it refuses is refused the same way, signed or forged.
            let header_refused = matches!(&outcome, Err(g) if g.reason == r.reason);
            assert!(r.reason == Reason::BadSignature || header_refused, "{r:?} after {outcome:?}");
        }
        return;
    };
    if token.len() > MAX_TOKEN_BYTES || header.is_empty() || payload.is_empty() {
        return;
    }
    match object_keys(header, Values::Built) {
        Some(keys) if has_duplicates(&keys) => assert_eq!(r.reason, Reason::DuplicateMember),
        Some(_) => assert!(!matches!(r.reason, Reason::BadJson | Reason::DuplicateMember | Reason::BadBase64), "{r:?}"),
        None => {}
    }
    if object_keys(header, Values::Skipped).is_none() {
        assert!(matches!(r.reason, Reason::BadJson | Reason::DuplicateMember), "{r:?}");
    }
});
