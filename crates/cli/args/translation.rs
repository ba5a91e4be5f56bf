//! The options of the translation step, shared by `translate`, `summarize`
//! and `eval run`, and their conversion into the engine's
//! [`TranslateOptions`].

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use tarjoman_engine::guard::Glossary;
use tarjoman_engine::translate::{ContextWindow, TranslateOptions, Unit, DEFAULT_RETRY_ATTEMPTS};
use tarjoman_text::normalize::NormalizeOptions;

use super::model::ModelArgs;

/// Options of the translation step, shared by `translate` and `summarize`.
#[derive(Debug, Clone, clap::Args)]
pub struct TranslationArgs {
    /// How many worked examples to put in each translation prompt [default:
    /// the prompt format's: 0 for instruction models, which translate our
    /// development set best without them, 2 for base models]
    #[arg(long)]
    pub shots: Option<usize>,

    /// Feed the model the text as it is, without Persian normalization
    /// (Arabic letters, zero-width non-joiners, digits).
    #[arg(long)]
    pub no_normalize: bool,

    /// A terminology file: one `persian<TAB>english` pair per line (`#`
    /// starts a comment). Terms found in a sentence are given to the model
    /// with it, and a translation without them is retried, then flagged.
    #[arg(long, value_name = "FILE")]
    pub glossary: Option<PathBuf>,

    /// Translate without the built-in place names. By default the names of
    /// countries, territories and cities in Unicode CLDR (fetched on first
    /// use, like a model: `tarjoman models pull cldr-names-48`) are looked
    /// for in each sentence, and a translation that drops one (`Turkey`,
    /// `Turkish` or `Türkiye` for `ترکیه`) is retried with the names in the
    /// prompt, then flagged. --glossary terms win over them. Compound names
    /// (`اسلام‌آباد = Islamabad`, `ذبیح‌الله = Zabihullah`) and words that a
    /// Persian word list (Lilak, `tarjoman models pull lilak-fa-words`) does
    /// not know may be names: a retried sentence's prompt offers them with a
    /// guessed spelling (`سپین بولدک = Sapin Boldak`), unchecked.
    /// `translate --json` lists each sentence's names, where each came from
    /// (glossary, gazetteer, compound, romanized) and whether it came through.
    #[arg(long)]
    pub no_names: bool,

    /// Keep the first translation of every sentence, even when it fails a
    /// check (Persian script left, source copied, repetition, length far
    /// off, a number, Latin name or glossary term missing, the prompt's
    /// instructions echoed). By default such a sentence is translated again
    /// with a note of what must appear (see --retry-attempts), and the
    /// attempt that fails least is kept; what still fails is a warning.
    #[arg(long)]
    pub no_retry: bool,

    /// How many attempts a retry decodes side by side: the first greedy,
    /// the others sampled at temperature 0.7, all with the note; the one
    /// that fails fewest checks is kept (the greedy one on ties). Extra
    /// attempts share each decoding step with the others, and only failing
    /// sentences are retried, so they cost little time. 1 retries with the
    /// greedy attempt alone.
    #[arg(long, value_name = "N", conflicts_with = "no_retry",
          default_value_t = DEFAULT_RETRY_ATTEMPTS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
    pub retry_attempts: usize,

