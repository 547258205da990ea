//! What the fuzz targets share: splitting one input into fields, the fixed
//! instants and configurations they run against, and independent views of
//! the input (JSON member names, fresh HMACs) that their properties compare
//! the core's answers with. Nothing here decides anything for the core.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// The instant every target runs at (Unix seconds; 2027-01-15).
pub const NOW_SECS: i64 = 1_800_000_000;
pub const NOW_MS: i64 = NOW_SECS * 1000;

/// Splits `data` at its first `n - 1` NUL bytes into `n` UTF-8 fields (the
/// last takes the rest). NUL never occurs in JSON text or header values, so
/// it separates them without ambiguity. `None` when the input does not
/// split so or a field is not UTF-8.
pub fn fields<const N: usize>(data: &[u8]) -> Option<[&str; N]> {
    let mut out = [""; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        let part = if i + 1 == N {
            std::mem::take(&mut rest)
        } else {
            let at = rest.iter().position(|&b| b == 0)?;
            let (part, tail) = rest.split_at(at);
            rest = &tail[1..];
            part
        };
        *slot = std::str::from_utf8(part).ok()?;
    }
    Some(out)
}

/// How strictly [`object_keys`] reads member values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Every value built as a `serde_json::Value` (refuses e.g. `1e400`).
    Built,
    /// Every value skipped (`IgnoredAny`): the most lenient reading.
    Skipped,
}

struct Keys(Values);

impl<'de> Visitor<'de> for Keys {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.0 {
                Values::Built => drop(map.next_value::<serde_json::Value>()?),
                Values::Skipped => drop(map.next_value::<IgnoredAny>()?),
            }
            out.push(key);
        }
        Ok(out)
    }
}

/// The member names of `json` in order, duplicates kept, when it is one
/// JSON object and nothing else; `None` otherwise.
pub fn object_keys(json: &[u8], values: Values) -> Option<Vec<String>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let keys = (&mut de).deserialize_map(Keys(values)).ok()?;
    de.end().ok()?;
    Some(keys)
}

pub fn has_duplicates(keys: &[String]) -> bool {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    sorted.windows(2).any(|w| w[0] == w[1])
}

/// A stable error code: non-empty snake_case ASCII.
pub fn assert_code(code: &str) {
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "not a stable code: {code:?}"
    );
}

/// Asserts that `text` (an error message) does not repeat `secret`. Only a
/// secret that is distinctive is checked: at least 8 bytes, holding a `~`
/// (which no message of the core contains, so a match cannot be the
/// message's own words), and found in no other input the message may
/// legitimately quote.
pub fn assert_not_leaked(text: &str, secret: &str, other_inputs: &[&str]) {
    if secret.len() < 8 || !secret.contains('~') || other_inputs.iter().any(|o| o.contains(secret)) {
        return;
    }
    assert!(!text.contains(secret), "a secret reached the message: {text:?}");
}

/// HMAC-SHA-256, computed here independently of the core.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Strict base64url without padding, independently of the core.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
