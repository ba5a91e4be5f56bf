//! Restoring zero-width non-joiners (ZWNJ) in Persian words: the rules
//! behind [`repair_zwnj`], whose docs describe them. The word lists live in
//! `lexicon.rs`.

use super::letters::{fold_for_matching, ZWNJ};
use super::lexicon::{self, COMPOUND_HEADS, JOINED_PLURAL_BASES, NOT_PLURALS};
use crate::script::{is_arabic_letter, is_arabic_mark};

/// Inserts the zero-width non-joiners (ZWNJ) missing from Persian words in
/// `text`; everything else, existing ZWNJs included, is left as it is.
///
/// Persian separates some parts of a word with a ZWNJ rather than a space:
/// the verb prefix می ("می‌کنند"), the plural ها ("گزارش‌ها"), endings after
/// a silent ه ("شده‌اند", "برنامه‌ای"), and the halves of many compounds
/// ("گفت‌وگو"). Text copied through careless tools loses them, and the
/// models then see words they were never trained on.
///
/// This puts them back with a handful of morphological rules and
/// short word lists (in `lexicon.rs`):
///
/// 1. `(preverb)(ن)می` + a verb form: a known present stem with a personal
///    ending, or a known past stem with or without one ("میدانند",
///    "برنمیگردد", "میکرد"). Nouns that start with می ("میان", "میلیون",
///    "میزان", "میدان", "میراث") do not parse as verbs and are left alone.
/// 2. The plural ها and its endings ("هایی", "هایشان"), except in words that
///    only end in ها ("تنها", "انتهای") and in "آنها"/"اینها".
/// 3. The indefinite ای, ezafe ی and personal endings after a silent ه:
///    on listed nouns ("برنامه‌ای") and past participles ("کرده‌اند"); the
///    indefinite ای after the abstract-noun ending گی ("آمادگی‌ای").
/// 4. Comparative تر/ترین after listed adjectives ("بزرگ‌ترین").
/// 5. Compounds: a list ("گفت‌وگو", "آتش‌بس", "بی‌نتیجه"), names in الله
///    ("ذبیح‌الله"), and common second halves ("همه‌گیری", "اسلام‌آباد").
///
/// A ZWNJ is only inserted after a letter that would otherwise join the
/// next one (ب, ه, ی, ...): after ا د ذ ر ز ژ و it changes nothing on
/// screen, and Persian writes "عبدالله" and "کشورها" without one.
///
/// ZWNJs already in the text are kept, and each ZWNJ-separated part of a
/// word is analysed on its own, so an author's "برنام‌های" is not second
/// guessed. The rules are applied until nothing changes, which makes
/// the function idempotent.
///
/// Words of more than 40 letters are left alone. On the Persian side of
/// TICO-19 (2,100 sentences written with ZWNJs, which were removed and then
/// restored) this puts back 91.8% of the visible ZWNJs, 99.5% of those after
/// می/نمی; 4.7% of its insertions are where TICO-19 has no ZWNJ, mostly
/// where TICO-19 leaves out one that standard spelling wants ("ویروسها",
/// "بزرگترین"). See `examples/zwnj_eval.rs` and `tests/zwnj_tico.rs`.
pub fn repair_zwnj(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut word_start = None;
    for (i, c) in text.char_indices() {
        let in_word = is_word_char(c);
        match (word_start, in_word) {
            (None, true) => word_start = Some(i),
            (Some(start), false) => {
                repair_word(&text[start..i], &mut out);
                word_start = None;
                out.push(c);
            }
            (None, false) => out.push(c),
            (Some(_), true) => {}
        }
    }
    if let Some(start) = word_start {
        repair_word(&text[start..], &mut out);
    }
    out
}

fn is_word_char(c: char) -> bool {
    c == ZWNJ || is_arabic_letter(c) || is_arabic_mark(c)
}