    /// Also retry a sentence that passes every check but whose confidence
    /// (0-1, see `translate --json`) is below T, and keep whichever of its
    /// translations fails fewest checks and, among those, is the most
    /// confident. The next sentence starts beside such a retry, with the
    /// first translation as its context. 0 (the default) retries failing
    /// sentences only: on our development set 0.2 retried 4 times as many
    /// sentences for about 1.4x the tokens and left chrF++ where it was
    /// (QUALITY.md).
    #[arg(long, value_name = "T", conflicts_with = "no_retry",
          default_value_t = tarjoman_engine::translate::DEFAULT_RETRY_BELOW,
          value_parser = confidence_threshold)]
    pub retry_below: f64,

    /// How many sequences to decode together. On a CPU, decoding one token
    /// reads every weight of the model; 4 sequences share those reads at
    /// about 1.9x the tokens/s of one. Sequences are sentences of separate
    /// documents or of the --chains parts of an `eval run` test set (with
    /// the default --context, a document's sentences wait for each other),
    /// sentences of one document with --no-context (the
    /// seed article: 22.5 s instead of 36 s one at a time), guard retries,
    /// --mbr candidates, or the beams of --beams. GGUF models only.
    #[arg(long, value_name = "N", default_value_t = tarjoman_engine::translate::DEFAULT_BATCH,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub batch: usize,

    /// Translate each sentence N times (greedy plus N - 1 samples at
    /// temperature 0.7) and keep the translation that agrees most with the
    /// others by chrF (minimum Bayes risk decoding). The candidates decode
    /// side by side, so N = 4 costs well under 4 times the time; 1 (the
    /// default) is greedy decoding alone.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
    pub mbr: usize,

    /// Beam search with N beams: keep the N most likely partial
    /// translations at every step and return the best finished one
    /// (log-probability per token, see --length-penalty). All beams of
    /// ceil(batch / N) sentences decode together. 1 is greedy decoding.
    /// GGUF models only. [default: 1]
    #[arg(long, value_name = "N", conflicts_with = "mbr",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
    pub beams: Option<usize>,

    /// Beam search scores a finished translation by its log-probability
    /// divided by length^A: 1.0 compares the mean per token, 0 the total
    /// (which favours short translations), above 1 favours long ones.
    #[arg(long, value_name = "A", default_value_t = 1.0)]
    pub length_penalty: f64,

    /// Show the model the sentences before each one (see
    /// --context-sentences) and their translations, as earlier turns of
    /// the conversation, so pronouns,
    /// names and terms stay consistent (the default for GGUF models: 2.85
    /// chrF++ better on our development set). Sentences of a chain (see
    /// --document-chains) then wait for each other, so --batch batches the
    /// chains, retries and separate documents.
    #[arg(long, overrides_with = "no_context")]
    pub context: bool,

    /// Translate each sentence on its own, without the previous one as
    /// context: sentences then decode --batch at a time, about twice as
    /// fast on a 2-core CPU, somewhat less faithful.
    #[arg(long)]
    pub no_context: bool,

    /// With context, show up to N sentences before each one (with their
    /// translations) as earlier turns; see --context-window. GGUF models
    /// only. [default: 4]
    #[arg(long, value_name = "N", conflicts_with = "no_context",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=8))]
    pub context_sentences: Option<usize>,

    /// How the context of --context-sentences N moves along a document:
    /// `growing` (1, 2, ... N sentences before, then again 1: while the
    /// context grows, each prompt extends the previous one, whose computed
    /// keys and values are reused, so it costs less time) or `sliding`
    /// (each sentence sees the N before it, all computed anew). On our
    /// development set growing to 4 scores as one previous sentence does,
    /// with a fifth fewer prompt tokens computed. GGUF models only.
    /// [default: growing]
    #[arg(long, value_enum, conflicts_with = "no_context")]
    pub context_window: Option<ContextWindowArg>,

    /// With context, cut each document's sentences into up to N chains
    /// of context that decode side by side: a chain's first sentence
    /// starts without context. There is at most one chain per 6
    /// sentences; the cuts split the document's length evenly, moved to a
    /// paragraph start where one is near. Two sentences
    /// decode in little more time than one, so the default, 2, translates
    /// the seed article (16 sentences) in about 0.7x the time of 1.
    /// GGUF models only. [default: 2]
    #[arg(long, value_name = "N", conflicts_with = "no_context",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=16))]
    pub document_chains: Option<usize>,

    /// What the model translates at once: `sentence` (aligned sentence by
    /// sentence) or `paragraph` (each line whole, aligned by line). GGUF
    /// models only.
    #[arg(long, value_enum, default_value_t = UnitArg::Sentence)]
    pub unit: UnitArg,

    /// Replace the built-in system prompt (the instructions before the
    /// text; see crates/engine/prompts.toml) with TEXT.
    #[arg(long, value_name = "TEXT")]
    pub system_prompt: Option<String>,
}

/// `--context-window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContextWindowArg {
    Sliding,
    Growing,
}

