//! The client's options (`client::config::ClientConfig::from_options`): the
//! loose JavaScript values, each option's type and range, the URL and API-key
//! shape checks.
//!
//! Input: the options object as JSON (what `new MeshClient({...})` gets).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::config::check_url;
use mesh_sdk::client::{AuthMode, ClientConfig, RawOptions};
use mesh_sdk::ErrorKind;
use mesh_sdk_fuzz::assert_not_leaked;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<RawOptions>(data) else { return };
    match ClientConfig::from_options(&raw) {
        Ok(c) => {
            assert!(c.validate().is_ok());
            assert!((0..=86_400).contains(&c.refresh_leeway_secs));
            assert!((1..=600_000).contains(&c.timeout_ms));
            assert!((0..=10).contains(&c.max_refresh_retries) && (0..=10).contains(&c.max_request_retries));
            assert!((0..=3_600_000).contains(&c.refresh_cooldown_ms));
            assert!(!c.issuer_normalized().ends_with('/'));
            assert!(c.client_secret.as_ref().is_none_or(|s| !s.secret().is_empty() && !s.secret().chars().any(char::is_control)));
            match c.mode() {
                AuthMode::ApiKey => {
                    let key = c.api_key.as_ref().unwrap().secret();
                    assert!(key.len() >= 12 && key.bytes().all(|b| b.is_ascii_graphic()) && key.contains('_'));
                    assert!(check_url("apiUrl", c.api_url.as_deref().unwrap()).is_ok());
                }
                AuthMode::OAuth => {
                    assert!(check_url("issuer", c.issuer.as_deref().unwrap()).is_ok());
                    assert!(c.client_id.as_deref().is_some_and(|id| !id.trim().is_empty()));
                }
            }
            for url in [&c.issuer, &c.api_url].into_iter().flatten() {
                let lower = url.to_ascii_lowercase();
                assert!(lower.starts_with("https://") || lower.starts_with("http://"));
                assert!(!url.contains('#') && !url.chars().any(char::is_whitespace));
            }
        }
        Err(e) => {
            // A refused option is a coded error naming the option, never
            // quoting the API key.
            assert_eq!(e.kind(), ErrorKind::InvalidConfig);
            assert!(e.message().starts_with("option `"), "{}", e.message());
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
                // Neither secret is quoted (unless another option holds the same text).
                for secret_option in ["apiKey", "clientSecret"] {
                    if let Some(key) = v.get(secret_option).and_then(|k| k.as_str()) {
                        let others: Vec<String> = v
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(k, _)| *k != secret_option)
                            .map(|(_, v)| v.to_string())
                            .collect();
                        let others: Vec<&str> = others.iter().map(String::as_str).collect();
                        assert_not_leaked(e.message(), key, &others);
                    }
                }
            }
        }
    }
    // The serde path some bindings take reaches the same validation.
    if let Ok(c) = serde_json::from_slice::<ClientConfig>(data) {
        let _ = c.validate();
    }
});
