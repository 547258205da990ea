//! The gateway's JWT parser (`gateway::jwt`): size cap, strict base64url,
//! the header rules, duplicate members, HS256 and the claim rules.
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
    self, b64url_decode, check_claims, check_times, verify_hs256, Hs256Key, ParsedJwt, Reason, Rejection,
    MAX_KID_BYTES, MAX_SUB_BYTES, MAX_TOKEN_BYTES,
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
    }
}

fn assert_rejection(r: &Rejection) {
    assert_code(r.reason.code());
    assert_eq!(r.reason.to_string(), r.reason.code());
    assert!(r.kid.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES));
    assert_eq!(r.expired_secs.is_some(), r.reason == Reason::Expired);
}

/// What holds for every token `parse` accepted.
fn check_parsed(token: &str, p: &ParsedJwt<'_>, cfg: &JwtConfig) {
    assert!(cfg.allows(p.alg));
    assert!(p.kid.as_ref().is_none_or(|k| !k.is_empty() && k.len() <= MAX_KID_BYTES));
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert_eq!(p.signing_input, &token[..segments[0].len() + 1 + segments[1].len()]);
    // Strict base64url: the signature re-encodes to exactly what was sent.
    assert_eq!(b64url(&p.signature), segments[2]);
    let len_ok = match p.alg {
        Alg::Hs256 => p.signature.len() == 32,
        Alg::Es256 => p.signature.len() == 64,
        Alg::Rs256 => (256..=1024).contains(&p.signature.len()),
    };
    assert!(len_ok, "signature length {} for {:?}", p.signature.len(), p.alg);
    // The header the parser accepted is a JSON object with unique names.
    let header = b64url_decode(segments[0]).expect("accepted header is base64url");
    let keys = object_keys(&header, Values::Skipped).expect("accepted header is a JSON object");
    assert!(!has_duplicates(&keys));
}

/// What holds for the claims of a token whose signature verified.
fn check_claims_of(p: &ParsedJwt<'_>, payload: &[u8], cfg: &JwtConfig) {
    let strict = object_keys(payload, Values::Built);
    let lenient = object_keys(payload, Values::Skipped);
    match check_claims(p, cfg, NOW_SECS) {
        Ok(c) => {
            let keys = lenient.expect("accepted claims are a JSON object");
            assert!(!has_duplicates(&keys));
            assert!(c.sub.len() <= MAX_SUB_BYTES && is_safe_header_value(&c.sub));
            assert!(check_times(c.exp, c.nbf, NOW_SECS, SKEW).is_ok());
            assert!(c.exp > NOW_SECS - SKEW);
            // Other members are only skipped (`1e400` passes there), so
            // read back just the claims the gateway uses.
            let v: Seen = serde_json::from_slice(payload).expect("accepted claims parse as JSON");
            assert_eq!(v.iss, Some(Value::from(ISSUER)));
            assert_eq!(v.sub, Some(Value::from(c.sub.as_str())));
            let exp = v.exp.and_then(|e| e.as_f64()).expect("exp is a number");
            assert_eq!(exp.floor() as i64, c.exp);
        }
        Err(r) => {
            assert_rejection(&r);
            assert_eq!(r.kid, p.kid);
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

fn run(token: &str, cfg: &JwtConfig, key: &Hs256Key) {
    let parsed = jwt::parse(token, cfg);
    if token.len() > MAX_TOKEN_BYTES {
        assert_eq!(parsed.as_ref().map_err(|r| r.reason).err(), Some(Reason::TokenTooLarge));
    }
    match parsed {
        Err(r) => assert_rejection(&r),
        Ok(p) => {
            check_parsed(token, &p, cfg);
            if p.alg == Alg::Hs256 {
                let expected = hmac_sha256(SECRET.as_bytes(), p.signing_input.as_bytes());
                assert_eq!(verify_hs256(&p, key), p.signature == expected);
                // `parse` leaves the payload alone; the claim check decodes it.
                match b64url_decode(token.split('.').nth(1).unwrap()) {
                    Ok(payload) => check_claims_of(&p, &payload, cfg),
                    Err(_) => {
                        let r = check_claims(&p, cfg, NOW_SECS).expect_err("a payload that is not base64url");
                        assert_eq!(r.reason, Reason::BadBase64);
                    }
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (cfg, key) = (cfg(), Hs256Key::new(&GatewaySecret::new(SECRET)));
    if mode & 1 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            run(token, &cfg, &key);
        }
        return;
    }
    // Header and payload JSON, signed here: the parser's verdict on the
    // header must agree with an independent reading of the same bytes.
    let at = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (header, payload) = (&rest[..at], rest.get(at + 1..).unwrap_or(&[]));
    let input = format!("{}.{}", b64url(header), b64url(payload));
    let token = format!("{input}.{}", b64url(&hmac_sha256(SECRET.as_bytes(), input.as_bytes())));
    run(&token, &cfg, &key);
    let Err(r) = jwt::parse(&token, &cfg) else {
        // A token signed with the secret parses only as HS256 and verifies;
        // one flipped signature bit makes it fail.
        let p = jwt::parse(&token, &cfg).unwrap();
        assert_eq!(p.alg, Alg::Hs256);
        assert!(verify_hs256(&p, &key));
        let mut bad = p.signature.clone();
        bad[usize::from(mode) % 32] ^= 1 << (mode % 8);
        let forged = format!("{input}.{}", b64url(&bad));
        assert!(!verify_hs256(&jwt::parse(&forged, &cfg).unwrap(), &key));
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
