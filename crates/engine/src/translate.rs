//! Sentence-aligned translation of a document.
//!
//! The document is cut into pieces by `tarjoman_text::segment` (sentences,
//! metadata, and the whitespace between them, covering every byte). Sentences
//! are normalized and translated one at a time; metadata and whitespace pass
//! through verbatim, so the output has the input's line and paragraph
//! structure, and each sentence can be shown as soon as it is done.

use std::time::Instant;

use serde::Serialize;
use tarjoman_models::causal::CausalLm;
use tarjoman_models::seq2seq::Seq2SeqLm;
use tarjoman_text::normalize::{normalize, NormalizeOptions};
use tarjoman_text::segment::{segment, PieceKind};

use crate::generate::{generate, Generation, GenerationConfig, StopReason};
use crate::guard::{diagnose, glossary_note, retry_note, Failure, Glossary};
use crate::prompt::{Format, PromptBook, TaskPrompt};
use crate::Result;

/// Settings of the translation pipeline.
#[derive(Debug, Clone)]
pub struct TranslateOptions {
    /// How many of the task's worked examples go into each prompt (`None`:
    /// the prompt format's default, see `prompts.toml`).
    pub shots: Option<usize>,
    /// Persian normalization before the model sees a sentence (`None`: off).
    pub normalize: Option<NormalizeOptions>,
    pub generation: GenerationConfig,
    /// Per-sentence cap on output tokens: `ratio * source characters + slack`.
    /// Characters, not tokens: byte-level vocabularies built for English
    /// spend several tokens per Persian letter, which would make a
    /// token-relative cap far too loose for the English answer.
    pub length_ratio: f32,
    pub length_slack: usize,
    /// Retry a sentence that fails a guard (see [`crate::guard`]) once, with
    /// a prompt note listing what must appear and a repetition penalty.
    pub retry: bool,
    /// Terms the translation must use, enforced through the prompt and
    /// checked in the output.
    pub glossary: Option<Glossary>,
}

impl TranslateOptions {
    /// The worked examples per prompt these options give with prompt
    /// `format`: [`Self::shots`], else the format's default.
    pub fn shots_for(&self, format: &str) -> Result<usize> {
        match self.shots {
            Some(n) => Ok(n),
            None => Ok(PromptBook::builtin()?.format(format)?.shots),
        }
    }
}

/// The repetition penalty of a retry (when the first attempt had none).
const RETRY_REPEAT_PENALTY: f32 = 1.15;

impl Default for TranslateOptions {
    fn default() -> Self {
        Self {
            shots: None,
            normalize: Some(NormalizeOptions::default()),
            generation: GenerationConfig::default(),
            length_ratio: 0.6,
            length_slack: 16,
            retry: true,
            glossary: None,
        }
    }
}

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
}

