//! The JWKS cache policy, as a state machine the binding drives.
//!
//! The binding asks [`JwksCache::lookup`] for a token's key and gets a
//! [`KeyLookup`]: use this key, fetch now, wait for the fetch another request
//! started, refuse, or 503. It does the fetch itself (each request its own:
//! Workers forbid I/O on behalf of another request) and reports back with
//! [`JwksCache::on_discovery`], [`JwksCache::on_jwks`] or
//! [`JwksCache::on_failure`]. The rules:
//! - fetched lazily, on the first token that needs a key;
//! - fresh for [`JwksPolicy::ttl_secs`] (10 min); a stale set is refetched,
//!   and still used if that fails ("keys still cached keep working");
//! - an unknown `kid` triggers at most one fetch per
//!   [`JwksPolicy::cooldown_secs`] (30 s), so a flood of random kids is at most
//!   one fetch per cooldown; while a fetch is in flight, others wait for it;
//! - no usable key and the last fetch failed: [`KeyLookup::Unavailable`] (503);
//! - a fetch that drops or changes a `kid` reports it, so the binding drops
//!   the imported CryptoKey and the token cache drops tokens signed with it.

use serde_json::Value;

use super::config::{Alg, JwksSource};
use super::jwt::{b64url_decode, Reason, MAX_KID_BYTES};

/// Largest JWKS or discovery body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Keys beyond this many in one set are ignored.
pub const MAX_KEYS: usize = 64;
/// A JWKS or discovery fetch gives up after this long.
pub const FETCH_TIMEOUT_MS: u32 = 3000;
/// How often a request waiting for another's fetch looks again, and how many
/// times at most (covers the default 5 s in-flight window).
pub const WAIT_STEP_MS: u32 = 25;
pub const MAX_WAITS: usize = 260;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksPolicy {
    pub ttl_secs: i64,
    pub cooldown_secs: i64,
    /// How long a fetch may be in flight before others stop waiting for it.
    pub fetch_timeout_secs: i64,
}

impl Default for JwksPolicy {
    fn default() -> Self {
        JwksPolicy { ttl_secs: 600, cooldown_secs: 30, fetch_timeout_secs: 5 }
    }
}

/// A verification key from the JWKS, with the material WebCrypto imports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Jwk {
    pub kid: Option<String>,
    pub material: KeyMaterial,
    /// The one algorithm this key may verify: its JWK `alg` member, or the
    /// token's for a key without one ([`Jwk::for_alg`]). WebCrypto imports a
    /// key for one algorithm, so an RSA key used for RS256 and PS256 is two.
    pub alg: Option<Alg>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyMaterial {
    /// RSA public key, base64url modulus and exponent (for RS256 and PS256).
    Rsa { n: String, e: String },
    /// P-256 public key, base64url coordinates (for ES256).
    P256 { x: String, y: String },
    /// Ed25519 public key, base64url (for EdDSA).
    Ed25519 { x: String },
}

impl Jwk {
    /// Whether this key can verify `alg`: the key type decides, so RS/ES/HS
    /// confusion is impossible (HS256 never uses JWKS keys at all).
    pub fn fits(&self, alg: Alg) -> bool {
        material_fits(&self.material, alg) && self.alg.is_none_or(|a| a == alg)
    }

    /// The algorithm this key verifies with: its own, or its material's first.
    pub fn alg(&self) -> Alg {
        self.alg.unwrap_or(match self.material {
            KeyMaterial::Rsa { .. } => Alg::Rs256,
            KeyMaterial::P256 { .. } => Alg::Es256,
            KeyMaterial::Ed25519 { .. } => Alg::EdDsa,
        })
    }

    /// This key as used for a token of `alg` (which it [`fits`](Jwk::fits)).
    pub fn for_alg(&self, alg: Alg) -> Jwk {
        Jwk { alg: Some(alg), ..self.clone() }
    }

    /// The same key of the set, whatever algorithm it was taken for.
    pub fn same_key(&self, other: &Jwk) -> bool {
        self.kid == other.kid && self.material == other.material
    }
}

