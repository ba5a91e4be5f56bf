//! Splitting a text into sentences while keeping its layout.
//!
//! [`segment`] cuts the original text (not a normalised copy) into
//! [`Piece`]s: sentences to translate, metadata to pass through untouched,
//! and the whitespace between them. Every byte belongs to exactly one piece,
//! the pieces are in order and contiguous, and a piece never splits a UTF-8
//! character, so a translated document is rebuilt by replacing each
//! sentence and copying everything else.
//!
//! Rules:
//!
//! - Lines: `\n`, `\r\n` and a lone `\r` end a line. A sentence never runs
//!   across a line break, and a line without a terminator is a sentence.
//! - A sentence ends after a run of `.` `!` `?` `؟` `…` (and any closing
//!   quotes or brackets right after it, as in `است.»`) followed by
//!   whitespace or the end of the line. Not after a dot that ends a single
//!   Latin initial or a known abbreviation (`J.`, `U.S.`, `Dr.`), nor before
//!   a lowercase Latin word. Numbers (`2.5`, `۲.۵`, `۲٫۵`) never split, since
//!   no whitespace follows their point.
//! - Inside a balanced pair of «», “”, () or [] of at most
//!   [`QUOTE_KEEP_MAX_CHARS`] characters, a terminator does not end the
//!   sentence unless it ends the quote too: a short quotation of two
//!   sentences stays with the sentence that quotes it. Longer quotations
//!   are split like any text.
//! - Metadata: at the start of a line, `key value` pairs such as
//!   ` date 2025-11-08 ` (an ASCII word, optionally with a colon, then a
//!   date, time or number) before Arabic-script text; and whole lines with
//!   no Arabic-script letter that are a URL, an ISO 8601 date or time, or
//!   `key: value`. A line of English text is a sentence like any other: the
//!   caller decides what to do by language.

use std::ops::Range;

use crate::normalize::is_any_digit;
use crate::script::{has_arabic_script, is_latin_letter};

/// Quotations and brackets up to this many characters are kept whole.
pub const QUOTE_KEEP_MAX_CHARS: usize = 400;

/// What a [`Piece`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PieceKind {
    /// A sentence to translate; never starts or ends with whitespace.
    Sentence,
    /// Text to pass through untranslated (dates, keys and values, URLs).
    Metadata,
    /// Whitespace between other pieces, line breaks included.
    Space,
}

/// A run of the input text; see [`segment`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Piece {
    /// Byte range in the input.
    pub span: Range<usize>,
    /// What the range holds.
    pub kind: PieceKind,
    /// 0-based index of the input line where the piece starts.
    pub line: usize,
}

impl Piece {
    /// The text of this piece in `source`, the text it was made from (an
    /// empty string if `source` is some other, shorter text).
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.span.clone()).unwrap_or("")
    }
}

/// Cuts `text` into sentences, metadata and whitespace; see the
/// [module docs](self).
pub fn segment(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let mut line = 0;
    let mut start = 0;
    loop {
        let end = text[start..]
            .find(['\n', '\r'])
            .map_or(text.len(), |i| start + i);
        segment_line(text, start..end, line, &mut pieces);
        if end == text.len() {
            break;
        }
        let newline = if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        push(&mut pieces, end..end + newline, PieceKind::Space, line);
        line += 1;
        start = end + newline;
    }
    pieces
}

/// The sentences of `text`, in order.
pub fn sentences(text: &str) -> impl Iterator<Item = &str> + '_ {
    segment(text)
        .into_iter()
        .filter(|piece| piece.kind == PieceKind::Sentence)
        .map(move |piece| piece.text(text))
}

/// Appends a piece, merging whitespace with the whitespace before it.
fn push(pieces: &mut Vec<Piece>, span: Range<usize>, kind: PieceKind, line: usize) {
    if span.is_empty() {
        return;
    }
    if kind == PieceKind::Space {
        if let Some(last) = pieces.last_mut() {
            if last.kind == PieceKind::Space && last.span.end == span.start {
                last.span.end = span.end;
                return;
            }
        }
    }
    pieces.push(Piece { span, kind, line });
}

