//! The cross-tab lease: where Web Locks are missing, the tab that refreshes
//! holds `<storage key>:lock` = `owner|until` in localStorage. A crashed
//! holder's lease lapses at `until`; a value of another shape holds nothing.
//! A tab writes its lease, lets racing writes settle, reads it back, and
//! gives it back on `pagehide` (`pkg-template/tabs.js`). It is not atomic:
//! two tabs whose writes cross within the settle delay could both hold it
//! (the holder's re-read of the session under it narrows that).

/// The lease's storage key beside the session's.
pub fn lease_key(storage_key: &str) -> String {
    let mut key = String::from(storage_key);
    key.push_str(":lock");
    key
}

/// The lease `owner` writes at `now_ms`. The holder's refresh ends within
/// `timeout_ms` (its attempts share that budget); 5 s more covers storing
/// the result.
pub fn lease_record(owner: &str, now_ms: i64, timeout_ms: i64) -> String {
    let mut value = String::from(owner);
    value.push('|');
    value.push_str(&super::oauth::itoa(now_ms.saturating_add(timeout_ms).saturating_add(5_000)));
    value
}

/// Who holds the lease `value` names (expired or not).
pub fn lease_owner(value: &str) -> &str {
    value.split('|').next().unwrap_or("")
}

/// True when another tab than `me` holds a lease that has not lapsed.
pub fn lease_taken(value: Option<&str>, me: &str, now_ms: i64) -> bool {
    let Some(value) = value else { return false };
    let Some((owner, until)) = value.split_once('|') else { return false };
    let until = until.strip_prefix('+').unwrap_or(until);
    let digits = until.strip_prefix('-').unwrap_or(until);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    owner != me && until.parse::<i64>().is_ok_and(|until| until > now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn a_lease_lapses_timeout_plus_five_seconds_after_it_was_taken() {
        assert_eq!(lease_key("mesh-sdk.session.v1:x|c"), "mesh-sdk.session.v1:x|c:lock");
        let value = lease_record("42", NOW, 10_000);
        assert_eq!(value, "42|1700000015000");
        assert_eq!(lease_owner(&value), "42");
        assert!(lease_taken(Some(&value), "7", NOW + 14_999));
        assert!(!lease_taken(Some(&value), "7", NOW + 15_000));
        assert!(!lease_taken(Some(&value), "42", NOW), "a tab never waits for itself");
    }

    #[test]
    fn a_value_of_another_shape_holds_nothing() {
        for value in [None, Some("42"), Some("42|"), Some("42|soon"), Some("42|1e20"), Some("42|12 ")] {
            assert!(!lease_taken(value, "7", 0), "{value:?}");
        }
        assert!(lease_taken(Some("42|+5"), "7", 0));
    }
}
