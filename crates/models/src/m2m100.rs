//! BART-style encoder-decoder translation models on candle-nn: M2M100 /
//! NLLB-200, and Marian (OPUS-MT), which differ only in the details listed
//! below ([`Variant`]).
//!
//! candle-transformers has no M2M100 (candle issue #3024 asks for one), so
//! this is a port of Hugging Face transformers' `modeling_m2m_100.py`
//! (`M2M100ForConditionalGeneration`), which NLLB-200 checkpoints also use:
//!
//! - token embeddings shared by encoder, decoder and (tied) LM head, scaled by
//!   `sqrt(d_model)` when `scale_embedding`;
//! - fixed sinusoidal positions (tensor2tensor layout: all sines, then all
//!   cosines) whose ids come from the token ids as in fairseq: padding keeps
//!   position `pad_token_id` (a zero row), real tokens count up from
//!   `pad_token_id + 1`, offset by the decoder's cached length;
//! - pre-norm layers (layer norm, sub-layer, residual) and a final layer norm
//!   after each stack;
//! - generation starts from `decoder_start_token_id` (`</s>`), and the target
//!   language code is forced as the first generated token.
//!
//! Marian (`modeling_marian.py`, `MarianMTModel`) is the same network with
//! post-norm layers (sub-layer, residual, layer norm), no layer norm after
//! either stack, sinusoidal positions `0..len` computed in f64 (sines of
//! `pos / 10000^(2i/d)`, then the cosines) counted from the decoder's cached
//! length rather than from the token ids, `final_logits_bias` added to the
//! LM head's output, and generation starting from the pad token. candle's
//! own Marian takes no encoder padding mask, which is why Marian runs here.
//!
//! NLLB's tokenizer (non-legacy mode) writes a source as
//! `[src_lang] tokens </s>`: see [`source_ids`] and [`lang_code_id`].
//!
//! Encoder outputs keep a padding mask, so a right-padded batch gives every
//! row the result it gets alone; the decoder caches self-attention keys and
//! values per step and cross-attention keys and values once per source.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Activation, LayerNorm, Linear};
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::weights::Checkpoint;
use crate::{tokenizer, Error, Result};

/// Which of the two BART-style families a checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// M2M100 / NLLB-200: pre-norm, final layer norms, positions from ids.
    #[default]
    M2M100,
    /// Marian / OPUS-MT: post-norm, positions `0..len`, `final_logits_bias`.
    Marian,
}

/// `config.json` of an M2M100, NLLB-200 or Marian checkpoint; defaults are
/// those of transformers' `M2M100Config` (config.rs fills Marian's).
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Not in the file: set by whoever reads it (`model_type`).
    #[serde(skip)]
    pub variant: Variant,
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::d_model")]
    pub d_model: usize,
    #[serde(default = "defaults::layers")]
    pub encoder_layers: usize,
    #[serde(default = "defaults::layers")]
    pub decoder_layers: usize,
    #[serde(default = "defaults::heads")]
    pub encoder_attention_heads: usize,
    #[serde(default = "defaults::heads")]
    pub decoder_attention_heads: usize,
    #[serde(default = "defaults::ffn_dim")]
    pub encoder_ffn_dim: usize,
    #[serde(default = "defaults::ffn_dim")]
    pub decoder_ffn_dim: usize,
    #[serde(default = "defaults::activation")]
    pub activation_function: Activation,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::yes")]
    pub scale_embedding: bool,
    /// Without `lm_head.weight` in the file, the LM head is the shared
    /// embedding matrix.
    #[serde(default = "defaults::yes")]
    pub tie_word_embeddings: bool,
    #[serde(default = "defaults::pad")]
    pub pad_token_id: u32,
    #[serde(default = "defaults::eos")]
    pub eos_token_id: u32,
    #[serde(default = "defaults::eos")]
    pub decoder_start_token_id: u32,
}

