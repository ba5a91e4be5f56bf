//! BLEU's tokenizers: `13a` (sacreBLEU's default, the tokenization of
//! mteval-v13a.pl used by WMT) and `none`.
//!
//! Mirrors sacreBLEU 2.6.0's
//! [`tokenizers/tokenizer_13a.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/tokenizers/tokenizer_13a.py)
//! and
//! [`tokenizers/tokenizer_re.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/tokenizers/tokenizer_re.py).
//! The four regular expressions there are applied one after another with
//! `re.sub`, which replaces non-overlapping matches scanning left to right;
//! each pattern here matches exactly one or two characters, so they are
//! written as plain loops with the same scanning order instead of regexes.
//! TER's optional normalization (`tokenizer_ter.py`) reuses these passes.

use std::fmt;
use std::str::FromStr;

use crate::pystr;

/// The tokenizers BLEU can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tokenizer {
    /// `13a`: split punctuation, keep decimal points and thousands
    /// separators between digits.
    #[default]
    ThirteenA,
    /// `none`: the text is already tokenized; split on whitespace only.
    None,
}

impl Tokenizer {
    /// The name in signatures: `13a` or `none`.
    pub fn signature(self) -> &'static str {
        match self {
            Tokenizer::ThirteenA => "13a",
            Tokenizer::None => "none",
        }
    }

    /// Tokenizes one line; tokens are separated by single spaces.
    pub fn tokenize(self, line: &str) -> String {
        match self {
            Tokenizer::ThirteenA => tokenize_13a(line),
            Tokenizer::None => line.to_string(),
        }
    }
}

impl fmt::Display for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.signature())
    }
}

impl FromStr for Tokenizer {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "13a" => Ok(Tokenizer::ThirteenA),
            "none" => Ok(Tokenizer::None),
            _ => Err(crate::Error::UnknownMetric(format!("tokenizer {s}"))),
        }
    }
}

/// sacreBLEU's `Tokenizer13a.__call__`.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = unescape_xml(&line);
    }
    let mut chars = Vec::with_capacity(line.len() + 2);
    chars.push(' ');
    chars.extend(line.chars());
    chars.push(' ');
    let chars = western_punct_passes(&chars);
    let tokenized: String = chars.into_iter().collect();
    pystr::squeeze(&tokenized)
}

/// The four XML entities mteval and tercom decode, in their order (so
/// `&amp;lt;` becomes `<`, as in Python).
pub(crate) fn unescape_xml(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// `TokenizerRegexp`'s four substitutions (without the final whitespace
/// squeeze). TER's normalizer runs the first one, then its possessive rule,
/// then the last three; see [`split_symbols`] and [`split_periods_commas_dashes`].
fn western_punct_passes(chars: &[char]) -> Vec<char> {
    split_periods_commas_dashes(&split_symbols(chars))
}

/// `([\{-\~\[-\` -\&\(-\+\:-\@\/])` -> ` \1 `: ASCII symbols other than
/// `'`, `,`, `-`, `.` get spaces around them.
pub(crate) fn split_symbols(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 4);
    for &c in chars {
        if matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            out.extend([' ', c, ' ']);
        } else {
            out.push(c);
        }
    }
    out
}

/// The last three substitutions of `TokenizerRegexp`:
/// `([^0-9])([\.,])` -> `\1 \2 `, `([\.,])([^0-9])` -> ` \1 \2`,
/// `([0-9])(-)` -> `\1 \2 `.
pub(crate) fn split_periods_commas_dashes(chars: &[char]) -> Vec<char> {
    let is_digit = |c: char| c.is_ascii_digit();
    let is_period_comma = |c: char| c == '.' || c == ',';
    let out = sub_pairs(
        chars,
        |a, b| !is_digit(a) && is_period_comma(b),
        |out, a, b| out.extend([a, ' ', b, ' ']),
    );
    let out = sub_pairs(
        &out,
        |a, b| is_period_comma(a) && !is_digit(b),
        |out, a, b| out.extend([' ', a, ' ', b]),
    );
    sub_pairs(
        &out,
        |a, b| is_digit(a) && b == '-',
        |out, a, b| out.extend([a, ' ', b, ' ']),
    )
}

/// `re.sub` for a pattern that matches exactly two characters: scan left to
/// right; on a match, emit the replacement and resume after the pair.
fn sub_pairs(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(&mut Vec<char>, char, char),
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 8);
    let mut i = 0;
    while i < chars.len() {
        match chars.get(i + 1) {
            Some(&next) if matches(chars[i], next) => {
                replace(&mut out, chars[i], next);
                i += 2;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_punctuation_but_not_numbers() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(tokenize_13a("It costs $1,000.50."), "It costs $ 1,000.50 .");
        assert_eq!(
            tokenize_13a("COVID-19 in 2019-2020"),
            "COVID-19 in 2019 - 2020"
        );
        assert_eq!(tokenize_13a("don't"), "don't");
    }

    #[test]
    fn scanning_is_non_overlapping_like_re_sub() {
        // `([^0-9])([\.,])` consumes "a." so the second '.' follows a
        // consumed character and is handled by the next pass.
        assert_eq!(tokenize_13a("a.. b"), "a . . b");
        assert_eq!(tokenize_13a("1..2"), "1 . . 2");
        assert_eq!(tokenize_13a("3.,4"), "3 . , 4");
    }

    #[test]
    fn entities_and_skipped() {
        assert_eq!(tokenize_13a("a &amp;lt; b"), "a < b");
        assert_eq!(tokenize_13a("x<skipped>y"), "xy");
        assert_eq!(tokenize_13a("hyphen-\nated\nline"), "hyphenated line");
    }
}
