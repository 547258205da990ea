//! The cross-tab lock's rules (`pkg-template/tabs.js` runs them): how long a
//! tab waits for it, and the lease that stands in for it where Web Locks are
//! missing. The tab that refreshes then holds `<storage key>:lock` =
//! `owner|until` in localStorage. A crashed holder's lease lapses at
//! `until`; a value of another shape holds nothing. A tab writes its lease,
//! lets racing writes settle ([`LEASE_SETTLE_MS`]), reads it back, and gives
//! it back on `pagehide`. It is not atomic: two tabs whose writes cross
//! within the settle delay could both hold it (the holder's re-read of the
//! session under it narrows that).

/// A tab waits this many refresh budgets (`timeoutMs`) for the lock, then
/// refreshes without it (re-reading storage first) instead of failing: a
/// holder's refresh ends within one budget, its storing soon after.
const LOCK_WAIT_BUDGETS: i64 = 3;

/// After storing new tokens a holder keeps the lock this long: Chromium
/// hands a localStorage write to other tabs' processes apart from the Web
/// Lock, so the next holder could otherwise read the old value, with the
/// refresh token just spent.
pub const STORAGE_SETTLE_MS: i64 = 50;

/// After writing its lease, a tab waits this long for racing tabs' writes
/// to land before it reads back who won.
pub const LEASE_SETTLE_MS: i64 = 100;

/// While another tab holds the lease, a tab looks again after this long
/// plus up to [`LEASE_POLL_JITTER_MS`], so waiting tabs do not write in step.
const LEASE_POLL_MS: i64 = 50;
const LEASE_POLL_JITTER_MS: f64 = 100.0;

/// How long a tab waits for the lock before going on without it.
pub fn lock_wait_ms(timeout_ms: i64) -> i64 {
    timeout_ms.saturating_mul(LOCK_WAIT_BUDGETS)
}

/// How long to wait before trying the lease again: 0 when it is free (no
/// lease, a lapsed one, this tab's own, or a value of another shape), else a
/// poll delay with `random` (in [0, 1)) as its jitter.
pub fn lease_wait_ms(value: Option<&str>, me: &str, now_ms: i64, random: f64) -> i64 {
    if !lease_taken(value, me, now_ms) {
        return 0;
    }
    let jitter = if random.is_finite() { random.clamp(0.0, 1.0) } else { 0.0 };
    LEASE_POLL_MS + (jitter * LEASE_POLL_JITTER_MS).min(LEASE_POLL_JITTER_MS - 1.0) as i64
}

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
fn lease_taken(value: Option<&str>, me: &str, now_ms: i64) -> bool {
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

    #[test]
    fn a_taken_lease_is_polled_after_50_to_149_ms_a_free_one_at_once() {
        let value = lease_record("42", NOW, 10_000);
        assert_eq!(lease_wait_ms(Some(&value), "7", NOW, 0.0), 50);
        assert_eq!(lease_wait_ms(Some(&value), "7", NOW, 0.5), 100);
        assert_eq!(lease_wait_ms(Some(&value), "7", NOW, 0.999_999), 149);
        // A jitter out of range (a broken random source) stays in bounds.
        for random in [-1.0, 1.0, 7.0, f64::NAN, f64::INFINITY] {
            let ms = lease_wait_ms(Some(&value), "7", NOW, random);
            assert!((50..150).contains(&ms), "{random}: {ms}");
        }
        assert_eq!(lease_wait_ms(Some(&value), "42", NOW, 0.5), 0, "its own lease");
        assert_eq!(lease_wait_ms(Some(&value), "7", NOW + 15_000, 0.5), 0, "lapsed");
        assert_eq!(lease_wait_ms(None, "7", NOW, 0.5), 0);
        assert_eq!(lease_wait_ms(Some("junk"), "7", NOW, 0.5), 0);
    }

    #[test]
    fn the_lock_is_awaited_three_refresh_budgets() {
        assert_eq!(lock_wait_ms(10_000), 30_000);
        assert_eq!(lock_wait_ms(i64::MAX), i64::MAX);
    }
}
