//! What an API key's name may be: one rule for the gateway that stores keys
//! and the client (and its apps' forms) that name them, so a name one
//! accepts the other never refuses. Length is counted in Unicode code
//! points, as people count characters, never in JavaScript's UTF-16 units
//! (an emoji is one, not two) nor in UTF-8 bytes.

/// Longest name, in code points, after trimming.
pub const MAX_KEY_NAME_CHARS: usize = 100;

/// Why a name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNameProblem {
    /// Nothing but white space.
    Empty,
    /// Over [`MAX_KEY_NAME_CHARS`]; `length` is the trimmed name's.
    TooLong { length: usize },
    /// A control character (a line break, a tab, NUL, ...).
    ControlCharacter,
}

impl KeyNameProblem {
    /// A stable name for the problem, for JavaScript and logs.
    pub fn code(self) -> &'static str {
        match self {
            KeyNameProblem::Empty => "empty",
            KeyNameProblem::TooLong { .. } => "too_long",
            KeyNameProblem::ControlCharacter => "control_character",
        }
    }

    /// The API's wording (the gateway's 400 and the client's error).
    pub fn message(self) -> &'static str {
        match self {
            KeyNameProblem::Empty | KeyNameProblem::TooLong { .. } => "`name` must be 1-100 characters",
            KeyNameProblem::ControlCharacter => "`name` must not contain control characters",
        }
    }
}

/// The name as it is stored (trimmed), or why it cannot be.
pub fn check_key_name(name: &str) -> Result<&str, KeyNameProblem> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 {
        return Err(KeyNameProblem::Empty);
    }
    if length > MAX_KEY_NAME_CHARS {
        return Err(KeyNameProblem::TooLong { length });
    }
    if name.chars().any(char::is_control) {
        return Err(KeyNameProblem::ControlCharacter);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_code_points_not_utf16_units_or_bytes() {
        // 100 emoji are 200 UTF-16 units and 400 bytes: still 100 characters.
        let emoji = "😀".repeat(100);
        assert_eq!(check_key_name(&emoji), Ok(emoji.as_str()));
        let over = "😀".repeat(101);
        assert_eq!(check_key_name(&over), Err(KeyNameProblem::TooLong { length: 101 }));
        assert_eq!(check_key_name(&"é".repeat(100)).map(|n| n.chars().count()), Ok(100));
    }

    #[test]
    fn trims_before_counting() {
        let padded = format!("  {}  ", "a".repeat(100));
        assert_eq!(check_key_name(&padded), Ok("a".repeat(100).as_str()));
        assert_eq!(check_key_name(" \t\n "), Err(KeyNameProblem::Empty));
        assert_eq!(check_key_name(""), Err(KeyNameProblem::Empty));
    }

    #[test]
    fn refuses_control_characters_inside() {
        for name in ["a\nb", "a\tb", "a\u{0}b", "a\u{7f}b", "a\u{85}b"] {
            assert_eq!(check_key_name(name), Err(KeyNameProblem::ControlCharacter), "{name:?}");
        }
        assert_eq!(check_key_name("ci-runner (eu) #2 ✓"), Ok("ci-runner (eu) #2 ✓"));
    }

    #[test]
    fn problems_have_stable_codes() {
        assert_eq!(KeyNameProblem::Empty.code(), "empty");
        assert_eq!(KeyNameProblem::TooLong { length: 101 }.code(), "too_long");
        assert_eq!(KeyNameProblem::ControlCharacter.code(), "control_character");
    }
}
