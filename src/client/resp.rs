//! RESP2, the Redis wire protocol, for mesh-sdk/next's Redis store: commands
//! encoded, replies parsed. `pkg-template/next-redis.js` only moves the
//! bytes (a socket, one buffer); what the bytes mean is decided here.
//!
//! Replies arrive in the order the commands were sent. A reply that is not
//! RESP means the stream is out of step with its commands: the connection
//! must go, so [`parse`] reports it and reads no further.

/// Arrays nested deeper than this are refused as out of step: the store's
/// commands get flat arrays back, and a hostile or corrupt stream must not
/// recurse without bound.
pub const MAX_DEPTH: usize = 8;

/// How much of a line a desync report quotes.
const QUOTE_CHARS: usize = 40;

/// One reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A simple string (`+OK`) or a bulk string (`$3\r\nabc`).
    Text(String),
    Integer(i64),
    /// A null bulk string or array (`$-1`, `*-1`).
    Null,
    Array(Vec<Reply>),
    /// An error reply (`-ERR ...`), or an array holding one: the first
    /// error in it, the array read to its end.
    Error(String),
}

/// What a buffer holds from its start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replies {
    /// The complete replies, in order.
    pub replies: Vec<Reply>,
    /// The bytes they took: the rest waits for more bytes.
    pub used: usize,
    /// Bytes after them that are not RESP, quoted for the error: the
    /// connection is out of step with its commands.
    pub desync: Option<String>,
}

enum One {
    Reply(Reply, usize),
    Incomplete,
    Desync(String),
}

/// Every complete reply at the start of `buf`.
pub fn parse(buf: &[u8]) -> Replies {
    let mut out = Replies::default();
    while out.used < buf.len() {
        match reply(buf, out.used, 0) {
            One::Reply(r, next) => {
                out.replies.push(r);
                out.used = next;
            }
            One::Incomplete => break,
            One::Desync(quote) => {
                out.desync = Some(quote);
                break;
            }
        }
    }
    out
}

/// The command `args` as RESP: an array of bulk strings.
pub fn command(args: &[&str]) -> String {
    let mut out = String::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    line(&mut out, '*', args.len());
    for a in args {
        line(&mut out, '$', a.len());
        out.push_str(a);
        out.push_str("\r\n");
    }
    out
}

fn line(out: &mut String, kind: char, n: usize) {
    out.push(kind);
    out.push_str(&n.to_string());
    out.push_str("\r\n");
}

/// A RESP integer line: an optional `-`, then digits, within i64.
fn integer(line: &[u8]) -> Option<i64> {
    let digits = line.strip_prefix(b"-").unwrap_or(line);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(line).ok()?.parse().ok()
}

