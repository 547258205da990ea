//! A device login that survives a reload: while the user approves it on
//! another device, the page may be reloaded, and the code it showed must
//! still complete. The login is kept per tab (the binding writes it to
//! `sessionStorage`) until it completes, fails, expires or is cancelled.
//!
//! The record is the provider's device authorization response as it came
//! (`device_code`, `user_code`, ...) plus who it is for and when it started:
//!
//! ```json
//! {"v":1,"issuer":"http://127.0.0.1:9400","clientId":"mesh-demo","startedAt":1764000000000,
//!  "device_code":"…","user_code":"ABCD-EFGH","verification_uri":"…","expires_in":600,"interval":5}
//! ```
//! The device code in it is a short-lived credential; it stays in the tab's
//! own storage, like the session's tokens, and never in the login object the
//! app sees.

use super::device::{DeviceAuthorization, PollState};

/// The current record version.
pub const PENDING_LOGIN_VERSION: u32 = 1;

/// Where a client's pending device login is kept, beside its session.
pub fn pending_login_key(storage_key: &str) -> String {
    let mut key = String::from(storage_key);
    key.push_str(":device-login");
    key
}

/// A persisted pending login, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingLogin {
    pub v: u32,
    pub issuer: String,
    pub client_id: String,
    pub started_at_ms: i64,
    pub authorization: DeviceAuthorization,
    /// Where polling stood (`mesh-sdk/next` polls once per request); `None`
    /// before the first poll, and in the browser's record.
    pub poll: Option<PollState>,
}

/// Why a record read back is not resumed (the binding then removes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotResumed {
    /// Another version, issuer or client wrote it.
    Foreign,
    /// Its device code expired: polling could only fail.
    Expired,
    /// Not a device authorization the client would have accepted.
    Invalid,
}

impl PendingLogin {
    /// Whether this client (`issuer`, `client_id`) may resume it at `now_ms`.
    pub fn resumable(&self, issuer: &str, client_id: &str, now_ms: i64) -> Result<(), NotResumed> {
        if self.v != PENDING_LOGIN_VERSION || self.issuer != issuer || self.client_id != client_id {
            return Err(NotResumed::Foreign);
        }
        self.authorization.check().map_err(|_| NotResumed::Invalid)?;
        let expires_at = self.started_at_ms.saturating_add(self.authorization.expires_in.saturating_mul(1000));
        // A record from the future is as untrustworthy as an expired one.
        if now_ms >= expires_at || self.started_at_ms > now_ms {
            return Err(NotResumed::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::DeviceCode;

    const T0: i64 = 1_700_000_000_000;

    fn pending() -> PendingLogin {
        PendingLogin {
            v: 1,
            issuer: "http://idp".into(),
            client_id: "app".into(),
            started_at_ms: T0,
            authorization: DeviceAuthorization {
                device_code: DeviceCode::new("dc"),
                user_code: "ABCD-EFGH".into(),
                verification_uri: "http://idp/device".into(),
                verification_uri_complete: None,
                expires_in: 600,
                interval: Some(5),
            },
            poll: None,
        }
    }

    #[test]
    fn resumable_until_the_code_expires() {
        let p = pending();
        assert_eq!(p.resumable("http://idp", "app", T0), Ok(()));
        assert_eq!(p.resumable("http://idp", "app", T0 + 599_999), Ok(()));
        assert_eq!(p.resumable("http://idp", "app", T0 + 600_000), Err(NotResumed::Expired));
        assert_eq!(p.resumable("http://idp", "app", T0 - 1), Err(NotResumed::Expired), "started in the future");
    }

    #[test]
    fn another_issuer_client_or_version_is_foreign() {
        let p = pending();
        assert_eq!(p.resumable("http://other", "app", T0), Err(NotResumed::Foreign));
        assert_eq!(p.resumable("http://idp", "other", T0), Err(NotResumed::Foreign));
        assert_eq!(PendingLogin { v: 2, ..pending() }.resumable("http://idp", "app", T0), Err(NotResumed::Foreign));
    }

    #[test]
    fn a_record_the_client_would_not_have_accepted_is_invalid() {
        let mut p = pending();
        p.authorization.verification_uri = "javascript:alert(1)".into();
        assert_eq!(p.resumable("http://idp", "app", T0), Err(NotResumed::Invalid));
        let mut p = pending();
        p.authorization.expires_in = 0;
        assert_eq!(p.resumable("http://idp", "app", T0), Err(NotResumed::Invalid));
        let mut p = pending();
        p.authorization.expires_in = i64::MAX;
        assert_eq!(p.resumable("http://idp", "app", i64::MAX - 1), Ok(()), "no overflow");
    }

    #[test]
    fn the_key_sits_beside_the_session() {
        assert_eq!(pending_login_key("mesh-sdk.session.v1:http://idp|app"), "mesh-sdk.session.v1:http://idp|app:device-login");
    }
}
