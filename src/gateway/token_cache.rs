//! Verified tokens, cached per isolate, keyed by a 128-bit keyed hash of the
//! token's bytes (so no token is kept in memory) and bounded in count, hence
//! memory: an entry is a 16-byte key plus `sub` (<= 255 B) and `kid`
//! (<= 256 B).
//!
//! The key is SipHash-2-4 with its 128-bit output (the `siphasher` crate)
//! under a secret key drawn per isolate: a keyed PRF, so a caller who cannot
//! read the isolate's memory cannot aim a forged token at a cached one (each
//! guess succeeds with probability 2^-128 per cached entry). One run over
//! the token gives all 128 bits; it replaced two 64-bit runs under two keys,
//! and before them SHA-256, which took most of a cache hit's CPU in wasm
//! (about 5x the cost per byte).
//!
//! A hit skips the signature and claim parsing, never the rules that change
//! with time: every hit re-checks `exp` and `nbf` against `now`. Route rules
//! apply before the cache is consulted (only JWT routes look here). Entries
//! whose `kid` leaves the JWKS are dropped by [`TokenCache::drop_kids`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::SipHasher24;

use super::jwt::{check_times, Claims, Reason, Rejection};

pub type TokenHash = [u8; 16];

/// The keyed hash of tokens: SipHash-2-4-128 under a 128-bit secret key.
/// Its `Debug` shows no key.
#[derive(Clone)]
pub struct TokenHasher(SipHasher24);

impl TokenHasher {
    /// From 32 secret random bytes (drawn once per isolate by the binding);
    /// the first 16 are the key.
    pub fn new(seed: [u8; 32]) -> Self {
        let key: &[u8; 16] = seed.first_chunk().expect("16 of 32 bytes");
        TokenHasher(SipHasher24::new_with_key(key))
    }

    pub fn hash(&self, token: &str) -> TokenHash {
        self.0.hash(token.as_bytes()).as_bytes()
    }
}

impl fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHasher(<secret key>)")
    }
}

/// The map's hash of a key that is already a secret-keyed hash: its first
/// 8 bytes. The std map's own SipHash over it was a visible cost per request,
/// and buys nothing: nobody can aim keys at a bucket without the secret.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn write(&mut self, bytes: &[u8]) {
        match bytes.first_chunk::<8>() {
            Some(first) => self.0 ^= u64::from_le_bytes(*first),
            // The slice's length prefix: the same for every key.
            None => bytes.iter().for_each(|&b| self.0 = self.0.rotate_left(8) ^ b as u64),
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Clone)]
struct Entry {
    claims: Claims,
    kid: Option<String>,
}

#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    map: HashMap<TokenHash, Entry, BuildHasherDefault<PreHashed>>,
    /// Insertion order, for FIFO eviction; may hold hashes already removed.
    order: VecDeque<TokenHash>,
}

