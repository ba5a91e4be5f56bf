//! Which script, and roughly which language, a text is written in.
//!
//! This is a cheap heuristic for routing (translate Persian, pass English
//! through), not a language identifier:
//!
//! - Arabic-script text is called [`Lang::Persian`] when it has more
//!   Persian evidence (the letters پ چ ژ گ, and the Persian forms ک and ی)
//!   than evidence for another language written in the Arabic script (the
//!   Arabic forms ك ي ى ة, or Urdu and Pashto letters such as ٹ ڈ ڑ ں ے ښ ځ).
//!   Arabic-script text with no evidence either way (a few words made of
//!   shared letters, like «سلام») is also called Persian: that is what this
//!   tool reads. Persian typed with an Arabic keyboard (ي and ك throughout)
//!   can be mistaken for Arabic.
//! - Latin-script text is [`Lang::English`] when common English function
//!   words make up a fair share of its words, or when it is too short to
//!   tell (three words or fewer, ASCII letters only). French or German with
//!   few English-looking words comes out as [`Lang::Other`].
//! - Text whose letters are mostly in another script is [`Lang::Other`];
//!   text without letters is [`Lang::Unknown`].

/// The language [`detect`] guesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Persian (Farsi), or Arabic-script text with nothing against Persian.
    Persian,
    /// English.
    English,
    /// Any other language, Arabic and Urdu included.
    Other,
    /// No letters to judge by.
    Unknown,
}

/// True for letters of the Arabic script (all its Unicode blocks, including
/// presentation forms). Vowel marks are not letters.
pub fn is_arabic_letter(c: char) -> bool {
    is_arabic_block(c) && c.is_alphabetic() && !is_arabic_mark(c)
}

/// Arabic combining marks: vowels, hamza and madda above and below, Quranic
/// annotation marks. Unicode calls many of them alphabetic; this crate does
/// not count them as letters.
pub(crate) fn is_arabic_mark(c: char) -> bool {
    matches!(c,
        '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{06D6}'..='\u{06DC}'
        | '\u{06DF}'..='\u{06E4}'
        | '\u{06E7}'..='\u{06E8}'
        | '\u{06EA}'..='\u{06ED}')
}

/// A letter of any script, Arabic vowel marks excluded.
fn is_letter(c: char) -> bool {
    c.is_alphabetic() && !is_arabic_mark(c)
}

/// True for characters in the Arabic Unicode blocks, letters or not.
pub(crate) fn is_arabic_block(c: char) -> bool {
    matches!(c,
        '\u{0600}'..='\u{06FF}'
        | '\u{0750}'..='\u{077F}'
        | '\u{0870}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}')
        // U+FEFF is the byte-order mark, not an Arabic character.
        && c != '\u{FEFF}'
}

/// True for letters of the Latin script (ASCII and the Latin-1, Extended-A/B
/// and Extended Additional blocks).
pub fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c,
            '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}')
            && c.is_alphabetic())
}

/// Share of Arabic-script letters among all the letters of `text`, from 0.0
/// to 1.0; 0.0 when `text` has no letters. Digits, punctuation and
/// whitespace do not count. Despite the name this counts the whole Arabic
/// script: use [`detect`] to tell Persian from Arabic.
pub fn persian_letter_ratio(text: &str) -> f32 {
    let mut letters = 0usize;
    let mut arabic = 0usize;
    for c in text.chars().filter(|&c| is_letter(c)) {
        letters += 1;
        if is_arabic_block(c) {
            arabic += 1;
        }
    }
    if letters == 0 {
        0.0
    } else {
        arabic as f32 / letters as f32
    }
}

/// True when `text` has at least one Arabic-script letter.
pub fn has_arabic_script(text: &str) -> bool {
    text.chars().any(is_arabic_letter)
}

/// Letters found in Persian but not in Arabic.
fn persian_evidence(c: char) -> usize {
    match c {
        // پ چ ژ گ: no Arabic word has them.
        'پ' | 'چ' | 'ژ' | 'گ' => 2,
        // Persian keheh and Farsi yeh: Arabic writes ك and ي.
        'ک' | 'ی' => 1,
        _ => 0,
    }
}

/// Letters that point to Arabic, Urdu, Pashto or another Arabic-script
/// language rather than Persian.
fn other_arabic_script_evidence(c: char) -> usize {
    match c {
        // Arabic kaf, yeh, alef maksura and teh marbuta. Persian keeps ة in a
        // few loanwords, so it only counts once.
        'ك' | 'ي' | 'ى' | 'ة' => 1,
        // Urdu: tteh, ddal, rreh, noon ghunna, heh goal, heh doachashmee,
        // yeh barree.
        'ٹ' | 'ڈ' | 'ڑ' | 'ں' | 'ہ' | 'ھ' | 'ے' => 2,
        // Pashto: rasha, zhe with ring, dze, tse, tte, dde, rre, nne, ye forms.
        'ښ' | 'ږ' | 'ځ' | 'څ' | 'ټ' | 'ډ' | 'ړ' | 'ڼ' | 'ې' | 'ۍ' => 2,
        _ => 0,
    }
}

