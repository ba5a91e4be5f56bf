//! Encoder-decoder translation models from `config.json` + safetensors:
//! Marian (OPUS-MT) and M2M100 / NLLB-200 through our BART-style
//! implementation ([`crate::m2m100`]), and T5 (MADLAD-400) through our
//! corrected copy of candle-transformers' `t5` ([`crate::t5`]).
//!
//! Every new source resets the encoder and decoder caches. Batches pad
//! sources on the right and mask the padding in encoder self-attention and
//! decoder cross-attention, so each row equals its single-input result.
//!
//! M2M100 / NLLB translate between the language codes of their tokenizer
//! (Persian to English: `pes_Arab` / `eng_Latn` in NLLB, `__fa__` /
//! `__en__` in M2M100): the source is `[src_lang] tokens </s>`
//! ([`Seq2SeqLm::encode_text`]) and the target language code is forced as
//! the first decoder token after `decoder_start_token_id`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use tokenizers::Tokenizer;

use crate::config::{self, Family, ModelConfig, Settings};
use crate::lm::{no_slot, Lm};
use crate::m2m100::{self, M2M100};
use crate::t5;
use crate::tokenizer::spm::{self, MarianFiles, MarianTokenizers};
use crate::weights::Checkpoint;
use crate::{tokenizer, Error, Result};

enum Model {
    /// Marian and M2M100 / NLLB.
    Bart(Box<M2M100>),
    T5(Box<t5::T5ForConditionalGeneration>),
}

/// Persian and English language codes, in the order they are tried:
/// NLLB-200's, then M2M100's.
const SOURCE_CODES: [&str; 2] = ["pes_Arab", "__fa__"];
const TARGET_CODES: [&str; 2] = ["eng_Latn", "__en__"];

/// Source and target language-code ids of an M2M100 / NLLB model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Languages {
    pub source: u32,
    pub target: u32,
}

impl Languages {
    /// Persian to English, with whichever codes `tokenizer` has as special
    /// tokens (NLLB's `pes_Arab`/`eng_Latn` or M2M100's `__fa__`/`__en__`).
    pub fn persian_to_english(tokenizer: &Tokenizer) -> Result<Self> {
        let find = |codes: &[&str]| {
            codes
                .iter()
                .find_map(|code| m2m100::lang_code_id(tokenizer, code).ok())
                .ok_or_else(|| Error::LanguageCode {
                    code: codes.join("` or `"),
                })
        };
        Ok(Self {
            source: find(&SOURCE_CODES)?,
            target: find(&TARGET_CODES)?,
        })
    }

    /// Named codes, e.g. `("pes_Arab", "eng_Latn")`.
    pub fn from_codes(tokenizer: &Tokenizer, source: &str, target: &str) -> Result<Self> {
        Ok(Self {
            source: m2m100::lang_code_id(tokenizer, source)?,
            target: m2m100::lang_code_id(tokenizer, target)?,
        })
    }
}

/// An encoder-decoder model loaded from safetensors.
pub struct Seq2SeqLm {
    model: Model,
    pub config: ModelConfig,
    pub tokenizer: Option<Tokenizer>,
    pub parameters: u64,
    /// The first decoder input (`decoder_start_token_id`).
    pub decoder_start: u32,
    suppressed: Vec<u32>,
    /// Marian repos without `tokenizer.json`: their SentencePiece models
    /// (source side encodes, target side decodes).
    marian_spm: Option<Box<MarianTokenizers>>,
    /// M2M100 / NLLB: the language codes (set from the tokenizer).
    pub languages: Option<Languages>,
    device: Device,
    /// T5's encoder states for the current source (one slot).
    encoder_out: Option<Tensor>,
    /// Marian's and M2M100's decoder cache for each slot's source.
    bart_cache: Vec<Option<m2m100::DecoderCache>>,
    /// Decoder tokens fed so far for each slot's source.
    pos: Vec<usize>,
}

/// How many sources Marian and M2M100 / NLLB hold at once ([`Lm`] slots):
/// each keeps its own decoder cache.
const BART_SLOTS: usize = 64;

