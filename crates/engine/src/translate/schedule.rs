//! How a document's sentences are ordered for translation: paragraphs
//! as units, and the chains of context that decode side by side.

use tarjoman_text::segment::{Piece, PieceKind};

use super::options::MIN_CHAIN_SENTENCES;

/// Joins the sentences of each line (and the spaces between them) into one
/// piece, for [`super::Unit::Paragraph`]; line breaks and metadata stay apart.
pub(crate) fn paragraphs(text: &str, pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    // Spaces after the last sentence, which join it to a next one on the
    // same line.
    let mut gap: Vec<Piece> = Vec::new();
    for piece in pieces {
        let joinable = matches!(out.last(), Some(p) if p.kind == PieceKind::Sentence);
        match piece.kind {
            PieceKind::Sentence if joinable => {
                let last = out.last_mut().expect("joinable means a last piece");
                last.span.end = piece.span.end;
                gap.clear();
            }
            PieceKind::Space if joinable && !piece.text(text).contains('\n') => gap.push(piece),
            _ => {
                out.append(&mut gap);
                out.push(piece);
            }
        }
    }
    out.append(&mut gap);
    out
}

/// What a sentence costs beyond its bytes when chains are balanced, in
/// bytes of Persian source (about 18 tokens): its prompt's template and one
/// more prompt to run.
const SENTENCE_COST_BYTES: usize = 64;

/// The sentences (numbered among a document's sentence pieces) that start
/// a chain of context after the first, for up to `chains` chains, no more
/// than one per [`MIN_CHAIN_SENTENCES`] sentences. The chains decode side by side and the
/// document is done when the longest is, so each cut is at the point that
/// splits the document's length evenly (bytes, plus
/// [`SENTENCE_COST_BYTES`] per sentence), or at the sentence that starts a
/// line (a paragraph) nearest to it, if one is within a quarter of a
/// chain's length.
pub(crate) fn chain_starts(cut: &[Piece], chains: usize) -> Vec<usize> {
    let sentences: Vec<&Piece> = cut
        .iter()
        .filter(|p| p.kind == PieceKind::Sentence)
        .collect();
    let n = sentences.len();
    let chains = chains.clamp(1, (n / MIN_CHAIN_SENTENCES).max(1));
    let opens_line = |i: usize| i == 0 || sentences[i].line != sentences[i - 1].line;
    // before[i]: the length of sentences 0..i.
    let mut before = vec![0usize; n + 1];
    for (i, s) in sentences.iter().enumerate() {
        before[i + 1] = before[i] + s.span.len() + SENTENCE_COST_BYTES;
    }
    let total = before[n];
    let mut starts: Vec<usize> = Vec::with_capacity(chains - 1);
    for c in 1..chains {
        let target = c * total / chains;
        let off = |i: usize| before[i].abs_diff(target);
        // Every chain keeps at least one sentence.
        let first = starts.last().map_or(1, |&s| s + 1);
        let range = first..=n - (chains - c);
        let even = range.clone().min_by_key(|&i| off(i)).unwrap_or(first);
        let paragraph = range
            .filter(|&i| opens_line(i) && off(i) <= total / chains / 4)
            .min_by_key(|&i| off(i));
        starts.push(paragraph.unwrap_or(even));
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use tarjoman_text::segment::segment;

    /// Sentence pieces on the given lines (spaces between them, which the
    /// chains ignore).
    fn sentences_on(lines: &[usize]) -> Vec<Piece> {
        lines
            .iter()
            .flat_map(|&line| {
                [PieceKind::Sentence, PieceKind::Space].map(|kind| Piece {
                    span: 0..1,
                    kind,
                    line,
                })
            })
            .collect()
    }

    #[test]
    fn document_chains_cut_at_paragraph_starts_and_keep_short_documents_whole() {
        // The seed article: 16 sentences on 15 lines, line 7 has two.
        let seed: Vec<usize> = (0..8).chain(7..15).collect();
        let cut = sentences_on(&seed);
        assert_eq!(chain_starts(&cut, 1), Vec::<usize>::new());
        // The even point (sentence 8) is the second sentence of line 7:
        // the cut moves to the nearest paragraph start, sentences 7 and 9
        // being as near, the first.
        assert_eq!(chain_starts(&cut, 2), vec![7]);
        // At most 16 / 6 = 2 chains of at least six sentences.
        assert_eq!(chain_starts(&cut, 4), vec![7]);
        // Fewer than 12 sentences: one chain.
        assert_eq!(
            chain_starts(&sentences_on(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 2),
            Vec::<usize>::new()
        );
        // One paragraph of 12 sentences: no line start, the even point.
        assert_eq!(chain_starts(&sentences_on(&[3; 12]), 2), vec![6]);
        // Three chains of 6.
        let lines: Vec<usize> = (0..18).collect();
        assert_eq!(chain_starts(&sentences_on(&lines), 3), vec![6, 12]);
    }

    #[test]
    fn document_chains_split_the_length_not_the_count() {
        // 12 one-sentence paragraphs, the first four twice as long as the
        // others (with the per-sentence cost): half the length (8 of 16
        // units) is in the first four, not the first six.
        let unit = 100;
        let cut: Vec<Piece> = (0..12)
            .map(|line| Piece {
                span: 0..(if line < 4 { 2 * unit } else { unit }) - SENTENCE_COST_BYTES,
                kind: PieceKind::Sentence,
                line,
            })
            .collect();
        assert_eq!(chain_starts(&cut, 2), vec![4]);
        // A paragraph start more than a quarter of a chain away from the
        // even point is not taken: one paragraph of 12 sentences, and a
        // second of 4 that starts at sentence 12 of 16.
        let lines: Vec<usize> = [0; 12].into_iter().chain([1; 4]).collect();
        assert_eq!(chain_starts(&sentences_on(&lines), 2), vec![8]);
    }

    #[test]
    fn paragraph_units_join_the_sentences_of_a_line_only() {
        let text = "اول آمد. دوم رفت.  سوم ماند.\n\nچهارم گفت.\n";
        let pieces = paragraphs(text, segment(text));
        let sentences: Vec<&str> = pieces
            .iter()
            .filter(|p| p.kind == PieceKind::Sentence)
            .map(|p| p.text(text))
            .collect();
        assert_eq!(sentences, ["اول آمد. دوم رفت.  سوم ماند.", "چهارم گفت."]);
        // Still every byte, in order.
        let joined: String = pieces.iter().map(|p| p.text(text)).collect();
        assert_eq!(joined, text);
        assert!(segment(text).len() > pieces.len());
    }
}