/// Common English words; a Latin-script text in which they are frequent is
/// taken for English.
const ENGLISH_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has",
    "have", "he", "her", "his", "i", "in", "is", "it", "its", "not", "of", "on", "or", "said",
    "she", "that", "the", "their", "they", "this", "to", "was", "we", "were", "which", "will",
    "with", "you",
];

/// Below this share of [`ENGLISH_WORDS`], a Latin text of more than
/// [`SHORT_TEXT_WORDS`] words is not English. Real English runs around 40%.
const MIN_ENGLISH_WORD_SHARE: f32 = 0.08;
const SHORT_TEXT_WORDS: usize = 3;

/// Guesses the language of `text` from its script; see the
/// [module docs](self) for how and where it fails.
pub fn detect(text: &str) -> Lang {
    let mut arabic = 0usize;
    let mut latin = 0usize;
    let mut other = 0usize;
    let mut persian_score = 0usize;
    let mut other_arabic_score = 0usize;
    for c in text.chars().filter(|&c| is_letter(c)) {
        if is_arabic_block(c) {
            arabic += 1;
            persian_score += persian_evidence(c);
            other_arabic_score += other_arabic_script_evidence(c);
        } else if is_latin_letter(c) {
            latin += 1;
        } else {
            other += 1;
        }
    }
    let letters = arabic + latin + other;
    if letters == 0 {
        return Lang::Unknown;
    }
    if arabic >= latin && arabic >= other {
        if other_arabic_score > persian_score {
            Lang::Other
        } else {
            Lang::Persian
        }
    } else if latin >= other {
        if looks_english(text) {
            Lang::English
        } else {
            Lang::Other
        }
    } else {
        Lang::Other
    }
}

fn looks_english(text: &str) -> bool {
    let mut words = 0usize;
    let mut english = 0usize;
    let mut all_ascii = true;
    for word in text
        .split(|c: char| !is_latin_letter(c) && c != '\'')
        .filter(|w| w.chars().any(is_latin_letter))
    {
        words += 1;
        all_ascii &= word.is_ascii();
        let lower = word.to_ascii_lowercase();
        if ENGLISH_WORDS.contains(&lower.as_str()) {
            english += 1;
        }
    }
    if words <= SHORT_TEXT_WORDS {
        return english > 0 || all_ascii;
    }
    english as f32 >= MIN_ENGLISH_WORD_SHARE * words as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio() {
        assert_eq!(persian_letter_ratio(""), 0.0);
        assert_eq!(persian_letter_ratio("123 ؟!"), 0.0);
        assert_eq!(persian_letter_ratio("سلام"), 1.0);
        assert_eq!(persian_letter_ratio("ab سل"), 0.5);
        // Digits of any script are not letters.
        assert_eq!(persian_letter_ratio("ISI ۱۲۳"), 0.0);
        // Vowel marks are not letters.
        assert_eq!(persian_letter_ratio("abكِتاب"), 4.0 / 6.0);
    }

    #[test]
    fn arabic_script() {
        assert!(has_arabic_script("hello سلام"));
        assert!(!has_arabic_script("hello ۱۲۳ ، ؟"));
        assert!(!has_arabic_script("\u{FEFF}abc"));
    }

    #[test]
    fn persian() {
        assert_eq!(
            detect("گفت‌وگوهای صلح در استانبول بدون توافق پایان یافت."),
            Lang::Persian
        );
        // Shared letters only: no evidence against Persian.
        assert_eq!(detect("سلام"), Lang::Persian);
        // Mostly Persian with Latin acronyms.
        assert_eq!(
            detect("سازمان اطلاعات ارتش پاکستان (ISI) و تحریک طالبان (TTP)"),
            Lang::Persian
        );
    }

    #[test]
    fn arabic_and_urdu_are_other() {
        assert_eq!(
            detect("انتهت محادثات السلام في إسطنبول دون التوصل إلى اتفاق بين باكستان وحركة طالبان"),
            Lang::Other
        );
        assert_eq!(
            detect("یہ ایک اردو جملہ ہے اور پاکستان میں بولی جاتی ہے"),
            Lang::Other
        );
    }

    #[test]
    fn english() {
        assert_eq!(
            detect(
                "Peace talks in Istanbul between Pakistan and the Taliban ended without a deal."
            ),
            Lang::English
        );
        assert_eq!(detect("ISI"), Lang::English);
        assert_eq!(
            detect("Les négociations de paix entre le Pakistan et les talibans ont échoué."),
            Lang::Other
        );
    }

    #[test]
    fn other_scripts_and_unknown() {
        assert_eq!(detect("Переговоры в Стамбуле завершились"), Lang::Other);
        assert_eq!(detect(""), Lang::Unknown);
        assert_eq!(detect("۲۰۲۵-۱۱-۰۸ 12:00 !!!"), Lang::Unknown);
    }
}