fn reply(buf: &[u8], at: usize, depth: usize) -> One {
    let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n").map(|i| at + i) else {
        return One::Incomplete;
    };
    // Quoted and escaped by hand: the wasm builds print nothing for `{:?}`.
    let desync = || {
        let line = String::from_utf8_lossy(&buf[at..end]);
        let quoted: String = line.chars().take(QUOTE_CHARS + 1).flat_map(char::escape_debug).collect();
        One::Desync(["\"", &quoted, "\""].concat())
    };
    // An empty line has no reply kind at all (found by fuzzing).
    let Some((&kind, text)) = buf[at..end].split_first() else { return desync() };
    match kind {
        b'+' => return One::Reply(Reply::Text(String::from_utf8_lossy(text).into_owned()), end + 2),
        b'-' => return One::Reply(Reply::Error(String::from_utf8_lossy(text).into_owned()), end + 2),
        b':' | b'$' | b'*' => {}
        _ => return desync(),
    }
    let Some(n) = integer(text) else { return desync() };
    if kind == b':' {
        return One::Reply(Reply::Integer(n), end + 2);
    }
    if n < 0 {
        return One::Reply(Reply::Null, end + 2);
    }
    let start = end + 2;
    if kind == b'$' {
        let Some(stop) = usize::try_from(n).ok().and_then(|n| start.checked_add(n)) else { return desync() };
        if buf.len() < stop.saturating_add(2) {
            return One::Incomplete;
        }
        if &buf[stop..stop + 2] != b"\r\n" {
            return desync();
        }
        return One::Reply(Reply::Text(String::from_utf8_lossy(&buf[start..stop]).into_owned()), stop + 2);
    }
    if depth >= MAX_DEPTH {
        return desync();
    }
    let mut items = Vec::new();
    let mut error = None;
    let mut next = start;
    for _ in 0..n {
        // Each item takes at least 3 bytes: a count beyond the buffer waits
        // for more bytes without reserving for it.
        if next >= buf.len() {
            return One::Incomplete;
        }
        match reply(buf, next, depth + 1) {
            One::Reply(Reply::Error(e), after) => {
                error.get_or_insert(e);
                next = after;
            }
            One::Reply(r, after) => {
                items.push(r);
                next = after;
            }
            other => return other,
        }
    }
    One::Reply(error.map_or(Reply::Array(items), Reply::Error), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Vec<Reply> {
        let r = parse(bytes);
        assert_eq!((r.used, &r.desync), (bytes.len(), &None), "{bytes:?}");
        r.replies
    }

    #[test]
    fn every_reply_kind_is_read() {
        let text = |s: &str| Reply::Text(s.into());
        assert_eq!(all(b"+OK\r\n"), [text("OK")]);
        assert_eq!(all(b":42\r\n:-7\r\n"), [Reply::Integer(42), Reply::Integer(-7)]);
        assert_eq!(all(b"$5\r\nhe\r\no\r\n"), [text("he\r\no")], "a bulk string may hold CRLF");
        assert_eq!(all(b"$0\r\n\r\n"), [text("")]);
        assert_eq!(all(b"$-1\r\n*-1\r\n"), [Reply::Null, Reply::Null]);
        assert_eq!(all(b"*2\r\n$1\r\na\r\n:1\r\n"), [Reply::Array(vec![text("a"), Reply::Integer(1)])]);
        assert_eq!(all(b"*0\r\n"), [Reply::Array(vec![])]);
        assert_eq!(all(b"-ERR wrong type\r\n"), [Reply::Error("ERR wrong type".into())]);
    }

    #[test]
    fn an_array_holding_an_error_is_its_first_error_read_to_its_end() {
        let r = all(b"*3\r\n:1\r\n-ERR one\r\n-ERR two\r\n+OK\r\n");
        assert_eq!(r, [Reply::Error("ERR one".into()), Reply::Text("OK".into())]);
    }

    #[test]
    fn a_partial_reply_waits_and_the_complete_ones_before_it_are_used() {
        for partial in [&b"$5\r\nhel"[..], b"$5\r\nhello\r", b"*2\r\n:1\r\n", b":12", b"*100000000\r\n", b"$99999999999\r\n"] {
            let mut buf = b"+OK\r\n".to_vec();
            buf.extend_from_slice(partial);
            let r = parse(&buf);
            assert_eq!((r.replies.len(), r.used, r.desync), (1, 5, None), "{partial:?}");
        }
        assert_eq!(parse(b"").used, 0);
    }

    #[test]
    fn bytes_that_are_not_resp_are_a_desync_quoted_and_read_no_further() {
        for bad in [&b"HTTP/1.1 400\r\n"[..], b":12a\r\n", b"$abc\r\n", b"$3\r\nabcd\r\n", b"*1\r\n!x\r\n", b":\r\n", b":99999999999999999999\r\n", b"\r\n", b"*1\r\n\r\n"] {
            let mut buf = b":1\r\n".to_vec();
            buf.extend_from_slice(bad);
            buf.extend_from_slice(b"+OK\r\n");
            let r = parse(&buf);
            assert_eq!((r.replies.as_slice(), r.used), (&[Reply::Integer(1)][..], 4), "{bad:?}");
            assert!(r.desync.is_some(), "{bad:?}");
        }
        assert_eq!(parse(b"?what is this\r\n").desync.as_deref(), Some("\"?what is this\""));
        assert_eq!(parse(b"!a\"b\x01\r\n").desync.as_deref(), Some("\"!a\\\"b\\u{1}\""));
        let long = [b"!".repeat(500), b"\r\n".to_vec()].concat();
        assert!(parse(&long).desync.unwrap().len() < 60, "the quote is short");
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| [b"*1\r\n".repeat(depth), b":1\r\n".to_vec()].concat();
        assert_eq!(parse(&nested(MAX_DEPTH)).desync, None);
        assert!(parse(&nested(MAX_DEPTH + 1)).desync.is_some());
        assert!(parse(&nested(100_000)).desync.is_some(), "no stack overflow");
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings_by_byte_length() {
        assert_eq!(command(&["GET", "mesh:session:é"]), "*2\r\n$3\r\nGET\r\n$15\r\nmesh:session:é\r\n");
        assert_eq!(command(&[]), "*0\r\n");
        // What is encoded parses back to the same strings.
        let args = ["EVAL", "return 1\r\n", "", "1"];
        let texts: Vec<Reply> = args.iter().map(|a| Reply::Text((*a).into())).collect();
        assert_eq!(all(command(&args).as_bytes()), [Reply::Array(texts)]);
    }
}
