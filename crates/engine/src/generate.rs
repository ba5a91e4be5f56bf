//! The one generation loop every pipeline uses: prefill the prompt (or
//! encode the source), then decode token by token until a stop condition,
//! which is reported. It drives any [`Decoder`]: GGUF models
//! (`CausalLm::decoder()`), safetensors decoder-only models and
//! encoder-decoder translation models alike.

use std::time::{Duration, Instant};

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tarjoman_models::lm::Decoder;

use crate::Result;

/// Decoding settings. The default is greedy decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// Hard limit on generated tokens per call.
    pub max_new_tokens: usize,
    /// `None` is greedy decoding; `Some(t)` samples at temperature `t`.
    pub temperature: Option<f64>,
    /// Nucleus sampling threshold, used when sampling.
    pub top_p: Option<f64>,
    /// Seed for sampling, so sampled runs are reproducible.
    pub seed: u64,
    /// Penalty on tokens seen in the last `repeat_last_n` tokens (1.0 = off).
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 512,
            temperature: None,
            top_p: None,
            seed: 299_792_458,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-sequence or end-of-turn token.
    Eos,
    /// A stop string of the prompt format appeared in the output.
    StopString,
    /// `max_new_tokens` was reached.
    MaxTokens,
    /// The caller's per-call length cap (e.g. relative to the source) was reached.
    LengthCap,
    /// The model's context window is full.
    ContextFull,
}

/// The result of one generation call.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The generated text, up to (not including) any stop string.
    pub text: String,
    pub tokens: Vec<u32>,
    pub prompt_tokens: usize,
    /// Prompt tokens actually computed: the rest were cached from the
    /// previous call's prompt.
    pub prefilled: usize,
    pub stop: StopReason,
    pub prefill: Duration,
    pub decode: Duration,
}

/// Generates a continuation of `prompt` (for an encoder-decoder model: a
/// translation of the source `prompt`).
///
/// `cap` limits this call's new tokens below `cfg.max_new_tokens` (reported
/// as [`StopReason::LengthCap`]); `stop` strings end the answer and are cut
/// from the text.
pub fn generate(
    lm: &mut dyn Decoder,
    prompt: &[u32],
    cfg: &GenerationConfig,
    cap: Option<usize>,
    stop: &[String],
) -> Result<Generation> {
    let sampling = match cfg.temperature {
        None => Sampling::ArgMax,
        Some(temperature) => match cfg.top_p {
            Some(p) => Sampling::TopP { p, temperature },
            None => Sampling::All { temperature },
        },
    };
    let mut sampler = LogitsProcessor::from_sampling(cfg.seed, sampling);
    let room = lm.room(prompt.len());
    let budget = cap.unwrap_or(usize::MAX).min(cfg.max_new_tokens).min(room);
    let suppressed = lm.suppressed_ids().to_vec();

    let start = Instant::now();
    let mut logits = lm.start(prompt)?;
    let prefilled = lm.prefilled().unwrap_or(prompt.len());
    let prefill = start.elapsed();
    let start = Instant::now();

    let mut tokens: Vec<u32> = Vec::new();
    let mut text = String::new();
    let reason = loop {
        if tokens.len() >= budget {
            break if tokens.len() >= cfg.max_new_tokens {
                StopReason::MaxTokens
            } else if tokens.len() >= room {
                StopReason::ContextFull
            } else {
                StopReason::LengthCap
            };
        }
        if cfg.repeat_penalty != 1.0 && !tokens.is_empty() {
            let from = tokens.len().saturating_sub(cfg.repeat_last_n);
            logits = candle_transformers::utils::apply_repeat_penalty(
                &logits,
                cfg.repeat_penalty,
                &tokens[from..],
            )?;
        }
        if !suppressed.is_empty() {
            logits = suppress(&logits, &suppressed)?;
        }
        let next = sampler.sample(&logits)?;
        if lm.eos_ids().contains(&next) {
            break StopReason::Eos;
        }
        tokens.push(next);
        text = lm.decode(&tokens)?;
        if let Some(cut) = stop.iter().filter_map(|s| text.find(s.as_str())).min() {
            text.truncate(cut);
            break StopReason::StopString;
        }
        logits = lm.step(next)?;
    };
    Ok(Generation {
        text,
        tokens,
        prompt_tokens: prompt.len(),
        prefilled,
        stop: reason,
        prefill,
        decode: start.elapsed(),
    })
}

/// Sets the logits of `ids` to -inf so no sampler picks them.
fn suppress(logits: &Tensor, ids: &[u32]) -> Result<Tensor> {
    let mut values: Vec<f32> = logits.to_dtype(candle_core::DType::F32)?.to_vec1()?;
    for &id in ids {
        if let Some(v) = values.get_mut(id as usize) {
            *v = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor::new(values, logits.device())?)
}
