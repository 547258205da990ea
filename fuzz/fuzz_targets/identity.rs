//! The signed identity an origin checks (`gateway::identity::verify`), and
//! the hex it is written in.
//!
//! Input: eight bytes of timestamp, eight of clock offset, then fields
//! separated by NUL: method, path, user id, auth method, API-key id,
//! timestamp header, signature header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::GatewaySecret;
use mesh_sdk::gateway::headers::{AuthMethod, Identity};
use mesh_sdk::gateway::identity::{canonical_string, hex, sign, unhex, verify, IdentityError, ReceivedIdentity, DEFAULT_MAX_AGE_SECS};
use mesh_sdk_fuzz::{assert_code, fields, hmac_sha256, NOW_SECS};

const SECRET: &str = "identity-secret-identity-secret-1234";

fuzz_target!(|data: &[u8]| {
    let Some((ts, rest)) = data.split_first_chunk::<8>() else { return };
    let Some((offset, rest)) = rest.split_first_chunk::<8>() else { return };
    let Some([method, path, user_id, auth_method, api_key_id, ts_header, sig_header]) = fields::<7>(rest) else { return };
    let secret = GatewaySecret::new(SECRET);

    // Hex: one spelling per value.
    if let Some(bytes) = unhex(sig_header) {
        assert_eq!(hex(&bytes), sig_header);
    }
    assert_eq!(unhex(&hex(rest)).as_deref(), Some(rest));

    // Whatever arrives, the answer is a coded verdict; a pass means the
    // signature is the HMAC of exactly these fields.
    let got = ReceivedIdentity {
        user_id: Some(user_id),
        auth_method: Some(auth_method),
        api_key_id: Some(api_key_id),
        timestamp: Some(ts_header),
        signature: Some(sig_header),
    };
    match verify(&secret, method, path, &got, NOW_SECS, DEFAULT_MAX_AGE_SECS) {
        Ok((identity, t)) => {
            let expected = hmac_sha256(SECRET.as_bytes(), canonical_string(method, path, &identity, t).as_bytes());
            assert_eq!(unhex(sig_header).as_deref(), Some(&expected[..]));
        }
        Err(e) => assert_code(e.code()),
    }

    // Signed by the gateway, then checked by the origin `offset` seconds later.
    let auth = AuthMethod::parse(auth_method).unwrap_or(AuthMethod::Jwt);
    let identity = Identity {
        user_id: user_id.to_string(),
        method: auth,
        api_key_id: (!api_key_id.is_empty()).then(|| api_key_id.to_string()),
    };
    let ts = i64::from_le_bytes(*ts);
    let now = ts.wrapping_add(i64::from_le_bytes(*offset) % 120);
    let sig = sign(&secret, method, path, &identity, ts);
    let ts_text = ts.to_string();
    let sent = ReceivedIdentity {
        user_id: Some(user_id),
        auth_method: Some(auth.name()),
        api_key_id: Some(api_key_id),
        timestamp: Some(&ts_text),
        signature: Some(&sig),
    };
    let verdict = verify(&secret, method, path, &sent, now, DEFAULT_MAX_AGE_SECS);
    match i128::from(now) - i128::from(ts) {
        d if d.abs() <= i128::from(DEFAULT_MAX_AGE_SECS) => assert_eq!(verdict, Ok((identity, ts))),
        _ => assert_eq!(verdict, Err(IdentityError::Stale)),
    }
});