pub const DEFAULT_CAPACITY: usize = 4096;

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache { capacity: capacity.max(1), map: HashMap::default(), order: VecDeque::new() }
    }

    /// A cached verification, re-checked against `now`: `None` on a miss,
    /// `Some(Err)` for a cached token that has expired (then dropped).
    pub fn get(&mut self, hash: &TokenHash, now: i64, skew: i64) -> Option<Result<Claims, Rejection>> {
        let entry = self.map.get(hash)?;
        match check_times(entry.claims.exp, entry.claims.nbf, now, skew) {
            Ok(()) => Some(Ok(entry.claims.clone())),
            Err((reason, expired_secs)) => {
                let rejection = Rejection { reason, kid: entry.kid.clone(), expired_secs };
                if reason == Reason::Expired {
                    self.map.remove(hash);
                }
                Some(Err(rejection))
            }
        }
    }

    pub fn insert(&mut self, hash: TokenHash, claims: Claims, kid: Option<String>) {
        if self.map.contains_key(&hash) {
            return;
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.map.insert(hash, Entry { claims, kid });
        self.order.push_back(hash);
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order.retain(|h| map.contains_key(h));
        }
    }

    /// Drops every token signed with one of `kids`.
    pub fn drop_kids(&mut self, kids: &[String]) {
        if !kids.is_empty() {
            self.map.retain(|_, e| !e.kid.as_ref().is_some_and(|k| kids.contains(k)));
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::gateway::authorize::Grants;

    fn token_hash(token: &str) -> TokenHash {
        TokenHasher::new([7; 32]).hash(token)
    }

    #[test]
    fn the_hash_depends_on_the_secret_and_every_byte() {
        let a = TokenHasher::new([1; 32]);
        let mut seed = [1; 32];
        seed[15] = 2;
        let b = TokenHasher::new(seed);
        assert_eq!(a.hash("header.payload.sig"), a.hash("header.payload.sig"));
        assert_ne!(a.hash("header.payload.sig"), b.hash("header.payload.sig"), "another isolate's key gives another hash");
        assert_ne!(a.hash("header.payload.sig"), a.hash("header.payload.sih"));
        assert_ne!(a.hash(""), a.hash("\0"));
        // Every byte of the 16-byte key counts, and both halves of the output depend on it.
        for i in 0..16 {
            let mut seed = [1; 32];
            seed[i] ^= 0x80;
            let (x, y) = (a.hash("t"), TokenHasher::new(seed).hash("t"));
            assert!(x[..8] != y[..8] && x[8..] != y[8..], "key byte {i}");
        }
        assert!(!format!("{a:?}").contains("1"), "no key in Debug");
    }

    #[test]
    fn the_hash_is_siphash_2_4_128() {
        // The reference implementation's vectors (vectors_sip128 in
        // veorq/SipHash): key 00..0f, messages 00..(n-1).
        let mut seed = [0; 32];
        seed[..16].iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let h = TokenHasher::new(seed);
        let message = |n: u8| (0..n).map(char::from).collect::<String>();
        assert_eq!(h.hash(""), [0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93]);
        assert_eq!(h.hash(&message(7)), [0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82, 0x39]);
        assert_eq!(h.hash(&message(8)), [0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97, 0xb4]);
    }

    fn claims(exp: i64) -> Claims {
        Claims { sub: "u".into(), exp, nbf: None, grants: Default::default() }
    }

    #[test]
    fn hits_recheck_expiry() {
        let mut c = TokenCache::new(10);
        let h = token_hash("t1");
        c.insert(h, claims(100), Some("k".into()));
        assert_eq!(c.get(&h, 50, 30), Some(Ok(claims(100))));
        assert_eq!(c.get(&h, 129, 30), Some(Ok(claims(100))));
        let e = c.get(&h, 130, 30).unwrap().unwrap_err();
        assert_eq!((e.reason, e.expired_secs, e.kid.as_deref()), (Reason::Expired, Some(30), Some("k")));
        assert_eq!(c.get(&h, 130, 30), None, "expired entries are dropped");
        assert_eq!(c.get(&token_hash("t2"), 50, 30), None);
    }

    #[test]
    fn hits_share_the_cached_sub_and_grants() {
        let mut c = TokenCache::new(10);
        let h = token_hash("t");
        let (sub, grants): (Rc<str>, _) = ("u".into(), Rc::new(Grants { scopes: vec!["read".into()], ..Grants::default() }));
        c.insert(h, Claims { sub: sub.clone(), exp: 1000, nbf: None, grants: grants.clone() }, None);
        for _ in 0..2 {
            let hit = c.get(&h, 0, 0).unwrap().unwrap();
            assert!(Rc::ptr_eq(&hit.sub, &sub) && Rc::ptr_eq(&hit.grants, &grants), "a hit hands out the cached values, not copies");
        }
    }

    #[test]
    fn not_yet_valid_stays_cached_but_is_refused() {
        let mut c = TokenCache::new(10);
        let h = token_hash("t");
        c.insert(h, Claims { sub: "u".into(), exp: 1000, nbf: Some(500), grants: Default::default() }, None);
        assert_eq!(c.get(&h, 400, 30).unwrap().unwrap_err().reason, Reason::NotYetValid);
        assert!(c.get(&h, 480, 30).unwrap().is_ok());
    }

    #[test]
    fn bounded_in_count_and_fifo() {
        let mut c = TokenCache::new(100);
        for i in 0..10_000 {
            c.insert(token_hash(&i.to_string()), claims(1000), None);
            assert!(c.len() <= 100);
            assert!(c.order.len() <= 200);
        }
        assert!(c.get(&token_hash("9999"), 0, 0).is_some());
        assert!(c.get(&token_hash("0"), 0, 0).is_none());
    }

    #[test]
    fn dropping_kids_drops_their_tokens() {
        let mut c = TokenCache::new(10);
        c.insert(token_hash("a"), claims(1000), Some("old".into()));
        c.insert(token_hash("b"), claims(1000), Some("new".into()));
        c.insert(token_hash("h"), claims(1000), None);
        c.drop_kids(&["old".to_string()]);
        assert!(c.get(&token_hash("a"), 0, 0).is_none());
        assert!(c.get(&token_hash("b"), 0, 0).is_some());
        assert!(c.get(&token_hash("h"), 0, 0).is_some());
    }
}
