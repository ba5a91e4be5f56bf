//! The state of one translation run: the job source of
//! [`generate_many`](crate::generate::generate_many) (which sentence
//! decodes next, with which prompt and settings, and what a finished job
//! means: another candidate, a retry, or a done sentence) and the
//! in-order reporter of finished pieces.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use tarjoman_models::lm::Lm;
use tarjoman_text::segment::{segment, Piece, PieceKind};

use super::choose::{clean_output, mbr_choice, retry_choice, retry_key, severity};
use super::options::{
    TranslateOptions, Unit, RETRY_REPEAT_PENALTY, SAMPLE_TEMPERATURE, SAMPLE_TOP_P,
};
use super::prompter::Prompter;
use super::schedule::{chain_starts, paragraphs};
use super::stats::{
    metadata_record, DocumentStats, Event, NameRecord, RecordKind, SentenceRecord, SentenceStats,
    Totals,
};
use crate::confidence::Signals;
use crate::generate::{generate_beam, generate_many, Generation, GenerationConfig, Job, JobSource};
use crate::guard::{diagnose, first_note, retry_note, Failure, Glossary, GlossaryEntry};
use crate::prompt::with_note;
use crate::Result;

/// A document cut into the pieces the pipeline handles: sentences (or,
/// with [`Unit::Paragraph`], the sentences of a line joined), metadata
/// and the whitespace between them.
pub(crate) fn cut(text: &str, unit: Unit) -> Vec<Piece> {
    match unit {
        Unit::Sentence => segment(text),
        Unit::Paragraph => paragraphs(text, segment(text)),
    }
}

/// A sentence as the model will see it, prepared before the run.
pub(crate) struct Prepared {
    /// The sentence after normalization.
    pub(crate) text: String,
    /// Its length in the model's tokens.
    pub(crate) source_tokens: usize,
    /// An encoder-decoder model's input ids (see [`Prompter::Source`]).
    pub(crate) input: Option<Vec<u32>>,
}

