//! Sentence-aligned translation of a document.
//!
//! The document is cut into pieces by `tarjoman_text::segment` (sentences,
//! metadata, and the whitespace between them, covering every byte). Sentences
//! are normalized and translated one at a time; metadata and whitespace pass
//! through verbatim, so the output has the input's line and paragraph
//! structure, and each sentence can be shown as soon as it is done.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tarjoman_models::causal::CausalLm;
use tarjoman_models::seq2seq::Seq2SeqLm;
use tarjoman_text::normalize::{normalize, NormalizeOptions};
use tarjoman_text::segment::{segment, Piece, PieceKind};
use tokenizers::Tokenizer;

use crate::generate::{
    generate, generate_beam, generate_many, Generation, GenerationConfig, Job, JobSource,
    StopReason,
};
use crate::guard::{diagnose, glossary_note, retry_note, Failure, Glossary, GlossaryEntry};
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
    /// Retry a sentence that fails a guard (see [`crate::guard`]), with a
    /// prompt note listing what must appear and a repetition penalty, in
    /// `retry_attempts` attempts.
    pub retry: bool,
    /// Attempts a retry decodes side by side: the first greedy, the others
    /// sampled (as the extra `candidates` are); the attempt that fails least is
    /// kept (the earliest on ties), if it fails less than the first
    /// translation. With beam search a retry is one beam-searched attempt.
    pub retry_attempts: usize,
    /// Terms the translation must use, enforced through the prompt and
    /// checked in the output.
    pub glossary: Option<Glossary>,
    /// Sentences decoded together (see [`generate_many`]); 1 translates one
    /// sentence at a time. Only the fast GGUF backend batches; the others
    /// run one sentence at a time whatever this says.
    pub batch: usize,
    /// Candidates per sentence: 1 is greedy decoding alone; N > 1 adds
    /// N - 1 sampled translations and keeps the one that agrees most with
    /// the others (minimum Bayes risk with chrF as the utility). The
    /// candidates of a sentence decode side by side in the batch.
    pub candidates: usize,
    /// Beam search width: 1 is the decoding of [`Self::generation`];
    /// N > 1 keeps the N most likely partial translations at every step
    /// ([`generate_beam`]); `ceil(batch / N)` sentences decode together,
    /// with all their beams. Minimum Bayes risk decoding (`candidates` >
    /// 1) replaces it.
    pub beams: usize,
    /// Beam search's length normalization: a finished translation scores
    /// its log-probability divided by `length ^ length_penalty` (1.0 is
    /// the mean per token; 0 favours short outputs).
    pub length_penalty: f64,
    /// Show the model the sentences before each one (see
    /// `context_sentences` and `context_window`) with their translations
    /// as earlier turns of the conversation. A sentence then waits for the one
    /// before it, so the sentences of one document translate in sequence
    /// (different documents still translate side by side).
    /// On by default: on 300 TICO-19 lines it gained 2.85 chrF++ and 1.75
    /// BLEU over translating each sentence alone (paired bootstrap p =
    /// 0.001), for about twice the time on the seed article (45.6 s against
    /// 22.5 s, where sentences decode 4 at a time without it).
    pub context: bool,
    /// With `context`, how many preceding sentences (with their
    /// translations) the model sees at most, each as an earlier turn.
    pub context_sentences: usize,
    /// How the context moves along a chain of sentences.
    pub context_window: ContextWindow,
    /// With `context`, the documents given to
    /// [`Translator::translate_documents`] are consecutive parts of one text
    /// (the lines of a test set), so a document's first sentence gets the
    /// previous document's last as context.
    pub context_across_documents: bool,
    /// With `context_across_documents`, the documents are cut into this
    /// many contiguous runs of (nearly) equal length, each its own chain of
    /// context, so that the runs translate side by side (`batch`) instead
    /// of one sentence at a time. The first document of every run after the
    /// first starts without context. 1 (or 0) keeps one chain.
    pub context_chains: usize,
    /// With `context`, each document's sentences are cut into up to this
    /// many contiguous chains of context that decode side by side (a
    /// chain's first sentence starts without context; cuts split the
    /// length evenly, moved to a paragraph start where one is near). There
    /// is at most one chain per [`MIN_CHAIN_SENTENCES`] sentences, so
    /// short documents stay one chain. 1 (or 0) keeps every document one
    /// chain.
    pub document_chains: usize,
    /// What the model translates at once.
    pub unit: Unit,
    /// Replaces the task's system prompt (`prompts.toml`), e.g. to try
    /// another wording.
    pub system_prompt: Option<String>,
}

