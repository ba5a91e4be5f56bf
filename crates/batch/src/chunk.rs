//! Cutting a long text into pieces of bounded size, so that a huge article
//! is summarized piece by piece with bounded memory and prompt length.
//!
//! Cuts fall between lines where possible, else between sentences (as
//! `tarjoman_text::segment` finds them), else at whitespace, else at a
//! character boundary: a chunk never splits a UTF-8 character, and the
//! chunks, in order, are the whole text.

/// Cuts `text` into consecutive pieces of at most `max_bytes` bytes each
/// (`max_bytes` below 4 is taken as 4, the longest UTF-8 character).
pub fn chunks(text: &str, max_bytes: usize) -> Vec<&str> {
    let max = max_bytes.max(4);
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() <= max {
            out.push(rest);
            break;
        }
        let cut = cut_point(rest, max);
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    out
}

/// The best place to cut `text` at or before `max` bytes (always > 0).
fn cut_point(text: &str, max: usize) -> usize {
    let mut limit = max.min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let window = &text[..limit];
    // After the last line break in the window.
    if let Some(i) = window.rfind('\n').filter(|&i| i > 0) {
        return i + 1;
    }
    // After the last sentence that ends inside the window.
    let sentence_end = tarjoman_text::segment(window)
        .iter()
        .filter(|p| p.kind == tarjoman_text::PieceKind::Sentence && p.span.end < window.len())
        .map(|p| p.span.end)
        .next_back();
    if let Some(end) = sentence_end.filter(|&e| e > 0) {
        return end;
    }
    if let Some(i) = window.rfind(char::is_whitespace).filter(|&i| i > 0) {
        return i;
    }
    if limit > 0 {
        limit
    } else {
        // A single character longer than `max` (cannot happen for max >= 4).
        text.chars().next().map_or(text.len(), char::len_utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefers_line_then_sentence_boundaries() {
        let text = "First line here.\nSecond one. Third sentence is long.";
        assert_eq!(
            chunks(text, 20),
            [
                "First line here.\n",
                "Second one.",
                " Third sentence is",
                " long."
            ]
        );
        assert_eq!(chunks("short", 100), ["short"]);
        assert!(chunks("", 10).is_empty());
    }

    proptest! {
        #[test]
        fn chunks_cover_the_text_within_bounds(
            text in "[a-z .\n\u{600}-\u{6ff}😀]{0,300}",
            max in 0usize..64,
        ) {
            let parts = chunks(&text, max);
            prop_assert_eq!(parts.concat(), text.clone());
            for p in &parts {
                prop_assert!(!p.is_empty());
                prop_assert!(p.len() <= max.max(4));
            }
        }
    }
}