mod defaults {
    use candle_nn::Activation;
    pub fn vocab_size() -> usize {
        128_112
    }
    pub fn d_model() -> usize {
        1024
    }
    pub fn layers() -> usize {
        12
    }
    pub fn heads() -> usize {
        16
    }
    pub fn ffn_dim() -> usize {
        4096
    }
    pub fn activation() -> Activation {
        Activation::Relu
    }
    pub fn max_position_embeddings() -> usize {
        1024
    }
    pub fn yes() -> bool {
        true
    }
    pub fn pad() -> u32 {
        1
    }
    pub fn eos() -> u32 {
        2
    }
}

impl Config {
    /// Reads and checks an M2M100 `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self = serde_json::from_slice(&bytes).map_err(|source| Error::ConfigJson {
            path: path.to_path_buf(),
            source,
        })?;
        config.validate(path)
    }

    /// Checks what the model's shapes depend on; `path` names the file in
    /// errors.
    pub fn validate(self, path: &Path) -> Result<Self> {
        let config = self;
        let invalid = |key: &str| Error::Metadata {
            path: path.to_path_buf(),
            key: key.to_string(),
        };
        // Sinusoids need d_model / 2 - 1 > 0; heads must split d_model evenly.
        if config.d_model < 4 || !config.d_model.is_multiple_of(2) {
            return Err(invalid("d_model"));
        }
        for (key, heads) in [
            ("encoder_attention_heads", config.encoder_attention_heads),
            ("decoder_attention_heads", config.decoder_attention_heads),
        ] {
            if heads == 0 || !config.d_model.is_multiple_of(heads) {
                return Err(invalid(key));
            }
        }
        for (key, id) in [
            ("pad_token_id", config.pad_token_id),
            ("eos_token_id", config.eos_token_id),
            ("decoder_start_token_id", config.decoder_start_token_id),
        ] {
            if id as usize >= config.vocab_size {
                return Err(invalid(key));
            }
        }
        Ok(config)
    }
}

/// The tensors of a checkpoint (safetensors files, one or shards, or
/// `pytorch_model.bin`), handed out by checkpoint name as f32 with their
/// shape and dtype checked by [`Checkpoint`], so that a mismatched
/// checkpoint is an error naming the file and tensor.
struct Weights {
    checkpoint: Checkpoint,
    device: Device,
}

impl Weights {
    fn open(paths: &[PathBuf], device: &Device) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::Input("no weight files to load".into()));
        }
        Ok(Self {
            checkpoint: Checkpoint::open(paths)?,
            device: device.clone(),
        })
    }

    fn contains(&self, name: &str) -> bool {
        self.checkpoint.contains(name)
    }

    /// Number of weights in every file.
    fn parameter_count(&self) -> u64 {
        self.checkpoint.parameter_count()
    }

    /// The tensor `name` as f32, which must have shape `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.checkpoint.tensor(name, shape, &self.device)
    }

    fn pp(&self, prefix: &str) -> Prefixed<'_> {
        Prefixed {
            weights: self,
            prefix: prefix.to_string(),
        }
    }
}

/// Tensor names under a dotted prefix, as candle's `vb.pp(...)`.
struct Prefixed<'a> {
    weights: &'a Weights,
    prefix: String,
}