/// How the sentences shown as context move along a chain
/// ([`TranslateOptions::context_sentences`] = N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextWindow {
    /// Every sentence sees the N before it. Each prompt starts its
    /// conversation anew, so all of its context is computed again.
    Sliding,
    /// The context grows by one sentence at a time up to N, then starts
    /// again from the one previous sentence: the 1st, 2nd, ... N-th, then
    /// again 1st sentence before. While it grows, a prompt is the previous
    /// prompt plus that sentence's translation and the new sentence, so
    /// the model's cached keys and values for the previous prompt are
    /// reused and only the new part is computed. The default.
    #[default]
    Growing,
}

impl ContextWindow {
    /// How many sentences of context a sentence with `depth` sentences
    /// before it in its chain sees, with a window of at most `most`
    /// (fewer when the chain has fewer).
    pub fn size(self, most: usize, depth: usize) -> usize {
        let most = most.max(1);
        let size = match self {
            ContextWindow::Sliding => most,
            ContextWindow::Growing => depth.saturating_sub(1) % most + 1,
        };
        size.min(depth)
    }
}

/// The unit of translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// Each sentence on its own; the output is aligned sentence by sentence.
    #[default]
    Sentence,
    /// Each line (paragraph) whole; the output is aligned by paragraph.
    Paragraph,
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

/// Default of [`TranslateOptions::retry_attempts`]. A sentence that fails a
/// check has usually failed it because greedy decoding from its prompt
/// takes a wrong turn early; the greedy retry with the note often takes
/// the same turn. Sampled attempts explore other wordings, and they decode
/// beside the greedy one (a decoding step reads the weights once for all
/// rows), so they cost little time, and only for the sentences that fail.
/// Three attempts and the other chain's sentence (`DOCUMENT_CHAINS`) fill
/// the default batch of 4 without waiting for a free slot; on the seed
/// article 3 attempts cost 4.4 s (11%) over 1, 4 attempts 6.7 s.
pub const DEFAULT_RETRY_ATTEMPTS: usize = 3;

/// Default of [`TranslateOptions::context_sentences`], with a
/// [`ContextWindow::Growing`] window: on 300 TICO-19 lines the same scores
/// as one previous sentence (chrF++ 42.03 against 42.18, BLEU 18.31
/// against 18.24) with a fifth fewer prompt tokens computed; the seed
/// article in 36-38 s instead of 44-46 s (session 11). Up to 8 scored
/// lower (41.48).
pub const DEFAULT_CONTEXT_SENTENCES: usize = 4;

/// Default number of sentences decoded together. Decoding one token reads
/// every weight for one row of activations, and the kernels unpack each
/// weight block once for all rows; on the 2-core development machine
/// Qwen2.5-Coder-1.5B decodes 28-30 tokens/s for one row and 51-57 in all
/// for 4 rows (`tarjoman bench --rows 4`, session 12), 1.9x. More rows
/// gain less per row (8: 56-58) and delay the first streamed sentence
/// further.
pub const DEFAULT_BATCH: usize = 4;

/// Default beam search width ([`TranslateOptions::beams`]).
pub const DEFAULT_BEAMS: usize = 1;

/// Sampling settings of the extra candidates of minimum Bayes risk
/// decoding ([`TranslateOptions::candidates`]) and of a retry's attempts
/// after the first: varied enough to disagree where the model is unsure,
/// close enough to the greedy answer to stay translations.
const SAMPLE_TEMPERATURE: f64 = 0.7;
const SAMPLE_TOP_P: f64 = 0.95;

