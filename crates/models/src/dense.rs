//! Decoder-only models from `config.json` + safetensors (gemma3, qwen2,
//! qwen3, llama) through candle-transformers' full-precision
//! implementations.
//!
//! Batches: [`DenseLm::forward_batch`] pads inputs on the right to one
//! `[batch, width]` tensor. candle-transformers' decoder-only models take no
//! padding mask, but they need none here: attention is causal, so a row's
//! real tokens never see the padding after them. What they do not give is
//! the logits of every position, only the last; so the batch is prefilled
//! up to the shortest row's length in one pass, and the remaining columns
//! are fed one position at a time through the KV cache, each row's logits
//! taken at its own last real token. Each row equals its single-input
//! result (within float rounding; tested against transformers' padded
//! batch).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::{gemma3, llama, qwen2, qwen3};
use tokenizers::Tokenizer;

use crate::config::{self, Family, ModelConfig, Settings};
use crate::lm::{no_slot, Lm};
use crate::weights::Checkpoint;
use crate::{tokenizer, Error, Result};

enum Model {
    Gemma3(gemma3::Model),
    Qwen2(qwen2::ModelForCausalLM),
    Qwen3(qwen3::ModelForCausalLM),
    Llama {
        model: llama::Llama,
        cache: Box<llama::Cache>,
        config: Box<llama::Config>,
    },
}

/// A decoder-only model loaded from safetensors.
pub struct DenseLm {
    model: Model,
    pub config: ModelConfig,
    pub tokenizer: Option<Tokenizer>,
    /// Parameters stored in the checkpoint.
    pub parameters: u64,
    device: Device,
    pos: usize,
}

