//! [`Translator`]: a model of either kind with settings, translating one
//! document after another.

use std::sync::Arc;
use std::time::Instant;

use tarjoman_models::causal::CausalLm;
use tarjoman_models::config::Family;
use tarjoman_models::dense::DenseLm;
use tarjoman_models::lm::Lm;
use tarjoman_models::seq2seq::Seq2SeqLm;
use tarjoman_text::normalize::normalize;
use tarjoman_text::segment::{Piece, PieceKind};

use super::options::{ModelKind, TranslateOptions};
use super::prompter::{ChatPrompter, Prompter};
use super::run::{self, cut, Prepared};
use super::stats::{DocumentStats, Event};
use crate::confidence::Signals;
use crate::generate::{logprob, StopReason};
use crate::guard::{diagnose, first_note};
use crate::prompt::PromptBook;
use crate::Result;

/// A model borrowed for translation; a prompted one with its prompt
/// format (of `prompts.toml`, e.g. `chatml`).
pub(crate) enum ModelMut<'m> {
    /// A GGUF decoder-only model, translating through a prompt.
    Gguf {
        lm: &'m mut CausalLm,
        format: &'m str,
    },
    /// A safetensors decoder-only model, translating through a prompt.
    Dense {
        lm: &'m mut DenseLm,
        format: &'m str,
    },
    /// An encoder-decoder model; MADLAD-400 (T5) is told the target
    /// language before the source (`<2en> `).
    Seq2Seq {
        lm: &'m mut Seq2SeqLm,
        target_prefix: Option<&'m str>,
    },
}

impl ModelMut<'_> {
    fn lm(&mut self) -> &mut dyn Lm {
        match self {
            ModelMut::Gguf { lm, .. } => *lm,
            ModelMut::Dense { lm, .. } => *lm,
            ModelMut::Seq2Seq { lm, .. } => *lm,
        }
    }

    fn kind(&self) -> ModelKind {
        match self {
            ModelMut::Gguf { .. } | ModelMut::Dense { .. } => ModelKind::Prompted,
            ModelMut::Seq2Seq { .. } => ModelKind::EncoderDecoder,
        }
    }
}

/// Translates documents sentence by sentence with one model and one set
/// of options, streaming each piece of output in document order: the one
/// translation API of tarjoman, for both kinds of model. Get one from
/// [`crate::TranslationModel::translator`], or borrow a GGUF model with
/// [`Translator::prompted`].
pub struct Translator<'m> {
    model: ModelMut<'m>,
    prompter: Prompter,
    opts: TranslateOptions,
}

impl<'m> Translator<'m> {
    /// A translator prompting a GGUF model in `format`, a prompt format of
    /// `prompts.toml` (e.g. `chatml`).
    pub fn prompted(lm: &'m mut CausalLm, format: &'m str, opts: TranslateOptions) -> Result<Self> {
        Self::new(ModelMut::Gguf { lm, format }, opts)
    }

    /// A translator for `model`. Options the model cannot honor are an
    /// error ([`TranslateOptions::for_kind`]), and so is a beam wider than
    /// the sequences the model holds at once.
    pub(crate) fn new(mut model: ModelMut<'m>, opts: TranslateOptions) -> Result<Self> {
        let kind = model.kind();
        let opts = opts.for_kind(kind)?;
        let slots = model.lm().max_slots();
        if opts.beams > slots && opts.candidates <= 1 {
            return Err(crate::Error::Unsupported {
                options: format!("beams = {}", opts.beams),
                kind: kind.name(),
                why: format!("holds {slots} sequence(s) at a time in this implementation"),
            });
        }
        let prompter = match &model {
            ModelMut::Seq2Seq { .. } => Prompter::Source,
            ModelMut::Gguf { lm, format } => {
                let bos = lm.info.bos_id.filter(|_| lm.info.add_bos);
                let tokenizer = Arc::clone(&lm.tokenizer);
                chat(format, &opts, bos, tokenizer)?
            }
            ModelMut::Dense { lm, format } => {
                // Gemma and Llama tokenizers start every input with BOS;
                // Qwen's add none.
                let bos = match lm.family() {
                    Family::Gemma3 | Family::Llama => lm.config.bos_id,
                    _ => None,
                };
                let tokenizer = lm
                    .tokenizer
                    .clone()
                    .ok_or_else(|| crate::Error::ModelFiles {
                        path: lm.config.path.with_file_name("tokenizer.json"),
                        reason: "not found; a prompted model needs its tokenizer".into(),
                    })?;
                chat(format, &opts, bos, Arc::new(tokenizer))?
            }
        };
        Ok(Self {
            model,
            prompter,
            opts,
        })
    }

    /// The options as this model runs them.
    pub fn options(&self) -> &TranslateOptions {
        &self.opts
    }

    /// Worked examples per prompt (0 for an encoder-decoder model).
    pub fn shots(&self) -> usize {
        match &self.prompter {
            Prompter::Chat(chat) => chat.shots,
            Prompter::Source => 0,
        }
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

    /// Translates a document and returns the whole translation, with the
    /// input's line and paragraph layout (metadata passed through).
    pub fn translate_text(&mut self, text: &str) -> Result<String> {
        let mut out = String::new();
        self.translate_document(text, |event| {
            match event {
                Event::Verbatim(s) => out.push_str(s),
                Event::Record(r) => out.push_str(&r.translation),
                Event::Translated => {}
            }
            Ok::<_, crate::Error>(())
        })?;
        Ok(out)
    }

    /// Translates several documents, reporting each piece with its
    /// document's index, in order. Sentences of all documents are decoded
    /// [`TranslateOptions::batch`] at a time
    /// ([`crate::generate::generate_many`]), so many one-line documents (an
    /// evaluation set) batch as well as one long one. A piece is reported
    /// as soon as it and everything before it are done, so output still
    /// streams in document order.
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
        self.translate_documents_while(docs, |_| true, sink)
    }

