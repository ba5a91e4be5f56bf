//! `config.json` of an M2M100, NLLB-200 or Marian checkpoint ([`Config`])
//! and which of the two families it is ([`Variant`]).

use std::path::Path;

use candle_nn::Activation;
use serde::Deserialize;

use crate::{Error, Result};

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
