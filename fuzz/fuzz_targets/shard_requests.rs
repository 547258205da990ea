//! The gateway's Durable Objects (`gateway::shard`, `key_shard`,
//! `rate_limit`): a request body and a stored value, both arbitrary, through
//! the object's whole decision. Never a panic; whatever is written back reads
//! again as the object's own state; a tombstone stays a tombstone.
//!
//! Input: eight bytes of the object's clock (ms), one byte choosing the
//! object, then the request body and the stored value split at the first 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::gateway::key_shard::{self, KeyAnswer, KeyOp, OwnerDoc, Slot};
use mesh_sdk::gateway::rate_limit::{self, Bucket, Take};
use mesh_sdk::gateway::shard::{prepare, Write};

fuzz_target!(|data: &[u8]| {
    let Some((clock, rest)) = data.split_first_chunk::<8>() else { return };
    let Some((&which, rest)) = rest.split_first() else { return };
    let now_ms = i64::from_le_bytes(*clock);
    let (body, stored) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (Ok(body), Ok(stored)) = (std::str::from_utf8(body), stored.map(std::str::from_utf8).transpose()) else { return };
    if which % 2 == 0 {
        let Some((key, decide)) = prepare::<KeyOp>(body) else { return };
        let was_tombstone = stored.is_some_and(|s| matches!(serde_json::from_str::<Slot>(s), Ok(Slot::Revoked(_))));
        let out = decide(stored, now_ms);
        let answer = key_shard::parse_answer(&out.answer).expect("the object's answer parses");
        if let Write::Put(v) = &out.write {
            if key.starts_with("r:") {
                let slot: Slot = serde_json::from_str(v).expect("a slot written reads back");
                assert!(!was_tombstone || matches!(slot, Slot::Revoked(_)), "a tombstone was overwritten");
            } else {
                let _: OwnerDoc = serde_json::from_str(v).expect("an owner's list written reads back");
            }
        }
        if was_tombstone {
            assert!(!matches!(answer, KeyAnswer::Found { .. }), "a revoked key was found");
        }
    } else {
        let Some((_, decide)) = prepare::<Take>(body) else { return };
        let out = decide(stored, now_ms);
        let answer = rate_limit::parse_answer(&out.answer).expect("the object's answer parses");
        if let rate_limit::TakeAnswer::Limited { retry_after } = answer {
            assert!((1..=60).contains(&retry_after), "retry after {retry_after}");
        }
        if let Write::Put(v) = &out.write {
            let _: Bucket = serde_json::from_str(v).expect("a bucket written reads back");
        }
    }
});
