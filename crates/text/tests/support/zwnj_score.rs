//! Scoring `repair_zwnj` against text that has its ZWNJs; shared by
//! `examples/zwnj_eval.rs` and `tests/zwnj_tico.rs`.
//!
//! Every line loses its ZWNJs, is repaired, and is compared with the
//! original: a ZWNJ the original has between two Arabic-script letters and
//! the repair puts back is restored, one the repair adds where the original
//! has none is a false insertion. ZWNJs after a letter that does not join
//! the next one (ا د ذ ر ز ژ و) change nothing on screen and are counted
//! apart, since the repair never inserts them.

use std::collections::{BTreeSet, HashMap};

use tarjoman_text::repair_zwnj;
use tarjoman_text::script::is_arabic_letter;
use tarjoman_text::ZWNJ;

const NON_JOINING: &[char] = &[
    'ا', 'آ', 'أ', 'إ', 'د', 'ذ', 'ر', 'ز', 'ژ', 'و', 'ؤ', 'ة', 'ۀ', 'ء',
];

/// The counts, and the words behind the errors.
#[derive(Debug, Default)]
pub struct Score {
    pub lines: usize,
    /// ZWNJs between two letters in the reference.
    pub reference: usize,
    /// Of those, the ones after a letter that joins the next.
    pub reference_visible: usize,
    pub restored: usize,
    pub restored_visible: usize,
    /// ZWNJs in the repaired text.
    pub inserted: usize,
    /// Repaired ZWNJs where the reference has none.
    pub false_insertions: usize,
    /// The same four for ZWNJs right after a word-initial می or نمی.
    pub mi_reference: usize,
    pub mi_restored: usize,
    pub mi_inserted: usize,
    pub mi_false: usize,
    /// Words (with `+` for ZWNJ) where a visible reference ZWNJ was missed.
    pub missed: HashMap<String, usize>,
    /// Words (with `+` for ZWNJ) with a false insertion.
    pub false_words: HashMap<String, usize>,
}

impl Score {
    pub fn restored_visible_share(&self) -> f64 {
        share(self.restored_visible, self.reference_visible)
    }

    pub fn false_insertion_share(&self) -> f64 {
        share(self.false_insertions, self.inserted)
    }
}

pub fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Scores `repair_zwnj` on each line of `lines`.
pub fn score<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Score, String> {
    let mut score = Score::default();
    for line in lines {
        score.lines += 1;
        let (chars, reference) = zwnj_positions(line);
        let stripped: String = chars.iter().collect();
        let (repaired_chars, repaired) = zwnj_positions(&repair_zwnj(&stripped));
        if repaired_chars != chars {
            return Err(format!("repair changed more than ZWNJs in {line:?}"));
        }
        for &at in &reference {
            let visible = !NON_JOINING.contains(&chars[at - 1]);
            let mi = after_mi(&chars, at);
            score.reference += 1;
            score.reference_visible += usize::from(visible);
            score.mi_reference += usize::from(mi);
            if repaired.contains(&at) {
                score.restored += 1;
                score.restored_visible += usize::from(visible);
                score.mi_restored += usize::from(mi);
            } else if visible {
                *score
                    .missed
                    .entry(word_at(&chars, &reference, at))
                    .or_default() += 1;
            }
        }
        for &at in &repaired {
            let mi = after_mi(&chars, at);
            score.inserted += 1;
            score.mi_inserted += usize::from(mi);
            if !reference.contains(&at) {
                score.false_insertions += 1;
                score.mi_false += usize::from(mi);
                *score
                    .false_words
                    .entry(word_at(&chars, &repaired, at))
                    .or_default() += 1;
            }
        }
    }
    Ok(score)
}

/// Characters of a line without ZWNJs, and the positions (indices into
/// those characters) before which the line had a ZWNJ between two letters.
fn zwnj_positions(line: &str) -> (Vec<char>, BTreeSet<usize>) {
    let mut chars = Vec::new();
    let mut positions = BTreeSet::new();
    let mut pending = false;
    for c in line.chars() {
        if c == ZWNJ {
            pending = true;
            continue;
        }
        let between_letters =
            chars.last().is_some_and(|&p| is_arabic_letter(p)) && is_arabic_letter(c);
        if pending && between_letters {
            positions.insert(chars.len());
        }
        pending = false;
        chars.push(c);
    }
    (chars, positions)
}

/// The ZWNJ at `at` follows a word-initial می or نمی.
fn after_mi(chars: &[char], at: usize) -> bool {
    let start = chars[..at]
        .iter()
        .rposition(|&c| !is_arabic_letter(c))
        .map_or(0, |i| i + 1);
    let prefix: String = chars[start..at]
        .iter()
        .map(|&c| if c == 'ي' { 'ی' } else { c })
        .collect();
    prefix == "می" || prefix == "نمی"
}

/// The word of `chars` around `at`, with a `+` where `marks` has a ZWNJ.
fn word_at(chars: &[char], marks: &BTreeSet<usize>, at: usize) -> String {
    let start = chars[..at]
        .iter()
        .rposition(|&c| !is_arabic_letter(c))
        .map_or(0, |i| i + 1);
    let end = chars[at..]
        .iter()
        .position(|&c| !is_arabic_letter(c))
        .map_or(chars.len(), |i| at + i);
    let mut word = String::new();
    for (i, c) in chars.iter().enumerate().take(end).skip(start) {
        if marks.contains(&i) {
            word.push('+');
        }
        word.push(*c);
    }
    word
}