impl Seq2SeqLm {
    /// Loads `config.json`, the safetensors weights and the tokenizer from
    /// `dir`: `tokenizer.json` when present, else (Marian repos such as
    /// `Helsinki-NLP/opus-mt-fa-en`) `source.spm`, `target.spm` and
    /// `vocab.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let tokenizer = dir.join("tokenizer.json");
        let mut lm = Self::load_files(
            &dir.join("config.json"),
            &Checkpoint::files_in(dir)?,
            tokenizer.is_file().then_some(tokenizer.as_path()),
        )?;
        if lm.tokenizer.is_none() {
            if let Some(files) = MarianFiles::in_dir(dir) {
                lm.set_marian_tokenizers(spm::marian(&files)?)?;
            }
        }
        Ok(lm)
    }

    /// Uses a Marian repo's SentencePiece tokenizers for text (instead of a
    /// `tokenizer.json`).
    pub fn set_marian_tokenizers(&mut self, tokenizers: MarianTokenizers) -> Result<()> {
        if self.family() != Family::Marian {
            return Err(Error::Input(format!(
                "{}: SentencePiece source/target tokenizers are for Marian models, not {}",
                self.config.path.display(),
                self.family().name()
            )));
        }
        self.marian_spm = Some(Box::new(tokenizers));
        Ok(())
    }

    /// Whether text can be encoded and decoded (a tokenizer is loaded).
    pub fn has_tokenizer(&self) -> bool {
        self.tokenizer.is_some() || self.marian_spm.is_some()
    }

    pub fn load_files(
        config_path: &Path,
        weights: &[PathBuf],
        tokenizer_json: Option<&Path>,
    ) -> Result<Self> {
        let config = config::read(config_path)?;
        let device = Device::Cpu;
        let (model, decoder_start, suppressed, parameters) = match &config.settings {
            Settings::Marian(c) | Settings::M2M100(c) => {
                let model = M2M100::load_files(c.clone(), weights)?;
                // Marian checkpoints ban the pad token (`bad_words_ids`).
                let suppressed = match config.family {
                    Family::Marian => vec![c.pad_token_id],
                    _ => Vec::new(),
                };
                let parameters = model.parameter_count();
                (
                    Model::Bart(Box::new(model)),
                    c.decoder_start_token_id,
                    suppressed,
                    parameters,
                )
            }
            Settings::T5(c) => {
                let ckpt = Checkpoint::open(weights)?;
                (
                    // Safetensors, pytorch_model.bin, or a GGUF (MADLAD-400)
                    // whose quantized weights stay quantized.
                    Model::T5(Box::new(ckpt.load_maybe_quantized(&device, |vb| {
                        t5::T5ForConditionalGeneration::load_weights(vb, c)
                    })?)),
                    c.decoder_start_token_id.unwrap_or(c.pad_token_id) as u32,
                    Vec::new(),
                    ckpt.parameter_count(),
                )
            }
            _ => {
                return Err(Error::Config {
                    path: config_path.to_path_buf(),
                    reason: format!(
                        "{} is a decoder-only model; load it with dense::DenseLm",
                        config.family.name()
                    ),
                })
            }
        };
        let tokenizer = tokenizer_json.map(tokenizer::from_file).transpose()?;
        let mut lm = Self {
            model,
            parameters,
            config,
            tokenizer: None,
            decoder_start,
            suppressed,
            marian_spm: None,
            languages: None,
            device,
            encoder_out: None,
            bart_cache: vec![None],
            pos: vec![0],
        };
        if let Some(tokenizer) = tokenizer {
            lm.set_tokenizer(tokenizer)?;
        }
        Ok(lm)
    }

    /// Uses `tokenizer` for text; for M2M100 / NLLB also takes the Persian
    /// and English language codes from it (an error when it has neither
    /// NLLB's nor M2M100's).
    pub fn set_tokenizer(&mut self, tokenizer: Tokenizer) -> Result<()> {
        if self.family() == Family::M2M100 {
            self.languages = Some(Languages::persian_to_english(&tokenizer)?);
        }
        self.tokenizer = Some(tokenizer);
        Ok(())
    }

    pub fn family(&self) -> Family {
        self.config.family
    }

    fn reset(&mut self) {
        if let Model::T5(m) = &mut self.model {
            m.clear_kv_cache();
        }
        self.encoder_out = None;
        self.bart_cache.iter_mut().for_each(|c| *c = None);
        self.pos.iter_mut().for_each(|p| *p = 0);
    }

    /// Checks that this model has `slot` and makes room for its state.
    fn ensure_slot(&mut self, slot: usize) -> Result<()> {
        let max = Lm::max_slots(self);
        if slot >= max {
            return Err(no_slot(slot, max));
        }
        if self.pos.len() <= slot {
            self.pos.resize(slot + 1, 0);
            self.bart_cache.resize_with(slot + 1, || None);
        }
        Ok(())
    }

    /// The forced first target token (M2M100's target language code).
    fn forced_bos(&self) -> Result<Option<u32>> {
        if self.family() != Family::M2M100 {
            return Ok(None);
        }
        match self.languages {
            Some(langs) => Ok(Some(langs.target)),
            None => Err(Error::Input(
                "M2M100 / NLLB needs source and target language codes: load it with its \
                 tokenizer.json or set `languages`"
                    .into(),
            )),
        }
    }

    /// The decoder tokens every output starts with: the decoder start
    /// token, then M2M100's target language code.
    pub fn decoder_prefix(&self) -> Result<Vec<u32>> {
        let mut prefix = vec![self.decoder_start];
        prefix.extend(self.forced_bos()?);
        Ok(prefix)
    }

    fn ids(&self, ids: &[u32]) -> Result<Tensor> {
        if ids.is_empty() {
            return Err(Error::EmptyInput);
        }
        Ok(Tensor::new(ids, &self.device)?.unsqueeze(0)?)
    }

    /// Starts a new source: resets the caches and runs the encoder.
    pub fn encode_source(&mut self, source: &[u32]) -> Result<()> {
        self.reset();
        self.encode_in(0, source)
    }

    /// Starts a new source in `slot` (the others keep theirs): runs the
    /// encoder and prepares the slot's decoder cache.
    fn encode_in(&mut self, slot: usize, source: &[u32]) -> Result<()> {
        self.ensure_slot(slot)?;
        if source.len() > self.config.context_length {
            return Err(Error::ContextOverflow {
                tokens: source.len(),
                context: self.config.context_length,
            });
        }
        let input = self.ids(source)?;
        self.pos[slot] = 0;
        match &mut self.model {
            Model::Bart(m) => {
                self.bart_cache[slot] = None;
                let encoded = m.encode(&[source])?;
                self.bart_cache[slot] = Some(m.start_decoding(&encoded)?);
            }
            Model::T5(m) => {
                m.clear_kv_cache();
                self.encoder_out = None;
                self.encoder_out = Some(m.encode(&input)?);
            }
        }
        Ok(())
    }

    /// Feeds decoder tokens after the cached ones of slot 0; logits
    /// `[len, vocab]`.
    fn feed(&mut self, tokens: &[u32]) -> Result<Tensor> {
        self.feed_in(0, tokens)
    }

    /// [`Self::feed`] in `slot`.
    fn feed_in(&mut self, slot: usize, tokens: &[u32]) -> Result<Tensor> {
        self.ensure_slot(slot)?;
        let end = self.pos[slot] + tokens.len();
        if end > self.config.context_length {
            return Err(Error::ContextOverflow {
                tokens: end,
                context: self.config.context_length,
            });
        }
        let input = self.ids(tokens)?;
        let logits = match &mut self.model {
            Model::Bart(m) => {
                let cache = self.bart_cache[slot].as_mut().ok_or(Error::EmptyInput)?;
                m.decode(&[tokens], cache)?
            }
            Model::T5(m) => {
                let encoder_out = self.encoder_out.as_ref().ok_or(Error::EmptyInput)?;
                m.decode_all(&input, encoder_out)?
            }
        };
        self.pos[slot] = end;
        Ok(logits.squeeze(0)?.to_dtype(DType::F32)?)
    }

    /// Teacher-forced logits `[len, vocab]` for `decoder_input` given
    /// `source`, computed in one pass from fresh caches.
    pub fn logits(&mut self, source: &[u32], decoder_input: &[u32]) -> Result<Tensor> {
        self.encode_source(source)?;
        self.feed(decoder_input)
    }

    /// [`Self::logits`] for several sources at once (see the module docs
    /// for how batches are formed); one `[len, vocab]` tensor per source.
    pub fn logits_batch(
        &mut self,
        sources: &[&[u32]],
        decoder_input: &[u32],
    ) -> Result<Vec<Tensor>> {
        if sources.iter().any(|s| s.is_empty()) || decoder_input.is_empty() {
            return Err(Error::EmptyInput);
        }
        self.reset();
        let width = sources.iter().map(|s| s.len()).max().unwrap_or(0);
        let batch = sources.len();
        let logits = match &mut self.model {
            Model::Bart(m) => {
                let encoded = m.encode(sources)?;
                let mut cache = m.start_decoding(&encoded)?;
                m.decode(&vec![decoder_input; batch], &mut cache)?
            }
            Model::T5(m) => {
                let pad = self.config.pad_id.unwrap_or(0);
                let padded = sources
                    .iter()
                    .map(|s| {
                        let mut ids = s.to_vec();
                        ids.resize(width, pad);
                        Tensor::new(ids, &self.device)
                    })
                    .collect::<candle_core::Result<Vec<_>>>()?;
                let input = Tensor::stack(&padded, 0)?;
                let dec = Tensor::new(decoder_input, &self.device)?
                    .unsqueeze(0)?
                    .repeat((batch, 1))?;
                m.clear_kv_cache();
                let lengths: Vec<usize> = sources.iter().map(|s| s.len()).collect();
                let bias = t5::key_bias(&lengths, width, &self.device)?;
                let enc = m.encode_padded(&input, &bias)?;
                m.decode_padded(&dec, &enc, Some(&bias))?
            }
        };
        self.reset();
        (0..batch)
            .map(|k| Ok(logits.get(k)?.to_dtype(DType::F32)?))
            .collect()
    }

    /// [`Self::set_tokenizer`], by value.
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Result<Self> {
        self.set_tokenizer(tokenizer)?;
        Ok(self)
    }

    fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| Error::NoTokenizer {
            path: self.config.path.clone(),
        })
    }

    /// Tokenizes a source sentence the way the encoder expects it, with
    /// the tokenizer's special tokens (the trailing `</s>`); for M2M100 /
    /// NLLB `[src_lang] tokens </s>`.
    pub fn encode_text(&self, text: &str) -> Result<Vec<u32>> {
        if let Settings::M2M100(c) = &self.config.settings {
            let langs = self.languages.ok_or_else(|| {
                Error::Input("M2M100 / NLLB needs source and target language codes".into())
            })?;
            return m2m100::source_ids(self.tokenizer()?, text, langs.source, c.eos_token_id);
        }
        if let Some(spm) = &self.marian_spm {
            return spm.source.encode(text, true);
        }
        self.tokenizer()?
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(Error::Tokenize)
    }
}

