//! The edge service token's parsers: `MESH_SERVICE_TOKEN`
//! (`ServiceTokenConfig::parse`), the token endpoint's answer
//! (`token_answer`), and the broker's answer as an isolate reads it
//! (`token_broker::read_reply`).
//!
//! Input: one byte of status, then text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::config::GatewaySecret;
use mesh_sdk::gateway::headers::is_safe_header_value;
use mesh_sdk::gateway::service_token::{secret_var, token_answer, ServiceTokenConfig};
use mesh_sdk::gateway::token_broker::{read_reply, Answer};
use mesh_sdk_fuzz::NOW_MS;

const SECRET: &str = "fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let Some((&status, rest)) = data.split_first() else { return };
    let status = [200, 400, 401, 429, 500, 502, 503][status as usize % 7];
    let answer = token_answer(status, rest, None, NOW_MS);
    assert_eq!(answer.status, status);
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if let Ok(cfg) = ServiceTokenConfig::parse(text, |_| Some(SECRET.into())) {
        assert_eq!(cfg.client_secret, GatewaySecret::new(SECRET));
        assert_eq!(secret_var(Some(text)).as_deref(), Some(cfg.client_secret_var.as_str()));
        assert!(!format!("{cfg:?}").contains(SECRET));
        let request = cfg.token_request("https://idp.example/token");
        assert!(request.headers.iter().all(|(_, v)| is_safe_header_value(v)));
    }
    match read_reply(status, text) {
        Answer::Token { token, .. } => assert!(status == 200 && is_safe_header_value(token.secret())),
        Answer::Unavailable { retry_after_secs } => assert!((1..=3600).contains(&retry_after_secs)),
        Answer::Refused => assert_eq!(status, 502),
    }
});
