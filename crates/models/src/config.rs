//! `config.json`: which model family a checkpoint is, and the settings its
//! candle implementation needs.
//!
//! The family comes from `model_type`. Configs written by transformers 4
//! and 5 differ (5 moves `rope_theta` into `rope_parameters`, describes
//! Gemma 3's local/global layers with `layer_types`, and replaces T5's
//! `tie_word_embeddings: false` with `scale_decoder_outputs`), so each
//! family's reader normalizes the JSON before handing it to the candle
//! config type, and rejects settings the candle implementation would
//! silently compute wrong (e.g. RoPE scaling it does not apply).

use std::path::{Path, PathBuf};

use candle_transformers::models::{gemma3, llama, qwen2, qwen3};
use serde_json::{json, Map, Value};

use crate::m2m100::{self, Variant};
use crate::t5;
use crate::{Error, Result};

/// `model_type` values we load from `config.json`.
pub const SUPPORTED: &str = "gemma3_text, qwen2, qwen3, llama, marian, m2m_100, t5";

/// A model family we can load from a `config.json` checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Gemma3,
    Qwen2,
    Qwen3,
    Llama,
    Marian,
    M2M100,
    T5,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Gemma3 => "gemma3",
            Family::Qwen2 => "qwen2",
            Family::Qwen3 => "qwen3",
            Family::Llama => "llama",
            Family::Marian => "marian",
            Family::M2M100 => "m2m100",
            Family::T5 => "t5",
        }
    }

    /// Encoder-decoder (translation) rather than decoder-only.
    pub fn is_seq2seq(self) -> bool {
        matches!(self, Family::Marian | Family::M2M100 | Family::T5)
    }
}

/// A family's settings, in the type its implementation takes.
#[derive(Debug, Clone)]
pub enum Settings {
    Gemma3(gemma3::Config),
    Qwen2(qwen2::Config),
    Qwen3(qwen3::Config),
    Llama(llama::Config),
    /// Marian and M2M100 / NLLB share one implementation ([`m2m100`]).
    Marian(m2m100::Config),
    M2M100(m2m100::Config),
    T5(t5::Config),
}

/// A parsed `config.json`.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub path: PathBuf,
    pub family: Family,
    pub settings: Settings,
    /// End-of-sequence ids (`eos_token_id`, a number or a list).
    pub eos_ids: Vec<u32>,
    pub bos_id: Option<u32>,
    pub pad_id: Option<u32>,
    /// Longest sequence the model's positions cover.
    pub context_length: usize,
    pub vocab_size: usize,
}

/// Reads `config.json` and picks the family from `model_type`.
pub fn read(path: &Path) -> Result<ModelConfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| Error::Config {
        path: path.to_path_buf(),
        reason,
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(bad("not a JSON object".into()));
    };
    let model_type = map
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no `model_type`".into()))?
        .to_string();
    let cfg = Json { map, path };
    let context_length = cfg
        .usize("max_position_embeddings")
        .or_else(|_| cfg.usize("n_positions"))
        // T5 has relative positions and no fixed limit; MADLAD-400 was
        // trained on 256-token sequences, T5 on 512.
        .unwrap_or(512);
    let eos_ids = cfg.ids("eos_token_id");
    let bos_id = cfg.ids("bos_token_id").first().copied();
    let pad_id = cfg.ids("pad_token_id").first().copied();
    let vocab_size = cfg.usize("vocab_size")?;
    let (family, settings) = match model_type.as_str() {
        "gemma3_text" => (Family::Gemma3, Settings::Gemma3(cfg.gemma3()?)),
        "qwen2" => (Family::Qwen2, Settings::Qwen2(cfg.qwen2()?)),
        "qwen3" => (Family::Qwen3, Settings::Qwen3(cfg.qwen3()?)),
        "llama" => (Family::Llama, Settings::Llama(cfg.llama()?)),
        "marian" => (Family::Marian, Settings::Marian(cfg.marian()?)),
        "m2m_100" | "m2m100" => (Family::M2M100, Settings::M2M100(cfg.m2m100()?)),
        "t5" => (Family::T5, Settings::T5(cfg.t5()?)),
        "gemma3" => {
            return Err(bad(
                "multimodal Gemma 3 checkpoints are not supported; use a text-only one \
                 (model_type `gemma3_text`, e.g. gemma-3-270m or gemma-3-1b)"
                    .into(),
            ))
        }
        other => {
            return Err(Error::UnsupportedArchitecture {
                path: path.to_path_buf(),
                arch: other.to_string(),
                supported: SUPPORTED,
            })
        }
    };
    // candle's gemma3 lets a local layer see `sliding_window + 1` tokens
    // where transformers sees `sliding_window`; within the window both are
    // exact, so gemma3 runs no longer sequences than that.
    let context_length = match &settings {
        Settings::Gemma3(c) if c.sliding_window_pattern > 1 => context_length.min(c.sliding_window),
        _ => context_length,
    };
    Ok(ModelConfig {
        path: path.to_path_buf(),
        family,
        settings,
        eos_ids,
        bos_id,
        pad_id,
        context_length,
        vocab_size,
    })
}