/// Letters after which a ZWNJ is visible: those that join to the next
/// letter. Arabic forms are folded before this is asked.
fn joins_next(c: char) -> bool {
    matches!(
        c,
        'ب' | 'پ'
            | 'ت'
            | 'ث'
            | 'ج'
            | 'چ'
            | 'ح'
            | 'خ'
            | 'س'
            | 'ش'
            | 'ص'
            | 'ض'
            | 'ط'
            | 'ظ'
            | 'ع'
            | 'غ'
            | 'ف'
            | 'ق'
            | 'ک'
            | 'گ'
            | 'ل'
            | 'م'
            | 'ن'
            | 'ه'
            | 'ی'
            | 'ئ'
    )
}

/// Words longer than this are left alone: no Persian word is, and it keeps
/// the work per word bounded whatever the input.
const MAX_WORD_LETTERS: usize = 40;

/// Repairs one word (a run of Arabic letters, marks and ZWNJs) into `out`.
fn repair_word(word: &str, out: &mut String) {
    let letters: Vec<char> = word
        .chars()
        .filter(|&c| is_arabic_letter(c))
        .map(fold_for_matching)
        .collect();
    if letters.len() > MAX_WORD_LETTERS {
        out.push_str(word);
        return;
    }
    // breaks[i]: a ZWNJ stands before letter i.
    let mut breaks = vec![false; letters.len() + 1];
    let mut seen = 0usize;
    for c in word.chars() {
        if c == ZWNJ {
            breaks[seen] = true;
        } else if is_arabic_letter(c) {
            seen += 1;
        }
    }
    let original = breaks.clone();

    // Each round inserts at least one ZWNJ or stops; there are at most
    // `letters.len()` places for one.
    loop {
        let mut changed = false;
        let mut start = 0;
        for end in 1..=letters.len() {
            if end < letters.len() && !breaks[end] {
                continue;
            }
            let part = &letters[start..end];
            let part_text: String = part.iter().collect();
            for at in word_breaks(&part_text) {
                let global = start + at;
                if at > 0 && at < part.len() && joins_next(part[at - 1]) && !breaks[global] {
                    breaks[global] = true;
                    changed = true;
                }
            }
            start = end;
        }
        if !changed {
            break;
        }
    }

    let mut seen = 0usize;
    for c in word.chars() {
        if is_arabic_letter(c) {
            if breaks[seen] && !original[seen] {
                out.push(ZWNJ);
            }
            seen += 1;
        }
        out.push(c);
    }
}

/// Number of characters in `s`.
fn len(s: &str) -> usize {
    s.chars().count()
}

/// Where a ZWNJ belongs in `word` (letters only, no ZWNJ), as character
/// positions. Whether one is visible there is checked by the caller.
fn word_breaks(word: &str) -> Vec<usize> {
    if len(word) < 3 {
        return Vec::new();
    }
    if let Some(at) = verb_prefix(word) {
        return vec![at];
    }
    let mut breaks = Vec::new();
    let stem = match inflection(word) {
        Some(at) => {
            breaks.push(at);
            let end = word.char_indices().nth(at).map_or(word.len(), |(i, _)| i);
            &word[..end]
        }
        None => word,
    };
    breaks.extend(compound(stem));
    breaks
}

const PREVERBS: &[&str] = &["", "بر", "در", "باز", "فرو", "فرا", "ور"];
const PRESENT_ENDINGS: &[&str] = &["م", "ی", "د", "یم", "ید", "ند"];
const PAST_ENDINGS: &[&str] = &["", "م", "ی", "یم", "ید", "ند", "ه"];

/// Rule 1: the position after می in a verb.
fn verb_prefix(word: &str) -> Option<usize> {
    if lexicon::is_not_verb(word) {
        return None;
    }
    for preverb in PREVERBS {
        let Some(rest) = word.strip_prefix(preverb) else {
            continue;
        };
        for negation in ["", "ن"] {
            let Some(verb) = rest
                .strip_prefix(negation)
                .and_then(|r| r.strip_prefix("می"))
            else {
                continue;
            };
            if is_verb_form(verb) {
                return Some(len(preverb) + len(negation) + 2);
            }
        }
    }
    None
}