/// Marian and M2M100 / NLLB hold a source per slot, each with its own
/// decoder cache; T5 (whose cache lives inside candle's model) holds one.
impl Lm for Seq2SeqLm {
    fn max_slots(&self) -> usize {
        match self.model {
            Model::Bart(_) => BART_SLOTS,
            Model::T5(_) => 1,
        }
    }

    fn room(&self, _input_len: usize) -> usize {
        // The decoder start token (and M2M100's language code) take the
        // first positions.
        let prefix = 1 + usize::from(self.family() == Family::M2M100);
        self.config.context_length.saturating_sub(prefix)
    }

    fn eos_ids(&self) -> &[u32] {
        &self.config.eos_ids
    }

    fn suppressed_ids(&self) -> &[u32] {
        &self.suppressed
    }

    /// Encodes the source, then feeds the decoder start token (and, for
    /// M2M100 / NLLB, the forced target language code, which is not part of
    /// the generated ids).
    fn prefill_in(&mut self, slot: usize, input: &[u32]) -> Result<(Tensor, usize)> {
        let prefix = self.decoder_prefix()?;
        self.encode_in(slot, input)?;
        let logits = self.feed_in(slot, &prefix)?;
        let last = logits.dim(0)?.saturating_sub(1);
        Ok((logits.get(last)?, input.len()))
    }

    fn step(&mut self, slot: usize, token: u32) -> Result<Tensor> {
        Ok(self.feed_in(slot, &[token])?.squeeze(0)?)
    }

    fn copy_slot(&mut self, from: usize, to: usize) -> Result<()> {
        self.ensure_slot(from)?;
        self.ensure_slot(to)?;
        if from != to {
            self.bart_cache[to] = self.bart_cache[from].clone();
            self.pos[to] = self.pos[from];
        }
        Ok(())
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        if let Some(spm) = &self.marian_spm {
            return spm.target.decode(ids, true);
        }
        tokenizer::decode(self.tokenizer()?, ids)
    }
}
