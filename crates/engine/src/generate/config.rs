//! Decoding settings and what one generation call returns.

use std::time::Duration;

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
    /// Forbids any run of this many generated tokens from appearing twice
    /// (0 = off): the next token may not complete an n-gram the output
    /// already holds. Stops loops outright where a penalty only discourages
    /// them, but also forbids legitimate repeats ("the ... of the ...") for
    /// small n.
    pub no_repeat_ngram: usize,
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
            no_repeat_ngram: 0,
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
    /// The model's log-probability of each chosen token, and of the end
    /// token when generation ended on one (empty for beam search).
    pub logprobs: Vec<f32>,
    pub prompt_tokens: usize,
    /// Prompt tokens actually computed: the rest were cached from the
    /// previous call's prompt.
    pub prefilled: usize,
    pub stop: StopReason,
    pub prefill: Duration,
    pub decode: Duration,
}