/// A verb after می: a present stem with an ending, or a past stem with or
/// without one. "می‌توان" (one can) is the only bare present stem.
fn is_verb_form(s: &str) -> bool {
    if s == "توان" {
        return true;
    }
    let present = PRESENT_ENDINGS.iter().any(|ending| {
        s.strip_suffix(ending)
            .is_some_and(|stem| !stem.is_empty() && lexicon::is_present_stem(stem))
    });
    present
        || PAST_ENDINGS.iter().any(|ending| {
            s.strip_suffix(ending)
                .is_some_and(|stem| !stem.is_empty() && lexicon::is_past_stem(stem))
        })
}

/// A past participle: a known past stem (after any prefix) plus ه.
fn is_participle(s: &str) -> bool {
    let Some(stem) = s.strip_suffix('ه') else {
        return false;
    };
    stem.char_indices()
        .any(|(i, _)| lexicon::is_past_stem(&stem[i..]))
}

/// Endings of the plural ها, longest first.
const PLURAL_TAILS: &[&str] = &["یشان", "یتان", "یمان", "یی", "یم", "یت", "یش", "ی", ""];
/// Endings that follow a silent ه after a ZWNJ (besides ای, handled with
/// the plural it looks like).
const AFTER_SILENT_HEH: &[&str] = &["اند", "ایم", "اید", "است", "ام", "ات", "اش", "ی"];

/// Rules 2 to 4: the position of the ZWNJ before an inflectional ending.
fn inflection(word: &str) -> Option<usize> {
    for tail in PLURAL_TAILS {
        let Some(base) = word.strip_suffix(tail).and_then(|w| w.strip_suffix("ها")) else {
            continue;
        };
        let with_heh = format!("{base}ه");
        // "برنامهای": the indefinite of برنامه, not a plural of برنام.
        if *tail == "ی" && lexicon::ends_in_silent_heh_word(&with_heh) {
            return Some(len(&with_heh));
        }
        // "کردهایم": a perfect tense, not a plural.
        if *tail == "یم" && is_participle(&with_heh) {
            return Some(len(&with_heh));
        }
        if NOT_PLURALS.iter().any(|w| word.starts_with(w))
            || JOINED_PLURAL_BASES.contains(&base)
            || len(base) < 2
        {
            return None;
        }
        return Some(len(base));
    }
    for ending in AFTER_SILENT_HEH {
        let Some(base) = word.strip_suffix(ending) else {
            continue;
        };
        if !base.ends_with('ه') || len(base) < 2 {
            continue;
        }
        if lexicon::ends_in_silent_heh_word(base) || (*ending != "ی" && is_participle(base)) {
            return Some(len(base));
        }
    }
    if let Some(base) = word.strip_suffix("ای") {
        if base.ends_with("گی") && len(base) >= 4 {
            return Some(len(base));
        }
    }
    for ending in ["ترین", "تر"] {
        if let Some(base) = word.strip_suffix(ending) {
            if lexicon::is_comparable_adjective(base) {
                return Some(len(base));
            }
        }
    }
    None
}

/// Endings a listed compound may carry: ezafe or adjective ی, and the
/// plurals ان and یان.
const COMPOUND_TAILS: &[&str] = &["", "ی", "یی", "ان", "یان"];

