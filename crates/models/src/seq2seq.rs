//! Encoder-decoder translation models from `config.json` + safetensors:
//! Marian (OPUS-MT) through candle-transformers' `marian`, and T5
//! (MADLAD-400) through our corrected copy of its `t5` ([`crate::t5`]).
//!
//! Every new source resets the encoder and decoder caches. Batches: T5
//! pads sources on the right and masks the padding in encoder
//! self-attention and decoder cross-attention; candle's Marian encoder
//! takes no mask, so Marian batches stack sources of equal length and run
//! each distinct length separately. Either way each row equals its
//! single-input result.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::marian;
use tokenizers::Tokenizer;

use crate::config::{self, Family, ModelConfig, Settings};
use crate::lm::Decoder;
use crate::t5;
use crate::weights::Checkpoint;
use crate::{tokenizer, Error, Result};

enum Model {
    Marian(Box<marian::MTModel>),
    T5(Box<t5::T5ForConditionalGeneration>),
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
    device: Device,
    encoder_out: Option<Tensor>,
    /// Decoder tokens fed so far for the current source.
    pos: usize,
}

impl Seq2SeqLm {
    /// Loads `config.json`, the safetensors weights and, when present,
    /// `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let tokenizer = dir.join("tokenizer.json");
        Self::load_files(
            &dir.join("config.json"),
            &Checkpoint::files_in(dir)?,
            tokenizer.is_file().then_some(tokenizer.as_path()),
        )
    }

    pub fn load_files(
        config_path: &Path,
        weights: &[PathBuf],
        tokenizer_json: Option<&Path>,
    ) -> Result<Self> {
        let config = config::read(config_path)?;
        let device = Device::Cpu;
        let ckpt = Checkpoint::open(weights)?;
        let dtype = DType::F32;
        let (model, decoder_start, suppressed) = match &config.settings {
            Settings::Marian(c) => (
                Model::Marian(Box::new(
                    ckpt.load(dtype, &device, |vb| marian::MTModel::new(c, vb))?,
                )),
                c.decoder_start_token_id,
                vec![c.pad_token_id],
            ),
            Settings::T5(c) => (
                // Safetensors, pytorch_model.bin, or a GGUF (MADLAD-400)
                // whose quantized weights stay quantized.
                Model::T5(Box::new(ckpt.load_maybe_quantized(&device, |vb| {
                    t5::T5ForConditionalGeneration::load_weights(vb, c)
                })?)),
                c.decoder_start_token_id.unwrap_or(c.pad_token_id) as u32,
                Vec::new(),
            ),
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
        Ok(Self {
            model,
            parameters: ckpt.parameter_count(),
            config,
            tokenizer,
            decoder_start,
            suppressed,
            device,
            encoder_out: None,
            pos: 0,
        })
    }

    pub fn family(&self) -> Family {
        self.config.family
    }

    fn reset(&mut self) {
        match &mut self.model {
            Model::Marian(m) => m.reset_kv_cache(),
            Model::T5(m) => m.clear_kv_cache(),
        }
        self.encoder_out = None;
        self.pos = 0;
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
        if source.len() > self.config.context_length {
            return Err(Error::ContextOverflow {
                tokens: source.len(),
                context: self.config.context_length,
            });
        }
        let input = self.ids(source)?;
        let out = match &mut self.model {
            Model::Marian(m) => m.encoder().forward(&input, 0)?,
            Model::T5(m) => m.encode(&input)?,
        };
        self.encoder_out = Some(out);
        Ok(())
    }

    /// Feeds decoder tokens after the cached ones; logits `[len, vocab]`.
    fn feed(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let end = self.pos + tokens.len();
        if end > self.config.context_length {
            return Err(Error::ContextOverflow {
                tokens: end,
                context: self.config.context_length,
            });
        }
        let input = self.ids(tokens)?;
        let encoder_out = self.encoder_out.as_ref().ok_or(Error::EmptyInput)?;
        let logits = match &mut self.model {
            Model::Marian(m) => m.decode(&input, encoder_out, self.pos)?,
            Model::T5(m) => m.decode_all(&input, encoder_out)?,
        };
        self.pos = end;
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
        let groups: Vec<Vec<usize>> = match self.model {
            // One padded batch.
            Model::T5(_) => vec![(0..sources.len()).collect()],
            // Equal lengths only.
            Model::Marian(_) => {
                let mut lengths: Vec<usize> = sources.iter().map(|s| s.len()).collect();
                lengths.sort_unstable();
                lengths.dedup();
                lengths
                    .into_iter()
                    .map(|len| {
                        (0..sources.len())
                            .filter(|&r| sources.get(r).map(|s| s.len()) == Some(len))
                            .collect()
                    })
                    .collect()
            }
        };
        let mut out: Vec<Option<Tensor>> = vec![None; sources.len()];
        for rows in groups {
            let rows_src: Vec<&[u32]> = rows
                .iter()
                .filter_map(|&r| sources.get(r).copied())
                .collect();
            let width = rows_src.iter().map(|s| s.len()).max().unwrap_or(0);
            let pad = self.config.pad_id.unwrap_or(0);
            let padded = rows_src
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
                .repeat((rows.len(), 1))?;
            let logits = match &mut self.model {
                Model::Marian(m) => {
                    m.reset_kv_cache();
                    let enc = m.encoder().forward(&input, 0)?;
                    m.decode(&dec, &enc, 0)?
                }
                Model::T5(m) => {
                    m.clear_kv_cache();
                    let lengths: Vec<usize> = rows_src.iter().map(|s| s.len()).collect();
                    let bias = t5::key_bias(&lengths, width, &self.device)?;
                    let enc = m.encode_padded(&input, &bias)?;
                    m.decode_padded(&dec, &enc, Some(&bias))?
                }
            };
            for (k, &r) in rows.iter().enumerate() {
                if let Some(slot) = out.get_mut(r) {
                    *slot = Some(logits.get(k)?.to_dtype(DType::F32)?);
                }
            }
        }
        self.reset();
        out.into_iter()
            .map(|t| t.ok_or(Error::EmptyInput))
            .collect()
    }

    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = Some(tokenizer);
        self
    }

    fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| Error::NoTokenizer {
            path: self.config.path.clone(),
        })
    }

    /// Tokenizes a source sentence the way the encoder expects it, with
    /// the tokenizer's special tokens (the trailing `</s>`).
    pub fn encode_text(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer()?
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(Error::Tokenize)
    }
}

impl Decoder for Seq2SeqLm {
    fn start(&mut self, input: &[u32]) -> Result<Tensor> {
        self.encode_source(input)?;
        let logits = self.feed(&[self.decoder_start])?;
        Ok(logits.squeeze(0)?)
    }

    fn step(&mut self, token: u32) -> Result<Tensor> {
        Ok(self.feed(&[token])?.squeeze(0)?)
    }

    fn room(&self, _input_len: usize) -> usize {
        // The decoder start token takes the first position.
        self.config.context_length.saturating_sub(1)
    }

    fn eos_ids(&self) -> &[u32] {
        &self.config.eos_ids
    }

    fn suppressed_ids(&self) -> &[u32] {
        &self.suppressed
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        tokenizer::decode(self.tokenizer()?, ids)
    }
}
