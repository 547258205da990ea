//! The redirect login's parsers and checks (`client::redirect`): the
//! callback URL, its verdict against a pending login, `returnTo`, and the
//! authorization URL read back.
//!
//! Input: a callback URL, then NUL, then a `returnTo` candidate (the same
//! field also serves as parameter values and random bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_sdk::client::redirect::{
    authorize_url, check_callback, code_verifier, parse_callback, same_origin_path, take_pending, AuthorizeOptions, PendingRedirect,
    MAX_PENDING_REDIRECTS, PENDING_REDIRECT_VERSION, RANDOM_BYTES,
};
use mesh_sdk::ErrorKind;
use sha2::{Digest, Sha256};
use mesh_sdk_fuzz::{assert_code, fields, NOW_MS};

const ISS: &str = "https://op.example";
const CLIENT: &str = "app";

/// Form encoding, written here independently of the core: every byte but
/// the unreserved ones as %XX.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn pending(state: &str) -> PendingRedirect {
    PendingRedirect {
        v: PENDING_REDIRECT_VERSION,
        issuer: ISS.into(),
        client_id: CLIENT.into(),
        state: state.into(),
        nonce: "n".repeat(43),
        code_verifier: "v".repeat(43),
        redirect_uri: "https://app.example/cb".into(),
        return_to: None,
        started_at: NOW_MS - 1000,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some([url, other]) = fields::<2>(data) else { return };

    // returnTo: a same-origin path exactly, never anything a browser could read as another origin.
    let rule = other.starts_with('/')
        && !other.starts_with("//")
        && other.len() <= 2048
        && !other.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    assert_eq!(same_origin_path(other), rule.then(|| other.to_owned()), "returnTo {other:?}");

    // Any callback: without its pending login, always state_mismatch.
    let params = parse_callback(url);
    for iss_required in [false, true] {
        let e = check_callback(&params, None, ISS, iss_required).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::StateMismatch);
    }
    // With it: mix-up first, then the error answer, then the code.
    for iss_required in [false, true] {
        let verdict = check_callback(&params, Some(pending("s")), ISS, iss_required);
        let foreign = params.iss.as_deref().is_some_and(|i| i.trim_end_matches('/') != ISS);
        match verdict {
            Ok(grant) => {
                assert!(!foreign && !(iss_required && params.iss.is_none()) && params.error.is_none());
                assert_eq!(Some(grant.code.as_str()), params.code.as_deref());
                assert!(!grant.code.is_empty());
            }
            Err(e) => {
                assert_code(e.code());
                if foreign || (iss_required && params.iss.is_none()) {
                    assert_eq!(e.kind(), ErrorKind::IssuerMismatch);
                } else if params.error.is_some() {
                    assert!(matches!(e.kind(), ErrorKind::AccessDenied | ErrorKind::LoginRequired | ErrorKind::AuthorizationFailed));
                    // Shown to people: printable ASCII only, bounded.
                    let message = e.to_string();
                    assert!(message.chars().all(|c| (' '..='~').contains(&c)) && message.len() < 700, "{message:?}");
                } else {
                    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
                    assert!(params.code.as_deref().is_none_or(str::is_empty));
                }
            }
        }
    }

    // Round trip: values written with an independent encoder read back as
    // they were; a fragment and unknown parameters are ignored.
    let built = format!("https://app.example/cb?x={}&code={}&state={}&iss={}", encode(url), encode(url), encode(other), encode(ISS));
    let back = parse_callback(&format!("{built}#state=no&error=x"));
    assert_eq!(back.code.as_deref(), Some(url));
    assert_eq!(back.state.as_deref(), Some(other));
    assert_eq!(back.iss.as_deref(), Some(ISS));
    assert_eq!(back.error, None);
    // The same parameter twice is read as absent.
    assert_eq!(parse_callback(&format!("{built}&code=x")).code, None);

    // A pending login is taken once: the replay finds nothing.
    let mut list = vec![pending("a"), pending(other), pending("b")];
    let taken = take_pending(&mut list, Some(other), ISS, CLIENT, NOW_MS);
    assert_eq!(taken.is_some(), !other.is_empty());
    assert!(take_pending(&mut list, Some(other), ISS, CLIENT, NOW_MS).is_none() || other == "a" || other == "b");
    assert!(list.len() <= MAX_PENDING_REDIRECTS);

    // The authorization URL carries the pending login's state, S256 only, and a safe returnTo.
    let mut random = [0u8; RANDOM_BYTES];
    for (i, b) in random.iter_mut().enumerate() {
        *b = data.get(i).copied().unwrap_or(i as u8);
    }
    let options = AuthorizeOptions { redirect_uri: "https://app.example/cb".into(), return_to: Some(other.into()), ..Default::default() };
    let digest = Sha256::digest(code_verifier(&random).as_bytes());
    let started = authorize_url(Some("https://op.example/auth"), ISS, CLIENT, None, &options, &random, &digest, NOW_MS).unwrap();
    assert_eq!(parse_callback(&started.url).state.as_deref(), Some(started.pending.state.as_str()));
    assert!(started.url.starts_with("https://op.example/auth?") && started.url.contains("&code_challenge_method=S256"));
    assert_eq!(started.pending.return_to, same_origin_path(other));
    for secret in [&started.pending.state, &started.pending.nonce, &started.pending.code_verifier] {
        assert_eq!(secret.len(), 43);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
    let p = &started.pending;
    if p.code_verifier != p.state && p.code_verifier != p.nonce {
        assert!(!started.url.contains(&p.code_verifier), "the verifier never leaves the tab");
    }
});