/// Rule 5: ZWNJs inside a compound stem.
fn compound(stem: &str) -> Vec<usize> {
    for tail in COMPOUND_TAILS {
        if let Some(breaks) = stem.strip_suffix(tail).and_then(lexicon::compound_breaks) {
            return breaks.to_vec();
        }
    }
    if let Some(first) = stem.strip_suffix("الله") {
        if len(first) >= 2 {
            return vec![len(first)];
        }
    }
    if lexicon::is_not_compound(stem) {
        return Vec::new();
    }
    for &(head, min_first, after_vowel) in COMPOUND_HEADS {
        if let Some(first) = stem.strip_suffix(head) {
            if len(first) >= min_first && (!after_vowel || first.ends_with(['ی', 'ه'])) {
                return vec![len(first)];
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a ZWNJ as `+` so that failures are readable.
    fn show(text: &str) -> String {
        text.replace(ZWNJ, "+")
    }

    fn repaired(text: &str) -> String {
        show(&repair_zwnj(text))
    }

    #[test]
    fn verb_prefix_mi() {
        assert_eq!(repaired("میکنند"), "می+کنند");
        assert_eq!(repaired("میدهد"), "می+دهد");
        assert_eq!(repaired("نمیتوان"), "نمی+توان");
        assert_eq!(repaired("میتوان"), "می+توان");
        assert_eq!(repaired("میکرد"), "می+کرد");
        assert_eq!(repaired("میآیند"), "می+آیند");
        assert_eq!(repaired("برمیگردد"), "برمی+گردد");
        assert_eq!(
            repaired("ميكنند"),
            "مي+كنند",
            "Arabic letters are matched, not changed"
        );
        // Presentation forms too: "ﻣﻴﻜﻨﻨﺪ".
        assert_eq!(
            repaired("\u{FEE3}\u{FEF4}\u{FEDC}\u{FEE8}\u{FEE8}\u{FEAA}"),
            "\u{FEE3}\u{FEF4}+\u{FEDC}\u{FEE8}\u{FEE8}\u{FEAA}"
        );
    }

    #[test]
    fn nouns_starting_with_mi_stay_joined() {
        for word in [
            "میان",
            "میانه",
            "میانگین",
            "میلیون",
            "میلیارد",
            "میز",
            "میزان",
            "میزبان",
            "میدان",
            "میدانی",
            "میراث",
            "میل",
            "میله",
            "میوه",
            "میهن",
            "میش",
            "میخ",
            "میلاد",
            "میکروب",
            "میرزا",
            "میگو",
            "می",
            "نمی",
            "درمیان",
        ] {
            assert_eq!(repair_zwnj(word), word, "{word}");
        }
        // Their plurals still get one before ها.
        assert_eq!(repaired("میلیونها"), "میلیون+ها");
        assert_eq!(repaired("میدانهای"), "میدان+های");
    }

    #[test]
    fn plurals() {
        assert_eq!(repaired("گزارشهای"), "گزارش+های");
        assert_eq!(repaired("مقامهای"), "مقام+های");
        assert_eq!(repaired("گروههای"), "گروه+های");
        assert_eq!(repaired("برنامهها"), "برنامه+ها");
        assert_eq!(repaired("خشونتها"), "خشونت+ها");
        assert_eq!(repaired("کشورهایشان"), "کشورهایشان", "no ZWNJ after ر");
        assert_eq!(repaired("دستهایم"), "دست+هایم");
        for word in [
            "تنها",
            "تنهایی",
            "انتهای",
            "آنها",
            "اینها",
            "بها",
            "رها",
            "نهایی",
        ] {
            assert_eq!(repair_zwnj(word), word, "{word}");
        }
    }

    #[test]
    fn endings_after_silent_heh() {
        assert_eq!(repaired("برنامهای"), "برنامه+ای");
        assert_eq!(repaired("هستهای"), "هسته+ای");
        assert_eq!(repaired("شدهاند"), "شده+اند");
        assert_eq!(repaired("کردهایم"), "کرده+ایم");
        assert_eq!(repaired("گرفتهام"), "گرفته+ام");
        assert_eq!(repaired("آمادگیای"), "آمادگی+ای");
        assert_eq!(repaired("شدهاست"), "شده+است");
        // A listed word at the end of a longer one.
        assert_eq!(repaired("خاورمیانهای"), "خاورمیانه+ای");
        assert_eq!(repaired("بینگونهای"), "بین+گونه+ای");
        // Consonantal ه: these end in ام and ات but are single words.
        for word in [
            "اتهام",
            "ابهام",
            "الهام",
            "سهام",
            "شبهات",
            "توجهات",
            "دنیای",
            "دریای",
        ] {
            assert_eq!(repair_zwnj(word), word, "{word}");
        }
        // "ریه" is listed, but three letters are too few to count at the end
        // of a longer word: this is the plural of بیماری.
        assert_eq!(repaired("بیماریهای"), "بیماری+های");
    }

    #[test]
    fn comparatives() {
        assert_eq!(repaired("بزرگترین"), "بزرگ+ترین");
        assert_eq!(repaired("مهمتر"), "مهم+تر");
        for word in [
            "بیشتر",
            "کمتر",
            "بهتر",
            "پیشتر",
            "دفتر",
            "دکتر",
            "متر",
            "دختر",
            "بستر",
        ] {
            assert_eq!(repair_zwnj(word), word, "{word}");
        }
    }

    #[test]
    fn compounds() {
        assert_eq!(repaired("گفتوگوهای"), "گفت+وگوهای");
        assert_eq!(repaired("اسلامآباد"), "اسلام+آباد");
        assert_eq!(repaired("اسلامگرای"), "اسلام+گرای");
        assert_eq!(repaired("روبهرو"), "روبه+رو");
        assert_eq!(repaired("بهعنوان"), "به+عنوان");
        assert_eq!(repaired("دستکم"), "دست+کم");
        assert_eq!(repaired("آتشبس"), "آتش+بس");
        assert_eq!(repaired("بینتیجه"), "بی+نتیجه");
        assert_eq!(repaired("شبهنظامیان"), "شبه+نظامیان");
        assert_eq!(repaired("میانجیگری"), "میانجی+گری");
        assert_eq!(repaired("همهگیریها"), "همه+گیری+ها");
        assert_eq!(repaired("ذبیحالله"), "ذبیح+الله");
        assert_eq!(repaired("حزبالله"), "حزب+الله");
        assert_eq!(repaired("راهاندازی"), "راه+اندازی");
        assert_eq!(repaired("شستهنشده"), "شسته+نشده");
        for word in [
            "عبدالله",
            "نصرالله",
            "دیگری",
            "درگیری",
            "پیگیری",
            "پیشگیری",
            "رهگیری",
            "گردشگری",
            "پژوهشگری",
            "سپینبولدک",
            "بیمار",
            "بیشتر",
            "شانگهای",
            "دستگیری",
            "همگرا",
        ] {
            assert_eq!(repair_zwnj(word), word, "{word}");
        }
    }

    #[test]
    fn existing_zwnjs_are_respected() {
        let z = ZWNJ;
        for word in [
            format!("می{z}کنند"),
            format!("برنام{z}های"),
            format!("{z}کتاب"),
            format!("کتاب{z}"),
        ] {
            assert_eq!(repair_zwnj(&word), word);
        }
        // A part left without one is still repaired.
        assert_eq!(repaired(&format!("گفتوگو{z}ها")), "گفت+وگو+ها");
    }

    #[test]
    fn marks_and_surroundings_survive() {
        assert_eq!(repaired("«میکنند»، 12 abc"), "«می+کنند»، 12 abc");
        // The ZWNJ goes after the mark of the letter before it.
        assert_eq!(repaired("مِیکنند"), "مِی+کنند");
        assert_eq!(repaired("ادامهٔ برنامهها"), "ادامهٔ برنامه+ها");
    }

    #[test]
    fn overlong_words_are_left_alone() {
        let word = "کتاب".repeat(11) + "ها";
        assert_eq!(repair_zwnj(&word), word);
        let word = "کتاب".repeat(9) + "ها";
        assert!(repair_zwnj(&word).contains(ZWNJ));
    }

    #[test]
    fn repeats_until_stable() {
        // The verb rule fires first; the participle ending needs a second
        // round on the part after می.
        assert_eq!(repaired("میکردهاند"), "می+کرده+اند");
        let once = repair_zwnj("میکردهاند");
        assert_eq!(repair_zwnj(&once), once);
    }
}
