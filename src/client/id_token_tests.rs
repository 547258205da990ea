use super::*;
use crate::client::redirect::base64url_encode;

const T0: i64 = 1_700_000_000_000;
const NOW: i64 = T0 / 1000;
const ISS: &str = "http://127.0.0.1:9400";

fn claims() -> IdTokenClaims {
    serde_json::from_str(&format!(
        r#"{{"iss":"{ISS}","sub":"u1","aud":"app","exp":{},"iat":{NOW},"nonce":"n1","name":"Ada","email":"ada@example.com"}}"#,
        NOW + 300
    ))
    .unwrap()
}

fn refused(c: &IdTokenClaims) -> String {
    let e = check_claims(c, ISS, "app", Nonce::Sent("n1"), T0).unwrap_err();
    assert_eq!(e.code(), "invalid_id_token");
    e.message().to_owned()
}

#[test]
fn a_valid_token_names_its_user() {
    let user = check_claims(&claims(), ISS, "app", Nonce::Sent("n1"), T0).unwrap();
    assert_eq!(user, User { sub: "u1".into(), name: Some("Ada".into()), email: Some("ada@example.com".into()), picture: None });
    let c: IdTokenClaims = serde_json::from_str(r#"{"aud":["app","api"],"azp":"app","exp":"5"}"#).unwrap();
    assert_eq!((c.aud, c.azp.as_deref(), c.exp), (vec!["app".to_owned(), "api".to_owned()], Some("app"), Some(5)));
}

#[test]
fn each_claim_check_can_refuse() {
    assert!(refused(&IdTokenClaims { iss: Some("http://evil".into()), ..claims() }).contains("iss"));
    assert!(refused(&IdTokenClaims { iss: None, ..claims() }).contains("iss"));
    assert!(refused(&IdTokenClaims { aud: vec!["other".into()], ..claims() }).contains("aud"));
    assert!(refused(&IdTokenClaims { aud: vec![], ..claims() }).contains("aud"));
    assert!(refused(&IdTokenClaims { aud: vec!["app".into(), "other".into()], ..claims() }).contains("azp"), "several audiences need azp");
    assert!(refused(&IdTokenClaims { aud: vec!["app".into(), "other".into()], azp: Some("other".into()), ..claims() }).contains("azp"));
    assert!(check_claims(&IdTokenClaims { aud: vec!["app".into(), "api".into()], azp: Some("app".into()), ..claims() }, ISS, "app", Nonce::Sent("n1"), T0).is_ok());
    assert!(refused(&IdTokenClaims { exp: Some(NOW - ID_TOKEN_LEEWAY_SECS), ..claims() }).contains("exp"));
    assert!(check_claims(&IdTokenClaims { exp: Some(NOW - ID_TOKEN_LEEWAY_SECS + 1), ..claims() }, ISS, "app", Nonce::Sent("n1"), T0).is_ok(), "within leeway");
    assert!(refused(&IdTokenClaims { exp: None, ..claims() }).contains("exp"));
    assert!(refused(&IdTokenClaims { iat: Some(NOW + MAX_IAT_AHEAD_SECS + 1), ..claims() }).contains("iat"));
    assert!(refused(&IdTokenClaims { iat: None, ..claims() }).contains("iat"));
    assert!(refused(&IdTokenClaims { nonce: Some("n2".into()), ..claims() }).contains("nonce"));
    assert!(refused(&IdTokenClaims { nonce: None, ..claims() }).contains("nonce"));
    assert!(check_claims(&IdTokenClaims { nonce: Some(String::new()), ..claims() }, ISS, "app", Nonce::Sent(""), T0).is_err(), "an empty nonce never matches");
    assert!(refused(&IdTokenClaims { sub: Some(String::new()), ..claims() }).contains("sub"));
}

fn header(json: &str) -> IdTokenHeader {
    serde_json::from_str(json).unwrap()
}

fn keys() -> Vec<JwkInfo> {
    serde_json::from_str(
        r#"[{"kty":"RSA","kid":"r1","use":"sig"},{"kty":"RSA","kid":"r2","alg":"RS256"},{"kty":"EC","crv":"P-256","kid":"e1"},
            {"kty":"RSA","kid":"enc","use":"enc"},{"kty":"oct","kid":"h1"},{"kty":"EC","crv":"P-384","kid":"e384"}]"#,
    )
    .unwrap()
}