/// Translates the pieces `cuts` of `docs` (one list per document, from
/// [`cut`]) with `lm`, given every sentence piece's [`Prepared`] form in
/// order, reporting each piece to `sink` as soon as it and everything
/// before it are done; the statistics' `total_ms` is left to the caller.
///
/// A document for which `keep` turns false is dropped: nothing more of it
/// is reported, and its sentences stop decoding unless a kept document's
/// context runs through them ([`TranslateOptions::context_across_documents`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn translate<E, F>(
    lm: &mut dyn Lm,
    prompter: &Prompter,
    opts: &TranslateOptions,
    docs: &[&str],
    cuts: Vec<Vec<Piece>>,
    prepared: Vec<Prepared>,
    keep: &dyn Fn(usize) -> bool,
    sink: F,
) -> std::result::Result<DocumentStats, E>
where
    F: FnMut(usize, Event<'_>) -> std::result::Result<(), E>,
    E: From<crate::Error>,
{
    let glossary = opts.glossary.clone().unwrap_or_default();
    let mut prepared = prepared.into_iter();
    let mut pieces = Vec::new();
    let mut sentences: Vec<Sentence> = Vec::new();
    let chains = opts.context_chains.clamp(1, docs.len().max(1));
    let chain = |doc: usize| doc * chains / docs.len();
    for (doc, (text, cut)) in docs.iter().zip(cuts).enumerate() {
        // The sentence before the first of this document, if context
        // runs on from the previous document (in the same chain).
        let continues = doc > 0 && chain(doc) == chain(doc - 1);
        let mut prev = match opts.context_across_documents && continues {
            true => sentences.len().checked_sub(1),
            false => None,
        };
        let chain_starts = chain_starts(&cut, opts.document_chains);
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
                let p = prepared
                    .next()
                    .ok_or_else(|| crate::Error::Internal("a sentence was not prepared".into()))?;
                let mut s = Sentence::new(source, p, opts, &glossary);
                s.doc = doc;
                if opts.context {
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
    // Per document, the last document whose context may run through it.
    let mut reach: Vec<usize> = (0..docs.len()).collect();
    if opts.context_across_documents && opts.context {
        for doc in (0..docs.len().saturating_sub(1)).rev() {
            if chain(doc) == chain(doc + 1) {
                reach[doc] = reach[doc + 1];
            }
        }
    }
    let mut run = Run {
        opts,
        prompter,
        keep,
        reach,
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
    if opts.beams > 1 && opts.candidates <= 1 {
        generate_beam(lm, opts.batch, opts.beams, opts.length_penalty, &mut run)?;
    } else {
        generate_many(lm, opts.batch, &mut run)?;
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
    Ok(run.stats)
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

/// A sentence being translated.
struct Sentence<'g> {
    /// The sentence as written (the guard checks against it).
    source: String,
    /// The sentence as the model sees it (normalized).
    text: String,
    /// Its first prompt's user turn: `text` with the note of the user's
    /// terms, if any ([`first_note`]); later sentences show it as context,
    /// so that their prompts start with this one's.
    shown: String,
    source_tokens: usize,
    /// An encoder-decoder model's input ids.
    input: Option<Vec<u32>>,
    cap: usize,
    terms: Vec<&'g GlossaryEntry>,
    /// Possible names the terms do not cover, with guessed spellings: in
    /// the retry's note and the sentence's record, never checked.
    hints: Vec<GlossaryEntry>,
    /// The document it is part of.
    doc: usize,
    /// The sentence whose translation is this one's context.
    prev: Option<usize>,
    /// The sentence this one's translation is the context of.
    next: Option<usize>,
    /// Whether `next` may start (it has been made ready): once the
    /// translation is final, or beside a retry, on the first translation.
    released: bool,
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
    /// every check, adds no number and is confident enough (see
    /// [`TranslateOptions::retry_below`]): it is good enough, so the later
    /// attempts are stopped.
    settled: Option<usize>,
    /// The first attempt, kept while its retry runs.
    first: Option<(String, Generation, Vec<Failure>)>,
    totals: Totals,
    /// The final translation, kept as the next sentence's context.
    translation: Option<String>,
    done: Option<(String, SentenceStats)>,
}

impl<'g> Sentence<'g> {
    /// A sentence of `source` (as written), prepared as `p`, with the
    /// glossary terms it contains; its prompts are built when it starts
    /// (they may need the previous translation).
    fn new(source: &str, p: Prepared, opts: &TranslateOptions, glossary: &'g Glossary) -> Self {
        let terms = glossary.find(&p.text);
        let shown = with_note(&p.text, first_note(&terms).as_deref());
        let hints = glossary.hints(&p.text, &terms);
        Self {
            source: source.to_string(),
            source_tokens: p.source_tokens,
            input: p.input,
            cap: (p.text.chars().count() as f32 * opts.length_ratio) as usize + opts.length_slack,
            terms,
            shown,
            hints,
            text: p.text,
            doc: 0,
            prev: None,
            next: None,
            released: false,
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
        }
    }
}

impl Sentence<'_> {
    /// The signals of `translation` of this sentence, decoded as
    /// `generation`, failing `failures`.
    fn signals(
        &self,
        translation: &str,
        generation: &Generation,
        failures: &[Failure],
        retried: bool,
    ) -> Signals {
        let missing = self
            .terms
            .iter()
            .filter(|t| !t.appears_in(translation))
            .count();
        Signals::new(
            &self.source,
            translation,
            &generation.logprobs,
            self.terms.len(),
            missing,
            failures.len(),
            retried,
        )
    }

    /// The calibrated confidence in `translation` (see [`Self::signals`]),
    /// the same for a first translation and a retry's attempt so that they
    /// compare; `None` without a usable calibration.
    fn confidence(
        &self,
        translation: &str,
        generation: &Generation,
        failures: &[Failure],
    ) -> Option<f64> {
        crate::confidence::confidence(&self.signals(translation, generation, failures, false))
    }
}

/// The state of a batched translation: the job source of
/// [`generate_many`] and the in-order reporter of finished pieces.
struct Run<'a, 'g, F> {
    opts: &'a TranslateOptions,
    prompter: &'a Prompter,
    /// Whether the caller still wants a document reported.
    keep: &'a dyn Fn(usize) -> bool,
    /// Per document, the last later document whose context may run
    /// through it (itself when context stays within documents).
    reach: Vec<usize>,
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
            if !(self.keep)(piece.doc) {
                self.emitted += 1;
                continue;
            }
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
                        names: s.names,
                        confidence: crate::confidence::confidence(&s.signals),
                        signals: Some(s.signals),
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

    /// Whether a document's sentences are still needed: it is kept, or a
    /// kept document's context runs through it.
    fn needed(&self, doc: usize) -> bool {
        (doc..=self.reach[doc]).any(|d| (self.keep)(d))
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
    /// predecessors' first user turns (`shown`) and translations (see
    /// [`super::ContextWindow`]), oldest first. A sentence starts only when
    /// its predecessor (and so every earlier one) is translated.
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
            pairs.push((prev.shown.as_str(), translation));
            at = prev.prev;
        }
        pairs.reverse();
        pairs
    }

    /// Builds a sentence's prompt (`retry`: with the note of what must
    /// appear) in its context.
    fn prompt(&self, sentence: usize, retry: bool) -> Result<(Vec<u32>, Vec<String>)> {
        let s = &self.sentences[sentence];
        match self.prompter {
            Prompter::Chat(chat) => {
                let (input, note) = match retry {
                    true => (&s.text, Some(retry_note(&s.text, &s.terms, &s.hints))),
                    false => (&s.shown, None),
                };
                chat.ids(input, &self.context(sentence), note.as_deref())
            }
            Prompter::Source => {
                let input = s.input.clone().ok_or_else(|| {
                    crate::Error::Internal(format!("sentence {sentence} has no input ids"))
                })?;
                Ok((input, Vec::new()))
            }
        }
    }

    /// Marks sentence `i`'s translation as its next sentence's context;
    /// returns the next sentence if it is now free to start (the first
    /// time, and if its document is still needed).
    fn release(&mut self, i: usize) -> Option<usize> {
        let s = &mut self.sentences[i];
        if std::mem::replace(&mut s.released, true) {
            return None;
        }
        let next = s.next?;
        match self.needed(self.sentences[next].doc) {
            true => Some(next),
            false => None,
        }
    }

    /// Starts sentence `i`: builds its prompt and returns the jobs of its
    /// candidates, the configured decoding first.
    fn start(&mut self, i: usize) -> Result<Vec<Job>> {
        self.sentences[i].prompt = Some(self.prompt(i, false)?);
        self.sentences[i].started = Some(Instant::now());
        (0..self.candidates()).map(|k| self.job(i, k)).collect()
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
        // A sentence of a dropped document never starts, nor do the
        // sentences after it (they wait on its translation).
        let i = loop {
            let Some(i) = self.ready.pop_first() else {
                return Ok(None);
            };
            if self.needed(self.sentences[i].doc) {
                break i;
            }
        };
        let mut jobs = self.start(i)?;
        let first = jobs.remove(0);
        // The other candidates go first in line, to decode beside this one.
        for job in jobs.into_iter().rev() {
            self.queue.push_front(job);
        }
        Ok(Some(first))
    }

    /// A retry's attempts after the first that settled it are not wanted
    /// (see [`Sentence::settled`]); a sentence has one retry at most. No
    /// job of a dropped document is wanted.
    fn wanted(&self, id: usize) -> bool {
        let (i, k) = (id / self.stride(), id % self.stride());
        let s = &self.sentences[i];
        s.settled.is_none_or(|settled| k <= settled) && self.needed(s.doc)
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
        let text = clean_output(&generation.text, self.prompter.label());
        let failures = match retry {
            true => diagnose(&s.source, &text, generation.stop, &s.terms),
            false => Vec::new(),
        };
        // An attempt that passes every check, adds no number and is
        // confident enough settles the retry.
        let sure = || {
            self.opts.retry_below <= 0.0
                || s.confidence(&text, &generation, &failures)
                    .is_some_and(|c| c >= self.opts.retry_below)
        };
        if retry && retry_key(&s.source, &text, &failures) == (0, 0) && sure() {
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
        let best = match retry {
            true => {
                // Confidence breaks ties only when it also decides what is
                // retried (`retry_below`); otherwise the earliest wins.
                let adaptive = self.opts.retry_below > 0.0;
                let keys: Vec<_> = s
                    .attempts
                    .iter()
                    .map(|a| {
                        let key = retry_key(&s.source, &a.1, &a.3);
                        (
                            key,
                            adaptive.then(|| s.confidence(&a.1, &a.2, &a.3)).flatten(),
                        )
                    })
                    .collect();
                retry_choice(&keys)
            }
            false => {
                let texts: Vec<&str> = s.attempts.iter().map(|a| a.1.as_str()).collect();
                mbr_choice(&texts)
            }
        };
        let (_, translation, generation, failures) = s.attempts.swap_remove(best);
        s.attempts.clear();
        let failures = match retry {
            true => failures,
            false => diagnose(&s.source, &translation, generation.stop, &s.terms),
        };
        let (translation, generation, failures) = if !retry {
            let low = self.opts.retry_below > 0.0
                && s.confidence(&translation, &generation, &failures)
                    .is_some_and(|c| c < self.opts.retry_below);
            if self.opts.retry && (!failures.is_empty() || low) {
                // A first translation that passed every check (retried
                // for its low confidence) is the next sentence's context
                // while the retry runs: the next sentence decodes beside
                // the retry instead of waiting for it. One that failed a
                // check is no context (tried on the seed article with
                // those that only lacked a number or name: the sentences
                // after them failed more often, and the article took 1.4x
                // the time); the next sentence waits for the retry.
                let usable = failures.is_empty();
                if usable {
                    s.translation = Some(translation.clone());
                }
                s.first = Some((translation, generation, failures));
                self.sentences[i].retry_prompt = Some(self.prompt(i, true)?);
                if usable {
                    if let Some(next) = self.release(i) {
                        for job in self.start(next)? {
                            self.queue.push_back(job);
                        }
                    }
                }
                for k in candidates..stride {
                    let job = self.job(i, k)?;
                    self.queue.push_back(job);
                }
                return Ok(());
            }
            (translation, generation, failures)
        } else {
            let first = s.first.take().expect("a retry follows a first attempt");
            let retry_wins = match severity(&failures).cmp(&severity(&first.2)) {
                Ordering::Less => true,
                Ordering::Greater => false,
                // With `retry_below`, the more confident; otherwise (and on
                // ties) the first.
                Ordering::Equal => {
                    self.opts.retry_below > 0.0
                        && s.confidence(&translation, &generation, &failures)
                            > s.confidence(&first.0, &first.1, &first.2)
                }
            };
            match retry_wins {
                true => (translation, generation, failures),
                false => first,
            }
        };
        let s = &mut self.sentences[i];
        let totals = std::mem::take(&mut s.totals);
        s.translation = Some(translation.clone());
        let doc = s.doc;
        if let Some(next) = self.release(i) {
            self.ready.insert(next);
        }
        let s = &mut self.sentences[i];
        let names: Vec<NameRecord> = s
            .terms
            .iter()
            .copied()
            .chain(&s.hints)
            .map(|t| NameRecord {
                source: t.source.clone(),
                target: t.target.clone(),
                origin: t.origin,
                found: t.appears_in(&translation),
            })
            .collect();
        // Hints are guesses: only checked names count as signals.
        let signals = s.signals(&translation, &generation, &failures, retry);
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
                names,
                signals,
            },
        ));
        self.untranslated[doc] -= 1;
        if self.untranslated[doc] == 0 {
            (self.sink)(doc, Event::Translated)?;
        }
        self.flush()
    }
}

#[cfg(test)]
mod tests;