impl Prefixed<'_> {
    fn pp(&self, name: impl std::fmt::Display) -> Self {
        Self {
            weights: self.weights,
            prefix: format!("{}.{name}", self.prefix),
        }
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.weights.get(&format!("{}.{name}", self.prefix), shape)
    }

    fn linear(&self, name: &str, in_dim: usize, out_dim: usize) -> Result<Linear> {
        let p = self.pp(name);
        Ok(Linear::new(
            p.get("weight", &[out_dim, in_dim])?,
            Some(p.get("bias", &[out_dim])?),
        ))
    }

    fn layer_norm(&self, name: &str, dim: usize) -> Result<LayerNorm> {
        let p = self.pp(name);
        // torch.nn.LayerNorm's default eps, which M2M100 does not change.
        Ok(LayerNorm::new(
            p.get("weight", &[dim])?,
            p.get("bias", &[dim])?,
            1e-5,
        ))
    }
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn load(p: &Prefixed, dim: usize, heads: usize) -> Result<Self> {
        Ok(Self {
            q_proj: p.linear("q_proj", dim, dim)?,
            k_proj: p.linear("k_proj", dim, dim)?,
            v_proj: p.linear("v_proj", dim, dim)?,
            out_proj: p.linear("out_proj", dim, dim)?,
            heads,
            head_dim: dim / heads,
        })
    }

    /// (batch, len, dim) -> (batch, heads, len, head_dim).
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, _) = xs.dims3()?;
        Ok(xs
            .reshape((b, t, self.heads, self.head_dim))?
            .transpose(1, 2)?
            .contiguous()?)
    }

    fn keys_values(&self, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((
            self.split_heads(&self.k_proj.forward(xs)?)?,
            self.split_heads(&self.v_proj.forward(xs)?)?,
        ))
    }

    /// Attends from `xs` to `keys`/`values`; `bias` is added to the scores
    /// (0 where allowed, -inf where masked) and broadcast over heads.
    fn attend(
        &self,
        xs: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        bias: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (b, t, dim) = xs.dims3()?;
        let q = self.split_heads(&self.q_proj.forward(xs)?)?;
        // transformers scales the scores, not the queries; same order here.
        let scale = (self.head_dim as f64).powf(-0.5);
        let mut scores = (q.matmul(&keys.t()?)? * scale)?;
        if let Some(bias) = bias {
            scores = scores.broadcast_add(bias)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights
            .matmul(values)?
            .transpose(1, 2)?
            .reshape((b, t, dim))?;
        Ok(self.out_proj.forward(&out)?)
    }
}

