//! Property tests: segmentation covers its input exactly, normalisation and
//! ZWNJ repair are idempotent, and nothing panics on arbitrary input.

use proptest::prelude::*;
use tarjoman_text::{
    decode, detect, extract_numbers, latin_tokens, normalize, repair_zwnj, segment, DigitMode,
    NormalizeOptions, PieceKind, ZWNJ,
};

/// Fragments that exercise the rules: Persian morphemes, Arabic letter
/// forms, marks, presentation forms, digits and separators, terminators,
/// quotes, metadata, every kind of line break and space.
const FRAGMENTS: &[&str] = &[
    "می",
    "نمی",
    "ها",
    "های",
    "ه",
    "ای",
    "کن",
    "ند",
    "الله",
    "گیری",
    "آباد",
    "برنامه",
    "شده",
    "اند",
    "تر",
    "ین",
    "ب",
    "ی",
    "ي",
    "ك",
    "ى",
    "ا",
    "د",
    "گفت",
    "و",
    "گو",
    "\u{200C}",
    "\u{200C}\u{200C}",
    "\u{064E}",
    "\u{0654}",
    "\u{0640}",
    "\u{FEE3}",
    "\u{FEFB}",
    "\u{FE70}",
    "۱",
    "٣",
    "5",
    "٫",
    "٬",
    ".",
    ",",
    "!",
    "؟",
    "…",
    "«",
    "»",
    "(",
    ")",
    ":",
    " ",
    "  ",
    "\u{A0}",
    "\u{2009}",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "date ",
    "2025-11-08",
    "https://x.y",
    "U.S.",
    "Dr.",
    "a",
    "Z",
    "the ",
    "🙂",
    "é",
    "\u{FEFF}",
    "\u{200B}",
];

fn fragment_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..80).prop_map(|parts| parts.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![3 => fragment_text(), 1 => any::<String>()]
}

fn options() -> impl Strategy<Value = NormalizeOptions> {
    (any::<[bool; 5]>()).prop_map(
        |[arabic_letters, zwnj, ascii, whitespace, strip_diacritics]| NormalizeOptions {
            arabic_letters,
            zwnj,
            digits: if ascii {
                DigitMode::Ascii
            } else {
                DigitMode::Keep
            },
            whitespace,
            strip_diacritics,
        },
    )
}

/// Line breaks before byte `at`: `\n`, `\r\n` and lone `\r` count once.
fn line_of(text: &str, at: usize) -> usize {
    let before = &text.as_bytes()[..at];
    before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && text.as_bytes().get(i + 1) != Some(&b'\n')))
        .count()
}

proptest! {
    #[test]
    fn segments_cover_the_input_exactly(text in any_text()) {
        let pieces = segment(&text);
        let mut end = 0;
        let mut last_kind = None;
        for piece in &pieces {
            prop_assert_eq!(piece.span.start, end, "gap or overlap in {:?}", pieces);
            prop_assert!(piece.span.start < piece.span.end, "empty piece {:?}", piece);
            prop_assert!(text.is_char_boundary(piece.span.start));
            prop_assert!(text.is_char_boundary(piece.span.end));
            prop_assert_eq!(piece.line, line_of(&text, piece.span.start));
            let content = piece.text(&text);
            match piece.kind {
                PieceKind::Space => {
                    prop_assert!(content.chars().all(char::is_whitespace), "{:?}", content);
                    prop_assert_ne!(last_kind, Some(PieceKind::Space), "adjacent spaces");
                }
                PieceKind::Sentence | PieceKind::Metadata => {
                    prop_assert_eq!(content, content.trim(), "untrimmed {:?}", piece);
                    prop_assert!(!content.contains(['\n', '\r']), "line break in {:?}", content);
                }
            }
            last_kind = Some(piece.kind);
            end = piece.span.end;
        }
        prop_assert_eq!(end, text.len());
    }

    #[test]
    fn normalize_is_idempotent(text in any_text(), opts in options()) {
        let once = normalize(&text, &opts);
        prop_assert_eq!(normalize(&once, &opts), once);
    }

    #[test]
    fn repair_only_inserts_zwnjs_and_is_idempotent(text in fragment_text()) {
        let repaired = repair_zwnj(&text);
        let strip = |s: &str| s.replace(ZWNJ, "");
        prop_assert_eq!(strip(&repaired), strip(&text));
        prop_assert!(repaired.matches(ZWNJ).count() >= text.matches(ZWNJ).count());
        prop_assert_eq!(repair_zwnj(&repaired), repaired);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_keeps_utf8_text(text in any_text()) {
        match decode(text.as_bytes()) {
            Ok(decoded) => {
                let expected = text.strip_prefix('\u{FEFF}').unwrap_or(&text).replace("\r\n", "\n");
                prop_assert_eq!(decoded, expected);
            }
            Err(err) => {
                let is_refusal = matches!(
                    err,
                    tarjoman_text::Error::Empty | tarjoman_text::Error::Binary { .. }
                );
                prop_assert!(is_refusal, "{}", err);
            }
        }
    }

    #[test]
    fn numbers_are_ascii_and_tokens_are_slices(text in any_text()) {
        for number in extract_numbers(&text) {
            prop_assert!(!number.is_empty());
            prop_assert!(number.chars().all(|c| c.is_ascii_digit() || c == '.'), "{}", number);
            prop_assert!(number.matches('.').count() <= 1);
        }
        for token in latin_tokens(&text) {
            prop_assert!(text.contains(token));
            prop_assert!(!token.is_empty());
        }
        let _ = detect(&text);
    }
}
