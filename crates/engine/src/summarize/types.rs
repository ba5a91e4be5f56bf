//! What a summarizer returns: sentences, each with the article sentences
//! that support it, and what the faithfulness guard replaced.

use serde::Serialize;

use crate::generate::StopReason;

/// Bounds on summary length, in sentences.
pub const MIN_SENTENCES: usize = 3;
pub const MAX_SENTENCES: usize = 5;

/// How a summary was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Content selection over the whole article, each selected group fused
    /// and compressed by the language model, checked against the article.
    Grounded,
    /// One prompt over the whole article, no checks.
    Abstractive,
    /// The article's most central, mutually different sentences.
    Extractive,
    /// The article's first sentences.
    Lead,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Grounded => "grounded",
            Method::Abstractive => "abstractive",
            Method::Extractive => "extractive",
            Method::Lead => "lead",
        }
    }
}

/// An article sentence supporting a summary sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    /// The article sentence's index (0-based, in [`crate::summarize::Article`] order).
    pub index: usize,
    /// Its byte span `[start, end)` in the article as given (the Persian
    /// text for a translated article).
    pub span: [usize; 2],
    /// How much of the summary sentence's content the article sentence
    /// holds (0-1): the share of its content words, names and numbers found
    /// there.
    pub support: f32,
}

/// Where a summary sentence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Written by the language model.
    Generated,
    /// An article sentence (extractive and lead summaries, or the guard's
    /// replacement for a generated sentence that kept failing).
    Extracted,
}

/// A generated sentence the faithfulness guard rejected, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub text: String,
    pub problems: Vec<String>,
}

/// One sentence of a summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummarySentence {
    pub text: String,
    pub origin: Origin,
    /// Supporting article sentences, in article order.
    pub sources: Vec<Citation>,
    /// Numbers, dates and names of this sentence absent from the article
    /// (empty for every sentence the guard passed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// Set when the guard replaced a generated sentence by an article
    /// sentence: the last rejected attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Rejected>,
    /// Generated attempts the guard rejected before one passed.
    #[serde(skip_serializing_if = "is_zero")]
    pub regenerated: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub method: Method,
    pub sentences: Vec<SummarySentence>,
    /// Generated sentences the guard replaced by article sentences.
    pub replacements: usize,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
}

impl Summary {
    /// The sentences' text, in order.
    pub fn texts(&self) -> Vec<String> {
        self.sentences.iter().map(|s| s.text.clone()).collect()
    }

    pub fn text(&self) -> String {
        self.texts().join(" ")
    }

    pub fn words(&self) -> usize {
        self.sentences
            .iter()
            .map(|s| s.text.split_whitespace().count())
            .sum()
    }
}
