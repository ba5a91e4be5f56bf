//! The model options every command that runs a language model shares
//! (`--model`, sampling, repetition penalties).

use tarjoman_engine::generate::GenerationConfig;

/// Options shared by the commands that run a language model.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// A model name from `tarjoman models list`, or a path to a GGUF file.
    /// Default: the manifest's default model. `translate` and `eval run` also
    /// take a directory with an encoder-decoder translation model
    /// (config.json, model.safetensors, tokenizer.json): OPUS-MT (Marian),
    /// NLLB-200 / M2M100 (Persian `pes_Arab` or `__fa__` to English) or
    /// MADLAD-400 (T5, given `<2en>`); it translates each sentence directly,
    /// without prompts, so --shots, --glossary, --system-prompt, context
    /// and retries are refused (--batch, --beams and --mbr work). A
    /// directory with a gemma3, qwen2, qwen3 or llama checkpoint is prompted
    /// like a GGUF model, in full precision (slow).
    #[arg(short, long, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// Sample at this temperature instead of greedy decoding.
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,

    /// Nucleus sampling threshold (with --temperature).
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,

    /// Random seed for sampling, for reproducible runs.
    #[arg(long, default_value_t = GenerationConfig::default().seed)]
    pub seed: u64,

    /// Penalize recently generated tokens (1.0 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,

    /// Never repeat a run of N generated tokens (0 = off): a token that
    /// would complete an N-token sequence already in the output is banned.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub no_repeat_ngram: usize,
}

impl ModelArgs {
    pub fn generation(&self) -> GenerationConfig {
        GenerationConfig {
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            repeat_penalty: self.repeat_penalty,
            no_repeat_ngram: self.no_repeat_ngram,
            ..GenerationConfig::default()
        }
    }
}
