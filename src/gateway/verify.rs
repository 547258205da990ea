//! The JWT verification pipeline as a step loop the binding drives:
//! [`JwtVerifier::step`] says what verifying a token needs next (nothing:
//! the claims; or a JWKS fetch, a key import, a signature verdict), the
//! binding does that IO, feeds the result in, and steps again. A cached or
//! HS256 token, or a refusal, is the same loop finishing at its first step.

use super::config::JwtConfig;
use super::jwks::{Jwk, JwksCache, JwksError, JwksPolicy, KeyLookup};
use super::jwt::{self, Claims, JwtRules, Parsed, ParsedJwt, Reason, Rejection, Verified};
use super::token_cache::{TokenCache, TokenHash, TokenHasher, DEFAULT_CAPACITY};

pub enum JwtStep<'t> {
    Done(Result<Claims, Rejection>),
    /// Verify `jwt.signature` over `jwt.signing_input` with the JWKS key for
    /// `jwt.kid`/`jwt.alg`, then call [`JwtVerifier::finish`].
    NeedSignature(ParsedJwt<'t>, TokenHash),
}

/// What verifying a token needs next.
#[derive(Debug)]
pub enum JwtNeed<'t> {
    /// Nothing: the claims, or why the token is refused.
    Done(Result<Claims, Rejection>),
    /// The key set cannot be had (JWKS or discovery unreachable).
    Unavailable,
    /// Fetch the key set ([`JwksCache::begin_fetch`] says from where), feed
    /// it to [`JwtVerifier::on_jwks`], step again.
    FetchJwks,
    /// Another request's fetch is in flight: step again shortly.
    Wait,
    /// Import this key, step again.
    ImportKey(Jwk),
    /// Check the signature over `signing_input` with this imported key;
    /// step again with the verdict for the hash.
    Verify(Jwk, ParsedJwt<'t>, TokenHash),
}

#[derive(Debug)]
pub struct JwtVerifier {
    pub config: JwtConfig,
    pub jwks: Option<JwksCache>,
    rules: JwtRules,
    tokens: TokenCache,
    hasher: TokenHasher,
}

impl JwtVerifier {
    /// `seed`: 32 secret random bytes, the key of the token cache's hash.
    pub fn new(config: JwtConfig, seed: [u8; 32]) -> Self {
        let jwks = config.jwks.as_ref().map(|s| JwksCache::new(s, &config.issuer, JwksPolicy::default()));
        let rules = JwtRules::new(&config);
        JwtVerifier { config, jwks, rules, tokens: TokenCache::new(DEFAULT_CAPACITY), hasher: TokenHasher::new(seed) }
    }