/// Which algorithms a key type verifies: the key type decides, so RS/ES/HS
/// confusion is impossible (HS256 never uses JWKS keys at all).
fn material_fits(material: &KeyMaterial, alg: Alg) -> bool {
    matches!(
        (material, alg),
        (KeyMaterial::Rsa { .. }, Alg::Rs256 | Alg::Ps256) | (KeyMaterial::P256 { .. }, Alg::Es256) | (KeyMaterial::Ed25519 { .. }, Alg::EdDsa)
    )
}

/// What the binding should do for a token's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup<'a> {
    /// Verify with this key.
    Key(&'a Jwk),
    /// Call [`JwksCache::begin_fetch`] and fetch what it says.
    Fetch,
    /// Another request is fetching: sleep a little and look up again.
    Wait,
    /// Refuse the token (401).
    Reject(Reason),
    /// No usable key and the JWKS is unreachable (503).
    Unavailable,
}

/// What to fetch next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchStep {
    /// The issuer's discovery document; report with `on_discovery`.
    Discovery(String),
    /// The key set; report with `on_jwks`.
    Jwks(String),
}

/// Why a fetched body was refused (the old keys stay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    TooLarge,
    NotJson,
    /// The discovery document's `issuer` is not the configured one, or it has
    /// no usable `jwks_uri`.
    BadDiscovery(&'static str),
    /// The set has no RS256/ES256 key this gateway can use.
    NoUsableKeys,
}

impl JwksError {
    /// What the log says about it. (Not `Debug`: the wasm builds print
    /// nothing for it, `-Zfmt-debug=none` in .cargo/config.toml.)
    pub fn detail(&self) -> &'static str {
        match self {
            JwksError::TooLarge => "the body is larger than 64 KiB",
            JwksError::NotJson => "the body is not JSON with a `keys` array",
            JwksError::BadDiscovery(why) => why,
            JwksError::NoUsableKeys => "no key the gateway can use (RS256, PS256, ES256 or EdDSA, for signatures)",
        }
    }
}

#[derive(Debug)]
pub struct JwksCache {
    policy: JwksPolicy,
    issuer: String,
    /// The JWKS URL once known (configured, or from discovery).
    jwks_url: Option<String>,
    discovery_url: Option<String>,
    keys: Vec<Jwk>,
    fetched_at: Option<i64>,
    last_attempt: Option<i64>,
    last_failed: bool,
    in_flight_since: Option<i64>,
}

enum Find<'a> {
    Found(&'a Jwk),
    Mismatch,
    Missing,
}

impl JwksCache {
    pub fn new(source: &JwksSource, issuer: &str, policy: JwksPolicy) -> Self {
        let (jwks_url, discovery_url) = match source {
            JwksSource::Url(u) => (Some(u.clone()), None),
            JwksSource::Discovery(u) => (None, Some(u.clone())),
        };
        JwksCache {
            policy,
            issuer: issuer.to_string(),
            jwks_url,
            discovery_url,
            keys: Vec::new(),
            fetched_at: None,
            last_attempt: None,
            last_failed: false,
            in_flight_since: None,
        }
    }