/// What the pipeline hands the caller, in document order.
#[derive(Debug)]
pub enum Event<'a> {
    /// Whitespace and line breaks between sentences, verbatim.
    Verbatim(&'a str),
    /// A translated sentence or passed-through metadata.
    Record(&'a SentenceRecord),
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

pub struct Translator<'m> {
    lm: &'m mut CausalLm,
    format: Format,
    task: TaskPrompt,
    opts: TranslateOptions,
}

impl<'m> Translator<'m> {
    /// `format` names a prompt format of `prompts.toml` (e.g. `chatml`).
    pub fn new(lm: &'m mut CausalLm, format: &str, opts: TranslateOptions) -> Result<Self> {
        let book = PromptBook::builtin()?;
        Ok(Self {
            format: book.format(format)?.clone(),
            task: book.task("translate")?.clone(),
            lm,
            opts,
        })
    }

    /// Worked examples per prompt: the options', else the format's default.
    pub fn shots(&self) -> usize {
        self.opts.shots.unwrap_or(self.format.shots)
    }

    /// Translates one sentence; returns the translation and its record
    /// fields (index, line and span are the caller's). A translation that
    /// fails a guard is retried once (see [`TranslateOptions::retry`]).
    pub fn translate_sentence(&mut self, source: &str) -> Result<(String, SentenceStats)> {
        let start = Instant::now();
        let text = match &self.opts.normalize {
            Some(opts) => normalize(source, opts),
            None => source.to_string(),
        };
        let source_tokens = self.lm.encode(&text)?.len();
        let glossary = self.opts.glossary.clone().unwrap_or_default();
        let terms = glossary.find(&text);
        let note = glossary_note(&terms);
        let config = self.opts.generation.clone();
        let (mut translation, mut generation) = self.attempt(&text, note.as_deref(), &config)?;
        let mut failures = diagnose(source, &translation, generation.stop, &terms);
        let mut totals = Totals::from(&generation);
        let mut retried = false;
        if self.opts.retry && !failures.is_empty() {
            retried = true;
            let note = retry_note(&text, &terms);
            let config = GenerationConfig {
                repeat_penalty: config.repeat_penalty.max(RETRY_REPEAT_PENALTY),
                ..config
            };
            let (second, second_gen) = self.attempt(&text, Some(&note), &config)?;
            let second_failures = diagnose(source, &second, second_gen.stop, &terms);
            totals.add(&second_gen);
            if severity(&second_failures) < severity(&failures) {
                (translation, generation, failures) = (second, second_gen, second_failures);
            }
        }
        Ok((
            translation,
            SentenceStats {
                source_tokens,
                prompt_tokens: totals.prompt_tokens,
                prefilled_tokens: totals.prefilled,
                output_tokens: totals.output_tokens,
                prefill_ms: totals.prefill_ms,
                decode_ms: totals.decode_ms,
                ms: start.elapsed().as_millis() as u64,
                stop: generation.stop,
                retried,
                warnings: failures.iter().map(Failure::to_string).collect(),
            },
        ))
    }

    /// One generation of a translation of `text` (already normalized).
    fn attempt(
        &mut self,
        text: &str,
        note: Option<&str>,
        config: &GenerationConfig,
    ) -> Result<(String, Generation)> {
        let prompt = self
            .format
            .render_with_note(&self.task, self.shots(), text, note);
        let mut ids = Vec::new();
        if self.lm.info.add_bos {
            ids.extend(self.lm.info.bos_id);
        }
        ids.extend(self.lm.encode(&prompt.text)?);
        let cap = (text.chars().count() as f32 * self.opts.length_ratio) as usize
            + self.opts.length_slack;
        let generation = generate(
            &mut self.lm.decoder(),
            &ids,
            config,
            Some(cap),
            &prompt.stop,
        )?;
        let translation = clean_output(&generation.text, &self.task.target_label);
        Ok((translation, generation))
    }

    /// Translates a document, calling `sink` with each piece of output in
    /// order as soon as it is ready.
    pub fn translate_document<E>(
        &mut self,
        text: &str,
        sink: impl FnMut(Event<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<DocumentStats, E>
    where
        E: From<crate::Error>,
    {
        translate_document_with(text, |source| self.translate_sentence(source), sink)
    }
}

/// Translates a document with an encoder-decoder model sentence by sentence
/// ([`translate_seq2seq`]), calling `sink` as [`Translator::translate_document`]
/// does.
pub fn translate_document_seq2seq<E>(
    model: &mut Seq2SeqLm,
    text: &str,
    opts: &TranslateOptions,
    target_prefix: Option<&str>,
    sink: impl FnMut(Event<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<DocumentStats, E>
where
    E: From<crate::Error>,
{
    translate_document_with(
        text,
        |source| translate_seq2seq(model, source, opts, target_prefix),
        sink,
    )
}

/// Cuts `text` into pieces, translates its sentences with `translate` and
/// hands `sink` each piece of output in order as soon as it is ready.
fn translate_document_with<E>(
    text: &str,
    mut translate: impl FnMut(&str) -> Result<(String, SentenceStats)>,
    mut sink: impl FnMut(Event<'_>) -> std::result::Result<(), E>,
) -> std::result::Result<DocumentStats, E>
where
    E: From<crate::Error>,
{
    let start = Instant::now();
    let mut stats = DocumentStats::default();
    let mut index = 0;
    for piece in segment(text) {
        let source = &text[piece.span.clone()];
        let record = match piece.kind {
            PieceKind::Space => {
                sink(Event::Verbatim(source))?;
                continue;
            }
            PieceKind::Metadata => SentenceRecord {
                index,
                line: piece.line,
                kind: RecordKind::Metadata,
                source: source.to_string(),
                translation: source.to_string(),
                span: [piece.span.start, piece.span.end],
                source_tokens: 0,
                output_tokens: 0,
                ms: 0,
                stop_reason: None,
                retried: false,
                warnings: Vec::new(),
            },
            PieceKind::Sentence => {
                let (translation, s) = translate(source)?;
                stats.add_sentence(&s);
                SentenceRecord {
                    index,
                    line: piece.line,
                    kind: RecordKind::Sentence,
                    source: source.to_string(),
                    translation,
                    span: [piece.span.start, piece.span.end],
                    source_tokens: s.source_tokens,
                    output_tokens: s.output_tokens,
                    ms: s.ms,
                    stop_reason: Some(s.stop),
                    retried: s.retried,
                    warnings: s.warnings,
                }
            }
        };
        index += 1;
        sink(Event::Record(&record))?;
    }
    stats.total_ms = start.elapsed().as_millis() as u64;
    Ok(stats)
}

/// Translates one sentence with an encoder-decoder model (Marian / OPUS-MT,
/// T5 / MADLAD-400) directly, with no prompt: the normalized sentence,
/// after `target_prefix` if given (MADLAD-400 wants the target language
/// first, `"<2en> "`), is the encoder's input, through the same generation
/// loop and checks as [`Translator::translate_sentence`].
pub fn translate_seq2seq(
    model: &mut Seq2SeqLm,
    source: &str,
    opts: &TranslateOptions,
    target_prefix: Option<&str>,
) -> Result<(String, SentenceStats)> {
    let start = Instant::now();
    let text = match &opts.normalize {
        Some(n) => normalize(source, n),
        None => source.to_string(),
    };
    let input = format!("{}{text}", target_prefix.unwrap_or(""));
    let ids = model.encode_text(&input)?;
    let cap = (text.chars().count() as f32 * opts.length_ratio) as usize + opts.length_slack;
    let generation = generate(model, &ids, &opts.generation, Some(cap), &[])?;
    let translation = generation
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let warnings = diagnose(source, &translation, generation.stop, &[])
        .iter()
        .map(Failure::to_string)
        .collect();
    Ok((
        translation,
        SentenceStats {
            source_tokens: ids.len(),
            prompt_tokens: generation.prompt_tokens,
            prefilled_tokens: generation.prefilled,
            output_tokens: generation.tokens.len(),
            prefill_ms: generation.prefill.as_millis() as u64,
            decode_ms: generation.decode.as_millis() as u64,
            ms: start.elapsed().as_millis() as u64,
            stop: generation.stop,
            retried: false,
            warnings,
        },
    ))
}

/// Per-sentence numbers from [`Translator::translate_sentence`].
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
}

/// Token counts and times summed over a sentence's attempts.
struct Totals {
    prompt_tokens: usize,
    prefilled: usize,
    output_tokens: usize,
    prefill_ms: u64,
    decode_ms: u64,
}

impl Totals {
    fn from(g: &Generation) -> Self {
        let mut t = Totals {
            prompt_tokens: 0,
            prefilled: 0,
            output_tokens: 0,
            prefill_ms: 0,
            decode_ms: 0,
        };
        t.add(g);
        t
    }

    fn add(&mut self, g: &Generation) {
        self.prompt_tokens += g.prompt_tokens;
        self.prefilled += g.prefilled;
        self.output_tokens += g.tokens.len();
        self.prefill_ms += g.prefill.as_millis() as u64;
        self.decode_ms += g.decode.as_millis() as u64;
    }
}

/// How bad a set of failures is, for choosing between attempts: output in
/// the wrong language or looping outweighs a missing detail.
fn severity(failures: &[Failure]) -> usize {
    failures
        .iter()
        .map(|f| match f {
            Failure::Empty | Failure::CopiedSource | Failure::Repetition(_) => 10,
            Failure::WrongScript | Failure::TooLong | Failure::TooShort => 5,
            Failure::Cut => 3,
            Failure::MissingNumber(_) | Failure::MissingName(_) | Failure::MissingTerm { .. } => 2,
        })
        .sum()
}

/// Makes the model's answer one clean line: drops a leading `English:`-style
/// label the model may echo, and joins lines.
fn clean_output(raw: &str, label: &str) -> String {
    let mut text = raw.trim();
    for prefix in [label, "Translation", "English translation"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if let Some(rest) = rest.trim_start().strip_prefix(':') {
                text = rest.trim_start();
            }
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_output_strips_labels_and_joins_lines() {
        assert_eq!(
            clean_output(" English: Hello\n world ", "English"),
            "Hello world"
        );
        assert_eq!(clean_output("Translation: Hi", "English"), "Hi");
        assert_eq!(
            clean_output("Englishmen came.", "English"),
            "Englishmen came."
        );
    }
}
