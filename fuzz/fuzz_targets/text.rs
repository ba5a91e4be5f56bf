//! Decoding, normalization and segmentation of arbitrary bytes: no panic,
//! and the segmentation invariants hold (pieces cover the text exactly, in
//! order, on character boundaries).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tarjoman_text::{normalize, repair_zwnj, segment, NormalizeOptions, PieceKind};

fuzz_target!(|data: &[u8]| {
    // Through the decoder (BOMs, UTF-16, CRLF) and, for valid UTF-8, as is.
    let decoded = tarjoman_text::decode(data).ok();
    let raw = std::str::from_utf8(data).ok().map(str::to_string);
    for text in decoded.iter().chain(raw.iter()) {
        let pieces = segment(text);
        let mut at = 0;
        for p in &pieces {
            assert_eq!(p.span.start, at, "pieces are contiguous");
            assert!(p.span.end > p.span.start, "no empty piece");
            assert!(text.is_char_boundary(p.span.start) && text.is_char_boundary(p.span.end));
            if p.kind == PieceKind::Sentence {
                let s = p.text(text);
                assert_eq!(s.trim(), s, "sentences carry no outer whitespace");
                let _ = normalize(s, &NormalizeOptions::default());
            }
            at = p.span.end;
        }
        assert_eq!(at, text.len(), "pieces cover the text");
        let _ = normalize(text, &NormalizeOptions::default());
        let _ = repair_zwnj(text);
        let _ = tarjoman_text::extract_numbers(text);
        let _ = tarjoman_text::detect(text);
        let _ = tarjoman_batch::lang::detect(text);
        for max in [4, 37, 500] {
            let parts = tarjoman_batch::chunk::chunks(text, max);
            assert_eq!(parts.concat(), *text);
        }
    }
});
