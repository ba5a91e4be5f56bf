//! Python `str` semantics that sacreBLEU's numbers depend on.
//!
//! sacreBLEU splits and strips with `str.split()` / `str.rstrip()`, whose
//! notion of whitespace (`str.isspace()`) is Unicode `White_Space` plus the
//! four ASCII separators U+001C..U+001F. Rust's `char::is_whitespace` lacks
//! those four, so a line holding U+001F would tokenize differently. The test
//! `python_whitespace_set` compares [`is_whitespace`] with every code point
//! Python 3.11 calls a space.

/// `str.isspace()` for one character, as in CPython 3.11.
pub fn is_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `s.split()`: the non-empty runs between whitespace.
pub fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_whitespace).filter(|t| !t.is_empty())
}

/// `s.rstrip()`.
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_whitespace)
}

/// `' '.join(s.split())`.
pub fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for token in split(s) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// `s.lower()`. Rust and CPython both apply Unicode's full lowercase mapping,
/// including the context-dependent final sigma; they can differ only on
/// letters added to Unicode after the version CPython was built with.
pub fn lower(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_strip_like_python() {
        let s = "\u{a0}a\u{1f}b  c\u{3000}\r\n";
        assert_eq!(split(s).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(rstrip(s), "\u{a0}a\u{1f}b  c");
        assert_eq!(squeeze(s), "a b c");
        // U+200B ZERO WIDTH SPACE is not whitespace for Python either.
        assert_eq!(split("a\u{200b}b").count(), 1);
    }

    #[test]
    fn lowercase_final_sigma() {
        assert_eq!(lower("ΟΔΟΣ ΣΟΦΙΑΣ"), "οδος σοφιας");
    }
}
