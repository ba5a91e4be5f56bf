//! The network ([`M2M100`]): loading a checkpoint, embeddings with
//! sinusoidal positions, encoding a padded batch and decoding after a
//! cache, with the additive masks they use.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::LayerNorm;

use super::cache::{DecoderCache, EncoderOutput, LayerCache};
use super::config::{Config, Variant};
use super::layers::{DecoderLayer, EncoderLayer};
use super::tensors::Weights;
use crate::{Error, Result};

pub struct M2M100 {
    pub(super) config: Config,
    shared: Tensor,
    lm_head: Tensor,
    /// Marian's `final_logits_bias`, (vocab,).
    logits_bias: Option<Tensor>,
    encoder_layers: Vec<EncoderLayer>,
    /// After each stack (M2M100 only).
    encoder_layer_norm: Option<LayerNorm>,
    decoder_layers: Vec<DecoderLayer>,
    decoder_layer_norm: Option<LayerNorm>,
    embed_scale: f64,
    /// M2M100: `exp(-i * ln(10000) / (half - 1))` for the sinusoids, in f32
    /// as transformers computes them. Marian: `10000^(-2i / d_model)`,
    /// used in f64 as transformers' numpy table is.
    frequencies: Vec<f64>,
    parameters: u64,
    pub(super) device: Device,
}

impl M2M100 {
    /// Loads `config.json` and `model.safetensors` from `dir` onto the CPU, in
    /// f32 (f16 and bf16 checkpoints are converted). The LM head is
    /// `lm_head.weight` when the file has it, else (with
    /// `tie_word_embeddings`, the default) `model.shared.weight`.
    pub fn load(dir: &Path) -> Result<Self> {
        let config = Config::from_file(&dir.join("config.json"))?;
        Self::load_files(config, &[dir.join("model.safetensors")])
    }

    /// Loads the model `config` describes (M2M100 or Marian) from
    /// safetensors `files` (one, or shards) onto the CPU, in f32.
    pub fn load_files(config: Config, files: &[PathBuf]) -> Result<Self> {
        let weights = Weights::open(files, &Device::Cpu)?;
        Self::from_weights(config, &weights)
    }

