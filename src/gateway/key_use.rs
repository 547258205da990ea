//! What happens each time an API key is used, per isolate: its expiry, its
//! rate limit (requests per minute), and whether its last use is due to be
//! written back. Sans-IO: the binding passes `now` and does the KV write.
//!
//! Both counters are per isolate, so a key's limit holds per isolate (a
//! Durable Object would make it global), and both are bounded: a flood of
//! distinct keys costs memory up to [`TRACKED_KEYS`] entries, no more.

use std::collections::HashMap;

use serde_json::json;

use super::api_keys::{expired, KeyRecord};
use super::reject::Reply;

/// Keys tracked at once, by each of the two counters.
pub const TRACKED_KEYS: usize = 10_000;
/// The rate limit's window, and the least time between two write-backs of a
/// key's last use.
pub const WINDOW_SECS: i64 = 60;

/// What using a key at `now` comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Past its expiry (or a rotation's grace): 401, logged as `expired`.
    Expired,
    /// Over its rate limit: 429, retry after this many seconds.
    Limited { retry_after: i64 },
    /// Let through; `touch`: write its last use back now (off the request's path).
    Allowed { touch: bool },
}

/// The per-isolate state of key use: a fixed-window counter per key, and
/// when each key's last use was last written back.
#[derive(Debug)]
pub struct KeyUse {
    capacity: usize,
    /// Key id -> (window start, requests counted in it).
    windows: HashMap<String, (i64, u32)>,
    /// Key id -> when its last use was written back.
    touched: HashMap<String, i64>,
}

impl Default for KeyUse {
    fn default() -> Self {
        KeyUse::new(TRACKED_KEYS)
    }
}

impl KeyUse {
    pub fn new(capacity: usize) -> Self {
        KeyUse { capacity: capacity.max(1), windows: HashMap::new(), touched: HashMap::new() }
    }

    /// One use of `record` at `now`. A refused use counts against nothing
    /// and is never written back.
    pub fn admit(&mut self, record: &KeyRecord, now: i64) -> Admission {
        self.admit_counted(record, now, true)
    }

    /// [`admit`](Self::admit), with the rate limit counted here only when
    /// `count_here` (with `MESH_RATE_LIMIT_STORE=do` a Durable Object counts it).
    pub fn admit_counted(&mut self, record: &KeyRecord, now: i64, count_here: bool) -> Admission {
        if expired(record, now) {
            return Admission::Expired;
        }
        if let Some(limit) = record.rate_limit.filter(|_| count_here) {
            let start = now - now.rem_euclid(WINDOW_SECS);
            make_room(&mut self.windows, self.capacity, &record.id, |&(s, _)| s == start);
            let (window, count) = self.windows.entry(record.id.clone()).or_insert((start, 0));
            if *window != start {
                (*window, *count) = (start, 0);
            }
            if *count >= limit {
                return Admission::Limited { retry_after: (start + WINDOW_SECS - now).max(1) };
            }
            *count += 1;
        }
        Admission::Allowed { touch: self.touch_due(record, now) }
    }

    /// Whether the last use is due: not written in the last minute, by this
    /// isolate or (as the record shows) by another.
    fn touch_due(&mut self, record: &KeyRecord, now: i64) -> bool {
        let recent = |t: i64| now - t < WINDOW_SECS && t <= now;
        if record.last_used.is_some_and(recent) || self.touched.get(&record.id).is_some_and(|&t| recent(t)) {
            return false;
        }
        make_room(&mut self.touched, self.capacity, &record.id, |&t| recent(t));
        self.touched.insert(record.id.clone(), now);
        true
    }
}

/// Before `id` is added to a full `map`: drops the entries `live` says are
/// stale, then, if it is still full, one entry (a key whose count is lost
/// starts its window afresh: the bound wins over the count).
fn make_room<V>(map: &mut HashMap<String, V>, capacity: usize, id: &str, live: impl Fn(&V) -> bool) {
    if map.len() < capacity || map.contains_key(id) {
        return;
    }
    map.retain(|_, v| live(v));
    if map.len() >= capacity {
        if let Some(victim) = map.keys().next().cloned() {
            map.remove(&victim);
        }
    }
}

