//! Sentence-aligned translation of documents.
//!
//! A document is cut into pieces by `tarjoman_text::segment` (sentences,
//! metadata, and the whitespace between them, covering every byte).
//! Sentences are normalized and translated; metadata and whitespace pass
//! through verbatim, so the output has the input's line and paragraph
//! structure, and each sentence can be shown as soon as it is done.
//!
//! - [`translator`]: [`Translator`], the API for both kinds of model;
//! - [`options`]: [`TranslateOptions`] and what each model kind honors;
//! - [`stats`]: the records, events and statistics reported;
//! - `run`: one run's job source: prompts, candidates, retries, context;
//! - `schedule`: paragraph units and chains of context;
//! - `choose`: picking among a sentence's attempts and candidates;
//! - `prompter`: what the model reads for a sentence.

mod choose;
pub mod options;
mod prompter;
mod run;
mod schedule;
pub mod stats;
pub mod translator;

pub use options::{
    ContextWindow, ModelKind, TranslateOptions, Unit, DEFAULT_BATCH, DEFAULT_BEAMS,
    DEFAULT_CONTEXT_SENTENCES, DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BELOW, DOCUMENT_CHAINS,
    MIN_CHAIN_SENTENCES,
};
pub use stats::{DocumentStats, Event, NameRecord, RecordKind, SentenceRecord, SentenceStats};
pub use translator::Translator;
