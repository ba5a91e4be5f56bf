//! Letters and digits as normalisation and the ZWNJ rules compare them:
//! the ZWNJ itself, Arabic letter forms folded to Persian ones, presentation
//! forms, and digits of every script this crate reads.
//!
//! A leaf module: `normalize.rs`, `zwnj.rs` and `lexicon.rs` all use it, and
//! it uses none of them.

use unicode_normalization::UnicodeNormalization;

/// Zero-width non-joiner.
pub const ZWNJ: char = '\u{200C}';

/// A letter as the ZWNJ rules see it: a presentation form replaced by its
/// letter (when that is one character), then folded as
/// [`fold_arabic_letter`] does.
pub(crate) fn fold_for_matching(c: char) -> char {
    let mut letter = c;
    if is_presentation_form(c) {
        let mut decomposed = std::iter::once(c).nfkc();
        if let (Some(single), None) = (decomposed.next(), decomposed.next()) {
            letter = single;
        }
    }
    fold_arabic_letter(letter)
}

/// Arabic Presentation Forms-A and -B: contextual glyph shapes that PDF
/// extraction and old software leave in text instead of letters.
pub(super) fn is_presentation_form(c: char) -> bool {
    matches!(c, '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFE}')
}

/// Arabic letter forms that Persian writes differently, folded to the
/// Persian ones.
pub(crate) fn fold_arabic_letter(c: char) -> char {
    match c {
        'ي' | 'ى' => 'ی',
        'ك' => 'ک',
        other => other,
    }
}

/// The ASCII digit for a Persian or Arabic-Indic digit.
pub(crate) fn ascii_digit(c: char) -> Option<char> {
    let value = match c {
        '۰'..='۹' => c as u32 - '۰' as u32,
        '٠'..='٩' => c as u32 - '٠' as u32,
        _ => return None,
    };
    char::from_digit(value, 10)
}

/// A digit of any of the scripts this crate reads.
pub(crate) fn is_any_digit(c: char) -> bool {
    c.is_ascii_digit() || ascii_digit(c).is_some()
}
