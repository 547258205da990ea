//! The Redis store's keys and scripts. Each session is one key holding the
//! stored session; its refresh lock holds the fencing token of its holder,
//! a number from a per-session counter, and expires by itself, so a holder
//! that dies frees it. A write under the lock succeeds only while the lock
//! still holds the writer's token: a holder whose lock expired and was
//! taken by another cannot overwrite the newer tokens.

use crate::error::{Error, ErrorKind};

/// The session record's key.
pub fn session_key(sid: &str) -> String {
    ["mesh:session:", sid].concat()
}
/// The refresh lock's key.
pub fn lock_key(sid: &str) -> String {
    ["mesh:lock:", sid].concat()
}
/// The fencing counter's key.
pub fn fence_key(sid: &str) -> String {
    ["mesh:fence:", sid].concat()
}
/// The lock lives as long as a refresh may (`timeoutMs`) and 5 s more,
/// as the core's own refresh lock does.
pub fn lock_ttl_ms(timeout_ms: i64) -> i64 {
    timeout_ms.saturating_add(5000)
}
/// How long a process waits for the lock before it fails the refresh.
pub fn lock_wait_ms(timeout_ms: i64) -> i64 {
    lock_ttl_ms(timeout_ms).saturating_mul(2)
}
/// Between two tries for the lock.
pub const LOCK_POLL_MS: i64 = 20;
/// The port of a URL that names none.
pub const DEFAULT_PORT: u16 = 6379;
/// The waits before each new connection attempt after a failed one (the
/// first is at once): five attempts within about 1.5 s, then the command
/// fails with `storage`. The next command starts over, so a server that
/// restarts is found again.
pub const RECONNECT_DELAYS_MS: [i64; 4] = [100, 200, 400, 800];
/// One connection attempt (TCP, and TLS for `rediss://`) gives up after this.
pub const CONNECT_TIMEOUT_MS: i64 = 2_000;
/// A command not answered within the client's `timeoutMs` fails, and its
/// connection is dropped: replies come in order, so a late one would
/// answer the next command.
pub fn command_timeout_ms(timeout_ms: i64) -> i64 {
    timeout_ms
}
/// Whether a `store.redis` URL's scheme (`redis:` or `rediss:`, as
/// `URL.protocol` gives it) asks for TLS.
pub fn uses_tls(protocol: &str) -> Result<bool, Error> {
    match protocol {
        "redis:" => Ok(false),
        "rediss:" => Ok(true),
        _ => Err(Error::config("store", "redis must be a redis:// or rediss:// URL")),
    }
}
/// The Redis store's errors, all `storage`: `closed` (the connection
/// closed with the command unanswered: it may or may not have run),
/// `unreachable` (every attempt failed; `detail`: the address and the
/// last cause), `timeout` (`detail`: the milliseconds waited) and
/// `reply` (`detail`: Redis's error reply) and `protocol` (`detail`:
/// what could not be read; the connection was dropped).
pub fn failure(name: &str, detail: &str) -> Error {
    let message = match name {
        "closed" => return Error::new(ErrorKind::Storage, "the Redis connection closed before the command was answered"),
        "unreachable" => ["Redis could not be reached: ", detail].concat(),
        "timeout" => ["Redis did not answer within ", detail, " ms"].concat(),
        "reply" => ["Redis refused the command: ", detail].concat(),
        "protocol" => ["Redis sent a reply that is not RESP (", detail, "): the connection was dropped"].concat(),
        _ => ["Redis failed: ", name, " ", detail].concat(),
    };
    Error::new(ErrorKind::Storage, message)
}
/// An error reply (`reply`: its line after `-`): the command's error,
/// and whether its connection is dropped, so that the next command
/// connects again. Only a reply that says the connection reaches a
/// replica (`READONLY`, `MASTERDOWN`: after a failover the address may
/// lead to the new primary) drops it. Any other (`ERR`, `WRONGTYPE`,
/// `NOSCRIPT`, `LOADING`: the server is starting and will answer later)
/// fails that command only: the replies are still in step.
pub fn error_reply(reply: &str) -> (Error, bool) {
    let kind = reply.split(' ').next().unwrap_or("");
    (failure("reply", reply), matches!(kind, "READONLY" | "MASTERDOWN"))
}
/// KEYS: lock, fence; ARGV: lock ttl ms, session ttl ms. The new fencing
/// token, or 0 while another holds the lock.
pub const ACQUIRE: &str = "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end \
local f = redis.call('INCR', KEYS[2]) redis.call('PEXPIRE', KEYS[2], ARGV[2]) \
redis.call('SET', KEYS[1], f, 'PX', ARGV[1]) return f";
/// KEYS: lock, session; ARGV: token, record, session ttl ms. 1 if written.
pub const WRITE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
/// KEYS: lock, session; ARGV: token. Deletes the session under the lock. 1 if deleted.
pub const REMOVE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
redis.call('DEL', KEYS[2]) return 1 end return 0";
/// KEYS: lock; ARGV: token. Frees the lock if it is still the caller's.
pub const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
return redis.call('DEL', KEYS[1]) end return 0";