    /// Like [`Self::translate_documents`], while `keep(doc)` says the
    /// caller still wants document `doc` (a server asks whether its client
    /// is still connected). Once it turns false the document is dropped:
    /// none of its pieces are reported any more, its rows leave the batch
    /// after the current step and its sentences not started never start,
    /// while the other documents go on. (With
    /// [`TranslateOptions::context_across_documents`], a dropped document
    /// whose translations are a kept later document's context is still
    /// translated, unreported.)
    pub fn translate_documents_while<E>(
        &mut self,
        docs: &[&str],
        keep: impl Fn(usize) -> bool,
        sink: impl FnMut(usize, Event<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<DocumentStats, E>
    where
        E: From<crate::Error>,
    {
        let start = Instant::now();
        let cuts: Vec<Vec<Piece>> = docs.iter().map(|t| cut(t, self.opts.unit)).collect();
        let mut prepared = Vec::new();
        for (text, pieces) in docs.iter().zip(&cuts) {
            for piece in pieces.iter().filter(|p| p.kind == PieceKind::Sentence) {
                prepared.push(self.prepare(&text[piece.span.clone()])?);
            }
        }
        let lm = self.model.lm();
        let mut stats = run::translate(
            lm,
            &self.prompter,
            &self.opts,
            docs,
            cuts,
            prepared,
            &keep,
            sink,
        )?;
        stats.total_ms = start.elapsed().as_millis() as u64;
        Ok(stats)
    }

    /// Normalizes a sentence and measures it in the model's tokens (an
    /// encoder-decoder model: tokenizes it as the encoder's input).
    /// The [`Signals`] of a given `translation` of `source` (one sentence
    /// or line), as the pipeline would record them had the model written
    /// it: the model's probability of its words after the sentence's
    /// prompt (with the user's glossary note, without context) and the
    /// checks. Prompted models only.
    ///
    /// For comparing candidates of the same sentence: the calibration was
    /// fitted on the model's own translations, and a faithful translation
    /// worded unlike the model's own gets low probabilities, so the
    /// confidence of text the model did not write is a ranking, not a
    /// calibrated probability.
    pub fn score(&mut self, source: &str, translation: &str) -> Result<Signals> {
        let prepared = self.prepare(source)?;
        let Prompter::Chat(chat) = &self.prompter else {
            return Err(crate::Error::Unsupported {
                options: "scoring a given translation".into(),
                kind: self.model.kind().name(),
                why: "is scored only by prompted models in this implementation".into(),
            });
        };
        let glossary = self.opts.glossary.clone().unwrap_or_default();
        let terms = glossary.find(&prepared.text);
        let note = first_note(&terms);
        let (prompt, _) = chat.ids(&prepared.text, &[], note.as_deref())?;
        let answer = tarjoman_models::tokenizer::encode(&chat.tokenizer, translation.trim())?;
        let lm = self.model.lm();
        let eos = lm.eos_ids().to_vec();
        let (mut logits, _) = lm.prefill_in(0, &prompt)?;
        let mut logprobs = Vec::with_capacity(answer.len() + 1);
        for &token in &answer {
            logprobs.push(logprob(&logits, &[token])?);
            logits = lm.step(0, token)?;
        }
        logprobs.push(logprob(&logits, &eos)?);
        let failures = diagnose(source, translation, StopReason::Eos, &terms);
        let missing = terms.iter().filter(|t| !t.appears_in(translation)).count();
        Ok(Signals::new(
            source,
            translation,
            &logprobs,
            terms.len(),
            missing,
            failures.len(),
            false,
        ))
    }

    fn prepare(&self, source: &str) -> Result<Prepared> {
        let text = match &self.opts.normalize {
            Some(opts) => normalize(source, opts),
            None => source.to_string(),
        };
        let (source_tokens, input) = match &self.model {
            ModelMut::Gguf { lm, .. } => (lm.encode(&text)?.len(), None),
            ModelMut::Dense { lm, .. } => (lm.encode(&text)?.len(), None),
            ModelMut::Seq2Seq { lm, target_prefix } => {
                let ids = lm.encode_text(&format!("{}{text}", target_prefix.unwrap_or("")))?;
                (ids.len(), Some(ids))
            }
        };
        Ok(Prepared {
            text,
            source_tokens,
            input,
        })
    }
}

/// A prompted model's prompter: the `translate` task of the built-in
/// prompt book in `format`, with the options' system prompt and shots.
fn chat(
    format: &str,
    opts: &TranslateOptions,
    bos: Option<u32>,
    tokenizer: Arc<tokenizers::Tokenizer>,
) -> Result<Prompter> {
    let book = PromptBook::builtin()?;
    let mut task = book.task("translate")?.clone();
    if let Some(system) = &opts.system_prompt {
        task.system = system.clone();
    }
    let format = book.format(format)?.clone();
    Ok(Prompter::Chat(Box::new(ChatPrompter {
        shots: opts.shots.unwrap_or(format.shots),
        format,
        task,
        bos,
        tokenizer,
    })))
}
