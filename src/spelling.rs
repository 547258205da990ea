//! Near misses of a known name: the client's options and the gateway's
//! variables name the one a caller most likely meant (`timeOutMs` for
//! `timeoutMs`, `MESH_ROUTS` for `MESH_ROUTES`) instead of ignoring a typo.

use crate::error::{Error, Result};

/// Refuses `name` unless it is one of `known`, as an `invalid_config` error
/// naming it and the nearest known name; else saying `unknown`, followed by
/// the known names when `listed` (a short list, read from `known` itself).
pub fn refuse_unknown(name: &str, known: &[&str], unknown: &str, listed: bool) -> Result<()> {
    if known.contains(&name) {
        return Ok(());
    }
    let problem = match nearest(name, known) {
        Some((_, k)) => format!("is not read; did you mean `{k}`?"),
        None if listed => format!("{unknown}: {}", known.join(", ")),
        None => unknown.to_string(),
    };
    Err(Error::config(name, problem))
}

/// The first of `known` within two edits of `name`, case ignored, and how
/// many edits away (a name under three characters is too near everything
/// to guess from).
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<(usize, &'a str)> {
    let mut best = None;
    let mut best_edits = 3;
    for k in known {
        let d = edits(name, k);
        if d < best_edits {
            (best, best_edits) = (Some(*k), d);
        }
    }
    best.filter(|_| name.len() >= 3).map(|k| (best_edits, k))
}

/// The flag of `known` that the command-line flag `flag` most likely
/// misspells (`--isuer` for `--issuer`), its `--` form where it has one.
/// Compared without leading dashes, so `--x` is not taken for `-o`.
pub fn nearest_flag<'a>(flag: &str, known: &[&'a str]) -> Option<&'a str> {
    let bare = |f: &'a str| f.trim_start_matches('-');
    let names: Vec<&str> = known.iter().map(|k| bare(k)).collect();
    let (_, meant) = nearest(flag.trim_start_matches('-'), &names)?;
    known.iter().copied().filter(|k| bare(k) == meant).max_by_key(|k| k.starts_with("--"))
}

/// Levenshtein distance over bytes, ignoring ASCII case (the names are
/// ASCII and under 32 bytes; a longer `b` counts as far).
fn edits(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    if b.len() >= 32 {
        return usize::MAX;
    }
    let mut row = [0usize; 32];
    (0..=b.len()).for_each(|j| row[j] = j);
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(!ca.eq_ignore_ascii_case(&cb))).min(row[j] + 1).min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(edits("", "abc"), 3);
        assert_eq!(edits("kitten", "sitting"), 3);
        assert_eq!(edits("scope", "scope"), 0);
        assert_eq!(edits("scpoe", "scope"), 2);
        assert_eq!(edits("APIKEY", "apiKey"), 0, "case is not an edit");
        assert_eq!(edits("a", &"x".repeat(40)), usize::MAX);
    }

    #[test]
    fn a_misspelt_flag_names_its_long_form() {
        let known = ["--issuer", "--client-id", "-o", "--output", "-h", "--help"];
        assert_eq!(nearest_flag("--isuer", &known), Some("--issuer"));
        assert_eq!(nearest_flag("--clientid", &known), Some("--client-id"));
        assert_eq!(nearest_flag("-output", &known), Some("--output"), "one dash short");
        assert_eq!(nearest_flag("--hepl", &known), Some("--help"), "the long form of -h/--help");
        assert_eq!(nearest_flag("--x", &known), None, "not -o: the dashes are not letters");
        assert_eq!(nearest_flag("--bogus", &known), None);
    }

    #[test]
    fn the_nearest_within_two_edits() {
        let known = ["timeoutMs", "scope", "storage", "storageKey"];
        assert_eq!(nearest("timeOutMS", &known), Some((0, "timeoutMs")));
        assert_eq!(nearest("storag", &known), Some((1, "storage")), "the nearer of two");
        assert_eq!(nearest("storageKy", &known), Some((1, "storageKey")));
        assert_eq!(nearest("retries", &known), None);
        assert_eq!(nearest("sc", &["s"]), None, "too short to guess");
        assert_eq!(nearest(&"x".repeat(100_000), &known), None, "a huge name is only far");
        assert_eq!(nearest("\u{e9}t\u{e9}", &known), None, "non-ASCII bytes are only edits");
    }
}
