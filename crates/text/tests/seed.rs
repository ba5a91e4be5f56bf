//! The seed article (`tests/data/article.fa.txt`): 15 lines of Persian news
//! with a ` date 2025-11-08 ` prefix and its ZWNJs lost.

use tarjoman_text::{
    decode, detect, extract_numbers, latin_tokens, normalize, segment, Lang, NormalizeOptions,
    PieceKind, ZWNJ,
};

const ARTICLE: &[u8] = include_bytes!("data/article.fa.txt");

fn article() -> String {
    decode(ARTICLE).unwrap()
}

#[test]
fn structure() {
    let text = article();
    let pieces = segment(&text);

    // Contiguous, in order, covering every byte.
    let mut end = 0;
    for piece in &pieces {
        assert_eq!(piece.span.start, end);
        end = piece.span.end;
    }
    assert_eq!(end, text.len());

    // Line 0 opens with its date, passed through as metadata.
    let first: Vec<_> = pieces
        .iter()
        .take(4)
        .map(|p| (p.kind, p.text(&text), p.line))
        .collect();
    assert_eq!(first[0], (PieceKind::Space, " ", 0));
    assert_eq!(first[1], (PieceKind::Metadata, "date 2025-11-08", 0));
    assert_eq!(first[2], (PieceKind::Space, " ", 0));
    assert_eq!(first[3].0, PieceKind::Sentence);
    assert!(first[3].1.starts_with("گفتوگوهای صلح در استانبول"));
    assert!(first[3].1.ends_with("ادامه دارد."));
    assert_eq!(
        pieces
            .iter()
            .filter(|p| p.kind == PieceKind::Metadata)
            .count(),
        1
    );

    // Every line ends at its newline: the only whitespace between lines is
    // a lone "\n", and no piece other than those holds a line break.
    let newlines: Vec<_> = pieces
        .iter()
        .filter(|p| p.text(&text).contains('\n'))
        .collect();
    assert_eq!(newlines.len(), 14);
    for (line, piece) in newlines.iter().enumerate() {
        assert_eq!(
            (piece.kind, piece.text(&text), piece.line),
            (PieceKind::Space, "\n", line)
        );
    }

    // Sentences per line: one each, except line 7 with two.
    let mut per_line = [0usize; 15];
    for piece in pieces.iter().filter(|p| p.kind == PieceKind::Sentence) {
        per_line[piece.line] += 1;
        let sentence = piece.text(&text);
        assert_eq!(sentence, sentence.trim());
        assert_eq!(detect(sentence), Lang::Persian, "{sentence}");
    }
    assert_eq!(per_line, [1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1]);

    let line7: Vec<_> = pieces
        .iter()
        .filter(|p| p.line == 7 && p.kind == PieceKind::Sentence)
        .map(|p| p.text(&text))
        .collect();
    assert!(line7[0].starts_with("آصف هشدار داد") && line7[0].ends_with("پایان خواهد یافت."));
    assert!(line7[1].starts_with("او پیشتر نیز") && line7[1].ends_with("منجر شود."));

    // Quotations end their sentence with the closing guillemet.
    let line2 = pieces
        .iter()
        .find(|p| p.line == 2 && p.kind == PieceKind::Sentence)
        .unwrap();
    assert!(line2.text(&text).ends_with("نشان نداده است.»"));
}

#[test]
fn normalised_sentences_get_their_zwnjs_back() {
    let text = article();
    let opts = NormalizeOptions::default();
    let normalised: Vec<String> = segment(&text)
        .iter()
        .filter(|p| p.kind == PieceKind::Sentence)
        .map(|p| normalize(p.text(&text), &opts))
        .collect();
    let all = normalised.join("\n");
    let words: Vec<&str> = all
        .split(|c: char| c.is_whitespace() || "،.«»()؛:".contains(c))
        .collect();
    let z = ZWNJ;
    for expected in [
        "گفت‌وگوهای",
        "اسلام‌گرای",
        "آتش‌بس",
        "ذبیح‌الله",
        "آمادگی‌ای",
        "اسلام‌آباد",
        "درگیری‌های",
        "دست‌کم",
        "میانجی‌گری",
        "مقام‌های",
        "بی‌نتیجه",
        "برنامه‌ای",
        "روبه‌رو",
        "می‌کنند",
        "گزارش‌های",
        "شده‌اند",
        "خشونت‌ها",
        "اتهام‌های",
        "گروه‌های",
        "شبه‌نظامی",
        "می‌دهد",
        "به‌عنوان",
    ] {
        let expected = expected.replace('\u{200C}', &z.to_string());
        assert!(words.contains(&expected.as_str()), "{expected} missing");
    }
    // Left alone: joined by convention, a name, no visible join, an
    // Arabic name in عبد.
    for kept in [
        "عبدالحق",
        "سپینبولدک",
        "کشورهایشان",
        "انفجارهای",
        "پیشتر",
        "دستیابی",
        "همچنین",
    ] {
        assert!(words.contains(&kept), "{kept} changed");
    }
    // Digits became ASCII.
    assert!(all.contains("روز شنبه 17 آبان"));
    assert!(all.contains("به طول 2600 کیلومتر"));
}

#[test]
fn numbers_and_latin_tokens() {
    let text = article();
    assert_eq!(
        extract_numbers(&text),
        ["2025", "11", "08", "17", "50", "450", "15", "16", "23", "29", "9", "2600"]
    );
    assert_eq!(latin_tokens(&text), ["date", "ISI", "TTP"]);
}