    fn find(&self, kid: Option<&str>, alg: Alg) -> Find<'_> {
        match kid {
            Some(kid) => match self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(k) if k.fits(alg) => Find::Found(k),
                Some(_) => Find::Mismatch,
                None => Find::Missing,
            },
            // No kid: acceptable only when exactly one key fits (as jose does).
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Find::Found(k),
                    _ => Find::Missing,
                }
            }
        }
    }

    /// The decision for a token signed with `alg` naming `kid`, at `now`.
    pub fn lookup(&self, kid: Option<&str>, alg: Alg, now: i64) -> KeyLookup<'_> {
        let in_flight = self.in_flight_since.is_some_and(|t| now - t < self.policy.fetch_timeout_secs);
        let cooled = self.last_attempt.is_none_or(|t| now - t >= self.policy.cooldown_secs);
        let fresh = self.fetched_at.is_some_and(|t| now - t < self.policy.ttl_secs);
        match self.find(kid, alg) {
            Find::Found(k) if fresh || in_flight => KeyLookup::Key(k),
            // Stale: refetch, unless a fetch failed within the cooldown; then
            // keep using what we have.
            Find::Found(k) => {
                if self.last_failed && !cooled { KeyLookup::Key(k) } else { KeyLookup::Fetch }
            }
            Find::Mismatch if fresh || !cooled || in_flight => KeyLookup::Reject(Reason::KeyTypeMismatch),
            Find::Mismatch | Find::Missing if in_flight => KeyLookup::Wait,
            Find::Mismatch | Find::Missing if cooled => KeyLookup::Fetch,
            Find::Mismatch | Find::Missing => {
                if self.last_failed { KeyLookup::Unavailable } else { KeyLookup::Reject(Reason::UnknownKid) }
            }
        }
    }

    /// Records that a fetch starts now; returns what to fetch first.
    pub fn begin_fetch(&mut self, now: i64) -> FetchStep {
        self.in_flight_since = Some(now);
        self.last_attempt = Some(now);
        match (&self.jwks_url, &self.discovery_url) {
            (Some(u), _) => FetchStep::Jwks(u.clone()),
            (None, Some(d)) => FetchStep::Discovery(d.clone()),
            (None, None) => unreachable!("a JwksCache always has a URL or a discovery URL"),
        }
    }

    /// Feeds the discovery document; returns the JWKS URL to fetch next.
    pub fn on_discovery(&mut self, body: &[u8], now: i64) -> Result<String, JwksError> {
        let result = (|| {
            if body.len() > MAX_BODY_BYTES {
                return Err(JwksError::TooLarge);
            }
            let doc: Value = serde_json::from_slice(body).map_err(|_| JwksError::NotJson)?;
            if doc.get("issuer").and_then(Value::as_str) != Some(self.issuer.as_str()) {
                return Err(JwksError::BadDiscovery("issuer differs from MESH_JWT_ISSUER"));
            }
            let uri = doc.get("jwks_uri").and_then(Value::as_str).unwrap_or("");
            if !(uri.starts_with("https://") || uri.starts_with("http://")) || uri.len() > 2048 {
                return Err(JwksError::BadDiscovery("no http(s) jwks_uri"));
            }
            Ok(uri.to_string())
        })();
        match &result {
            Ok(uri) => self.jwks_url = Some(uri.clone()),
            Err(_) => self.on_failure(now),
        }
        result
    }

    /// Feeds a fetched key set. On success returns the kids that left the set
    /// or changed, whose cached CryptoKeys and verified tokens must go.
    pub fn on_jwks(&mut self, body: &[u8], now: i64) -> Result<Vec<String>, JwksError> {
        let keys = match parse_jwks(body) {
            Ok(keys) => keys,
            Err(e) => {
                self.on_failure(now);
                return Err(e);
            }
        };
        let gone = self
            .keys
            .iter()
            .filter(|old| !keys.contains(old))
            .filter_map(|old| old.kid.clone())
            .collect();
        self.keys = keys;
        self.fetched_at = Some(now);
        self.last_failed = false;
        self.in_flight_since = None;
        Ok(gone)
    }

    /// A fetch failed (network, timeout, status, redirect, bad body).
    pub fn on_failure(&mut self, _now: i64) {
        self.last_failed = true;
        self.in_flight_since = None;
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }
}

/// Parses a JWKS body, keeping the RSA (>= 2048-bit) and P-256 signature
/// keys; other keys (oct, OKP, encryption keys, other curves) are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, JwksError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(JwksError::TooLarge);
    }
    let doc: Value = serde_json::from_slice(body).map_err(|_| JwksError::NotJson)?;
    let list = doc.get("keys").and_then(Value::as_array).ok_or(JwksError::NotJson)?;
    let mut out: Vec<Jwk> = Vec::new();
    for k in list.iter().take(MAX_KEYS) {
        if let Some(jwk) = parse_jwk(k) {
            // Two keys with one kid would make the choice ambiguous: keep the first.
            if jwk.kid.is_none() || !out.iter().any(|o| o.kid == jwk.kid) {
                out.push(jwk);
            }
        }
    }
    if out.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(out)
}