/// `--unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnitArg {
    Sentence,
    Paragraph,
}

/// `glossary` with the built-in place names and the word list that tells
/// possible names; either one that cannot be loaded is left out with a
/// warning (and without both and a glossary of the user's, there is none).
fn with_builtin_names(mut glossary: Option<Glossary>) -> Option<Glossary> {
    match crate::model::load_places() {
        Ok(places) => glossary = Some(glossary.unwrap_or_default().with_places(places)),
        Err(e) => eprintln!(
            "warning: translating without the built-in place names: {e:#} \
             (--no-names turns them off)"
        ),
    }
    match crate::model::load_words() {
        Ok(words) => glossary = Some(glossary.unwrap_or_default().with_words(Arc::new(words))),
        Err(e) => {
            eprintln!("warning: translating without name hints: {e:#} (--no-names turns them off)")
        }
    }
    glossary
}

/// A confidence threshold: a number from 0 to 1.
pub fn confidence_threshold(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(t),
        _ => Err(format!(
            "{s:?} is not a confidence threshold between 0 and 1"
        )),
    }
}

impl TranslationArgs {
    /// The options for a `prompted` model (GGUF, translating through a
    /// prompt) or an encoder-decoder one, which translates each sentence
    /// directly: asking it for what only prompted models do is an error.
    pub fn options(&self, model: &ModelArgs, prompted: bool) -> Result<TranslateOptions> {
        if !prompted {
            let asked: Vec<&str> = [
                (self.shots.is_some(), "--shots"),
                (self.glossary.is_some(), "--glossary"),
                (self.context, "--context"),
                (self.context_sentences.is_some(), "--context-sentences"),
                (self.context_window.is_some(), "--context-window"),
                (self.document_chains.is_some(), "--document-chains"),
                (self.unit != UnitArg::Sentence, "--unit paragraph"),
                (self.system_prompt.is_some(), "--system-prompt"),
                (
                    self.retry_attempts != DEFAULT_RETRY_ATTEMPTS,
                    "--retry-attempts",
                ),
            ]
            .into_iter()
            .filter_map(|(on, flag)| on.then_some(flag))
            .collect();
            if !asked.is_empty() {
                bail!(
                    "{} only work with prompted models (GGUF files, or decoder-only \
                     checkpoints), which translate through a prompt; this is an encoder-decoder \
                     model, which translates each sentence as it is",
                    asked.join(", ")
                );
            }
        }
        let glossary = match &self.glossary {
            Some(path) => Some(Glossary::load(path)?),
            None => None,
        };
        let glossary = match prompted && !self.no_names {
            true => with_builtin_names(glossary),
            false => glossary,
        };
        let defaults = TranslateOptions::default();
        let context = match (self.context, self.no_context) {
            (true, _) => true,
            (_, true) => false,
            _ => defaults.context,
        };
        let mut opts = TranslateOptions {
            shots: self.shots,
            normalize: (!self.no_normalize).then(NormalizeOptions::default),
            generation: model.generation(),
            retry: !self.no_retry,
            retry_attempts: self.retry_attempts,
            retry_below: self.retry_below,
            glossary,
            batch: self.batch,
            candidates: self.mbr,
            beams: self.beams.unwrap_or(defaults.beams),
            length_penalty: self.length_penalty,
            context,
            context_sentences: self.context_sentences.unwrap_or(defaults.context_sentences),
            context_window: match self.context_window {
                Some(ContextWindowArg::Sliding) => ContextWindow::Sliding,
                Some(ContextWindowArg::Growing) => ContextWindow::Growing,
                None => defaults.context_window,
            },
            document_chains: self.document_chains.unwrap_or(defaults.document_chains),
            unit: match self.unit {
                UnitArg::Sentence => Unit::Sentence,
                UnitArg::Paragraph => Unit::Paragraph,
            },
            system_prompt: self.system_prompt.clone(),
            ..defaults
        };
        if !prompted {
            // What the engine turns off for an encoder-decoder model
            // (TranslateOptions::for_kind), so that recorded settings say so.
            opts.context = false;
            opts.retry = false;
        }
        Ok(opts)
    }
}