    fn from_weights(config: Config, weights: &Weights) -> Result<Self> {
        let dim = config.d_model;
        let vocab = config.vocab_size;
        // Some conversions store the shared matrix only under the encoder's
        // or decoder's name, which transformers ties to `model.shared`.
        let shared_name = [
            "model.shared.weight",
            "model.encoder.embed_tokens.weight",
            "model.decoder.embed_tokens.weight",
        ]
        .into_iter()
        .find(|name| weights.contains(name))
        .unwrap_or("model.shared.weight");
        let shared = weights.get(shared_name, &[vocab, dim])?;
        let lm_head = if weights.contains("lm_head.weight") {
            // transformers 5 uses a stored head even when tied (checked with
            // 5.23); when it equals the shared matrix, as in NLLB's files,
            // keep one copy (1 GB for NLLB's 256k x 1024 in f32).
            let head = weights.get("lm_head.weight", &[vocab, dim])?;
            let differs = head.ne(&shared)?.max_all()?.to_scalar::<u8>()? != 0;
            if differs {
                head
            } else {
                shared.clone()
            }
        } else if config.tie_word_embeddings {
            shared.clone()
        } else {
            // Names the missing tensor.
            weights.get("lm_head.weight", &[vocab, dim])?
        };
        let encoder = weights.pp("model.encoder");
        let encoder_layers = (0..config.encoder_layers)
            .map(|i| EncoderLayer::load(&encoder.pp("layers").pp(i), &config))
            .collect::<Result<_>>()?;
        let decoder = weights.pp("model.decoder");
        let decoder_layers = (0..config.decoder_layers)
            .map(|i| DecoderLayer::load(&decoder.pp("layers").pp(i), &config))
            .collect::<Result<_>>()?;
        let half = dim / 2;
        let (frequencies, encoder_layer_norm, decoder_layer_norm, logits_bias) =
            match config.variant {
                Variant::M2M100 => {
                    let step = (10000f64.ln() / (half as f64 - 1.0)) as f32;
                    let frequencies = (0..half)
                        .map(|i| f64::from((i as f32 * -step).exp()))
                        .collect();
                    (
                        frequencies,
                        Some(encoder.layer_norm("layer_norm", dim)?),
                        Some(decoder.layer_norm("layer_norm", dim)?),
                        None,
                    )
                }
                Variant::Marian => {
                    let frequencies = (0..half)
                        .map(|i| 10000f64.powf(-2.0 * i as f64 / dim as f64))
                        .collect();
                    // transformers starts from zeros when a checkpoint has
                    // no bias.
                    let bias = if weights.contains("final_logits_bias") {
                        Some(
                            weights
                                .get("final_logits_bias", &[1, vocab])?
                                .flatten_all()?,
                        )
                    } else {
                        None
                    };
                    (frequencies, None, None, bias)
                }
            };
        Ok(Self {
            embed_scale: if config.scale_embedding {
                (dim as f64).sqrt()
            } else {
                1.0
            },
            encoder_layer_norm,
            decoder_layer_norm,
            logits_bias,
            parameters: weights.parameter_count(),
            config,
            shared,
            lm_head,
            encoder_layers,
            decoder_layers,
            frequencies,
            device: weights.device.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of weights in the checkpoint's files.
    pub fn parameter_count(&self) -> u64 {
        self.parameters
    }

    /// Scaled token embeddings plus sinusoidal positions for a (batch, len)
    /// grid of ids, positions counted after `past` cached tokens.
    fn embed(&self, rows: &[Vec<u32>], past: usize) -> Result<Tensor> {
        let batch = rows.len();
        let len = rows.first().map_or(0, Vec::len);
        let vocab = self.config.vocab_size;
        if let Some(&bad) = rows.iter().flatten().find(|&&id| id as usize >= vocab) {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        let flat: Vec<u32> = rows.iter().flatten().copied().collect();
        let ids = Tensor::from_vec(flat, batch * len, &self.device)?;
        let tokens = (self.shared.index_select(&ids, 0)? * self.embed_scale)?;
        let dim = self.config.d_model;
        let mut table = Vec::with_capacity(batch * len * dim);
        for row in rows {
            for position in self.position_ids(row, past) {
                self.push_sinusoid(position, &mut table);
            }
        }
        let positions = Tensor::from_vec(table, (batch * len, dim), &self.device)?;
        Ok((tokens + positions)?.reshape((batch, len, dim))?)
    }

    /// M2M100: fairseq's `make_positions`, as transformers'
    /// `create_position_ids_from_input_ids`: padding keeps `pad_token_id`,
    /// real tokens count from `pad_token_id + 1 + past`. Marian: `past..`,
    /// padding or not.
    fn position_ids(&self, row: &[u32], past: usize) -> Vec<usize> {
        if self.config.variant == Variant::Marian {
            return (past..past + row.len()).collect();
        }
        let pad = self.config.pad_token_id;
        let mut seen = 0;
        row.iter()
            .map(|&id| {
                if id == pad {
                    pad as usize
                } else {
                    seen += 1;
                    seen + past + pad as usize
                }
            })
            .collect()
    }

    /// One row of transformers' `M2M100SinusoidalPositionalEmbedding` or
    /// `MarianSinusoidalPositionalEmbedding` table: sines then cosines of
    /// `position * frequency`, zero for M2M100's padding position. Computed
    /// per row rather than from a table, so that any length works as the
    /// M2M100 reference's table grows on demand.
    fn push_sinusoid(&self, position: usize, out: &mut Vec<f32>) {
        let dim = self.config.d_model;
        match self.config.variant {
            Variant::M2M100 => {
                if position == self.config.pad_token_id as usize {
                    out.extend(std::iter::repeat_n(0.0, dim));
                    return;
                }
                // In f32, as transformers computes them.
                let angles = self.frequencies.iter().map(|&f| position as f32 * f as f32);
                out.extend(angles.clone().map(f32::sin));
                out.extend(angles.map(f32::cos));
            }
            Variant::Marian => {
                // In f64 (numpy), rounded to f32 at the end.
                let angles = self.frequencies.iter().map(|&f| position as f64 * f);
                out.extend(angles.clone().map(|a| a.sin() as f32));
                out.extend(angles.map(|a| a.cos() as f32));
            }
        }
    }

    fn check_length(&self, tokens: usize) -> Result<()> {
        let context = self.config.max_position_embeddings;
        if tokens > context {
            return Err(Error::ContextOverflow { tokens, context });
        }
        Ok(())
    }

    /// Runs the encoder on a batch of sources (each `[src_lang] tokens </s>`
    /// for NLLB), right-padding them with `pad_token_id` and masking the
    /// padding, so every row's states equal its states alone.
    pub fn encode<S: AsRef<[u32]>>(&self, sources: &[S]) -> Result<EncoderOutput> {
        if sources.is_empty() {
            return Err(Error::Input("no source sequences to encode".into()));
        }
        let longest = sources.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
        if sources.iter().any(|s| s.as_ref().is_empty()) {
            return Err(Error::Input("an empty source sequence".into()));
        }
        self.check_length(longest)?;
        let pad = self.config.pad_token_id;
        let rows: Vec<Vec<u32>> = sources
            .iter()
            .map(|s| {
                let s = s.as_ref();
                let mut row = s.to_vec();
                row.resize(longest, pad);
                row
            })
            .collect();
        let mask: Vec<u8> = sources
            .iter()
            .flat_map(|s| {
                let len = s.as_ref().len();
                (0..longest).map(move |i| u8::from(i < len))
            })
            .collect();
        let batch = sources.len();
        let mask = Tensor::from_vec(mask, (batch, longest), &self.device)?;
        let bias = padding_bias(&mask)?;
        let mut xs = self.embed(&rows, 0)?;
        let pre_norm = self.pre_norm();
        for layer in &self.encoder_layers {
            xs = layer.forward(&xs, &bias, pre_norm)?;
        }
        let hidden = match &self.encoder_layer_norm {
            Some(norm) => norm.forward(&xs)?,
            None => xs,
        };
        Ok(EncoderOutput { hidden, mask, bias })
    }

    /// An empty decoder cache for `encoded`, with each decoder layer's
    /// cross-attention keys and values computed once.
    pub fn start_decoding(&self, encoded: &EncoderOutput) -> Result<DecoderCache> {
        let layers = self
            .decoder_layers
            .iter()
            .map(|layer| {
                Ok(LayerCache {
                    self_kv: None,
                    cross_kv: layer.encoder_attn.keys_values(&encoded.hidden)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(DecoderCache {
            layers,
            cross_bias: encoded.bias.clone(),
            batch: encoded.batch_size(),
            len: 0,
        })
    }

    /// Feeds `tokens` (one row per source, all rows the same length) to the
    /// decoder after what `cache` holds, and returns the logits for each fed
    /// position, (batch, tokens, vocab). Feeding a whole prefix at once and
    /// feeding it token by token give the same logits. After an error the
    /// cache may hold some layers' keys for the failed step: start again.
    pub fn decode<S: AsRef<[u32]>>(
        &self,
        tokens: &[S],
        cache: &mut DecoderCache,
    ) -> Result<Tensor> {
        if tokens.len() != cache.batch {
            return Err(Error::Input(format!(
                "{} decoder rows for a batch of {} sources",
                tokens.len(),
                cache.batch
            )));
        }
        let rows: Vec<Vec<u32>> = tokens.iter().map(|r| r.as_ref().to_vec()).collect();
        let len = rows.first().map_or(0, Vec::len);
        if len == 0 || rows.iter().any(|r| r.len() != len) {
            return Err(Error::Input(
                "decoder rows must be non-empty and of equal length".into(),
            ));
        }
        let past = cache.len;
        self.check_length(past + len)?;
        let mut xs = self.embed(&rows, past)?;
        let causal = if len > 1 {
            Some(causal_bias(len, past, &self.device)?)
        } else {
            None
        };
        let pre_norm = self.pre_norm();
        for (layer, layer_cache) in self.decoder_layers.iter().zip(&mut cache.layers) {
            xs = layer.forward(
                &xs,
                causal.as_ref(),
                layer_cache,
                &cache.cross_bias,
                pre_norm,
            )?;
        }
        cache.len += len;
        let hidden = match &self.decoder_layer_norm {
            Some(norm) => norm.forward(&xs)?,
            None => xs,
        };
        let logits = hidden.broadcast_matmul(&self.lm_head.t()?)?;
        Ok(match &self.logits_bias {
            Some(bias) => logits.broadcast_add(bias)?,
            None => logits,
        })
    }

    /// Layer norm before each sub-layer (M2M100) or after it (Marian).
    pub(super) fn pre_norm(&self) -> bool {
        self.config.variant == Variant::M2M100
    }
}

/// (batch, 1, 1, len) additive bias: 0 for real tokens, -inf for padding.
fn padding_bias(mask: &Tensor) -> Result<Tensor> {
    let (batch, len) = mask.dims2()?;
    let zeros = Tensor::zeros((batch, len), DType::F32, mask.device())?;
    let masked = Tensor::full(f32::NEG_INFINITY, (batch, len), mask.device())?;
    Ok(mask
        .where_cond(&zeros, &masked)?
        .reshape((batch, 1, 1, len))?)
}

/// (1, 1, len, past + len) additive bias letting query `i` see keys up to
/// `past + i`.
fn causal_bias(len: usize, past: usize, device: &Device) -> Result<Tensor> {
    let total = past + len;
    let values: Vec<f32> = (0..len)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j <= past + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Tensor::from_vec(values, (1, 1, len, total), device)?)
}
