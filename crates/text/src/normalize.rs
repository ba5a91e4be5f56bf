//! Normalising Persian text before it goes to a model.
//!
//! Persian text in the wild mixes Arabic and Persian code points for the
//! same letter (ي/ی, ك/ک), Persian, Arabic-Indic and ASCII digits, optional
//! vowel marks and tatweel, and is often typed without the zero-width
//! non-joiner (ZWNJ, U+200C) that separates the parts of a word
//! ("میکنند" for "می‌کنند"). [`normalize`] folds these to one form, each
//! step switchable through [`NormalizeOptions`]; [`repair_zwnj`] restores the
//! ZWNJ on its own.
//!
//! Normalisation does not keep a map back to the original text: segment the
//! original with [`mod@crate::segment`] first, then normalise each sentence.
//!
//! Left alone on purpose: teh marbuta (ة), heh with hamza (ۀ and ه + U+0654)
//! and the hamza and madda marks (U+0653 to U+0655), which change letters
//! rather than add vowels; line breaks.

mod letters;
mod lexicon;
mod zwnj;

pub use letters::ZWNJ;
pub(crate) use letters::{ascii_digit, is_any_digit};
pub use zwnj::repair_zwnj;

use unicode_normalization::UnicodeNormalization;

use self::letters::{fold_arabic_letter, is_presentation_form};
use crate::script::{is_arabic_block, is_arabic_mark};

const TATWEEL: char = '\u{0640}';

/// What to do with digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DigitMode {
    /// Leave digits in the script they are written in.
    Keep,
    /// Persian (۰-۹) and Arabic-Indic (٠-٩) digits become ASCII 0-9; the
    /// Arabic decimal separator ٫ and thousands separator ٬ between two
    /// digits become `.` and `,`.
    #[default]
    Ascii,
}

/// Which normalisation steps [`normalize`] applies. [`Default`] turns them
/// all on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizeOptions {
    /// Arabic yeh and alef maksura (ي ى) become Persian yeh ی, Arabic kaf
    /// ك becomes keheh ک, and presentation forms (contextual shapes and
    /// ligatures, U+FB50 to U+FDFF and U+FE70 to U+FEFE) become letters.
    pub arabic_letters: bool,
    /// Drop ZWNJs that do not sit between two Arabic-script letters (and
    /// runs of them down to one), then restore missing ones with
    /// [`repair_zwnj`].
    pub zwnj: bool,
    /// What to do with digits.
    pub digits: DigitMode,
    /// Collapse runs of horizontal whitespace (spaces, tabs, no-break and
    /// other Unicode spaces) into one ASCII space. Line breaks are kept.
    pub whitespace: bool,
    /// Remove tatweel (ـ) and the Arabic vowel marks (fathatan to sukun,
    /// U+064B to U+0652, and the superscript alef U+0670).
    pub strip_diacritics: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        Self {
            arabic_letters: true,
            zwnj: true,
            digits: DigitMode::Ascii,
            whitespace: true,
            strip_diacritics: true,
        }
    }
}

/// Normalises `text` as `opts` says. Idempotent:
/// `normalize(&normalize(x, o), o) == normalize(x, o)` for any `x` and `o`.
pub fn normalize(text: &str, opts: &NormalizeOptions) -> String {
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if opts.arabic_letters && is_presentation_form(c) {
            // Compatibility composition turns a contextual shape, or a
            // ligature such as ﻻ, back into its letters.
            for letter in std::iter::once(c).nfkc() {
                push_char(letter, opts, &mut chars);
            }
        } else {
            push_char(c, opts, &mut chars);
        }
    }
    if opts.digits == DigitMode::Ascii {
        convert_separators(&mut chars);
    }
    let mut out: String = if opts.zwnj {
        repair_zwnj(&clean_zwnj(&chars))
    } else {
        chars.into_iter().collect()
    };
    if opts.whitespace {
        out = collapse_spaces(&out);
    }
    out
}

/// The per-character steps: marks, letter forms, digits.
fn push_char(c: char, opts: &NormalizeOptions, chars: &mut Vec<char>) {
    if opts.strip_diacritics && is_stripped_mark(c) {
        return;
    }
    let c = if opts.arabic_letters {
        fold_arabic_letter(c)
    } else {
        c
    };
    let c = match opts.digits {
        DigitMode::Ascii => ascii_digit(c).unwrap_or(c),
        DigitMode::Keep => c,
    };
    chars.push(c);
}

/// The vowel marks and tatweel that `strip_diacritics` removes.
fn is_stripped_mark(c: char) -> bool {
    matches!(c, '\u{064B}'..='\u{0652}' | '\u{0670}' | TATWEEL)
}

fn convert_separators(chars: &mut [char]) {
    for i in 1..chars.len().saturating_sub(1) {
        let replacement = match chars[i] {
            '\u{066B}' => '.',
            '\u{066C}' => ',',
            _ => continue,
        };
        if chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit() {
            chars[i] = replacement;
        }
    }
}