/// A config object with helpers that name the file in their errors.
struct Json<'a> {
    map: Map<String, Value>,
    path: &'a Path,
}

impl Json<'_> {
    fn bad(&self, reason: String) -> Error {
        Error::Config {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn usize(&self, key: &str) -> Result<usize> {
        self.map
            .get(key)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| self.bad(format!("`{key}` is missing or not a whole number")))
    }

    fn f64(&self, key: &str) -> Option<f64> {
        self.map.get(key).and_then(Value::as_f64)
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.map.get(key).and_then(Value::as_bool)
    }

    /// A token id or a list of them.
    fn ids(&self, key: &str) -> Vec<u32> {
        match self.map.get(key) {
            Some(Value::Number(n)) => n.as_u64().map(|v| v as u32).into_iter().collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_u64)
                .map(|v| v as u32)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn set_default(&mut self, key: &str, value: Value) {
        if self.map.get(key).is_none_or(Value::is_null) {
            self.map.insert(key.to_string(), value);
        }
    }

    /// `rope_theta` of a `rope_parameters` object (transformers 5) or of
    /// the config itself (transformers 4); `None` when neither says.
    fn rope(&self, group: Option<&str>) -> Result<Option<f64>> {
        let params = match (self.map.get("rope_parameters"), group) {
            (Some(p), Some(g)) if p.get(g).is_some() => p.get(g),
            (Some(p), _) => Some(p),
            (None, _) => None,
        };
        if let Some(params) = params.filter(|p| p.is_object()) {
            let kind = params.get("rope_type").and_then(Value::as_str);
            if !matches!(kind, None | Some("default")) {
                return Err(self.bad(format!(
                    "RoPE scaling `{}` is not supported for this family",
                    kind.unwrap_or_default()
                )));
            }
            if let Some(theta) = params.get("rope_theta").and_then(Value::as_f64) {
                return Ok(Some(theta));
            }
        }
        if self.map.get("rope_scaling").is_some_and(|v| !v.is_null()) {
            return Err(self.bad(
                "`rope_scaling` is not supported for this family (candle's implementation would ignore it)".into(),
            ));
        }
        Ok(self.f64("rope_theta"))
    }

    fn into_config<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let path = self.path.to_path_buf();
        serde_json::from_value(Value::Object(self.map)).map_err(|e| Error::Config {
            path,
            reason: e.to_string(),
        })
    }

    fn gemma3(mut self) -> Result<gemma3::Config> {
        let global = self.rope(Some("full_attention"))?.unwrap_or(1_000_000.0);
        let local = match self.map.get("rope_parameters") {
            Some(_) => self.rope(Some("sliding_attention"))?.unwrap_or(10_000.0),
            None => self.f64("rope_local_base_freq").unwrap_or(10_000.0),
        };
        self.map.insert("rope_theta".into(), json!(global));
        self.map.insert("rope_local_base_freq".into(), json!(local));
        let layers = self.usize("num_hidden_layers")?;
        let head_dim = self.usize("head_dim")?;
        if let Some(scalar) = self
            .map
            .get("query_pre_attn_scalar")
            .and_then(Value::as_u64)
        {
            // candle scales attention by 1/sqrt(head_dim) and ignores this.
            if scalar as usize != head_dim {
                return Err(self.bad(format!(
                    "query_pre_attn_scalar {scalar} differs from head_dim {head_dim}, which candle's gemma3 assumes"
                )));
            }
        }
        self.set_default("query_pre_attn_scalar", json!(head_dim));
        // candle-transformers 0.11.1's gemma3 appends a non-contiguous value
        // tensor to its full-attention KV cache, which fails ("slice-set only
        // supports contiguous tensors") on any multi-token prompt unless
        // there is a single KV head (gemma-3-270m, gemma-3-1b).
        let kv_heads = self.usize("num_key_value_heads")?;
        if kv_heads != 1 {
            return Err(self.bad(format!(
                "gemma3 with {kv_heads} KV heads is not supported yet (candle-transformers 0.11.1 \
                 handles only 1, as in gemma-3-270m and gemma-3-1b); use the GGUF build instead"
            )));
        }
        // candle makes layer i local when (i + 1) % pattern != 0; find the
        // pattern that reproduces `layer_types`.
        let pattern = match self.map.get("layer_types").and_then(Value::as_array) {
            Some(types) => {
                let local: Vec<bool> = types
                    .iter()
                    .map(|t| t.as_str() == Some("sliding_attention"))
                    .collect();
                (1..=layers + 1)
                    .find(|p| (0..layers).all(|i| local.get(i) == Some(&((i + 1) % p > 0))))
                    .ok_or_else(|| {
                        self.bad("`layer_types` is not a repeating local/global pattern".into())
                    })?
            }
            None => self
                .usize("sliding_window_pattern")
                .or_else(|_| self.usize("_sliding_window_pattern"))
                .unwrap_or(6),
        };
        self.map
            .insert("sliding_window_pattern".into(), json!(pattern));
        self.set_default("attention_bias", json!(false));
        self.set_default("final_logit_softcapping", Value::Null);
        self.set_default("attn_logit_softcapping", Value::Null);
        self.set_default("hidden_activation", json!("gelu_pytorch_tanh"));
        self.into_config()
    }

    fn qwen2(mut self) -> Result<qwen2::Config> {
        let theta = self.rope(None)?.unwrap_or(10_000.0);
        self.map.insert("rope_theta".into(), json!(theta));
        let max_pos = self.usize("max_position_embeddings")?;
        let sliding = self.flag("use_sliding_window").unwrap_or(false);
        if sliding {
            return Err(self.bad("use_sliding_window is not supported".into()));
        }
        // candle's qwen2 always applies `sliding_window` in its mask; with
        // sliding off, a window as long as the context is no window.
        self.map.insert("sliding_window".into(), json!(max_pos));
        self.map.insert("use_sliding_window".into(), json!(false));
        self.set_default("max_window_layers", json!(0));
        self.set_default("tie_word_embeddings", json!(false));
        self.set_default("hidden_act", json!("silu"));
        self.into_config()
    }

    fn qwen3(mut self) -> Result<qwen3::Config> {
        let theta = self.rope(None)?.unwrap_or(10_000.0);
        self.map.insert("rope_theta".into(), json!(theta));
        if self.flag("use_sliding_window").unwrap_or(false) {
            return Err(self.bad("use_sliding_window is not supported".into()));
        }
        self.set_default("use_sliding_window", json!(false));
        self.set_default("max_window_layers", json!(0));
        self.set_default("attention_bias", json!(false));
        self.set_default("tie_word_embeddings", json!(false));
        self.set_default("hidden_act", json!("silu"));
        self.into_config()
    }

    fn llama(mut self) -> Result<llama::Config> {
        // Llama 3 RoPE scaling is implemented by candle; other kinds are not.
        let params = self
            .map
            .get("rope_parameters")
            .or_else(|| self.map.get("rope_scaling"))
            .filter(|v| v.is_object())
            .cloned();
        let theta = match &params {
            Some(p) => {
                let kind = p
                    .get("rope_type")
                    .or_else(|| p.get("type"))
                    .and_then(Value::as_str);
                match kind {
                    None | Some("default") => {}
                    Some("llama3") => {
                        self.map.insert("rope_scaling".into(), p.clone());
                    }
                    Some(other) => {
                        return Err(self.bad(format!("RoPE scaling `{other}` is not supported")))
                    }
                }
                p.get("rope_theta").and_then(Value::as_f64)
            }
            None => None,
        };
        let theta = theta.or_else(|| self.f64("rope_theta")).unwrap_or(10_000.0);
        self.map.insert("rope_theta".into(), json!(theta));
        if self
            .map
            .get("rope_scaling")
            .is_some_and(|v| v.get("rope_type").and_then(Value::as_str) == Some("default"))
        {
            self.map.insert("rope_scaling".into(), Value::Null);
        }
        for flag in ["attention_bias", "mlp_bias"] {
            if self.flag(flag).unwrap_or(false) {
                return Err(self.bad(format!("`{flag}: true` is not supported")));
            }
        }
        let hidden = self.usize("hidden_size")?;
        let heads = self.usize("num_attention_heads")?;
        if let Ok(head_dim) = self.usize("head_dim") {
            if head_dim * heads != hidden {
                return Err(self.bad(format!(
                    "head_dim {head_dim} × {heads} heads ≠ hidden_size {hidden}, which candle's llama assumes"
                )));
            }
        }
        let cfg: llama::LlamaConfig = self.into_config()?;
        Ok(cfg.into_config(false))
    }

    fn marian(mut self) -> Result<m2m100::Config> {
        if self.flag("share_encoder_decoder_embeddings") == Some(false) {
            return Err(self.bad(
                "Marian models with separate encoder and decoder embeddings are not supported"
                    .into(),
            ));
        }
        if self.flag("normalize_before") == Some(true) {
            return Err(self.bad("pre-norm Marian models are not supported".into()));
        }
        let vocab = self.usize("vocab_size")?;
        if let Ok(decoder_vocab) = self.usize("decoder_vocab_size") {
            if decoder_vocab != vocab {
                return Err(self.bad(format!(
                    "decoder_vocab_size {decoder_vocab} differs from vocab_size {vocab}; \
                     separate target vocabularies are not supported"
                )));
            }
        }
        // transformers' MarianConfig defaults where M2M100Config's differ.
        let pad = self.usize("pad_token_id").unwrap_or(58_100);
        self.set_default("pad_token_id", json!(pad));
        self.set_default("eos_token_id", json!(0));
        self.set_default("decoder_start_token_id", json!(pad));
        self.set_default("activation_function", json!("gelu"));
        self.set_default("scale_embedding", json!(false));
        self.bart(Variant::Marian)
    }

    fn m2m100(self) -> Result<m2m100::Config> {
        self.bart(Variant::M2M100)
    }

    /// The config of our BART-style implementation ([`m2m100`]).
    fn bart(self, variant: Variant) -> Result<m2m100::Config> {
        let path = self.path.to_path_buf();
        let mut config: m2m100::Config = self.into_config()?;
        config.variant = variant;
        config.validate(&path)
    }

    fn t5(mut self) -> Result<t5::Config> {
        // transformers 5 writes `scale_decoder_outputs` and always
        // `tie_word_embeddings: true`; older configs mean "scale" by tying.
        let tie = self.flag("tie_word_embeddings").unwrap_or(true);
        let scale = self.flag("scale_decoder_outputs").unwrap_or(tie);
        self.map
            .insert("scale_decoder_outputs".into(), json!(scale));
        self.set_default("is_encoder_decoder", json!(true));
        self.set_default("pad_token_id", json!(0));
        self.set_default("eos_token_id", json!(1));
        self.into_config()
    }
}
