//! RESP2 (`client::resp`), what mesh-sdk/next's Redis store reads from and
//! writes to a Redis socket.
//!
//! Input: bytes as a socket would deliver them; also split at NULs into the
//! arguments of a command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::resp::{command, parse, Reply, MAX_DEPTH};

fn depth(r: &Reply) -> usize {
    match r {
        Reply::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let all = parse(data);
    assert!(all.used <= data.len());
    assert!(all.replies.iter().all(|r| depth(r) <= MAX_DEPTH));
    if let Some(quote) = &all.desync {
        assert!(quote.starts_with('"') && quote.ends_with('"') && quote.chars().count() <= 2 + 41 * 10);
    }
    // The replies are the same however the bytes were cut: the used part
    // alone gives them all and nothing more, and a reply waits for its end.
    let again = parse(&data[..all.used]);
    assert_eq!((&again.replies, again.used, &again.desync), (&all.replies, all.used, &None));
    if all.desync.is_none() && all.used < data.len() {
        let rest = parse(&data[all.used..]);
        assert!(rest.replies.is_empty() && rest.used == 0);
    }
    for cut in [all.used / 2, all.used.saturating_sub(1)] {
        let part = parse(&data[..cut]);
        assert!(part.replies.len() <= all.replies.len() && part.replies[..] == all.replies[..part.replies.len()]);
    }

    // A command reads back as its arguments.
    if let Ok(text) = std::str::from_utf8(data) {
        let args: Vec<&str> = text.split('\0').collect();
        let encoded = command(&args);
        let back = parse(encoded.as_bytes());
        let texts = args.iter().map(|a| Reply::Text((*a).to_owned())).collect();
        assert_eq!((back.replies, back.used, back.desync), (vec![Reply::Array(texts)], encoded.len(), None));
    }
});