    pub fn start<'t>(&mut self, token: &'t str, now: i64) -> JwtStep<'t> {
        if token.len() > jwt::MAX_TOKEN_BYTES {
            return JwtStep::Done(Err(Reason::TokenTooLarge.into()));
        }
        let hash = self.hasher.hash(token);
        if let Some(hit) = self.tokens.get(&hash, now, self.config.clock_skew_secs) {
            return JwtStep::Done(hit);
        }
        match jwt::parse(token, &self.rules) {
            Err(r) => JwtStep::Done(Err(r)),
            Ok(Parsed::Hs256 { kid }) => {
                let verified = jwt::decode_hs256(token, kid, &self.rules, now);
                JwtStep::Done(self.cache(hash, verified))
            }
            Ok(Parsed::Signed(_)) if self.jwks.is_none() => JwtStep::Done(Err(Reason::AlgNotAllowed.into())),
            Ok(Parsed::Signed(parsed)) => JwtStep::NeedSignature(parsed, hash),
        }
    }

    /// One step of verifying `token` at `now`. `imported`: whether the
    /// binding holds an imported key for a JWK; `verdict`: the signature's
    /// verdict for the token of that hash, from a `Verify` step (applied
    /// once, and only where the token's kid still names a key).
    pub fn step<'t>(&mut self, token: &'t str, now: i64, imported: impl Fn(&Jwk) -> bool, verdict: Option<(TokenHash, bool)>) -> JwtNeed<'t> {
        let (parsed, hash) = match self.start(token, now) {
            JwtStep::Done(result) => return JwtNeed::Done(result),
            JwtStep::NeedSignature(parsed, hash) => (parsed, hash),
        };
        // `start` asks for a signature only with a key set configured.
        let Some(jwks) = self.jwks.as_ref() else { return JwtNeed::Done(Err(Reason::AlgNotAllowed.into())) };
        let jwk = match jwks.lookup(parsed.kid.as_deref(), parsed.alg, now) {
            KeyLookup::Key(k) => k.for_alg(parsed.alg),
            KeyLookup::Fetch => return JwtNeed::FetchJwks,
            KeyLookup::Wait => return JwtNeed::Wait,
            KeyLookup::Unavailable => return JwtNeed::Unavailable,
            KeyLookup::Reject(reason) => return JwtNeed::Done(Err(Rejection { reason, kid: parsed.kid.clone(), expired_secs: None })),
        };
        match verdict {
            Some((h, ok)) if h == hash => JwtNeed::Done(self.finish(parsed, hash, ok, now)),
            _ if imported(&jwk) => JwtNeed::Verify(jwk, parsed, hash),
            _ => JwtNeed::ImportKey(jwk),
        }
    }

    /// The signature's verdict; on success the claims are checked and cached.
    pub fn finish(&mut self, jwt: ParsedJwt<'_>, hash: TokenHash, signature_ok: bool, now: i64) -> Result<Claims, Rejection> {
        let verified = jwt.verdict(signature_ok).and_then(|proof| jwt::attested_claims(proof, &self.rules, now));
        self.cache(hash, verified)
    }

    fn cache(&mut self, hash: TokenHash, verified: Result<Verified, Rejection>) -> Result<Claims, Rejection> {
        let Verified { claims, kid } = verified?;
        self.tokens.insert(hash, claims.clone(), kid);
        Ok(claims)
    }

    /// Feeds a fetched JWKS; drops cached tokens whose kid left the set and
    /// returns those kids (their imported CryptoKeys must go too).
    pub fn on_jwks(&mut self, body: &[u8], now: i64) -> Result<Vec<String>, JwksError> {
        let jwks = self.jwks.as_mut().expect("on_jwks without a JWKS source");
        let gone = jwks.on_jwks(body, now)?;
        self.tokens.drop_kids(&gone);
        Ok(gone)
    }

    pub fn cached_tokens(&self) -> usize {
        self.tokens.len()
    }
}

/// Which configured issuer verifies `token`: the one its `iss` names. With
/// one issuer that one (its own checks refuse another `iss`); with several,
/// a token naming none of them is refused here, before any key is looked up
/// or fetched.
pub fn pick_issuer(verifiers: &[JwtVerifier], token: &str) -> Result<usize, Rejection> {
    match verifiers.len() {
        0 => Err(Reason::AlgNotAllowed.into()),
        1 => Ok(0),
        _ => {
            let iss = jwt::issuer_of(token).ok_or(Rejection::from(Reason::MissingClaim))?;
            verifiers.iter().position(|v| v.config.issuer == iss).ok_or(Reason::BadIssuer.into())
        }
    }
}

/// Requests whose token's signature check is under way, by the id the
/// verdict comes back with: each held value (the token's hash, with what the
/// request's second pass needs) is taken once, so a verdict cannot be
/// applied twice, and the table is only as large as the checks in flight.
#[derive(Debug)]
pub struct Suspended<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Suspended<T> {
    pub fn new() -> Self {
        Suspended { slots: Vec::new(), free: Vec::new() }
    }