impl Default for TranslateOptions {
    fn default() -> Self {
        Self {
            shots: None,
            normalize: Some(NormalizeOptions::default()),
            generation: GenerationConfig::default(),
            length_ratio: 0.6,
            length_slack: 16,
            retry: true,
            retry_attempts: DEFAULT_RETRY_ATTEMPTS,
            glossary: None,
            batch: DEFAULT_BATCH,
            candidates: 1,
            beams: DEFAULT_BEAMS,
            length_penalty: 1.0,
            context: true,
            context_sentences: DEFAULT_CONTEXT_SENTENCES,
            context_window: ContextWindow::Growing,
            context_across_documents: false,
            context_chains: 1,
            document_chains: DOCUMENT_CHAINS,
            unit: Unit::Sentence,
            system_prompt: None,
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
        let mut task = book.task("translate")?.clone();
        if let Some(system) = &opts.system_prompt {
            task.system = system.clone();
        }
        Ok(Self {
            format: book.format(format)?.clone(),
            task,
            lm,
            opts,
        })
    }

    /// Worked examples per prompt: the options', else the format's default.
    pub fn shots(&self) -> usize {
        self.opts.shots.unwrap_or(self.format.shots)
    }

    /// Translates a document, calling `sink` with each piece of output in
    /// order as soon as it is ready.
    pub fn translate_document<E>(
        &mut self,
        text: &str,
        mut sink: impl FnMut(Event<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<DocumentStats, E>
    where
        E: From<crate::Error>,
    {
        self.translate_documents(&[text], |_, event| sink(event))
    }

    /// Translates several documents, reporting each piece with its
    /// document's index, in order. Sentences of all documents are decoded
    /// [`TranslateOptions::batch`] at a time ([`generate_many`]), so many
    /// one-line documents (an evaluation set) batch as well as one long
    /// one. A piece is reported as soon as it and everything before it are
    /// done, so output still streams in document order.
    ///
    /// A sentence's `ms` is its wall time from its first prefill to its
    /// last token, which overlaps with the sentences decoded beside it.
    pub fn translate_documents<E>(
        &mut self,
        docs: &[&str],
        sink: impl FnMut(usize, Event<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<DocumentStats, E>
    where
        E: From<crate::Error>,
    {
        let start = Instant::now();
        let glossary = self.opts.glossary.clone().unwrap_or_default();
        let mut pieces = Vec::new();
        let mut sentences: Vec<Sentence> = Vec::new();
        let chains = self.opts.context_chains.clamp(1, docs.len().max(1));
        let chain = |doc: usize| doc * chains / docs.len();
        for (doc, text) in docs.iter().enumerate() {
            let cut = match self.opts.unit {
                Unit::Sentence => segment(text),
                Unit::Paragraph => paragraphs(text, segment(text)),
            };
            // The sentence before the first of this document, if context
            // runs on from the previous document (in the same chain).
            let continues = doc > 0 && chain(doc) == chain(doc - 1);
            let mut prev = match self.opts.context_across_documents && continues {
                true => sentences.len().checked_sub(1),
                false => None,
            };
            let chain_starts = chain_starts(&cut, self.opts.document_chains);
            let mut sentence_no = 0;
            for piece in cut {
                if piece.kind == PieceKind::Sentence {
                    if chain_starts.contains(&sentence_no) {
                        prev = None;
                    }
                    sentence_no += 1;
                }
                let source = &text[piece.span.clone()];
                let sentence = if piece.kind == PieceKind::Sentence {
                    let mut s = self.prepare(source, &glossary)?;
                    s.doc = doc;
                    if self.opts.context {
                        s.prev = prev;
                        if let Some(p) = prev {
                            sentences[p].next = Some(sentences.len());
                            s.depth = sentences[p].depth + 1;
                        }
                    }
                    sentences.push(s);
                    prev = Some(sentences.len() - 1);
                    Some(sentences.len() - 1)
                } else {
                    None
                };
                pieces.push(DocPiece {
                    doc,
                    source,
                    span: [piece.span.start, piece.span.end],
                    line: piece.line,
                    kind: piece.kind,
                    sentence,
                });
            }
        }
        let mut run = Run {
            opts: &self.opts,
            prompter: Prompter {
                format: &self.format,
                task: &self.task,
                shots: self.shots(),
                bos: self.lm.info.bos_id.filter(|_| self.lm.info.add_bos),
                tokenizer: Arc::clone(&self.lm.tokenizer),
            },
            label: &self.task.target_label,
            pieces,
            ready: (0..sentences.len())
                .filter(|&i| sentences[i].prev.is_none())
                .collect(),
            sentences,
            queue: VecDeque::new(),
            emitted: 0,
            index: vec![0; docs.len()],
            untranslated: vec![0; docs.len()],
            stats: DocumentStats::default(),
            sink,
        };
        for s in &run.sentences {
            run.untranslated[s.doc] += 1;
        }
        for doc in 0..docs.len() {
            if run.untranslated[doc] == 0 {
                (run.sink)(doc, Event::Translated)?;
            }
        }
        run.flush()?;
        if self.opts.beams > 1 && self.opts.candidates <= 1 {
            generate_beam(
                self.lm,
                self.opts.batch,
                self.opts.beams,
                self.opts.length_penalty,
                &mut run,
            )?;
        } else {
            generate_many(self.lm, self.opts.batch, &mut run)?;
        }
        run.flush()?;
        if run.emitted < run.pieces.len() {
            // Never expected: generation ended with a sentence unfinished.
            return Err(crate::Error::Internal(format!(
                "{} of {} pieces were never translated",
                run.pieces.len() - run.emitted,
                run.pieces.len()
            ))
            .into());
        }
        let mut stats = run.stats;
        stats.total_ms = start.elapsed().as_millis() as u64;
        Ok(stats)
    }

    /// Normalizes a sentence and finds its glossary terms; its prompts are
    /// built when it starts (they may need the previous translation).
    fn prepare<'g>(&self, source: &str, glossary: &'g Glossary) -> Result<Sentence<'g>> {
        let text = match &self.opts.normalize {
            Some(opts) => normalize(source, opts),
            None => source.to_string(),
        };
        Ok(Sentence {
            source: source.to_string(),
            source_tokens: self.lm.encode(&text)?.len(),
            cap: (text.chars().count() as f32 * self.opts.length_ratio) as usize
                + self.opts.length_slack,
            terms: glossary.find(&text),
            text,
            doc: 0,
            prev: None,
            next: None,
            depth: 0,
            prompt: None,
            retry_prompt: None,
            started: None,
            attempts: Vec::new(),
            settled: None,
            first: None,
            totals: Totals::default(),
            translation: None,
            done: None,
        })
    }
}

/// Builds prompts while the model runs (it shares the model's tokenizer).
struct Prompter<'a> {
    format: &'a Format,
    task: &'a TaskPrompt,
    shots: usize,
    /// The token every prompt starts with, if the model wants one.
    bos: Option<u32>,
    tokenizer: Arc<Tokenizer>,
}

impl Prompter<'_> {
    /// The token ids of a sentence's prompt, and its stop strings.
    fn ids(
        &self,
        text: &str,
        context: &[(&str, &str)],
        note: Option<&str>,
    ) -> Result<(Vec<u32>, Vec<String>)> {
        let prompt = self
            .format
            .render_in_context(self.task, self.shots, context, text, note);
        let mut ids: Vec<u32> = self.bos.into_iter().collect();
        ids.extend(tarjoman_models::tokenizer::encode(
            &self.tokenizer,
            &prompt.text,
        )?);
        Ok((ids, prompt.stop))
    }
}

/// Joins the sentences of each line (and the spaces between them) into one
/// piece, for [`Unit::Paragraph`]; line breaks and metadata stay apart.
fn paragraphs(text: &str, pieces: Vec<Piece>) -> Vec<Piece> {
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

/// A piece of one of several documents.
struct DocPiece<'a> {
    doc: usize,
    source: &'a str,
    span: [usize; 2],
    line: usize,
    kind: PieceKind,
    /// Index into `Run::sentences` for sentences.
    sentence: Option<usize>,
}

/// A sentence being translated by [`Translator::translate_documents`].
struct Sentence<'g> {
    /// The sentence as written (the guard checks against it).
    source: String,
    /// The sentence as the model sees it (normalized).
    text: String,
    source_tokens: usize,
    cap: usize,
    terms: Vec<&'g GlossaryEntry>,
    /// The document it is part of.
    doc: usize,
    /// The sentence whose translation is this one's context.
    prev: Option<usize>,
    /// The sentence this one's translation is the context of.
    next: Option<usize>,
    /// Sentences before this one in its chain of context.
    depth: usize,
    /// The prompt's token ids and stop strings, once started.
    prompt: Option<(Vec<u32>, Vec<String>)>,
    /// The retry's prompt, once a retry is needed.
    retry_prompt: Option<(Vec<u32>, Vec<String>)>,
    started: Option<Instant>,
    /// Finished jobs of the round running (the first attempt's
    /// candidates, then the retry's attempts): job index, cleaned text,
    /// run, and (for the retry's) its failed checks.
    attempts: Vec<(usize, String, Generation, Vec<Failure>)>,
    /// The first of the retry's attempts (as a job index) that passed
    /// every check and adds no number: no later attempt can be chosen over
    /// it, so they are stopped.
    settled: Option<usize>,
    /// The first attempt, kept while its retry runs.
    first: Option<(String, Generation, Vec<Failure>)>,
    totals: Totals,
    /// The final translation, kept as the next sentence's context.
    translation: Option<String>,
    done: Option<(String, SentenceStats)>,
}