/// Segments one line, `range` of `text`, without its line break.
fn segment_line(text: &str, range: Range<usize>, line: usize, pieces: &mut Vec<Piece>) {
    let content = &text[range.clone()];
    let trimmed_start = content.trim_start();
    let start = range.start + content.len() - trimmed_start.len();
    let trimmed = trimmed_start.trim_end();
    let end = start + trimmed.len();
    push(pieces, range.start..start, PieceKind::Space, line);
    if !trimmed.is_empty() {
        if is_metadata_line(trimmed) {
            push(pieces, start..end, PieceKind::Metadata, line);
        } else {
            let mut at = start;
            while let Some(pair_len) = leading_metadata(&text[at..end]) {
                push(pieces, at..at + pair_len, PieceKind::Metadata, line);
                let rest = &text[at + pair_len..end];
                let next = at + pair_len + rest.len() - rest.trim_start().len();
                push(pieces, at + pair_len..next, PieceKind::Space, line);
                at = next;
            }
            let mut last = at;
            for sentence in split_sentences(&text[at..end]) {
                let sentence = at + sentence.start..at + sentence.end;
                push(pieces, last..sentence.start, PieceKind::Space, line);
                push(pieces, sentence.clone(), PieceKind::Sentence, line);
                last = sentence.end;
            }
        }
    }
    push(pieces, end..range.end, PieceKind::Space, line);
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '؟' | '…')
}

fn is_closer(c: char) -> bool {
    matches!(c, '»' | '”' | '"' | '\'' | '’' | ')' | ']' | '}' | '›')
}

fn closer_of(c: char) -> Option<char> {
    match c {
        '«' => Some('»'),
        '“' => Some('”'),
        '(' => Some(')'),
        '[' => Some(']'),
        _ => None,
    }
}

/// Abbreviations after which a dot does not end a sentence, lowercase.
const ABBREVIATIONS: &[&str] = &[
    "approx", "apr", "aug", "co", "corp", "dec", "dept", "dr", "e.g", "etc", "feb", "fig", "gen",
    "gov", "i.e", "inc", "jan", "jr", "jul", "jun", "lt", "ltd", "mar", "mr", "mrs", "ms", "no",
    "nov", "oct", "prof", "rep", "sen", "sep", "sept", "sr", "st", "vs",
];

/// Sentence ranges, relative to `line` (a trimmed line or its tail), in
/// order; the gaps between them are whitespace.
fn split_sentences(line: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let quote_end = quote_ends(&chars);
    let mut sentences = Vec::new();
    let mut start: Option<usize> = None;
    let mut k = 0;
    while k < chars.len() {
        let (offset, c) = chars[k];
        if start.is_none() {
            if c.is_whitespace() {
                k += 1;
                continue;
            }
            start = Some(offset);
        }
        if !is_terminator(c) {
            k += 1;
            continue;
        }
        let mut j = k;
        while j + 1 < chars.len() && is_terminator(chars[j + 1].1) {
            j += 1;
        }
        let single_dot = j == k && c == '.';
        while j + 1 < chars.len() && is_closer(chars[j + 1].1) {
            j += 1;
        }
        let at_break = chars
            .get(j + 1)
            .is_none_or(|&(_, next)| next.is_whitespace());
        let inside_quote = quote_end[k].is_some_and(|close| j < close);
        let ends = at_break
            && !inside_quote
            && !(single_dot && (after_abbreviation(&chars, k) || before_lowercase(&chars, j)));
        if ends {
            let end = chars.get(j + 1).map_or(line.len(), |&(i, _)| i);
            if let Some(s) = start.take() {
                sentences.push(s..end);
            }
        }
        k = j + 1;
    }
    if let Some(s) = start {
        let end = line.trim_end().len();
        if s < end {
            sentences.push(s..end);
        }
    }
    sentences
}

/// For each character, the index of the closing quote or bracket of the
/// innermost short balanced pair it is strictly inside, if any.
fn quote_ends(chars: &[(usize, char)]) -> Vec<Option<usize>> {
    // First pass: match openers with closers; an opener left open inside a
    // pair is dropped.
    let mut close_of = vec![None; chars.len()];
    let mut open: Vec<(usize, char)> = Vec::new();
    for (k, &(_, c)) in chars.iter().enumerate() {
        if let Some(closer) = closer_of(c) {
            open.push((k, closer));
        } else if let Some(depth) = open.iter().rposition(|&(_, closer)| closer == c) {
            let (opened, _) = open[depth];
            open.truncate(depth);
            if k - opened - 1 <= QUOTE_KEEP_MAX_CHARS {
                close_of[opened] = Some(k);
            }
        }
    }
    // Second pass: the innermost short pair around each character.
    let mut ends = vec![None; chars.len()];
    let mut enclosing: Vec<usize> = Vec::new();
    for k in 0..chars.len() {
        if enclosing.last() == Some(&k) {
            enclosing.pop();
        }
        ends[k] = enclosing.last().copied();
        if let Some(close) = close_of[k] {
            enclosing.push(close);
        }
    }
    ends
}

