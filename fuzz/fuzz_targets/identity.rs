//! The signed identity an origin checks (`gateway::identity::verify`), and
//! the hex it is written in.
//!
//! Input: eight bytes of timestamp, eight of clock offset, then fields
//! separated by NUL: method, path, query, signed-header list, user id, auth
//! method, API-key id, timestamp header, signature header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::GatewaySecret;
use mesh_sdk::gateway::headers::{identity_headers, AuthMethod, Identity};
use mesh_sdk::gateway::identity::{canonical_message, hex, sign, unhex, verify, IdentityError, Signed, DEFAULT_MAX_AGE_SECS};
use mesh_sdk_fuzz::{assert_code, fields, hmac_sha256, NOW_SECS};

const SECRET: &str = "identity-secret-identity-secret-1234";

fuzz_target!(|data: &[u8]| {
    let Some((ts, rest)) = data.split_first_chunk::<8>() else { return };
    let Some((offset, rest)) = rest.split_first_chunk::<8>() else { return };
    let Some([method, path, query, list, user_id, auth_method, api_key_id, ts_header, sig_header]) = fields::<9>(rest) else {
        return;
    };
    let secret = GatewaySecret::new(SECRET);

    // Hex: one spelling per value.
    if let Some(bytes) = unhex(sig_header) {
        assert_eq!(hex(&bytes), sig_header);
    }
    assert_eq!(unhex(&hex(rest)).as_deref(), Some(rest));

    // Whatever arrives, the answer is a coded verdict; a pass means the
    // signature is the HMAC of exactly the listed headers' values.
    let sent = [
        ("x-mesh-identity-headers", list),
        ("x-user-id", user_id),
        ("x-auth-method", auth_method),
        ("x-api-key-id", api_key_id),
        ("x-mesh-identity-timestamp", ts_header),
        ("x-mesh-identity-signature", sig_header),
    ];
    let header = |name: &str| sent.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    match verify(&secret, (method, path, query), header, NOW_SECS, DEFAULT_MAX_AGE_SECS) {
        Ok(v) => {
            let pairs: Vec<(&str, &str)> = v.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let signed = Signed { method, path, query, headers: &pairs, timestamp: v.timestamp };
            let expected = hmac_sha256(SECRET.as_bytes(), &canonical_message(&signed));
            assert_eq!(unhex(sig_header).as_deref(), Some(&expected[..]));
            assert_eq!(&*v.identity.user_id, user_id);
        }
        Err(e) => assert_code(e.code()),
    }

    // Signed by the gateway, then checked by the origin `offset` seconds later.
    let identity = Identity {
        user_id: user_id.into(),
        method: AuthMethod::parse(auth_method).unwrap_or(AuthMethod::Jwt),
        api_key_id: (!api_key_id.is_empty()).then(|| api_key_id.to_string()),
    };
    let Some(headers) = identity_headers(&identity) else { return };
    let ts = i64::from_le_bytes(*ts);
    let now = ts.wrapping_add(i64::from_le_bytes(*offset) % 120);
    let sig = sign(&secret, &Signed { method, path, query, headers: &headers, timestamp: ts });
    let (ts_text, names) = (ts.to_string(), headers.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(","));
    let lookup = |name: &str| match name {
        "x-mesh-identity-headers" => Some(names.as_str()),
        "x-mesh-identity-timestamp" => Some(ts_text.as_str()),
        "x-mesh-identity-signature" => Some(sig.as_str()),
        _ => headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
    };
    let verdict = verify(&secret, (method, path, query), lookup, now, DEFAULT_MAX_AGE_SECS).map(|v| (v.identity, v.timestamp));
    match i128::from(now) - i128::from(ts) {
        d if d.abs() <= i128::from(DEFAULT_MAX_AGE_SECS) => assert_eq!(verdict, Ok((identity, ts))),
        _ => assert_eq!(verdict, Err(IdentityError::Stale)),
    }
});