    /// Holds `value` until its verdict; the id to bring back with it.
    pub fn put(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(value);
                id
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// What `id` was held for, once; `None` for an id not held.
    pub fn take(&mut self, id: u32) -> Option<T> {
        let value = self.slots.get_mut(id as usize)?.take()?;
        self.free.push(id);
        Some(value)
    }

    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Default for Suspended<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::jwks::{tests::ec_jwk, KeyLookup};
    use super::super::jwt::tests::{cfg, claims_json, es256, mint, mint_raw, NOW};
    use super::*;
    use crate::gateway::config::{Alg, JwksSource};

    fn verifier() -> JwtVerifier {
        let mut c = cfg();
        c.jwks = Some(JwksSource::Url("https://issuer.example/jwks".into()));
        JwtVerifier::new(c, [3; 32])
    }

    #[test]
    fn hs256_is_verified_in_rust_and_cached() {
        let mut v = verifier();
        let t = mint(&claims_json(""));
        let JwtStep::Done(Ok(c)) = v.start(&t, NOW) else { panic!() };
        assert_eq!(&*c.sub, "user-1");
        assert_eq!(v.cached_tokens(), 1);
        let JwtStep::Done(Ok(_)) = v.start(&t, NOW + 1) else { panic!() };
        // The cache re-checks expiry on a hit.
        let JwtStep::Done(Err(e)) = v.start(&t, NOW + 630) else { panic!() };
        assert_eq!(e.reason, Reason::Expired);
    }

    #[test]
    fn a_token_of_another_issuer_never_asks_for_a_key_set() {
        let mut v = verifier();
        for kid in ["unknown-1", "unknown-2", "e1"] {
            let t = es256(kid, &claims_json("").replace("https://issuer.example", "https://evil.example"));
            let need = v.step(&t, NOW, |_| panic!("no key is looked at"), None);
            assert!(matches!(need, JwtNeed::Done(Err(Rejection { reason: Reason::BadIssuer, .. }))), "{need:?}");
        }
        // A token of the issuer with an unknown kid does ask: the control.
        assert!(matches!(v.step(&es256("unknown-1", &claims_json("")), NOW, |_| false, None), JwtNeed::FetchJwks));
    }

    #[test]
    fn the_tokens_iss_picks_its_issuer_before_anything_else() {
        let mut b = cfg();
        b.issuer = "https://b.example".into();
        let vs = [verifier(), JwtVerifier::new(b, [3; 32])];
        let t = |iss: &str| es256("k", &claims_json("").replace("https://issuer.example", iss));
        assert_eq!(pick_issuer(&vs, &t("https://issuer.example")), Ok(0));
        assert_eq!(pick_issuer(&vs, &t("https://b.example")), Ok(1));
        assert_eq!(pick_issuer(&vs, &t("https://evil.example")).unwrap_err().reason, Reason::BadIssuer);
        assert_eq!(pick_issuer(&vs, &es256("k", r#"{"sub":"a"}"#)).unwrap_err().reason, Reason::MissingClaim);
        assert_eq!(pick_issuer(&vs, "junk").unwrap_err().reason, Reason::MissingClaim);
        // One issuer: its own checks do the refusing.
        assert_eq!(pick_issuer(&vs[..1], &t("https://evil.example")), Ok(0));
        assert_eq!(pick_issuer(&[], "x").unwrap_err().reason, Reason::AlgNotAllowed);
    }

    #[test]
    fn bad_tokens_are_not_cached() {
        let mut v = verifier();
        let t = mint_raw(r#"{"alg":"HS256"}"#, &claims_json(""), "wrong-secret-wrong-secret-wrong-se");
        assert!(matches!(v.start(&t, NOW), JwtStep::Done(Err(Rejection { reason: Reason::BadSignature, .. }))));
        assert_eq!(v.cached_tokens(), 0);
    }

    #[test]
    fn es256_goes_to_webcrypto_and_rotation_drops_cached_tokens() {
        let mut v = verifier();
        let t = es256("e1", &claims_json(""));
        let JwtStep::NeedSignature(p, h) = v.start(&t, NOW) else { panic!() };
        assert_eq!((p.alg, p.kid.as_deref()), (Alg::Es256, Some("e1")));
        let jwks = v.jwks.as_mut().unwrap();
        assert_eq!(jwks.lookup(p.kid.as_deref(), p.alg, NOW), KeyLookup::Fetch);
        jwks.begin_fetch(NOW);
        v.on_jwks(format!(r#"{{"keys":[{}]}}"#, ec_jwk("e1")).as_bytes(), NOW).unwrap();
        assert!(v.finish(p, h, true, NOW).is_ok());
        assert!(matches!(v.start(&t, NOW), JwtStep::Done(Ok(_))));
        // e1 leaves the set: the cached verification goes with it.
        v.jwks.as_mut().unwrap().begin_fetch(NOW + 700);
        assert_eq!(v.on_jwks(format!(r#"{{"keys":[{}]}}"#, ec_jwk("e2")).as_bytes(), NOW + 700).unwrap(), vec!["e1"]);
        assert!(matches!(v.start(&t, NOW + 700), JwtStep::NeedSignature(..)));
    }

    /// The binding's loop with closure mocks: `verdict` answers a signature
    /// check, `jwks` a fetch. Returns the result and the IO steps taken.
    fn drive(v: &mut JwtVerifier, token: &str, now: i64, jwks: &dyn Fn() -> String, verdict: &dyn Fn(&ParsedJwt<'_>) -> bool) -> (Result<Claims, Rejection>, Vec<&'static str>) {
        let mut imported: Vec<Jwk> = Vec::new();
        let mut fed = None;
        let mut steps = Vec::new();
        for _ in 0..10 {
            match v.step(token, now, |k| imported.contains(k), fed.take()) {
                JwtNeed::Done(result) => return (result, steps),
                JwtNeed::Unavailable => panic!("unavailable"),
                JwtNeed::Wait => panic!("nothing else is fetching"),
                JwtNeed::FetchJwks => {
                    steps.push("jwks");
                    v.jwks.as_mut().unwrap().begin_fetch(now);
                    v.on_jwks(jwks().as_bytes(), now).unwrap();
                }
                JwtNeed::ImportKey(k) => {
                    steps.push("import");
                    imported.push(k);
                }
                JwtNeed::Verify(k, parsed, hash) => {
                    steps.push("verify");
                    assert!(imported.contains(&k));
                    fed = Some((hash, verdict(&parsed)));
                }
            }
        }
        panic!("the loop did not finish")
    }

    fn es256_token() -> String {
        es256_token_for("e1")
    }

    fn es256_token_for(kid: &str) -> String {
        es256(kid, &claims_json(""))
    }

    #[test]
    fn the_step_loop_fetches_imports_verifies_then_a_cached_token_needs_no_io() {
        let mut v = verifier();
        let t = es256_token();
        let set = || format!(r#"{{"keys":[{}]}}"#, ec_jwk("e1"));
        let (result, steps) = drive(&mut v, &t, NOW, &set, &|p| p.signature == [1; 64]);
        assert_eq!(&*result.unwrap().sub, "user-1");
        assert_eq!(steps, ["jwks", "import", "verify"]);
        // The same token again: the loop finishes at its first step.
        let (result, steps) = drive(&mut v, &t, NOW + 5, &|| unreachable!("no fetch"), &|_| unreachable!("no verify"));
        assert!(result.is_ok());
        assert!(steps.is_empty(), "{steps:?}");
        // The cache re-checks expiry with the manual clock.
        let (result, _) = drive(&mut v, &t, NOW + 630, &|| unreachable!(), &|_| unreachable!());
        assert_eq!(result.unwrap_err().reason, Reason::Expired);
    }

    #[test]
    fn hs256_and_refusals_finish_without_io() {
        let mut v = verifier();
        let (result, steps) = drive(&mut v, &mint(&claims_json("")), NOW, &|| unreachable!(), &|_| unreachable!());
        assert!(result.is_ok() && steps.is_empty());
        let (result, steps) = drive(&mut v, "not-a-jwt", NOW, &|| unreachable!(), &|_| unreachable!());
        assert!(result.is_err() && steps.is_empty());
    }

    #[test]
    fn a_bad_verdict_refuses_and_is_not_cached_and_a_fetch_in_flight_waits() {
        let mut v = verifier();
        let t = es256_token();
        let set = || format!(r#"{{"keys":[{}]}}"#, ec_jwk("e1"));
        let (result, steps) = drive(&mut v, &t, NOW, &set, &|_| false);
        assert_eq!(result.unwrap_err().reason, Reason::BadSignature);
        assert_eq!(steps, ["jwks", "import", "verify"]);
        assert_eq!(v.cached_tokens(), 0);
        // A verdict for another token's hash is not applied.
        let JwtNeed::Verify(_, _, hash) = v.step(&t, NOW, |_| true, None) else { panic!() };
        let mut other = hash;
        other[0] ^= 1;
        assert!(matches!(v.step(&t, NOW, |_| true, Some((other, true))), JwtNeed::Verify(..)));
        // An unknown kid while another request's fetch is in flight: wait.
        let unknown = es256_token_for("e9");
        v.jwks.as_mut().unwrap().begin_fetch(NOW + 400);
        assert!(matches!(v.step(&unknown, NOW + 400, |_| true, None), JwtNeed::Wait));
    }

    #[test]
    fn a_suspended_verdict_is_taken_once_and_slots_are_reused() {
        let mut s = Suspended::new();
        let (a, b) = (s.put([1; 16]), s.put([2; 16]));
        assert_ne!(a, b);
        assert_eq!(s.take(b), Some([2; 16]));
        assert_eq!(s.take(b), None, "a verdict applies once");
        assert_eq!(s.take(99), None, "an id never given");
        assert_eq!(s.put([3; 16]), b, "a freed slot is reused: the table stays as large as the checks in flight");
        assert_eq!(s.len(), 2);
        assert_eq!((s.take(a), s.take(b)), (Some([1; 16]), Some([3; 16])));
        assert!(s.is_empty());
    }
}