fn parse_jwk(k: &Value) -> Option<Jwk> {
    let s = |name: &str| k.get(name).and_then(Value::as_str);
    if k.get("use").is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = k.get("key_ops") {
        if !ops.as_array()?.iter().any(|o| o == "verify") {
            return None;
        }
    }
    let kid = match k.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_BYTES => Some(kid.clone()),
        Some(_) => return None,
    };
    let material = match s("kty")? {
        "RSA" => {
            let (n, e) = (s("n")?, s("e")?);
            let n_bytes = b64url_decode(n).ok()?;
            let e_bytes = b64url_decode(e).ok()?;
            // RSA below 2048 bits is refused (NIST SP 800-131A).
            if n_bytes.len() < 256 || n_bytes.len() > 1024 || e_bytes.is_empty() || e_bytes.len() > 8 {
                return None;
            }
            KeyMaterial::Rsa { n: n.to_string(), e: e.to_string() }
        }
        "EC" if s("crv")? == "P-256" => {
            let (x, y) = (s("x")?, s("y")?);
            if b64url_decode(x).ok()?.len() != 32 || b64url_decode(y).ok()?.len() != 32 {
                return None;
            }
            KeyMaterial::P256 { x: x.to_string(), y: y.to_string() }
        }
        "OKP" if s("crv")? == "Ed25519" => {
            let x = s("x")?;
            if b64url_decode(x).ok()?.len() != 32 {
                return None;
            }
            KeyMaterial::Ed25519 { x: x.to_string() }
        }
        _ => return None,
    };
    // A key that names its alg may only be used with that alg.
    let alg = match s("alg") {
        None => None,
        Some(a) => Some(Alg::parse(a).filter(|a| *a != Alg::Hs256 && material_fits(&material, *a))?),
    };
    Some(Jwk { kid, material, alg })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn rsa_jwk(kid: &str) -> String {
        let n = super::super::jwt::b64url_encode(&[0xc5; 256]);
        format!(r#"{{"kty":"RSA","kid":"{kid}","use":"sig","alg":"RS256","n":"{n}","e":"AQAB"}}"#)
    }

    pub fn ec_jwk(kid: &str) -> String {
        let c = super::super::jwt::b64url_encode(&[7; 32]);
        format!(r#"{{"kty":"EC","kid":"{kid}","crv":"P-256","x":"{c}","y":"{c}"}}"#)
    }

    fn set(keys: &[String]) -> Vec<u8> {
        format!(r#"{{"keys":[{}]}}"#, keys.join(",")).into_bytes()
    }

    fn cache() -> JwksCache {
        JwksCache::new(&JwksSource::Url("https://i/jwks".into()), "https://i", JwksPolicy::default())
    }

    #[test]
    fn every_refusal_says_why_in_the_log() {
        assert!(MAX_BODY_BYTES == 64 * 1024, "TooLarge's detail names 64 KiB");
        for e in [JwksError::TooLarge, JwksError::NotJson, JwksError::BadDiscovery("no http(s) jwks_uri"), JwksError::NoUsableKeys] {
            assert!(e.detail().len() > 10, "{e:?}");
        }
        assert_eq!(JwksError::BadDiscovery("no http(s) jwks_uri").detail(), "no http(s) jwks_uri");
        assert_eq!(parse_jwks(b"[]").map_err(|e| e.detail()), Err("the body is not JSON with a `keys` array"));
    }

    #[test]
    fn lazy_fetch_then_keys_by_kid_and_type() {
        let mut c = cache();
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 0), KeyLookup::Fetch);
        assert_eq!(c.begin_fetch(0), FetchStep::Jwks("https://i/jwks".into()));
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 1), KeyLookup::Wait);
        assert_eq!(c.on_jwks(&set(&[rsa_jwk("a"), ec_jwk("e")]), 1), Ok(vec![]));
        assert!(matches!(c.lookup(Some("a"), Alg::Rs256, 2), KeyLookup::Key(k) if k.kid.as_deref() == Some("a")));
        assert!(matches!(c.lookup(Some("e"), Alg::Es256, 2), KeyLookup::Key(_)));
        // An RSA key can never verify ES256 and vice versa; no refetch for that.
        assert_eq!(c.lookup(Some("a"), Alg::Es256, 2), KeyLookup::Reject(Reason::KeyTypeMismatch));
        assert_eq!(c.lookup(Some("e"), Alg::Rs256, 2), KeyLookup::Reject(Reason::KeyTypeMismatch));
        // No kid: only when exactly one key fits.
        assert!(matches!(c.lookup(None, Alg::Es256, 2), KeyLookup::Key(_)));
    }

    #[test]
    fn a_flood_of_unknown_kids_is_one_fetch_per_cooldown() {
        let mut c = cache();
        c.begin_fetch(0);
        c.on_jwks(&set(&[rsa_jwk("a")]), 0).unwrap();
        let mut fetches = 0;
        for now in 0..120 {
            for i in 0..50 {
                let kid = format!("random-{now}-{i}");
                loop {
                    match c.lookup(Some(&kid), Alg::Rs256, now) {
                        KeyLookup::Fetch => {
                            fetches += 1;
                            c.begin_fetch(now);
                            c.on_jwks(&set(&[rsa_jwk("a")]), now).unwrap();
                        }
                        KeyLookup::Reject(r) => {
                            assert_eq!(r, Reason::UnknownKid);
                            break;
                        }
                        other => panic!("{other:?}"),
                    }
                }
            }
        }
        // 6000 unknown kids over 120 s after the first fetch at 0: one refetch
        // per 30 s cooldown (at 30, 60 and 90).
        assert_eq!(fetches, 3);
    }

    #[test]
    fn outage_gives_503_without_keys_and_keeps_cached_keys_working() {
        let mut c = cache();
        c.begin_fetch(0);
        c.on_failure(0);
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 1), KeyLookup::Unavailable);
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 30), KeyLookup::Fetch);
        c.begin_fetch(30);
        c.on_jwks(&set(&[rsa_jwk("a")]), 30).unwrap();
        // Ten minutes later the set is stale: refetch; the fetch fails; the
        // cached key keeps working, and the next try waits for the cooldown.
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 630), KeyLookup::Fetch);
        c.begin_fetch(630);
        c.on_failure(631);
        assert!(matches!(c.lookup(Some("a"), Alg::Rs256, 631), KeyLookup::Key(_)));
        assert!(matches!(c.lookup(Some("a"), Alg::Rs256, 659), KeyLookup::Key(_)));
        assert_eq!(c.lookup(Some("b"), Alg::Rs256, 640), KeyLookup::Unavailable);
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 660), KeyLookup::Fetch);
    }

    #[test]
    fn a_stuck_fetch_stops_blocking_others_after_its_timeout() {
        let mut c = cache();
        c.begin_fetch(0);
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 4), KeyLookup::Wait);
        // The fetching request vanished without reporting; after the timeout,
        // with the cooldown not yet over, nothing is known: 401 unknown kid.
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 5), KeyLookup::Reject(Reason::UnknownKid));
        assert_eq!(c.lookup(Some("a"), Alg::Rs256, 30), KeyLookup::Fetch);
    }

    #[test]
    fn refetch_reports_kids_that_left_or_changed() {
        let mut c = cache();
        c.begin_fetch(0);
        c.on_jwks(&set(&[rsa_jwk("a"), ec_jwk("b"), ec_jwk("c")]), 0).unwrap();
        c.begin_fetch(700);
        let changed_c = ec_jwk("c").replacen("BwcH", "CAgI", 1);
        let gone = c.on_jwks(&set(&[rsa_jwk("a"), changed_c]), 700).unwrap();
        assert_eq!(gone, vec!["b".to_string(), "c".to_string()]);
    }

    #[test]
    fn discovery_then_jwks() {
        let mut c = JwksCache::new(
            &JwksSource::Discovery("https://i/.well-known/openid-configuration".into()),
            "https://i",
            JwksPolicy::default(),
        );
        assert_eq!(c.begin_fetch(0), FetchStep::Discovery("https://i/.well-known/openid-configuration".into()));
        assert_eq!(
            c.on_discovery(br#"{"issuer":"https://evil","jwks_uri":"https://evil/jwks"}"#, 0),
            Err(JwksError::BadDiscovery("issuer differs from MESH_JWT_ISSUER"))
        );
        assert_eq!(c.on_discovery(br#"{"issuer":"https://i","jwks_uri":"https://i/k"}"#, 30), Ok("https://i/k".into()));
        // Later fetches go straight to the JWKS.
        assert_eq!(c.begin_fetch(60), FetchStep::Jwks("https://i/k".into()));
    }

    #[test]
    fn a_key_verifies_only_the_algorithms_of_its_type_and_its_alg_member() {
        let ed_x = super::super::jwt::b64url_encode(&[7; 32]);
        let ed = format!(r#"{{"kty":"OKP","kid":"d","crv":"Ed25519","x":"{ed_x}"}}"#);
        let pss_only = rsa_jwk("p").replace("RS256", "PS256");
        let keys = parse_jwks(&set(&[rsa_jwk("r").replace(r#""alg":"RS256","#, ""), pss_only, ed])).unwrap();
        let [any_rsa, pss, ed] = [&keys[0], &keys[1], &keys[2]];
        assert!(any_rsa.fits(Alg::Rs256) && any_rsa.fits(Alg::Ps256) && !any_rsa.fits(Alg::Es256) && !any_rsa.fits(Alg::EdDsa));
        assert!(pss.fits(Alg::Ps256) && !pss.fits(Alg::Rs256));
        assert!(ed.fits(Alg::EdDsa) && !ed.fits(Alg::Es256) && !ed.fits(Alg::Rs256));
        // Taken for PS256, the RSA key is another WebCrypto key than for RS256.
        let (a, b) = (any_rsa.for_alg(Alg::Rs256), any_rsa.for_alg(Alg::Ps256));
        assert!(a != b && a.same_key(&b) && b.alg() == Alg::Ps256);
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let small = format!(r#"{{"kty":"RSA","kid":"s","n":"{}","e":"AQAB"}}"#, super::super::jwt::b64url_encode(&[1; 128]));
        let enc = rsa_jwk("x").replace(r#""use":"sig""#, r#""use":"enc""#);
        let wrong_alg = rsa_jwk("y").replace("RS256", "RS384");
        let other_family = rsa_jwk("z").replace("RS256", "ES256");
        let hs = rsa_jwk("h").replace("RS256", "HS256");
        let oct = r#"{"kty":"oct","kid":"o","k":"AAAA"}"#.to_string();
        let p384 = ec_jwk("p").replace("P-256", "P-384");
        let x448 = r#"{"kty":"OKP","kid":"x","crv":"X448","x":"AAAA"}"#.to_string();
        let short_ed = r#"{"kty":"OKP","kid":"d","crv":"Ed25519","x":"AAAA"}"#.to_string();
        let keys = [small, enc, wrong_alg, other_family, hs, oct, p384, x448, short_ed];
        assert_eq!(parse_jwks(&set(&keys)), Err(JwksError::NoUsableKeys));
        assert_eq!(parse_jwks(b"[]"), Err(JwksError::NotJson));
        assert_eq!(parse_jwks(&vec![b' '; MAX_BODY_BYTES + 1]), Err(JwksError::TooLarge));
        let dup = parse_jwks(&set(&[rsa_jwk("a"), ec_jwk("a")])).unwrap();
        assert_eq!(dup.len(), 1);
    }
}
