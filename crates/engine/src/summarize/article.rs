//! The article a summary is made from: its English sentences in order, each
//! with its byte span in the article as given (Persian or English), so a
//! summary sentence can point back to the text the reader has.

use crate::translate::{RecordKind, SentenceRecord};

/// One English sentence of the article.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleSentence {
    pub text: String,
    /// Byte span `[start, end)` in the article as given.
    pub span: [usize; 2],
}

/// The English sentences of an article.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Article {
    pub sentences: Vec<ArticleSentence>,
}

impl Article {
    /// An English article, segmented into sentences (metadata lines such as
    /// `date 2025-11-08` are not prose and are left out).
    pub fn english(text: &str) -> Self {
        let sentences = tarjoman_text::segment(text)
            .into_iter()
            .filter(|p| p.kind == tarjoman_text::PieceKind::Sentence)
            .map(|p| ArticleSentence {
                text: p.text(text).trim().to_string(),
                span: [p.span.start, p.span.end],
            })
            .filter(|s| !s.text.is_empty())
            .collect();
        Self { sentences }
    }

    /// A translated article: one sentence per translated record, spanning
    /// its Persian source; metadata records are left out. `offset` is added
    /// to the spans (the record spans of a document translated in pieces
    /// count from the piece's start).
    pub fn push_record(&mut self, record: &SentenceRecord, offset: usize) {
        if record.kind == RecordKind::Metadata {
            return;
        }
        let text = record.translation.trim();
        if text.is_empty() {
            return;
        }
        self.sentences.push(ArticleSentence {
            text: text.to_string(),
            span: [record.span[0] + offset, record.span[1] + offset],
        });
    }

    pub fn len(&self) -> usize {
        self.sentences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }

    /// The English prose, one sentence after another.
    pub fn text(&self) -> String {
        self.texts().join(" ")
    }

    pub fn texts(&self) -> Vec<&str> {
        self.sentences.iter().map(|s| s.text.as_str()).collect()
    }

    pub fn owned_texts(&self) -> Vec<String> {
        self.sentences.iter().map(|s| s.text.clone()).collect()
    }

    /// Which third of the article sentence `index` lies in (0, 1 or 2).
    pub fn third(&self, index: usize) -> usize {
        (index * 3 / self.len().max(1)).min(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_articles_keep_spans_and_skip_metadata() {
        let text = "2025-11-08\nThe talks ended. Both sides left.\n";
        let a = Article::english(text);
        assert_eq!(a.texts(), vec!["The talks ended.", "Both sides left."]);
        let [s, e] = a.sentences[1].span;
        assert_eq!(text[s..e].trim(), "Both sides left.");
        assert_eq!((0..2).map(|i| a.third(i)).collect::<Vec<_>>(), vec![0, 1]);
    }
}
