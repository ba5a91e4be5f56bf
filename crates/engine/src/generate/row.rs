//! One generation in progress: the sampler, the logits constraints
//! (repetition penalty, n-gram ban, suppressed ids) and the stop
//! conditions, shared by every decoding loop.

use std::time::Duration;

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};

use super::config::{Generation, GenerationConfig, StopReason};
use crate::Result;

/// One generation in progress: the sampler and the stop conditions. Both
/// [`super::generate`] and [`super::generate_many`] drive it, one logits vector at a time.
pub(crate) struct Row {
    pub(crate) sampler: LogitsProcessor,
    pub(crate) cfg: GenerationConfig,
    pub(crate) budget: usize,
    pub(crate) room: usize,
    pub(crate) stop: Vec<String>,
    pub(crate) tokens: Vec<u32>,
    /// The model's log-probability of each token chosen (and of the end
    /// token when it chose one), from its raw logits.
    pub(crate) logprobs: Vec<f32>,
    pub(crate) text: String,
    pub(crate) reason: Option<StopReason>,
    pub(crate) prompt_tokens: usize,
    pub(crate) prefilled: usize,
    pub(crate) prefill: Duration,
    pub(crate) decode: Duration,
}

impl Row {
    pub(crate) fn new(
        prompt_tokens: usize,
        room: usize,
        cfg: &GenerationConfig,
        cap: Option<usize>,
        stop: &[String],
    ) -> Self {
        let sampling = match cfg.temperature {
            None => Sampling::ArgMax,
            Some(temperature) => match cfg.top_p {
                Some(p) => Sampling::TopP { p, temperature },
                None => Sampling::All { temperature },
            },
        };
        Self {
            sampler: LogitsProcessor::from_sampling(cfg.seed, sampling),
            cfg: cfg.clone(),
            budget: budget(cap, cfg, room),
            room,
            stop: stop.to_vec(),
            tokens: Vec::new(),
            logprobs: Vec::new(),
            text: String::new(),
            reason: None,
            prompt_tokens,
            prefilled: prompt_tokens,
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
        }
    }

    /// Takes the logits after the last token and returns the next token to
    /// feed, or `None` when generation has ended (the reason is recorded).
    pub(crate) fn advance(
        &mut self,
        mut logits: Tensor,
        eos: &[u32],
        suppressed: &[u32],
        decode: impl Fn(&[u32]) -> tarjoman_models::Result<String>,
    ) -> Result<Option<u32>> {
        if self.tokens.len() >= self.budget {
            self.reason = Some(budget_reason(self.tokens.len(), &self.cfg, self.room));
            return Ok(None);
        }
        let raw = logits.clone();
        logits = constrain(&logits, &self.tokens, &self.cfg, suppressed)?;
        let next = self.sampler.sample(&logits)?;
        if eos.contains(&next) {
            self.logprobs.push(logprob(&raw, eos)?);
            self.reason = Some(StopReason::Eos);
            return Ok(None);
        }
        self.logprobs.push(logprob(&raw, &[next])?);
        self.tokens.push(next);
        self.text = decode(&self.tokens)?;
        if let Some(cut) = stop_at(&self.text, &self.stop) {
            self.text.truncate(cut);
            self.reason = Some(StopReason::StopString);
            return Ok(None);
        }
        Ok(Some(next))
    }

    pub(crate) fn finish(self) -> Generation {
        Generation {
            text: self.text,
            tokens: self.tokens,
            logprobs: self.logprobs,
            prompt_tokens: self.prompt_tokens,
            prefilled: self.prefilled,
            // `advance` always records a reason before it returns `None`.
            stop: self.reason.unwrap_or(StopReason::MaxTokens),
            prefill: self.prefill,
            decode: self.decode,
        }
    }
}

/// The log-probability that the model's next token is one of `tokens`
/// under `logits` (log-softmax at temperature 1): how sure the model
/// itself was, whatever the sampler and the constraints then did. Ending
/// counts as one event, whichever end token the model would use.
pub(crate) fn logprob(logits: &Tensor, tokens: &[u32]) -> Result<f32> {
    let values: Vec<f32> = logits.to_dtype(candle_core::DType::F32)?.to_vec1()?;
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return Ok(f32::NEG_INFINITY);
    }
    let mass = |v: f32| f64::from(v - max).exp();
    let chosen: f64 = tokens
        .iter()
        .filter_map(|&t| values.get(t as usize))
        .map(|&v| mass(v))
        .sum();
    let all: f64 = values.iter().map(|&v| mass(v)).sum();
    Ok((chosen.ln() - all.ln()) as f32)
}

/// The tokens that would complete an `n`-gram already present in `tokens`
/// (none when `n` is 0): every token that followed an earlier occurrence
/// of the last `n - 1` tokens.
pub(crate) fn repeated_ngram_completions(tokens: &[u32], n: usize) -> Vec<u32> {
    if n == 0 || tokens.len() < n {
        return Vec::new();
    }
    let tail = &tokens[tokens.len() + 1 - n..];
    tokens
        .windows(n)
        .filter(|w| &w[..n - 1] == tail)
        .map(|w| w[n - 1])
        .collect()
}

/// How many tokens a generation may add: the caller's cap, the
/// configuration's limit and the room left in the context, whichever is
/// smallest.
pub(crate) fn budget(cap: Option<usize>, cfg: &GenerationConfig, room: usize) -> usize {
    cap.unwrap_or(usize::MAX).min(cfg.max_new_tokens).min(room)
}

/// Why a generation of `len` tokens that used up its [`budget`] stopped.
pub(crate) fn budget_reason(len: usize, cfg: &GenerationConfig, room: usize) -> StopReason {
    if len >= cfg.max_new_tokens {
        StopReason::MaxTokens
    } else if len >= room {
        StopReason::ContextFull
    } else {
        StopReason::LengthCap
    }
}

/// Where the first of the `stop` strings starts in `text`.
pub(crate) fn stop_at(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

/// The logits after `cfg`'s repetition penalty over `tokens` (the output
/// so far), its n-gram ban and the `suppressed` ids: what greedy decoding,
/// sampling and beam search all choose from.
pub(crate) fn constrain(
    logits: &Tensor,
    tokens: &[u32],
    cfg: &GenerationConfig,
    suppressed: &[u32],
) -> Result<Tensor> {
    let mut logits = logits.clone();
    if cfg.repeat_penalty != 1.0 && !tokens.is_empty() {
        let from = tokens.len().saturating_sub(cfg.repeat_last_n);
        logits = candle_transformers::utils::apply_repeat_penalty(
            &logits,
            cfg.repeat_penalty,
            &tokens[from..],
        )?;
    }
    let banned = repeated_ngram_completions(tokens, cfg.no_repeat_ngram);
    if !suppressed.is_empty() || !banned.is_empty() {
        logits = suppress(&logits, &[suppressed, &banned[..]].concat())?;
    }
    Ok(logits)
}

/// Sets the logits of `ids` to -inf so no sampler picks them.
pub(crate) fn suppress(logits: &Tensor, ids: &[u32]) -> Result<Tensor> {
    let mut values: Vec<f32> = logits.to_dtype(candle_core::DType::F32)?.to_vec1()?;
    for &id in ids {
        if let Some(v) = values.get_mut(id as usize) {
            *v = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor::new(values, logits.device())?)
}