/// The state of a batched translation: the job source of
/// [`generate_many`] and the in-order reporter of finished pieces.
struct Run<'a, 'g, F> {
    opts: &'a TranslateOptions,
    prompter: Prompter<'a>,
    /// The prompt's label for the answer, stripped from outputs.
    label: &'a str,
    pieces: Vec<DocPiece<'a>>,
    sentences: Vec<Sentence<'g>>,
    /// Retries waiting for a slot; they go before new sentences.
    queue: VecDeque<Job>,
    /// Sentences not started whose context (if any) is translated; the
    /// first in document order starts first.
    ready: BTreeSet<usize>,
    /// Pieces reported so far.
    emitted: usize,
    /// Per document, the index of its next record.
    index: Vec<usize>,
    /// Per document, its sentences not translated yet.
    untranslated: Vec<usize>,
    stats: DocumentStats,
    sink: F,
}

impl<F, E> Run<'_, '_, F>
where
    F: FnMut(usize, Event<'_>) -> std::result::Result<(), E>,
    E: From<crate::Error>,
{
    /// Reports every piece whose sentence (if any) is done and that has
    /// nothing unfinished before it.
    fn flush(&mut self) -> std::result::Result<(), E> {
        while let Some(piece) = self.pieces.get(self.emitted) {
            let record = match (piece.kind, piece.sentence) {
                (PieceKind::Space, _) => {
                    (self.sink)(piece.doc, Event::Verbatim(piece.source))?;
                    self.emitted += 1;
                    continue;
                }
                (PieceKind::Sentence, Some(i)) => {
                    let Some((translation, s)) = self.sentences[i].done.take() else {
                        return Ok(());
                    };
                    self.stats.add_sentence(&s);
                    SentenceRecord {
                        index: self.index[piece.doc],
                        line: piece.line,
                        kind: RecordKind::Sentence,
                        source: piece.source.to_string(),
                        translation,
                        span: piece.span,
                        source_tokens: s.source_tokens,
                        output_tokens: s.output_tokens,
                        ms: s.ms,
                        stop_reason: Some(s.stop),
                        retried: s.retried,
                        warnings: s.warnings,
                    }
                }
                _ => metadata_record(self.index[piece.doc], piece.line, piece.source, piece.span),
            };
            self.index[piece.doc] += 1;
            (self.sink)(piece.doc, Event::Record(&record))?;
            self.emitted += 1;
        }
        Ok(())
    }

    /// Jobs per sentence: its candidates, then the retry's attempts.
    fn stride(&self) -> usize {
        self.candidates() + self.retry_attempts()
    }

    /// Candidates of a sentence's first attempt.
    fn candidates(&self) -> usize {
        self.opts.candidates.max(1)
    }

    /// Attempts of a retry (at least one job id is kept for it, so that
    /// ids stay the same whether retries are on or not). Beam search
    /// decodes one: its attempts would all be the same beam search.
    fn retry_attempts(&self) -> usize {
        match self.opts.beams > 1 && self.opts.candidates <= 1 {
            true => 1,
            false => self.opts.retry_attempts.max(1),
        }
    }

    /// The context of a sentence: up to `context_sentences` of its
    /// predecessors' texts and translations (see [`ContextWindow`]), oldest
    /// first. A sentence starts only when its predecessor (and so every
    /// earlier one) is translated.
    fn context(&self, sentence: usize) -> Vec<(&str, &str)> {
        let size = self
            .opts
            .context_window
            .size(self.opts.context_sentences, self.sentences[sentence].depth);
        let mut pairs = Vec::new();
        let mut at = self.sentences[sentence].prev;
        while let Some(p) = at.filter(|_| pairs.len() < size) {
            let prev = &self.sentences[p];
            let Some(translation) = prev.translation.as_deref() else {
                break;
            };
            pairs.push((prev.text.as_str(), translation));
            at = prev.prev;
        }
        pairs.reverse();
        pairs
    }

    /// Builds a sentence's prompt (`retry`: with the note of what must
    /// appear) in its context.
    fn prompt(&self, sentence: usize, retry: bool) -> Result<(Vec<u32>, Vec<String>)> {
        let s = &self.sentences[sentence];
        let note = match retry {
            true => Some(retry_note(&s.text, &s.terms)),
            false => glossary_note(&s.terms),
        };
        self.prompter
            .ids(&s.text, &self.context(sentence), note.as_deref())
    }

    /// Candidate `k` of a sentence's first attempt (0 is the configured
    /// decoding, the others sampled), or with `k >= candidates` attempt
    /// `k - candidates` of its retry (0 greedy, the others sampled).
    fn job(&self, sentence: usize, k: usize) -> Result<Job> {
        let s = &self.sentences[sentence];
        let config = self.opts.generation.clone();
        let retry = k >= self.candidates();
        let prompt = match retry {
            true => s.retry_prompt.as_ref(),
            false => s.prompt.as_ref(),
        };
        let prompt = prompt.ok_or_else(|| {
            crate::Error::Internal(format!("sentence {sentence} has no prompt yet"))
        })?;
        // Each job has its own seed. The first job of each round decodes as
        // configured, the others sample; a retry's jobs penalize repeats.
        let mut config = GenerationConfig {
            seed: config.seed.wrapping_add(k as u64),
            ..config
        };
        if k != 0 && k != self.candidates() {
            config.temperature = Some(SAMPLE_TEMPERATURE);
            config.top_p = Some(SAMPLE_TOP_P);
        }
        if retry {
            config.repeat_penalty = config.repeat_penalty.max(RETRY_REPEAT_PENALTY);
        }
        Ok(Job {
            id: sentence * self.stride() + k,
            prompt: prompt.0.clone(),
            config,
            cap: Some(s.cap),
            stop: prompt.1.clone(),
        })
    }
}

impl<F, E> JobSource for Run<'_, '_, F>
where
    F: FnMut(usize, Event<'_>) -> std::result::Result<(), E>,
    E: From<crate::Error>,
{
    type Error = E;

    fn next_job(&mut self) -> std::result::Result<Option<Job>, E> {
        while let Some(job) = self.queue.pop_front() {
            if self.wanted(job.id) {
                return Ok(Some(job));
            }
        }
        // Sentences waiting for their context join when it is done:
        // `generate_many` asks again after every step.
        let Some(i) = self.ready.pop_first() else {
            return Ok(None);
        };
        self.sentences[i].prompt = Some(self.prompt(i, false)?);
        self.sentences[i].started = Some(Instant::now());
        // The other candidates go first in line, to decode beside this one.
        for k in (1..self.opts.candidates.max(1)).rev() {
            let job = self.job(i, k)?;
            self.queue.push_front(job);
        }
        Ok(Some(self.job(i, 0)?))
    }

    /// A retry's attempts after the first that settled it are not wanted
    /// (see [`Sentence::settled`]); a sentence has one retry at most.
    fn wanted(&self, id: usize) -> bool {
        let (i, k) = (id / self.stride(), id % self.stride());
        self.sentences[i].settled.is_none_or(|settled| k <= settled)
    }

    fn finished(&mut self, id: usize, generation: Generation) -> std::result::Result<(), E> {
        if !self.wanted(id) {
            return Ok(());
        }
        let (stride, candidates) = (self.stride(), self.candidates());
        let (i, k) = (id / stride, id % stride);
        let retry = k >= candidates;
        let s = &mut self.sentences[i];
        s.totals.add(&generation);
        let text = clean_output(&generation.text, self.label);
        let failures = match retry {
            true => diagnose(&s.source, &text, generation.stop, &s.terms),
            false => Vec::new(),
        };
        if retry && retry_key(&s.source, &text, &failures) == (0, 0) {
            s.settled = Some(s.settled.map_or(k, |settled| settled.min(k)));
        }
        s.attempts.push((k, text, generation, failures));
        // The round is complete when every job of it that is still wanted
        // has finished.
        let last = match retry {
            true => s.settled.unwrap_or(stride - 1),
            false => candidates - 1,
        };
        let first = if retry { candidates } else { 0 };
        let done = s.attempts.iter().filter(|a| a.0 <= last).count();
        if done < last + 1 - first {
            return Ok(());
        }
        // Jobs finish in any order: sorting keeps the choice independent
        // of timing. Attempts after the settling one cannot be chosen.
        s.attempts.retain(|a| a.0 <= last);
        s.attempts.sort_by_key(|a| a.0);
        let texts: Vec<&str> = s.attempts.iter().map(|a| a.1.as_str()).collect();
        let best = match retry {
            true => {
                let failures: Vec<&[Failure]> = s.attempts.iter().map(|a| &a.3[..]).collect();
                retry_choice(&s.source, &texts, &failures)
            }
            false => mbr_choice(&texts),
        };
        let (_, translation, generation, failures) = s.attempts.swap_remove(best);
        s.attempts.clear();
        let failures = match retry {
            true => failures,
            false => diagnose(&s.source, &translation, generation.stop, &s.terms),
        };
        let (translation, generation, failures) = if !retry {
            if self.opts.retry && !failures.is_empty() {
                s.first = Some((translation, generation, failures));
                self.sentences[i].retry_prompt = Some(self.prompt(i, true)?);
                for k in candidates..stride {
                    let job = self.job(i, k)?;
                    self.queue.push_back(job);
                }
                return Ok(());
            }
            (translation, generation, failures)
        } else {
            let first = s.first.take().expect("a retry follows a first attempt");
            if severity(&failures) < severity(&first.2) {
                (translation, generation, failures)
            } else {
                first
            }
        };
        let s = &mut self.sentences[i];
        let totals = std::mem::take(&mut s.totals);
        s.translation = Some(translation.clone());
        if let Some(next) = s.next {
            self.ready.insert(next);
        }
        let doc = s.doc;
        s.done = Some((
            translation,
            SentenceStats {
                source_tokens: s.source_tokens,
                prompt_tokens: totals.prompt_tokens,
                prefilled_tokens: totals.prefilled,
                output_tokens: totals.output_tokens,
                prefill_ms: totals.prefill_ms,
                decode_ms: totals.decode_ms,
                ms: s.started.map_or(0, |t| t.elapsed().as_millis() as u64),
                stop: generation.stop,
                retried: retry,
                warnings: failures.iter().map(Failure::to_string).collect(),
            },
        ));
        self.untranslated[doc] -= 1;
        if self.untranslated[doc] == 0 {
            (self.sink)(doc, Event::Translated)?;
        }
        self.flush()
    }
}

/// The default of [`TranslateOptions::document_chains`]: two chains of
/// context per document. Decoding one token reads every weight, so two
/// sentences decoding together take little more time than one: on 2 cores
/// the seed article's 16 sentences take about 0.7x the time of one chain,
/// and one sentence in 16 loses its context.
pub const DOCUMENT_CHAINS: usize = 2;

/// A document gets at most one chain of
/// [`TranslateOptions::document_chains`] per this many sentences.
pub const MIN_CHAIN_SENTENCES: usize = 6;

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
fn chain_starts(cut: &[Piece], chains: usize) -> Vec<usize> {
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

/// The retry attempt to keep: the one whose checks fail least; among
/// those, the one with the fewest numbers that are not in the source (an
/// invented number is a sign of invented content, but not a failure on its
/// own: dates and numbers in words legitimately come out as other digits);
/// then the earliest, which is the greedy attempt.
fn retry_choice(source: &str, texts: &[&str], failures: &[&[Failure]]) -> usize {
    (0..texts.len())
        .min_by_key(|&i| retry_key(source, texts[i], failures[i]))
        .unwrap_or(0)
}

/// What [`retry_choice`] minimizes: the failures' severity, then the
/// count of numbers in `text` that are not in `source`. `(0, 0)` cannot be
/// beaten.
fn retry_key(source: &str, text: &str, failures: &[Failure]) -> (usize, usize) {
    let known = tarjoman_text::numbers::extract_numbers(source);
    let invented = tarjoman_text::numbers::extract_numbers(text)
        .into_iter()
        .filter(|n| !known.contains(n))
        .count();
    (severity(failures), invented)
}

/// The candidate with the highest mean chrF against the others (minimum
/// Bayes risk); the first on ties, so greedy wins when all agree.
fn mbr_choice(candidates: &[&str]) -> usize {
    if candidates.len() < 2 {
        return 0;
    }
    let mut best = (0, f64::NEG_INFINITY);
    for (i, hyp) in candidates.iter().enumerate() {
        let utility: f64 = candidates
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, other)| {
                tarjoman_eval::chrf::sentence_chrf(hyp, &[*other]).map_or(0.0, |s| s.score)
            })
            .sum();
        if utility > best.1 {
            best = (i, utility);
        }
    }
    best.0
}

fn metadata_record(index: usize, line: usize, source: &str, span: [usize; 2]) -> SentenceRecord {
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
    }
}

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
            PieceKind::Metadata => metadata_record(
                index,
                piece.line,
                source,
                [piece.span.start, piece.span.end],
            ),
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
    sink(Event::Translated)?;
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
#[derive(Default)]
struct Totals {
    prompt_tokens: usize,
    prefilled: usize,
    output_tokens: usize,
    prefill_ms: u64,
    decode_ms: u64,
}

