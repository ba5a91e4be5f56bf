//! Numbers and Latin-script tokens in a text, for checking a translation.
//!
//! A translation should carry every number of its source (in ASCII
//! digits, whatever script the source used) and usually its Latin-script
//! acronyms (`ISI`, `TTP`). [`extract_numbers`] and [`latin_tokens`] give
//! the two lists to compare.

use crate::normalize::{ascii_digit, is_any_digit};
use crate::script::is_latin_letter;

/// The numbers of `text`, in order, in ASCII digits and without thousands
/// separators.
///
/// Digits may be ASCII, Persian (۰-۹) or Arabic-Indic (٠-٩). A `,` or ٬
/// followed by exactly three digits groups thousands (`2,600`, `۲٬۶۰۰` give
/// `2600`); a `.` or ٫ followed by a digit is a decimal point (`2.5`,
/// `۲٫۵` give `2.5`). Anything else ends the number: a date `2025-11-08`
/// gives `2025`, `11` and `08` (leading zeros are kept), and signs and
/// percent signs are not part of it.
pub fn extract_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_any_digit(chars[i]) {
            i += 1;
            continue;
        }
        let mut number = String::new();
        let mut seen_point = false;
        loop {
            while let Some(&c) = chars.get(i).filter(|&&c| is_any_digit(c)) {
                number.push(to_ascii(c));
                i += 1;
            }
            match chars.get(i) {
                Some(',' | '\u{066C}') if !seen_point && is_thousands_group(&chars[i + 1..]) => {
                    i += 1;
                }
                Some('.' | '\u{066B}')
                    if !seen_point && chars.get(i + 1).is_some_and(|&c| is_any_digit(c)) =>
                {
                    seen_point = true;
                    number.push('.');
                    i += 1;
                }
                _ => break,
            }
        }
        numbers.push(number);
    }
    numbers
}

/// Exactly three digits, then no further digit.
fn is_thousands_group(rest: &[char]) -> bool {
    rest.len() >= 3
        && rest[..3].iter().all(|&c| is_any_digit(c))
        && !rest.get(3).is_some_and(|&c| is_any_digit(c))
}

fn to_ascii(digit: char) -> char {
    ascii_digit(digit).unwrap_or(digit)
}

/// The Latin-script words of `text`, in order: runs of Latin letters and
/// ASCII digits that start with a letter, joined across a single `-`, `.`,
/// `'`, `’` or `&` between two of them (`COVID-19`, `U.S`, `AT&T`). A
/// trailing dot is not part of the token.
pub fn latin_tokens(text: &str) -> Vec<&str> {
    let is_part = |c: char| is_latin_letter(c) || c.is_ascii_digit();
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !is_latin_letter(c) {
            continue;
        }
        // A word that starts in the middle of digits ("5km") starts at the
        // letter; digits before it are not part of it.
        let mut end = start + c.len_utf8();
        while let Some(&(i, c)) = chars.peek() {
            if is_part(c) {
                end = i + c.len_utf8();
                chars.next();
                continue;
            }
            let joins = matches!(c, '-' | '.' | '\'' | '’' | '&')
                && text[i + c.len_utf8()..].chars().next().is_some_and(is_part);
            if !joins {
                break;
            }
            chars.next();
        }
        tokens.push(&text[start..end]);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_any_script() {
        assert_eq!(
            extract_numbers("مرزی به طول ۲۶۰۰ کیلومتر و ۲٬۶۰۰ و 2,600 نفر"),
            ["2600", "2600", "2600"]
        );
        assert_eq!(extract_numbers("روز شنبه ۱۷ آبان، ۹ اکتبر"), ["17", "9"]);
        assert_eq!(extract_numbers("٣٤ و ۱۵"), ["34", "15"]);
        assert_eq!(extract_numbers("2.5 و ۲٫۵ و ۲.۵"), ["2.5", "2.5", "2.5"]);
        assert_eq!(extract_numbers("بدون عدد"), Vec::<String>::new());
    }

    #[test]
    fn separators_that_are_not_part_of_a_number() {
        // Not three digits after the comma: a list, not thousands.
        assert_eq!(
            extract_numbers("1,2,3 و 12,3456"),
            ["1", "2", "3", "12", "3456"]
        );
        // A dot at the end of a sentence.
        assert_eq!(extract_numbers("in 2025. Then"), ["2025"]);
        assert_eq!(extract_numbers("2025-11-08"), ["2025", "11", "08"]);
        assert_eq!(extract_numbers("1.2.3"), ["1.2", "3"]);
        // No thousands grouping after a decimal point.
        assert_eq!(extract_numbers("1.5,000"), ["1.5", "000"]);
        assert_eq!(extract_numbers("1,234,567.5"), ["1234567.5"]);
        assert_eq!(extract_numbers("12٪ و -3"), ["12", "3"]);
    }

    #[test]
    fn latin() {
        assert_eq!(
            latin_tokens("ارتش پاکستان (ISI)، تحریک طالبان پاکستان (TTP)."),
            ["ISI", "TTP"]
        );
        assert_eq!(
            latin_tokens("COVID-19 in the U.S. and AT&T, O'Brien 5km café"),
            ["COVID-19", "in", "the", "U.S", "and", "AT&T", "O'Brien", "km", "café"]
        );
        assert_eq!(latin_tokens("۱۲۳ سلام - . 42"), Vec::<&str>::new());
    }
}
