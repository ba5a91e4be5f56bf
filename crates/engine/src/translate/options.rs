//! The settings of the translation pipeline and their defaults, and
//! which of them each kind of model can honor.

use tarjoman_text::normalize::NormalizeOptions;

use crate::generate::GenerationConfig;
use crate::guard::Glossary;
use crate::prompt::PromptBook;
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
    /// With `retry`, also retry a sentence whose first translation passes
    /// every check but whose confidence ([`crate::confidence`]) is below
    /// this, and keep, of the first translation and the retry's attempts
    /// that fail least, the most confident (a retry's attempt that passes
    /// every check settles it only when it is at least this confident).
    /// The next sentence starts beside such a retry, with the first
    /// translation as its context. 0 (the default) retries failing
    /// sentences only and keeps the earliest of equals: on TICO-19 lines
    /// 1401-1600, 0.2 retried 76 sentences instead of 17 for 1.34x the
    /// generated and 1.64x the prefilled tokens, and moved chrF++ by -0.03
    /// (p = 0.37) and BLEU by +0.19 (p = 0.20): the model's most confident
    /// translation is mostly its first, greedy one.
    pub retry_below: f64,
    /// Terms the translation must use, enforced through the prompt and
    /// checked in the output.
    pub glossary: Option<Glossary>,
    /// Sentences decoded together (see [`crate::generate::generate_many`]); 1 translates one
    /// sentence at a time. GGUF models (fast backend) read their weights
    /// once for all rows of a step; Marian and M2M100 / NLLB hold a
    /// sentence per slot and step them in turn; candle's reference
    /// backends, safetensors decoder-only models and T5 hold one sentence,
    /// whatever this says.
    pub batch: usize,
    /// Candidates per sentence: 1 is greedy decoding alone; N > 1 adds
    /// N - 1 sampled translations and keeps the one that agrees most with
    /// the others (minimum Bayes risk with chrF as the utility). The
    /// candidates of a sentence decode side by side in the batch.
    pub candidates: usize,
    /// Beam search width: 1 is the decoding of [`Self::generation`];
    /// N > 1 keeps the N most likely partial translations at every step
    /// ([`crate::generate::generate_beam`]); `ceil(batch / N)` sentences decode together,
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
    /// [`super::Translator::translate_documents`] are consecutive parts of one text
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

/// The two kinds of translation model, which honor different options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A decoder-only language model translating through a prompt
    /// (GGUF, or safetensors `config.json` checkpoints).
    Prompted,
    /// An encoder-decoder translation model (Marian / OPUS-MT, M2M100 /
    /// NLLB, T5 / MADLAD-400): the sentence is the encoder's input.
    EncoderDecoder,
}

impl ModelKind {
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Prompted => "a prompted (decoder-only) model",
            ModelKind::EncoderDecoder => "an encoder-decoder model",
        }
    }
}

impl TranslateOptions {
    /// These options as a model of `kind` runs them. A prompted model
    /// honors all of them. An encoder-decoder model has no prompt, so it
    /// cannot be given worked examples, a glossary note, a system prompt,
    /// context or paragraph units, and has no retry note: asking for any
    /// of those (a value other than the default) is an error naming the
    /// options; `context` and `retry`, on by default, are turned off.
    pub fn for_kind(&self, kind: ModelKind) -> Result<TranslateOptions> {
        if kind == ModelKind::Prompted {
            return Ok(self.clone());
        }
        let d = TranslateOptions::default();
        let asked: Vec<&str> = [
            (self.shots.is_some(), "shots"),
            (self.glossary.is_some(), "glossary"),
            (self.system_prompt.is_some(), "system_prompt"),
            (self.unit != d.unit, "unit"),
            (
                self.context_sentences != d.context_sentences,
                "context_sentences",
            ),
            (self.context_window != d.context_window, "context_window"),
            (self.document_chains != d.document_chains, "document_chains"),
            (self.retry_attempts != d.retry_attempts, "retry_attempts"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if !asked.is_empty() {
            return Err(crate::Error::Unsupported {
                options: asked.join(", "),
                kind: kind.name(),
                why: "it translates each sentence as it is, without a prompt".into(),
            });
        }
        Ok(TranslateOptions {
            context: false,
            context_across_documents: false,
            retry: false,
            ..self.clone()
        })
    }

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
pub(crate) const RETRY_REPEAT_PENALTY: f32 = 1.15;

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

/// Default of [`TranslateOptions::retry_below`].
pub const DEFAULT_RETRY_BELOW: f64 = 0.0;

/// Default of [`TranslateOptions::context_sentences`], with a
/// [`ContextWindow::Growing`] window: on 300 TICO-19 lines the same scores
/// as one previous sentence (chrF++ 42.03 against 42.18, BLEU 18.31
/// against 18.24) with a fifth fewer prompt tokens computed; the seed
/// article in 36-38 s instead of 44-46 s (2026-12-05, 7a42cd7). Up to 8 scored
/// lower (41.48).
pub const DEFAULT_CONTEXT_SENTENCES: usize = 4;

/// Default number of sentences decoded together. Decoding one token reads
/// every weight for one row of activations, and the kernels unpack each
/// weight block once for all rows; on the 2-core development machine
/// Qwen2.5-Coder-1.5B decodes 28-30 tokens/s for one row and 51-57 in all
/// for 4 rows (`tarjoman bench --rows 4`, 2026-12-06, AMD EPYC), 1.9x. More rows
/// gain less per row (8: 56-58) and delay the first streamed sentence
/// further.
pub const DEFAULT_BATCH: usize = 4;

/// Default beam search width ([`TranslateOptions::beams`]).
pub const DEFAULT_BEAMS: usize = 1;

/// Sampling settings of the extra candidates of minimum Bayes risk
/// decoding ([`TranslateOptions::candidates`]) and of a retry's attempts
/// after the first: varied enough to disagree where the model is unsure,
/// close enough to the greedy answer to stay translations.
pub(crate) const SAMPLE_TEMPERATURE: f64 = 0.7;
pub(crate) const SAMPLE_TOP_P: f64 = 0.95;

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
            retry_below: DEFAULT_RETRY_BELOW,
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

/// The default of [`TranslateOptions::document_chains`]: two chains of
/// context per document. Decoding one token reads every weight, so two
/// sentences decoding together take little more time than one: on 2 cores
/// the seed article's 16 sentences take about 0.7x the time of one chain,
/// and one sentence in 16 loses its context.
pub const DOCUMENT_CHAINS: usize = 2;

/// A document gets at most one chain of
/// [`TranslateOptions::document_chains`] per this many sentences.
pub const MIN_CHAIN_SENTENCES: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

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
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn encoder_decoder_models_reject_prompt_options_and_drop_context() {
        let opts = TranslateOptions::default()
            .for_kind(ModelKind::EncoderDecoder)
            .unwrap();
        assert!(!opts.context && !opts.retry);
        let asked = TranslateOptions {
            shots: Some(2),
            document_chains: 3,
            ..TranslateOptions::default()
        };
        let err = asked.for_kind(ModelKind::EncoderDecoder).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("shots, document_chains"), "{msg}");
        let kept = asked.for_kind(ModelKind::Prompted).unwrap();
        assert_eq!(kept.shots, Some(2));
        assert!(kept.context && kept.retry);
    }
}