/// The dot at `k` ends a Latin initial ("J."), a dotted abbreviation
/// ("U.S.") or a known abbreviation ("Dr.").
fn after_abbreviation(chars: &[(usize, char)], k: usize) -> bool {
    let mut first = k;
    while first > 0
        && !chars[first - 1].1.is_whitespace()
        && closer_of(chars[first - 1].1).is_none()
    {
        first -= 1;
    }
    let word: String = chars[first..k].iter().map(|&(_, c)| c).collect();
    if word.is_empty() || !word.chars().all(|c| is_latin_letter(c) || c == '.') {
        return false;
    }
    let mut letters = word.chars().filter(|c| *c != '.');
    let single_capital =
        matches!((letters.next(), letters.next()), (Some(c), None) if c.is_uppercase());
    single_capital
        || (word.contains('.') && !word.starts_with('.'))
        || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

/// The next word after the whitespace following `j` starts with a lowercase
/// Latin letter.
fn before_lowercase(chars: &[(usize, char)], j: usize) -> bool {
    chars[j + 1..]
        .iter()
        .map(|&(_, c)| c)
        .find(|c| !c.is_whitespace())
        .is_some_and(|c| is_latin_letter(c) && c.is_lowercase())
}

/// The length in bytes of a `key value` metadata pair at the start of
/// `line`, if there is one and Arabic-script text follows it.
fn leading_metadata(line: &str) -> Option<usize> {
    let key_len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    let key = &line[..key_len];
    if key.is_empty() || key.len() > 32 || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let after_key = &line[key_len..];
    let (colon, after_colon) = match after_key.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, after_key),
    };
    let value_part = after_colon.trim_start();
    let gap = after_colon.len() - value_part.len();
    // "date 2025" needs the space; "date:2025" does not. A capitalised key
    // without a colon ("COVID 19 ...") is more likely text than metadata.
    if !colon && (gap == 0 || key.chars().any(|c| c.is_ascii_uppercase())) {
        return None;
    }
    let value_len = value_part
        .find(|c: char| c.is_whitespace())
        .unwrap_or(value_part.len());
    let value = &value_part[..value_len];
    let number_like = value.starts_with(is_any_digit)
        && value
            .chars()
            .all(|c| is_any_digit(c) || matches!(c, '-' | '/' | ':' | '.' | 'T' | 'Z' | '+'));
    let rest = &value_part[value_len..];
    if !number_like || !rest.starts_with(char::is_whitespace) || !has_arabic_script(rest) {
        return None;
    }
    Some(key_len + usize::from(colon) + gap + value_len)
}

/// A whole line (trimmed) that is metadata: no Arabic-script letters, and a
/// URL, an ISO 8601 date or time, or `key: value`.
fn is_metadata_line(line: &str) -> bool {
    !has_arabic_script(line) && (is_url(line) || is_iso_datetime(line) || is_key_value(line))
}

fn is_url(line: &str) -> bool {
    ["http://", "https://", "www."]
        .iter()
        .any(|prefix| line.len() > prefix.len() && line.starts_with(prefix))
        && !line.contains(char::is_whitespace)
}

/// `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM`,
/// optional seconds and fraction, and an optional `Z` or `±HH:MM`.
fn is_iso_datetime(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = |range: Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let date = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10);
    if !date {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    if !matches!(b.get(10), Some(b'T' | b' '))
        || !digits(11..13)
        || b.get(13) != Some(&b':')
        || !digits(14..16)
    {
        return false;
    }
    let mut i = 16;
    if b.get(i) == Some(&b':') && digits(i + 1..i + 3) {
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
    }
    match b.get(i) {
        None => true,
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len() && digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6)
        }
        Some(_) => false,
    }
}

/// `key: value` with a short ASCII key of at most three words.
/// Values longer than this many words are prose, not metadata: an English
/// paragraph may start with a label (`Abnormal laboratory findings: The
/// C-reactive protein ...`), and summarizing it must not see an empty text.
const KEY_VALUE_MAX_WORDS: usize = 12;