#[test]
fn the_key_is_chosen_by_kid_alg_kty_and_use() {
    let k = keys();
    assert_eq!(choose_key(&header(r#"{"alg":"RS256","kid":"r2"}"#), &k, 256).unwrap(), (IdTokenAlg::Rs256, 1));
    assert_eq!(choose_key(&header(r#"{"alg":"PS256","kid":"r1"}"#), &k, 256).unwrap(), (IdTokenAlg::Ps256, 0));
    assert_eq!(choose_key(&header(r#"{"alg":"ES256","kid":"e1"}"#), &k, 64).unwrap(), (IdTokenAlg::Es256, 2));
    assert_eq!(choose_key(&header(r#"{"alg":"ES256"}"#), &k, 64).unwrap(), (IdTokenAlg::Es256, 2), "the only fitting key");
    let refusals = [
        (r#"{"alg":"none"}"#, 0),
        (r#"{"alg":"HS256","kid":"h1"}"#, 256),
        (r#"{"kid":"r1"}"#, 256),
        (r#"{"alg":"RS256","kid":"missing"}"#, 256),
        (r#"{"alg":"PS256","kid":"r2"}"#, 256), // r2 is for RS256 only
        (r#"{"alg":"RS256","kid":"enc"}"#, 256),
        (r#"{"alg":"RS256","kid":"e1"}"#, 256),
        (r#"{"alg":"ES256","kid":"e384"}"#, 64),
        (r#"{"alg":"ES256","kid":"e1"}"#, 70),
        (r#"{"alg":"RS256"}"#, 256), // two RSA keys, no kid: ambiguous
        (r#"{"alg":"RS256","kid":"r1","crit":["b64"]}"#, 256),
    ];
    for (h, len) in refusals {
        assert_eq!(choose_key(&header(h), &k, len).unwrap_err().code(), "invalid_id_token", "{h}");
    }
    assert_eq!(signature_verdict(true), Ok(()));
    assert_eq!(signature_verdict(false).unwrap_err().code(), "invalid_id_token");
}

#[test]
fn the_token_is_split_into_its_three_parts() {
    let token = format!("{}.{}.{}", base64url_encode(br#"{"alg":"RS256"}"#), base64url_encode(br#"{"sub":"u"}"#), base64url_encode(&[1, 2, 3]));
    let parts = split_id_token(&token).unwrap();
    assert_eq!((parts.header_json.as_str(), parts.payload_json.as_str()), (r#"{"alg":"RS256"}"#, r#"{"sub":"u"}"#));
    assert_eq!(parts.signing_input, token.rsplit_once('.').unwrap().0);
    assert_eq!(parts.signature, vec![1, 2, 3]);
    let unsigned = format!("{}.{}.", base64url_encode(br#"{"alg":"none"}"#), base64url_encode(b"{}"));
    for bad in ["", "a.b", "a.b.c.d", "!!.e30.AQ", unsigned.as_str()] {
        assert_eq!(split_id_token(bad).unwrap_err().code(), "invalid_id_token", "{bad}");
    }
}

#[test]
fn the_device_grant_checks_every_claim_but_the_nonce() {
    let device = |c: &IdTokenClaims| check_claims(c, ISS, "app", Nonce::NoneSent, T0);
    assert_eq!(device(&IdTokenClaims { nonce: None, ..claims() }).unwrap().sub, "u1");
    for bad in [
        IdTokenClaims { iss: Some("http://evil".into()), nonce: None, ..claims() },
        IdTokenClaims { aud: vec!["other".into()], nonce: None, ..claims() },
        IdTokenClaims { exp: Some(NOW - ID_TOKEN_LEEWAY_SECS - 1), nonce: None, ..claims() },
        IdTokenClaims { sub: None, nonce: None, ..claims() },
    ] {
        assert!(device(&bad).is_err(), "{bad:?}");
    }
    assert!(check_claims(&IdTokenClaims { nonce: None, ..claims() }, ISS, "app", Nonce::Sent("n1"), T0).is_err(), "the code flow still needs its nonce");
}