struct FeedForward {
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl FeedForward {
    fn load(p: &Prefixed, dim: usize, ffn_dim: usize, activation: Activation) -> Result<Self> {
        Ok(Self {
            fc1: p.linear("fc1", dim, ffn_dim)?,
            fc2: p.linear("fc2", ffn_dim, dim)?,
            activation,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let hidden = self.activation.forward(&self.fc1.forward(xs)?)?;
        Ok(self.fc2.forward(&hidden)?)
    }
}

struct EncoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl EncoderLayer {
    fn load(p: &Prefixed, config: &Config) -> Result<Self> {
        let dim = config.d_model;
        Ok(Self {
            self_attn: Attention::load(&p.pp("self_attn"), dim, config.encoder_attention_heads)?,
            self_attn_layer_norm: p.layer_norm("self_attn_layer_norm", dim)?,
            ffn: FeedForward::load(p, dim, config.encoder_ffn_dim, config.activation_function)?,
            final_layer_norm: p.layer_norm("final_layer_norm", dim)?,
        })
    }

    fn forward(&self, xs: &Tensor, bias: &Tensor, pre_norm: bool) -> Result<Tensor> {
        let attend = |x: &Tensor| -> Result<Tensor> {
            let (k, v) = self.self_attn.keys_values(x)?;
            self.self_attn.attend(x, &k, &v, Some(bias))
        };
        let xs = residual(xs, &self.self_attn_layer_norm, pre_norm, attend)?;
        residual(&xs, &self.final_layer_norm, pre_norm, |x| {
            self.ffn.forward(x)
        })
    }
}

struct DecoderLayer {
    self_attn: Attention,
    self_attn_layer_norm: LayerNorm,
    encoder_attn: Attention,
    encoder_attn_layer_norm: LayerNorm,
    ffn: FeedForward,
    final_layer_norm: LayerNorm,
}

impl DecoderLayer {
    fn load(p: &Prefixed, config: &Config) -> Result<Self> {
        let dim = config.d_model;
        let heads = config.decoder_attention_heads;
        Ok(Self {
            self_attn: Attention::load(&p.pp("self_attn"), dim, heads)?,
            self_attn_layer_norm: p.layer_norm("self_attn_layer_norm", dim)?,
            encoder_attn: Attention::load(&p.pp("encoder_attn"), dim, heads)?,
            encoder_attn_layer_norm: p.layer_norm("encoder_attn_layer_norm", dim)?,
            ffn: FeedForward::load(p, dim, config.decoder_ffn_dim, config.activation_function)?,
            final_layer_norm: p.layer_norm("final_layer_norm", dim)?,
        })
    }

    fn forward(
        &self,
        xs: &Tensor,
        causal: Option<&Tensor>,
        cache: &mut LayerCache,
        cross_bias: &Tensor,
        pre_norm: bool,
    ) -> Result<Tensor> {
        let self_kv = &mut cache.self_kv;
        let xs = residual(xs, &self.self_attn_layer_norm, pre_norm, |x| {
            let (k, v) = self.self_attn.keys_values(x)?;
            let (k, v) = match self_kv.as_ref() {
                Some((past_k, past_v)) => (
                    Tensor::cat(&[past_k, &k], 2)?,
                    Tensor::cat(&[past_v, &v], 2)?,
                ),
                None => (k, v),
            };
            let attended = self.self_attn.attend(x, &k, &v, causal)?;
            *self_kv = Some((k, v));
            Ok(attended)
        })?;
        let (k, v) = &cache.cross_kv;
        let xs = residual(&xs, &self.encoder_attn_layer_norm, pre_norm, |x| {
            self.encoder_attn.attend(x, k, v, Some(cross_bias))
        })?;
        residual(&xs, &self.final_layer_norm, pre_norm, |x| {
            self.ffn.forward(x)
        })
    }
}

/// One sub-layer with its residual connection: pre-norm (M2M100)
/// `x + f(LN(x))`, or post-norm (Marian) `LN(x + f(x))`.
fn residual(
    xs: &Tensor,
    norm: &LayerNorm,
    pre_norm: bool,
    sublayer: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    if pre_norm {
        let out = sublayer(&norm.forward(xs)?)?;
        Ok((xs + out)?)
    } else {
        let out = sublayer(xs)?;
        Ok(norm.forward(&(xs + out)?)?)
    }
}

/// Encoder states for a batch of sources, with their padding.
pub struct EncoderOutput {
    hidden: Tensor,
    mask: Tensor,
    bias: Tensor,
}

impl EncoderOutput {
    /// Final encoder states, (batch, source_len, d_model); rows past a
    /// source's length are padding.
    pub fn hidden(&self) -> &Tensor {
        &self.hidden
    }

    /// (batch, source_len) u8: 1 for a real token, 0 for padding.
    pub fn mask(&self) -> &Tensor {
        &self.mask
    }

    pub fn batch_size(&self) -> usize {
        self.hidden.dims().first().copied().unwrap_or(0)
    }
}

struct LayerCache {
    self_kv: Option<(Tensor, Tensor)>,
    cross_kv: (Tensor, Tensor),
}

/// Decoder state for one batch of sources: self-attention keys and values
/// of the tokens decoded so far, and the cross-attention keys and values
/// computed once from the encoder states.
pub struct DecoderCache {
    layers: Vec<LayerCache>,
    cross_bias: Tensor,
    batch: usize,
    len: usize,
}

impl DecoderCache {
    /// Number of decoder tokens already in the cache.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the rows `rows` of the batch, in that order (repeats allowed):
    /// what beam search needs after choosing which hypotheses go on, and
    /// what dropping finished rows needs.
    pub fn select_rows(&mut self, rows: &[u32]) -> Result<()> {
        if let Some(&bad) = rows.iter().find(|&&r| r as usize >= self.batch) {
            return Err(Error::Input(format!(
                "row {bad} selected from a batch of {}",
                self.batch
            )));
        }
        let index = Tensor::new(rows, self.cross_bias.device())?;
        let pick = |t: &Tensor| t.index_select(&index, 0);
        for layer in &mut self.layers {
            if let Some((k, v)) = &layer.self_kv {
                layer.self_kv = Some((pick(k)?, pick(v)?));
            }
            let (k, v) = &layer.cross_kv;
            layer.cross_kv = (pick(k)?, pick(v)?);
        }
        self.cross_bias = pick(&self.cross_bias)?;
        self.batch = rows.len();
        Ok(())
    }
}

pub struct M2M100 {
    config: Config,
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
    device: Device,
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

    /// (vocab,) additive bias: -inf at `ids`, 0 elsewhere.
    fn suppression(&self, ids: &[u32]) -> Result<Tensor> {
        let vocab = self.config.vocab_size;
        let values: Vec<f32> = (0..vocab as u32)
            .map(|id| {
                if ids.contains(&id) {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Tensor::from_vec(values, vocab, &self.device)?)
    }

    /// Layer norm before each sub-layer (M2M100) or after it (Marian).
    fn pre_norm(&self) -> bool {
        self.config.variant == Variant::M2M100
    }

    /// Greedy decoding of one source, as transformers' `generate` with
    /// `num_beams=1, do_sample=False`: starts from `decoder_start_token_id`,
    /// emits `forced_bos` (the target language code) first when given, and
    /// stops after `</s>` or `max_new_tokens` tokens. Returns the generated
    /// ids without the start token, with the final `</s>` when reached.
    pub fn greedy(
        &self,
        source: &[u32],
        forced_bos: Option<u32>,
        max_new_tokens: usize,
    ) -> Result<Vec<u32>> {
        let mut rows = self.greedy_batch(&[source], forced_bos, max_new_tokens)?;
        rows.pop()
            .ok_or_else(|| Error::Input("greedy decoding returned no row".into()))
    }

    /// [`Self::greedy`] over a padded batch; each row equals its result alone.
    pub fn greedy_batch<S: AsRef<[u32]>>(
        &self,
        sources: &[S],
        forced_bos: Option<u32>,
        max_new_tokens: usize,
    ) -> Result<Vec<Vec<u32>>> {
        let encoded = self.encode(sources)?;
        let mut cache = self.start_decoding(&encoded)?;
        let batch = sources.len();
        let eos = self.config.eos_token_id;
        let mut outputs: Vec<Vec<u32>> = vec![Vec::new(); batch];
        let mut done = vec![false; batch];
        let mut next: Vec<[u32; 1]> = vec![[self.config.decoder_start_token_id]; batch];
        // Marian checkpoints ban the pad token (`bad_words_ids`).
        let banned = match self.config.variant {
            Variant::Marian => Some(self.suppression(&[self.config.pad_token_id])?),
            Variant::M2M100 => None,
        };
        for step in 0..max_new_tokens {
            let logits = self.decode(&next, &mut cache)?;
            let chosen: Vec<u32> = match (step, forced_bos) {
                (0, Some(bos)) => vec![bos; batch],
                _ => {
                    let logits = logits.squeeze(1)?;
                    let logits = match &banned {
                        Some(banned) => logits.broadcast_add(banned)?,
                        None => logits,
                    };
                    logits.argmax(D::Minus1)?.to_vec1()?
                }
            };
            let rows = outputs.iter_mut().zip(&mut done).zip(&mut next);
            for (((out, finished), feed), &id) in rows.zip(&chosen) {
                if *finished {
                    // A finished row keeps step with the batch on padding;
                    // its output no longer changes.
                    *feed = [self.config.pad_token_id];
                    continue;
                }
                out.push(id);
                *finished = id == eos;
                *feed = [id];
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(outputs)
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

/// The id of an NLLB / M2M100 language code such as `pes_Arab` or
/// `eng_Latn`, which must be one of the tokenizer's special added tokens.
pub fn lang_code_id(tokenizer: &Tokenizer, code: &str) -> Result<u32> {
    tokenizer
        .token_to_id(code)
        .filter(|id| {
            tokenizer
                .get_added_tokens_decoder()
                .get(id)
                .is_some_and(|token| token.special)
        })
        .ok_or_else(|| Error::LanguageCode {
            code: code.to_string(),
        })
}

/// Source ids as NLLB's tokenizer writes them in its default (non-legacy)
/// mode: `[src_lang] tokens </s>`. Built here rather than by the
/// tokenizer.json post-processor, which is fixed to one source language.
pub fn source_ids(tokenizer: &Tokenizer, text: &str, src_lang: u32, eos: u32) -> Result<Vec<u32>> {
    let tokens = tokenizer::encode(tokenizer, text)?;
    let mut ids = Vec::with_capacity(tokens.len() + 2);
    ids.push(src_lang);
    ids.extend(tokens);
    ids.push(eos);
    Ok(ids)
}
