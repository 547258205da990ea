//! The cross-tab lease (`client::lease`): the value another tab left in
//! localStorage, read back by every tab that wants the refresh lock.
//!
//! Input: 8 bytes of `now` (ms) and 8 of the jitter, then the stored value
//! and this tab's owner id, separated by a NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::lease::{lease_owner, lease_record, lease_wait_ms, lock_wait_ms};
use mesh_sdk_fuzz::fields;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let now = i64::from_le_bytes(data[..8].try_into().unwrap());
    let random = f64::from_le_bytes(data[8..16].try_into().unwrap());
    let Some([value, me]) = fields::<2>(&data[16..]) else { return };

    // Any value: free at once, or a bounded poll with any jitter (NaN included).
    let wait = lease_wait_ms(Some(value), me, now, random);
    assert!(wait == 0 || (50..150).contains(&wait), "{wait}");
    assert_eq!(lease_wait_ms(None, me, now, random), 0);
    // A tab never waits for its own lease.
    if lease_owner(value) == me {
        assert_eq!(wait, 0);
    }

    // What a tab writes names it, holds others off until it lapses, and
    // never overflows, whatever the clock and budget.
    if !me.contains('|') {
        let budget = now.rem_euclid(1 << 40);
        let record = lease_record(me, now, budget);
        assert_eq!(lease_owner(&record), me);
        let other = if me == "x" { "y" } else { "x" };
        let until = now.saturating_add(budget).saturating_add(5_000);
        assert_eq!(lease_wait_ms(Some(&record), other, now, random) > 0, until > now);
        assert_eq!(lease_wait_ms(Some(&record), other, until, random), 0);
        assert!(lock_wait_ms(budget) >= budget);
    }
});