/// Letters and combining marks of the Arabic script: what a ZWNJ may sit
/// between.
fn joins_words(c: char) -> bool {
    is_arabic_block(c) && (c.is_alphabetic() || is_arabic_mark(c))
}

/// Keeps one ZWNJ for each run of them that sits between two Arabic-script
/// letters and drops the rest (ZWNJs next to spaces, punctuation, digits or
/// the ends of the text do nothing but confuse tokenizers).
fn clean_zwnj(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != ZWNJ {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run_start = i;
        while i < chars.len() && chars[i] == ZWNJ {
            i += 1;
        }
        let before = run_start.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i).copied();
        if before.is_some_and(joins_words) && after.is_some_and(joins_words) {
            out.push(ZWNJ);
        }
    }
    out
}

/// Horizontal whitespace: what `whitespace` collapses.
fn is_horizontal_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if is_horizontal_space(c) {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        normalize(text, &NormalizeOptions::default())
    }

    #[test]
    fn arabic_letters_fold_to_persian() {
        assert_eq!(norm("علي كتاب مصطفى"), "علی کتاب مصطفی");
        let keep = NormalizeOptions {
            arabic_letters: false,
            ..Default::default()
        };
        assert_eq!(normalize("علي كتاب", &keep), "علي كتاب");
        // Presentation forms become letters: "ﻣﻴﻜﻨﻨﺪ ﻻ".
        assert_eq!(
            norm("\u{FEE3}\u{FEF4}\u{FEDC}\u{FEE8}\u{FEE8}\u{FEAA} \u{FEFB}"),
            "می\u{200C}کنند لا"
        );
        // Teh marbuta and heh with hamza are left alone.
        assert_eq!(norm("شبکۀ ادامهٔ جامعة"), "شبکۀ ادامهٔ جامعة");
    }

    #[test]
    fn digits_and_separators() {
        assert_eq!(norm("۱۷ آبان ۲۶۰۰ ٣٤"), "17 آبان 2600 34");
        assert_eq!(norm("۲٫۵ درصد و ۲٬۶۰۰ نفر"), "2.5 درصد و 2,600 نفر");
        // Separators not between digits stay.
        assert_eq!(norm("٫۵ و ۵٬ و ٬"), "٫5 و 5٬ و ٬");
        let keep = NormalizeOptions {
            digits: DigitMode::Keep,
            ..Default::default()
        };
        assert_eq!(normalize("۲٫۵ و 3", &keep), "۲٫۵ و 3");
    }

    #[test]
    fn diacritics_and_tatweel() {
        assert_eq!(norm("كِتابٌ بـــزرگ"), "کتاب بزرگ");
        // Hamza above and madda are not vowels: kept.
        assert_eq!(
            norm("تأیید آ\u{0653} ادامه\u{0654}"),
            "تأیید آ\u{0653} ادامه\u{0654}"
        );
        let keep = NormalizeOptions {
            strip_diacritics: false,
            ..Default::default()
        };
        assert_eq!(normalize("كِتابـ", &keep), "کِتابـ");
    }

    #[test]
    fn whitespace_collapses_but_keeps_newlines() {
        assert_eq!(norm("a  \t b\u{A0}\u{2009}c\n\n  d"), "a b c\n\n d");
        let keep = NormalizeOptions {
            whitespace: false,
            ..Default::default()
        };
        assert_eq!(normalize("a  b", &keep), "a  b");
    }

    #[test]
    fn stray_zwnjs_are_dropped() {
        let z = ZWNJ;
        assert_eq!(
            norm(&format!("{z}کتاب{z} {z}ها{z}{z}ی{z}")),
            format!("کتاب ها{z}ی")
        );
        assert_eq!(norm(&format!("abc{z}def ۱{z}۲")), format!("abcdef 12"));
        let keep = NormalizeOptions {
            zwnj: false,
            ..Default::default()
        };
        assert_eq!(
            normalize(&format!("{z}میکنند"), &keep),
            format!("{z}میکنند")
        );
    }

    #[test]
    fn zwnj_repair_is_part_of_normalize() {
        assert_eq!(
            norm("آنها گفتوگوهای صلح را بینتیجه میدانند"),
            "آنها گفت\u{200C}وگوهای صلح را بی\u{200C}نتیجه می\u{200C}دانند"
        );
    }

    #[test]
    fn idempotent_on_tricky_input() {
        for text in [
            "۲٫٫۵ ٫۵٫ ۱٬۲٬۳",
            "ب\u{200C}َت \u{200C}\u{200C} میکنند",
            "كتابهاي ميكنند  \u{A0} ـ",
            "",
        ] {
            let once = norm(text);
            assert_eq!(norm(&once), once, "{text:?}");
        }
    }
}
