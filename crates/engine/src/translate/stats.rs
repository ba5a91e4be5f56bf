//! What the pipeline reports: one record per translated sentence or
//! passed-through metadata, events in document order, and timing and
//! token statistics.

use serde::Serialize;

use crate::confidence::Signals;
use crate::generate::{Generation, StopReason};
use crate::guard::TermOrigin;

/// What a record stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A translated sentence.
    Sentence,
    /// Metadata (e.g. `date 2025-11-08`) passed through untranslated.
    Metadata,
}

/// One translated unit, as printed by `translate --json`.
#[derive(Debug, Clone, Serialize)]
pub struct SentenceRecord {
    pub index: usize,
    pub line: usize,
    pub kind: RecordKind,
    pub source: String,
    pub translation: String,
    /// Byte span `[start, end)` of `source` in the input.
    pub span: [usize; 2],
    pub source_tokens: usize,
    pub output_tokens: usize,
    pub ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// The first attempt failed a guard and the sentence was translated
    /// again; the better attempt is kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retried: bool,
    pub warnings: Vec<String>,
    /// The user's glossary terms and the gazetteer's place names found in
    /// the source, and whether the translation has them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<NameRecord>,
    /// How likely the translation is to be faithful, 0-1 (see
    /// [`crate::confidence`]); none for metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// What the confidence was computed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
}

/// A term or place name found in a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameRecord {
    /// The Persian, as the glossary or gazetteer spells it.
    pub source: String,
    /// The English asked for.
    pub target: String,
    /// `glossary` (the user's) or `gazetteer` (built in).
    pub origin: TermOrigin,
    /// Whether the translation has `target` or another accepted form.
    pub found: bool,
}

/// What the pipeline hands the caller, in document order.
#[derive(Debug)]
pub enum Event<'a> {
    /// Whitespace and line breaks between sentences, verbatim.
    Verbatim(&'a str),
    /// A translated sentence or passed-through metadata.
    Record(&'a SentenceRecord),
    /// Every sentence of the document is translated, though its pieces may
    /// not all be reported yet: pieces come in order across documents, and
    /// an earlier document may still be translating beside this one. For
    /// progress displays.
    Translated,
}

/// Translation statistics for a whole document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DocumentStats {
    pub sentences: usize,
    /// Tokens of the prompts (instructions, examples and sentence).
    pub prompt_tokens: usize,
    /// Prompt tokens computed; the rest came from the KV cache (the prefix
    /// every prompt shares).
    pub prefilled_tokens: usize,
    pub source_tokens: usize,
    pub output_tokens: usize,
    pub prefill_ms: u64,
    pub decode_ms: u64,
    pub total_ms: u64,
}

impl DocumentStats {
    /// Counts one translated sentence.
    pub fn add_sentence(&mut self, s: &SentenceStats) {
        self.sentences += 1;
        self.source_tokens += s.source_tokens;
        self.prompt_tokens += s.prompt_tokens;
        self.prefilled_tokens += s.prefilled_tokens;
        self.output_tokens += s.output_tokens;
        self.prefill_ms += s.prefill_ms;
        self.decode_ms += s.decode_ms;
    }

    /// Adds another document's numbers (e.g. one line of a test set).
    pub fn merge(&mut self, other: &DocumentStats) {
        self.sentences += other.sentences;
        self.prompt_tokens += other.prompt_tokens;
        self.prefilled_tokens += other.prefilled_tokens;
        self.source_tokens += other.source_tokens;
        self.output_tokens += other.output_tokens;
        self.prefill_ms += other.prefill_ms;
        self.decode_ms += other.decode_ms;
        self.total_ms += other.total_ms;
    }
}

/// Per-sentence numbers, as a [`SentenceRecord`] reports them.
#[derive(Debug, Clone)]
pub struct SentenceStats {
    pub source_tokens: usize,
    pub prompt_tokens: usize,
    pub prefilled_tokens: usize,
    pub output_tokens: usize,
    pub prefill_ms: u64,
    pub decode_ms: u64,
    pub ms: u64,
    pub stop: StopReason,
    pub retried: bool,
    pub warnings: Vec<String>,
    pub names: Vec<NameRecord>,
    pub signals: Signals,
}

/// Token counts and times summed over a sentence's attempts.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) prompt_tokens: usize,
    pub(crate) prefilled: usize,
    pub(crate) output_tokens: usize,
    pub(crate) prefill_ms: u64,
    pub(crate) decode_ms: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, g: &Generation) {
        self.prompt_tokens += g.prompt_tokens;
        self.prefilled += g.prefilled;
        self.output_tokens += g.tokens.len();
        self.prefill_ms += g.prefill.as_millis() as u64;
        self.decode_ms += g.decode.as_millis() as u64;
    }
}

pub(crate) fn metadata_record(
    index: usize,
    line: usize,
    source: &str,
    span: [usize; 2],
) -> SentenceRecord {
    SentenceRecord {
        index,
        line,
        kind: RecordKind::Metadata,
        source: source.to_string(),
        translation: source.to_string(),
        span,
        source_tokens: 0,
        output_tokens: 0,
        ms: 0,
        stop_reason: None,
        retried: false,
        warnings: Vec::new(),
        names: Vec::new(),
        confidence: None,
        signals: None,
    }
}