/// The 429 of a key over its rate limit.
pub fn rate_limited(retry_after: i64) -> Reply {
    let body = json!({ "error": "rate_limited", "message": "this API key is over its rate limit", "retry_after": retry_after });
    Reply::json(429, body).with_header("retry-after", retry_after.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, rate_limit: Option<u32>, expires: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: id.into(),
            owner: "alice".into(),
            name: "n".into(),
            prefix: "mesh_sk_".into(),
            last4: "abcd".into(),
            created: 0,
            scopes: vec![],
            expires,
            last_used: None,
            rate_limit,
        }
    }

    #[test]
    fn an_expired_key_is_refused_from_its_expiry_on() {
        let mut u = KeyUse::default();
        let k = key("k", None, Some(1000));
        assert!(matches!(u.admit(&k, 999), Admission::Allowed { .. }));
        assert_eq!(u.admit(&k, 1000), Admission::Expired);
        assert_eq!(u.admit(&k, 5000), Admission::Expired);
        assert!(matches!(u.admit(&key("never", None, None), i64::MAX / 2), Admission::Allowed { .. }));
    }

    #[test]
    fn a_key_over_its_limit_waits_for_the_next_window() {
        let mut u = KeyUse::default();
        let k = key("k", Some(3), None);
        // Window [120, 180).
        for now in [125, 130, 170] {
            assert!(matches!(u.admit(&k, now), Admission::Allowed { .. }), "{now}");
        }
        assert_eq!(u.admit(&k, 170), Admission::Limited { retry_after: 10 });
        assert_eq!(u.admit(&k, 179), Admission::Limited { retry_after: 1 });
        // Another key has its own count; a key without a limit has none.
        assert!(matches!(u.admit(&key("other", Some(1), None), 179), Admission::Allowed { .. }));
        for _ in 0..1000 {
            assert!(matches!(u.admit(&key("free", None, None), 179), Admission::Allowed { .. }));
        }
        assert!(matches!(u.admit(&k, 180), Admission::Allowed { .. }));
        // An expired key is refused as expired, not counted.
        let gone = key("gone", Some(1), Some(100));
        assert_eq!(u.admit(&gone, 200), Admission::Expired);
    }

    #[test]
    fn the_last_use_is_written_at_most_once_a_minute() {
        let mut u = KeyUse::default();
        let mut k = key("k", None, None);
        assert_eq!(u.admit(&k, 1000), Admission::Allowed { touch: true });
        assert_eq!(u.admit(&k, 1001), Admission::Allowed { touch: false });
        assert_eq!(u.admit(&k, 1059), Admission::Allowed { touch: false });
        assert_eq!(u.admit(&k, 1060), Admission::Allowed { touch: true });
        // Another isolate wrote it 10 s ago: not due here either.
        let mut fresh = KeyUse::default();
        let limited = key("counted-elsewhere", Some(1), None);
        assert!((0..5).all(|i| matches!(fresh.admit_counted(&limited, 5000 + i, false), Admission::Allowed { .. })));
        k.last_used = Some(2000);
        assert_eq!(fresh.admit(&k, 2010), Admission::Allowed { touch: false });
        assert_eq!(fresh.admit(&k, 2060), Admission::Allowed { touch: true });
        // A limited use is not a use.
        let mut u = KeyUse::default();
        let k = key("l", Some(1), None);
        assert_eq!(u.admit(&k, 0), Admission::Allowed { touch: true });
        assert!(matches!(u.admit(&k, 1), Admission::Limited { .. }));
    }

    #[test]
    fn the_counters_stay_bounded() {
        let mut u = KeyUse::new(3);
        for i in 0..50 {
            u.admit(&key(&format!("k{i}"), Some(5), None), 10);
        }
        assert!(u.windows.len() <= 3 && u.touched.len() <= 3);
        // A key still tracked keeps its count.
        let k = key("k49", Some(2), None);
        assert!(matches!(u.admit(&k, 11), Admission::Allowed { .. }));
        assert!(matches!(u.admit(&k, 12), Admission::Limited { .. }));
    }

    #[test]
    fn over_the_limit_is_429_with_retry_after_and_a_json_body() {
        let r = rate_limited(17);
        assert_eq!(r.status, 429);
        assert!(r.headers.contains(&("retry-after", "17".into())));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!((body["error"].as_str(), body["retry_after"].as_i64()), (Some("rate_limited"), Some(17)));
    }
}
