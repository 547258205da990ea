//! Global rate limits (`MESH_RATE_LIMIT_STORE=do`): a token bucket per
//! subject, counted in a `RateLimitShard` Durable Object, one object per
//! subject ([`Subject::object_name`]), so every isolate everywhere draws from
//! the same bucket.
//!
//! The bucket holds up to `limit` requests and refills at `limit` per
//! minute: a burst of `limit` at once, then `limit` per minute, never more
//! than `limit` plus the refill over any span. Counts are exact integers:
//! one request is [`UNITS`] units, and each millisecond adds `limit` units.
//!
//! Subjects are keys today (a key's `rateLimit`); a per-user limit is a
//! [`Subject::User`] with its own bucket, the same object class and format.

use serde::{Deserialize, Serialize};

use super::jwt::b64url_encode;
use super::shard::{answer_text, Outcome, ShardOp, Write};
use super::stores::Unreachable;

/// Units of one request: a minute in milliseconds, so a limit of `limit`
/// per minute refills exactly `limit` units per millisecond.
pub const UNITS: u64 = 60_000;

/// Who a bucket counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// An API key, by id (a rotation's new key has its own bucket).
    Key(&'a str),
    /// A user, by id (any of their credentials).
    User(&'a str),
}

impl Subject<'_> {
    /// The name of the subject's object (and its bucket's key in it).
    pub fn object_name(&self) -> String {
        match self {
            Subject::Key(id) => format!("key:{id}"),
            Subject::User(id) => format!("user:{}", b64url_encode(id.as_bytes())),
        }
    }
}

/// A request to take one request's worth from `subject`'s bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Take {
    pub subject: String,
    /// Requests per minute.
    pub limit: u32,
}

/// A bucket as stored: units left, at the object's milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub units: u64,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TakeAnswer {
    Allowed,
    /// Over the limit: retry after this many seconds (at least 1).
    Limited { retry_after: i64 },
}

/// One request against `bucket` (a new subject's is full) at `now_ms`.
pub fn take(bucket: Option<Bucket>, limit: u32, now_ms: i64) -> (Bucket, TakeAnswer) {
    let rate = u64::from(limit.max(1));
    let capacity = rate * UNITS;
    let units = match bucket {
        None => capacity,
        // A clock that went back refills nothing; a lowered limit caps at once.
        Some(b) => b.units.saturating_add(rate.saturating_mul(now_ms.saturating_sub(b.at_ms).max(0) as u64)).min(capacity),
    };
    if units >= UNITS {
        return (Bucket { units: units - UNITS, at_ms: now_ms }, TakeAnswer::Allowed);
    }
    let wait_ms = (UNITS - units).div_ceil(rate);
    let retry_after = (wait_ms.div_ceil(1000) as i64).max(1);
    (Bucket { units, at_ms: now_ms }, TakeAnswer::Limited { retry_after })
}

impl ShardOp for Take {
    fn storage_key(&self) -> String {
        format!("b:{}", self.subject)
    }

    fn apply(self, stored: Option<&str>, now_ms: i64) -> Outcome {
        let bucket = stored.and_then(|s| serde_json::from_str::<Bucket>(s).ok());
        let (bucket, answer) = take(bucket, self.limit, now_ms);
        Outcome { write: Write::Put(serde_json::to_string(&bucket).unwrap_or_default()), answer: answer_text(&answer) }
    }
}

/// What the isolate makes of the object's reply: `None` when the object
/// could not be reached or answered something else.
pub fn parse_answer(body: &str) -> Option<TakeAnswer> {
    serde_json::from_str(body).ok()
}

/// A use of a key whose object cannot be reached: let through or not.
pub fn admits_unreachable(option: Unreachable) -> bool {
    option == Unreachable::Open
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::shard::{parse_op, request_body};

    /// A bucket kept between calls, through the wire format.
    struct Object(Option<String>);

    impl Object {
        fn take(&mut self, limit: u32, now_ms: i64) -> TakeAnswer {
            let op: Take = parse_op(&request_body(&Take { subject: "key:k".into(), limit })).unwrap();
            assert_eq!(op.storage_key(), "b:key:k");
            let out = op.apply(self.0.as_deref(), now_ms);
            if let Write::Put(v) = out.write {
                self.0 = Some(v);
            }
            parse_answer(&out.answer).unwrap()
        }
    }

    #[test]
    fn a_burst_of_the_limit_then_the_refill_rate() {
        let mut o = Object(None);
        for _ in 0..60 {
            assert_eq!(o.take(60, 1_000), TakeAnswer::Allowed);
        }
        // 60 per minute: one more each second.
        assert_eq!(o.take(60, 1_000), TakeAnswer::Limited { retry_after: 1 });
        assert_eq!(o.take(60, 1_999), TakeAnswer::Limited { retry_after: 1 });
        assert_eq!(o.take(60, 2_000), TakeAnswer::Allowed);
        assert_eq!(o.take(60, 2_000), TakeAnswer::Limited { retry_after: 1 });
        // A minute later the bucket is full again, and no fuller.
        let allowed = (0..100).filter(|_| o.take(60, 120_000) == TakeAnswer::Allowed).count();
        assert_eq!(allowed, 60);
    }

    #[test]
    fn retry_after_is_when_the_next_request_fits() {
        let mut o = Object(None);
        assert_eq!(o.take(2, 0), TakeAnswer::Allowed);
        assert_eq!(o.take(2, 0), TakeAnswer::Allowed);
        // 2 per minute: one every 30 s.
        assert_eq!(o.take(2, 0), TakeAnswer::Limited { retry_after: 30 });
        assert_eq!(o.take(2, 10_000), TakeAnswer::Limited { retry_after: 20 });
        assert_eq!(o.take(2, 29_999), TakeAnswer::Limited { retry_after: 1 });
        assert_eq!(o.take(2, 30_000), TakeAnswer::Allowed);
        let mut slow = Object(None);
        slow.take(1, 0);
        assert_eq!(slow.take(1, 0), TakeAnswer::Limited { retry_after: 60 });
    }

    #[test]
    fn a_clock_going_back_or_a_lowered_limit_grants_nothing_extra() {
        let (b, _) = take(None, 10, 5_000);
        let (b, answer) = take(Some(b), 10, 0);
        assert_eq!((b.units, answer), (9 * UNITS - UNITS, TakeAnswer::Allowed));
        let (b, answer) = take(Some(Bucket { units: 100 * UNITS, at_ms: 0 }), 3, 0);
        assert_eq!((b.units, answer), (2 * UNITS, TakeAnswer::Allowed), "capped at the new limit");
        let (_, answer) = take(Some(Bucket { units: 0, at_ms: 0 }), 100_000, i64::MAX);
        assert_eq!(answer, TakeAnswer::Allowed, "no overflow");
        assert_eq!(Object(Some("junk".into())).take(1, 0), TakeAnswer::Allowed, "a corrupt bucket starts full");
    }

    #[test]
    fn subjects_name_their_objects_and_unreachable_follows_the_option() {
        assert_eq!(Subject::Key("key_abc").object_name(), "key:key_abc");
        assert_eq!(Subject::User("alice").object_name(), "user:YWxpY2U");
        assert_ne!(Subject::User("key_abc").object_name(), Subject::Key("key_abc").object_name());
        assert!(admits_unreachable(Unreachable::Open) && !admits_unreachable(Unreachable::Closed));
        assert_eq!(parse_answer(r#"{"limited":{"retry_after":3}}"#), Some(TakeAnswer::Limited { retry_after: 3 }));
        assert_eq!(parse_answer("internal error"), None);
    }
}