impl Totals {
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
            Failure::WrongScript | Failure::TooLong | Failure::TooShort | Failure::EchoedNote => 5,
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
    fn retries_keep_the_attempt_that_fails_least_then_invents_least() {
        let source = "مجاهد روز شنبه ۱۷ آبان گفت ۵۰ نفر کشته شدند.";
        let texts = [
            "Mujahid said on Saturday that 50 people were killed.",
            "Mujahid said on 17 October 1993 that 50 people were killed.",
            "Mujahid said on Saturday 17 Aban that 50 people were killed.",
            "Mujahid said on the 17th that 50 people died.",
        ];
        let failures: Vec<Vec<Failure>> = texts
            .iter()
            .map(|t| diagnose(source, t, StopReason::Eos, &[]))
            .collect();
        assert_eq!(failures[0], [Failure::MissingNumber("17".into())]);
        let failures: Vec<&[Failure]> = failures.iter().map(|f| &f[..]).collect();
        // 2 passes every check and adds no number: nothing after it can
        // be chosen over it, so the attempts after it are stopped.
        assert_eq!(retry_key(source, texts[2], failures[2]), (0, 0));
        assert_ne!(retry_key(source, texts[1], failures[1]), (0, 0));
        // 1, 2 and 3 keep every number; 1 adds 1993, 2 and 3 add nothing,
        // and 2 comes first.
        assert_eq!(retry_choice(source, &texts, &failures), 2);
        assert_eq!(retry_choice(source, &texts[..2], &failures[..2]), 1);
        assert_eq!(retry_choice(source, &texts[..1], &failures[..1]), 0);
    }

    #[test]
    fn context_windows_slide_or_grow_and_start_again() {
        let sizes = |w: ContextWindow, most| (0..10).map(|d| w.size(most, d)).collect::<Vec<_>>();
        assert_eq!(
            sizes(ContextWindow::Sliding, 1),
            [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
        assert_eq!(
            sizes(ContextWindow::Sliding, 3),
            [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]
        );
        // Growing by one up to the most, then from one again.
        assert_eq!(
            sizes(ContextWindow::Growing, 3),
            [0, 1, 2, 3, 1, 2, 3, 1, 2, 3]
        );
        // With a window of one the two are the same.
        assert_eq!(
            sizes(ContextWindow::Growing, 1),
            sizes(ContextWindow::Sliding, 1)
        );
    }

    #[test]
    fn mbr_keeps_the_consensus_and_prefers_the_first_on_ties() {
        let c = [
            "The talks ended.",
            "The talks in Istanbul ended without agreement.",
            "Talks in Istanbul ended without an agreement.",
            "The talks in Istanbul ended with no agreement.",
        ];
        assert_eq!(mbr_choice(&c), 1);
        assert_eq!(mbr_choice(&["same", "same", "same"]), 0);
        assert_eq!(mbr_choice(&["only"]), 0);
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
