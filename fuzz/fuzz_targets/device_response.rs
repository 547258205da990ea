//! The device authorization response (`client::device::DeviceAuthorization`,
//! RFC 8628 §3.2) and the poller it starts.
//!
//! Input: the response body as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::config::check_url;
use mesh_sdk::client::{DeviceAuthorization, DevicePoller, PollStep};
use mesh_sdk::ErrorKind;
use mesh_sdk_fuzz::NOW_MS;

fuzz_target!(|data: &[u8]| {
    let Ok(auth) = serde_json::from_slice::<DeviceAuthorization>(data) else { return };
    let interval = auth.interval_secs();
    assert!((1..=3600).contains(&interval));
    match DevicePoller::new(&auth, NOW_MS) {
        Ok(mut p) => {
            assert!(auth.check().is_ok());
            assert!(!auth.device_code.secret().is_empty() && !auth.user_code.trim().is_empty());
            assert!(check_url("verification_uri", &auth.verification_uri).is_ok());
            assert_eq!(p.interval_ms(), interval * 1000);
            assert!(p.deadline_ms() > NOW_MS);
            assert!(p.poll_timeout_ms(NOW_MS, 60_000) <= 60_000);
            // The first poll waits one interval, or the code expires first.
            match p.poll(NOW_MS) {
                PollStep::Wait { ms } => assert_eq!(ms, interval * 1000),
                PollStep::Fail(e) => {
                    assert_eq!(e.kind(), ErrorKind::DeviceCodeExpired);
                    assert!(NOW_MS + interval * 1000 >= p.deadline_ms());
                }
                other => panic!("first poll: {other:?}"),
            }
            if let PollStep::Send = p.poll(NOW_MS + interval * 1000) {
                assert_eq!(p.poll(NOW_MS + interval * 1000), PollStep::Busy);
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse);
            assert!(auth.check().is_err());
        }
    }
});