impl DenseLm {
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
        let model = match &config.settings {
            Settings::Gemma3(c) => {
                Model::Gemma3(ckpt.load(dtype, &device, |vb| gemma3::Model::new(false, c, vb))?)
            }
            Settings::Qwen2(c) => {
                Model::Qwen2(ckpt.load(dtype, &device, |vb| qwen2::ModelForCausalLM::new(c, vb))?)
            }
            Settings::Qwen3(c) => {
                Model::Qwen3(ckpt.load(dtype, &device, |vb| qwen3::ModelForCausalLM::new(c, vb))?)
            }
            Settings::Llama(c) => Model::Llama {
                model: ckpt.load(dtype, &device, |vb| llama::Llama::load(vb, c))?,
                cache: Box::new(llama::Cache::new(true, dtype, c, &device).map_err(Error::Candle)?),
                config: Box::new(c.clone()),
            },
            Settings::Marian(_) | Settings::M2M100(_) | Settings::T5(_) => {
                return Err(Error::Config {
                    path: config_path.to_path_buf(),
                    reason: format!(
                        "{} is an encoder-decoder model; load it with seq2seq::Seq2SeqLm",
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
            device,
            pos: 0,
        })
    }

    pub fn family(&self) -> Family {
        self.config.family
    }

    /// Runs `tokens` at positions `index_pos..` and returns the last
    /// position's logits (1-D f32). `index_pos == 0` starts a new sequence;
    /// otherwise the tokens extend the cached one (as `CausalLm::forward`).
    pub fn forward(&mut self, tokens: &[u32], index_pos: usize) -> Result<Tensor> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        Ok(self.run(&input, index_pos)?.squeeze(0)?)
    }

    /// Last-position logits for each input, computed as one right-padded
    /// batch (see the module docs); each is a fresh sequence.
    pub fn forward_batch(&mut self, inputs: &[&[u32]]) -> Result<Vec<Tensor>> {
        let (Some(shortest), Some(width)) = (
            inputs.iter().map(|i| i.len()).min(),
            inputs.iter().map(|i| i.len()).max(),
        ) else {
            return Ok(Vec::new());
        };
        if shortest == 0 {
            return Err(Error::EmptyInput);
        }
        let pad = self.config.pad_id.unwrap_or(0);
        let padded = inputs
            .iter()
            .map(|i| {
                let mut ids = i.to_vec();
                ids.resize(width, pad);
                Tensor::new(ids, &self.device)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let batch = Tensor::stack(&padded, 0)?;
        let mut out: Vec<Option<Tensor>> = vec![None; inputs.len()];
        // `logits` are each row's at position `end - 1`.
        let mut take = |logits: &Tensor, end: usize| -> Result<()> {
            for (r, input) in inputs.iter().enumerate() {
                if input.len() == end {
                    if let Some(slot) = out.get_mut(r) {
                        *slot = Some(logits.get(r)?);
                    }
                }
            }
            Ok(())
        };
        let logits = self.run(&batch.narrow(1, 0, shortest)?, 0)?;
        take(&logits, shortest)?;
        for pos in shortest..width {
            let logits = self.run(&batch.narrow(1, pos, 1)?, pos)?;
            take(&logits, pos + 1)?;
        }
        out.into_iter()
            .map(|t| t.ok_or(Error::EmptyInput))
            .collect()
    }

    /// `[batch, len]` ids at `index_pos..` → `[batch, vocab]` f32 logits.
    fn run(&mut self, input: &Tensor, index_pos: usize) -> Result<Tensor> {
        let (batch, len) = input.dims2()?;
        if len == 0 {
            return Err(Error::EmptyInput);
        }
        let end = index_pos + len;
        if end > self.config.context_length {
            return Err(Error::ContextOverflow {
                tokens: end,
                context: self.config.context_length,
            });
        }
        if index_pos == 0 {
            self.clear_cache()?;
        }
        let logits = match &mut self.model {
            Model::Gemma3(m) => m.forward(input, index_pos)?,
            Model::Qwen2(m) => m.forward(input, index_pos)?,
            Model::Qwen3(m) => m.forward(input, index_pos)?,
            Model::Llama { model, cache, .. } => model.forward(input, index_pos, cache)?,
        };
        Ok(logits
            .reshape((batch, self.config.vocab_size))?
            .to_dtype(DType::F32)?)
    }

    fn clear_cache(&mut self) -> Result<()> {
        match &mut self.model {
            Model::Gemma3(m) => m.clear_kv_cache(),
            Model::Qwen2(m) => m.clear_kv_cache(),
            Model::Qwen3(m) => m.clear_kv_cache(),
            Model::Llama { cache, config, .. } => {
                **cache = llama::Cache::new(true, DType::F32, config, &self.device)?;
            }
        }
        Ok(())
    }

    /// Replaces the tokenizer (e.g. one built from another source).
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = Some(tokenizer);
        self
    }

    fn tokenizer(&self) -> Result<&Tokenizer> {
        self.tokenizer.as_ref().ok_or_else(|| Error::NoTokenizer {
            path: self.config.path.clone(),
        })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        tokenizer::encode(self.tokenizer()?, text)
    }
}

/// One sequence at a time (slot 0): candle-transformers' models keep one
/// cache, and cannot drop part of it, so every prompt runs in full.
impl Lm for DenseLm {
    fn max_slots(&self) -> usize {
        1
    }

    fn room(&self, input_len: usize) -> usize {
        self.config.context_length.saturating_sub(input_len)
    }

    fn eos_ids(&self) -> &[u32] {
        &self.config.eos_ids
    }

    fn prefill_in(&mut self, slot: usize, input: &[u32]) -> Result<(Tensor, usize)> {
        if slot != 0 {
            return Err(no_slot(slot, 1));
        }
        let logits = self.forward(input, 0)?;
        self.pos = input.len();
        Ok((logits, input.len()))
    }

    fn step(&mut self, slot: usize, token: u32) -> Result<Tensor> {
        if slot != 0 {
            return Err(no_slot(slot, 1));
        }
        let logits = self.forward(&[token], self.pos)?;
        self.pos += 1;
        Ok(logits)
    }

    fn copy_slot(&mut self, from: usize, to: usize) -> Result<()> {
        match (from, to) {
            (0, 0) => Ok(()),
            _ => Err(no_slot(from.max(to), 1)),
        }
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        tokenizer::decode(self.tokenizer()?, ids)
    }
}