fn is_key_value(line: &str) -> bool {
    let Some((key, value)) = line.split_once(':') else {
        return false;
    };
    value.split_whitespace().count() <= KEY_VALUE_MAX_WORDS
        && key.len() <= 32
        && key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-'))
        && key.split_whitespace().count() <= 3
        && !key.ends_with(' ')
        && !value.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (kind, text) of each piece.
    fn parts(text: &str) -> Vec<(PieceKind, &str)> {
        segment(text)
            .iter()
            .map(|piece| (piece.kind, piece.text(text)))
            .collect()
    }

    fn sents(text: &str) -> Vec<&str> {
        sentences(text).collect()
    }

    use PieceKind::{Metadata, Sentence, Space};

    #[test]
    fn splits_after_terminators() {
        assert_eq!(
            parts("اول است. دوم است؟ سوم!  چهارم…"),
            [
                (Sentence, "اول است."),
                (Space, " "),
                (Sentence, "دوم است؟"),
                (Space, " "),
                (Sentence, "سوم!"),
                (Space, "  "),
                (Sentence, "چهارم…"),
            ]
        );
        assert_eq!(sents("واقعاً!؟ بله... خب"), ["واقعاً!؟", "بله...", "خب"]);
    }

    #[test]
    fn lines_and_line_numbers() {
        let text = "  یک\r\nدو. سه\n\n\rچهار  ";
        let pieces = segment(text);
        let got: Vec<_> = pieces
            .iter()
            .map(|p| (p.kind, p.text(text), p.line))
            .collect();
        assert_eq!(
            got,
            [
                (Space, "  ", 0),
                (Sentence, "یک", 0),
                (Space, "\r\n", 0),
                (Sentence, "دو.", 1),
                (Space, " ", 1),
                (Sentence, "سه", 1),
                (Space, "\n\n\r", 1),
                (Sentence, "چهار", 4),
                (Space, "  ", 4),
            ]
        );
        assert!(segment("").is_empty());
        assert_eq!(parts("\n"), [(Space, "\n")]);
    }

    #[test]
    fn numbers_do_not_split() {
        assert_eq!(
            sents("رشد 2.5 درصد و ۲.۵ و ۲٫۵ بود. بعد"),
            ["رشد 2.5 درصد و ۲.۵ و ۲٫۵ بود.", "بعد"]
        );
    }

    #[test]
    fn abbreviations_and_initials() {
        assert_eq!(
            sents("The U.S. envoy met Dr. Khan and J. Smith. They left."),
            ["The U.S. envoy met Dr. Khan and J. Smith.", "They left."]
        );
        assert_eq!(
            sents("It costs approx. five dollars. Done."),
            ["It costs approx. five dollars.", "Done."]
        );
        assert_eq!(sents("It was big. it was"), ["It was big. it was"]);
    }

    #[test]
    fn closing_quotes_belong_to_the_sentence() {
        assert_eq!(
            sents("او گفت: «این پایان است.» سپس رفت."),
            ["او گفت: «این پایان است.»", "سپس رفت."]
        );
        assert_eq!(sents("(Really?) Yes."), ["(Really?)", "Yes."]);
    }

    #[test]
    fn short_quotes_stay_whole() {
        assert_eq!(
            sents("او گفت «این خوب است. آن بد است» و رفت. بعد"),
            ["او گفت «این خوب است. آن بد است» و رفت.", "بعد"]
        );
        // A terminator that closes the quote ends the sentence.
        assert_eq!(
            sents("او گفت «این خوب است. آن بد است.» سپس رفت."),
            ["او گفت «این خوب است. آن بد است.»", "سپس رفت."]
        );
        // A long quotation is split like any text.
        let long = format!("«{} است. {} است.»", "کلمه ".repeat(50), "کلمه ".repeat(50));
        assert_eq!(sents(&long).len(), 2);
        // An unbalanced quote protects nothing.
        assert_eq!(sents("«این. آن"), ["«این.", "آن"]);
    }

    #[test]
    fn leading_metadata() {
        assert_eq!(
            parts(" date 2025-11-08 متن خبر."),
            [
                (Space, " "),
                (Metadata, "date 2025-11-08"),
                (Space, " "),
                (Sentence, "متن خبر."),
            ]
        );
        assert_eq!(
            parts("date: 2025-11-08 time 10:30 متن"),
            [
                (Metadata, "date: 2025-11-08"),
                (Space, " "),
                (Metadata, "time 10:30"),
                (Space, " "),
                (Sentence, "متن"),
            ]
        );
        // Not metadata: no Arabic text after it, a capitalised key without a
        // colon, a value that is not a number.
        for text in [
            "date 2025-11-08 text",
            "COVID 19 بیماری",
            "date today متن",
            "date 2025",
        ] {
            assert!(
                segment(text).iter().all(|p| p.kind != Metadata),
                "{text:?}: {:?}",
                parts(text)
            );
        }
    }

    #[test]
    fn metadata_lines() {
        for line in [
            "source: BBC Persian",
            "https://www.bbc.com/persian/articles/c1",
            "2025-11-08",
            "2025-11-08T10:30:00Z",
            "2025-11-08 10:30+03:30",
        ] {
            assert_eq!(parts(line), [(Metadata, line)], "{line}");
        }
        for line in [
            "منبع: بی‌بی‌سی",
            "The talks ended. Both sides blamed each other.",
            "12:30",
            "2025-11-08 is a date",
            // A labelled paragraph is prose (it was metadata, so a batch
            // summary of this TICO-19 article found no sentences).
            "Abnormal laboratory findings: The C-reactive protein (CRP) level in blood reflects the severity of inflammation or tissue injury.",
            "this key is too long: value",
        ] {
            assert!(segment(line).iter().all(|p| p.kind != Metadata), "{line}");
        }
    }
}
