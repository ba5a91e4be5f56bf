//! Decoder-only language models loaded from GGUF, behind one type the
//! generation loop drives.
//!
//! The fast path is [`crate::decoder::DecoderLm`] (preallocated, reusable KV
//! cache; quantized embeddings). candle-transformers' own quantized models
//! stay available as [`Backend::Reference`], the straightforward
//! implementation the fast one is tested against.

use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use candle_transformers::models::{
    quantized_gemma3, quantized_llama, quantized_qwen2, quantized_qwen3,
};
use tokenizers::Tokenizer;

use crate::decoder::{Arch, DecoderLm};
use crate::gguf::GgufFile;
use crate::{tokenizer, Error, Result};

/// Architectures this crate can run, as named by GGUF `general.architecture`.
pub const SUPPORTED: &str = "qwen2, qwen3, gemma3, llama";

/// The model family, which also decides details such as context limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Qwen2,
    Qwen3,
    Gemma3,
    Llama,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Qwen2 => "qwen2",
            Family::Qwen3 => "qwen3",
            Family::Gemma3 => "gemma3",
            Family::Llama => "llama",
        }
    }
}

/// Which implementation runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// tarjoman's decoder: reusable KV cache, prefix reuse, quantized
    /// embeddings.
    #[default]
    Fast,
    /// candle-transformers' `quantized_qwen2`, `quantized_qwen3`,
    /// `quantized_gemma3` and `quantized_llama`, as published (for equivalence tests and
    /// benchmarks; note that its gemma3 uses SiLU where Gemma 3 uses GELU).
    Reference,
}

enum Weights {
    Fast(Box<DecoderLm>),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
    Llama(quantized_llama::ModelWeights),
}

/// Facts about a loaded model, read from its GGUF metadata.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub family: Family,
    pub name: Option<String>,
    pub parameters: u64,
    pub context_length: usize,
    /// Token ids that end generation (the GGUF's EOS plus the chat
    /// template's end-of-turn tokens found in the vocabulary).
    pub eos_ids: Vec<u32>,
    pub bos_id: Option<u32>,
    pub add_bos: bool,
    /// `tokenizer.chat_template`, absent for base models.
    pub chat_template: Option<String>,
}

/// A loaded decoder-only model: weights plus tokenizer.
pub struct CausalLm {
    weights: Weights,
    /// Shared, so that prompt builders can tokenize while the model runs.
    pub tokenizer: Arc<Tokenizer>,
    pub info: ModelInfo,
    device: Device,
    /// Per slot, the tokens whose keys and values the model has cached, in
    /// order (slot 0 always exists; more with the fast backend only).
    histories: Vec<Vec<u32>>,
}

/// End-of-turn markers used by the chat templates we support.
const END_OF_TURN: &[&str] = &["<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<eos>"];

impl CausalLm {
    /// Loads a GGUF model. The tokenizer is built from the GGUF's own
    /// metadata (the same ids as the published `tokenizer.json` files, and
    /// faster than parsing them: `tests/gguf_tokenizers.rs`, BENCHMARKS.md);
    /// `tokenizer_json` is the fallback for a GGUF whose tokenizer cannot be
    /// built that way (no vocabulary, or a tokenizer model or pre-tokenizer
    /// we do not support).
    pub fn load(gguf_path: &Path, tokenizer_json: Option<&Path>) -> Result<Self> {
        Self::load_with(gguf_path, tokenizer_json, Backend::Fast)
    }

    /// [`CausalLm::load`] with a chosen implementation.
    pub fn load_with(
        gguf_path: &Path,
        tokenizer_json: Option<&Path>,
        backend: Backend,
    ) -> Result<Self> {
        let gguf = GgufFile::open(gguf_path)?;
        let path = gguf.path.clone();
        let arch = gguf.architecture()?.to_string();
        let family = match arch.as_str() {
            "qwen2" => Family::Qwen2,
            "qwen3" => Family::Qwen3,
            "gemma3" => Family::Gemma3,
            "llama" => Family::Llama,
            _ => {
                return Err(Error::UnsupportedArchitecture {
                    path,
                    arch,
                    supported: SUPPORTED,
                })
            }
        };
        let context_length = match family {
            // candle's quantized llama precomputes RoPE for 4,096 positions.
            Family::Llama => (gguf.u32("llama.context_length").unwrap_or(4096) as usize)
                .min(quantized_llama::MAX_SEQ_LEN),
            Family::Qwen2 => gguf.u32("qwen2.context_length")? as usize,
            Family::Qwen3 => gguf.u32("qwen3.context_length")? as usize,
            Family::Gemma3 => gguf.u32("gemma3.context_length").unwrap_or(32768) as usize,
        };
        let eos_ids: Vec<u32> = gguf
            .u32("tokenizer.ggml.eos_token_id")
            .ok()
            .into_iter()
            .collect();
        let bos_id = gguf.u32("tokenizer.ggml.bos_token_id").ok();
        let add_bos = match gguf.get("tokenizer.ggml.add_bos_token") {
            Some(v) => v.to_bool().unwrap_or(false),
            // Gemma and Llama-2 style SentencePiece models expect BOS.
            None => family == Family::Gemma3,
        };
        let mut info = ModelInfo {
            family,
            name: gguf.string("general.name").ok().map(str::to_string),
            parameters: gguf.parameter_count(),
            context_length,
            eos_ids,
            bos_id,
            add_bos,
            chat_template: gguf
                .string("tokenizer.chat_template")
                .ok()
                .map(str::to_string),
        };
        let build_tokenizer = || match (tokenizer::from_gguf(&gguf), tokenizer_json) {
            (Ok(built), _) => Ok(built),
            (Err(err), Some(json)) => {
                tracing::debug!("{err}; using {}", json.display());
                tokenizer::from_file(json)
            }
            (Err(err), None) => Err(err),
        };
        let weights_err = |source| Error::Weights {
            path: path.clone(),
            source,
        };
        let (tokenizer, weights) = match backend {
            // The weights are read on a second thread while this one builds
            // the tokenizer (0.4 s for Gemma 3's 262,144 pieces): a load
            // takes the longer of the two, not their sum. Not the other way
            // round: the build frees tens of MiB of small temporaries (half a
            // million merges as pairs of strings), and glibc keeps freed
            // memory in the arena of the thread that allocated it. In this
            // thread's arena the KV caches and activations allocated later
            // reuse it; in a second thread's it stayed unused (Gemma 3 270M
            // peaked 66 MiB higher in most runs, BENCHMARKS.md).
            Backend::Fast => {
                let arch = match family {
                    Family::Qwen2 => Arch::Qwen2,
                    Family::Qwen3 => Arch::Qwen3,
                    Family::Gemma3 => Arch::Gemma3,
                    Family::Llama => Arch::Llama,
                };
                let (tokenizer, weights) = std::thread::scope(|scope| {
                    let weights = scope.spawn(|| {
                        gguf.reopen().and_then(|mut reader| {
                            DecoderLm::from_gguf(arch, &gguf.content, &mut reader)
                                .map_err(weights_err)
                        })
                    });
                    let tokenizer = build_tokenizer();
                    let weights = weights
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (tokenizer, weights)
                });
                (tokenizer?, Weights::Fast(Box::new(weights?)))
            }
            Backend::Reference => {
                let tokenizer = build_tokenizer()?;
                let device = Device::Cpu;
                let (content, mut reader) = gguf.into_parts();
                let reader = &mut reader;
                let weights = match family {
                    Family::Qwen2 => Weights::Qwen2(
                        quantized_qwen2::ModelWeights::from_gguf(content, reader, &device)
                            .map_err(weights_err)?,
                    ),
                    Family::Qwen3 => Weights::Qwen3(
                        quantized_qwen3::ModelWeights::from_gguf(content, reader, &device)
                            .map_err(weights_err)?,
                    ),
                    Family::Gemma3 => Weights::Gemma3(
                        quantized_gemma3::ModelWeights::from_gguf(content, reader, &device)
                            .map_err(weights_err)?,
                    ),
                    Family::Llama => Weights::Llama(
                        quantized_llama::ModelWeights::from_gguf(content, reader, &device)
                            .map_err(weights_err)?,
                    ),
                };
                (tokenizer, weights)
            }
        };
        for marker in END_OF_TURN {
            if let Some(id) = tokenizer.token_to_id(marker) {
                if !info.eos_ids.contains(&id) {
                    info.eos_ids.push(id);
                }
            }
        }
        let device = Device::Cpu;
        Ok(Self {
            weights,
            tokenizer: Arc::new(tokenizer),
            info,
            device,
            histories: vec![Vec::new()],
        })
    }

    /// Runs `tokens` at positions `index_pos..` and returns the logits of the
    /// last position, a 1-D f32 tensor of vocabulary size. Cached positions
    /// from `index_pos` on are dropped first: `index_pos == 0` starts a new
    /// sequence, `index_pos == cached()` extends the cached one.
    pub fn forward(&mut self, tokens: &[u32], index_pos: usize) -> Result<Tensor> {
        self.forward_in(0, tokens, index_pos)
    }

    /// How many sequences can be decoded together ([`CausalLm::step_many`]):
    /// unlimited with the fast backend, 1 with candle's reference models.
    pub fn max_slots(&self) -> usize {
        match self.weights {
            Weights::Fast(_) => usize::MAX,
            _ => 1,
        }
    }

    /// Checks that this backend has `slot` and gives it a history.
    fn ensure_slot(&mut self, slot: usize) -> Result<()> {
        if slot >= self.max_slots() {
            return Err(Error::Input(format!(
                "slot {slot}: this backend runs one sequence at a time"
            )));
        }
        if self.histories.len() <= slot {
            self.histories.resize(slot + 1, Vec::new());
        }
        Ok(())
    }

    /// [`CausalLm::forward`] on the sequence of `slot`.
    pub fn forward_in(&mut self, slot: usize, tokens: &[u32], index_pos: usize) -> Result<Tensor> {
        self.ensure_slot(slot)?;
        let end = index_pos + tokens.len();
        if end > self.info.context_length {
            return Err(Error::ContextOverflow {
                tokens: end,
                context: self.info.context_length,
            });
        }
        let history = &mut self.histories[slot];
        if index_pos > history.len() {
            return Err(Error::CacheGap {
                position: index_pos,
                cached: history.len(),
            });
        }
        // Forget what this call replaces before running, so a failed call
        // never leaves the history claiming tokens the cache lacks.
        history.truncate(index_pos);
        let input = || Tensor::new(tokens, &self.device)?.unsqueeze(0);
        let logits = match &mut self.weights {
            Weights::Fast(m) => m.forward_in(slot, tokens, index_pos)?,
            Weights::Qwen2(m) => m.forward(&input()?, index_pos)?.squeeze(0)?,
            Weights::Qwen3(m) => {
                // Its cache is appended to, never truncated: a new
                // sequence starts from an empty one.
                if index_pos == 0 {
                    m.clear_kv_cache();
                }
                m.forward(&input()?, index_pos)?.squeeze(0)?
            }
            Weights::Gemma3(m) => m.forward(&input()?, index_pos)?.squeeze(0)?,
            Weights::Llama(m) => m.forward(&input()?, index_pos)?.squeeze(0)?,
        };
        self.histories[slot].extend_from_slice(tokens);
        Ok(logits.to_dtype(candle_core::DType::F32)?)
    }

    /// Appends one token to each of several slots' sequences in a single
    /// pass and returns each row's next-token logits, in order. With the
    /// fast backend the weights are read once for all rows; the reference
    /// backends take one row (slot 0) at a time.
    pub fn step_many(&mut self, rows: &[(usize, u32)]) -> Result<Vec<Tensor>> {
        for &(slot, _) in rows {
            self.ensure_slot(slot)?;
            let end = self.histories[slot].len() + 1;
            if end > self.info.context_length {
                return Err(Error::ContextOverflow {
                    tokens: end,
                    context: self.info.context_length,
                });
            }
        }
        match &mut self.weights {
            Weights::Fast(m) => {
                let logits = m.step_many(rows)?;
                for &(slot, token) in rows {
                    self.histories[slot].push(token);
                }
                let logits = logits.to_dtype(candle_core::DType::F32)?;
                Ok((0..rows.len())
                    .map(|r| logits.get(r))
                    .collect::<candle_core::Result<_>>()?)
            }
            _ => rows
                .iter()
                .map(|&(slot, token)| {
                    let pos = self.histories[slot].len();
                    self.forward_in(slot, &[token], pos)
                })
                .collect(),
        }
    }

    /// Makes slot `to` a copy of slot `from` (beam search forks a
    /// hypothesis); the fast backend only, like every slot but 0.
    pub fn copy_slot(&mut self, from: usize, to: usize) -> Result<()> {
        self.ensure_slot(from)?;
        self.ensure_slot(to)?;
        self.copy_prefix(from, to, self.histories[from].len())
    }

    /// Makes slot `to` hold the first `len` tokens of slot `from` (both
    /// ensured, `len` at most `from`'s history).
    fn copy_prefix(&mut self, from: usize, to: usize, len: usize) -> Result<()> {
        if from == to {
            return Ok(());
        }
        // Forget `to`'s history first, so a failed copy never leaves it
        // claiming tokens the cache lacks.
        self.histories[to].clear();
        if let Weights::Fast(m) = &mut self.weights {
            m.copy_prefix(from, to, len)?;
        }
        self.histories[to] = self.histories[from][..len].to_vec();
        Ok(())
    }

    /// Runs a whole prompt and returns the logits of its last position,
    /// reusing the cache for the longest prefix it shares with what was run
    /// before (the instructions and examples every translation prompt
    /// repeats). Returns the logits and how many tokens were computed.
    ///
    /// candle's reference models cannot drop part of their cache, so with
    /// [`Backend::Reference`] the whole prompt is always run.
    pub fn prefill(&mut self, prompt: &[u32]) -> Result<(Tensor, usize)> {
        self.prefill_in(0, prompt)
    }

    /// [`CausalLm::prefill`] on the sequence of `slot`.
    ///
    /// With the fast backend the prefix may come from another slot: when
    /// one holds at least [`MIN_BORROWED_PREFIX`] more of the prompt than
    /// `slot` does, its cached keys and values for that prefix are copied
    /// (a retry's attempts, or minimum Bayes risk candidates, share their
    /// whole prompt).
    pub fn prefill_in(&mut self, slot: usize, prompt: &[u32]) -> Result<(Tensor, usize)> {
        self.ensure_slot(slot)?;
        let (shared, from) = match self.weights {
            Weights::Fast(_) => {
                let own = common_prefix(&self.histories[slot], prompt);
                let (other, from) = (0..self.histories.len())
                    .filter(|&s| s != slot)
                    .map(|s| (common_prefix(&self.histories[s], prompt), s))
                    .max()
                    .unwrap_or((0, slot));
                match other >= own + MIN_BORROWED_PREFIX {
                    true => (other, from),
                    false => (own, slot),
                }
            }
            _ => (0, slot),
        };
        // At least the last token runs: its logits are the answer.
        let start = shared.min(prompt.len().saturating_sub(1));
        self.copy_prefix(from, slot, start)?;
        let logits = self.forward_in(slot, &prompt[start..], start)?;
        Ok((logits, prompt.len() - start))
    }

    /// Tokens whose keys and values are cached in slot 0.
    pub fn cached(&self) -> usize {
        self.cached_in(0)
    }

    /// Tokens whose keys and values are cached in `slot` (0 for a slot
    /// never used).
    pub fn cached_in(&self, slot: usize) -> usize {
        self.histories.get(slot).map_or(0, Vec::len)
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        tokenizer::encode(&self.tokenizer, text)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        tokenizer::decode(&self.tokenizer, ids)
    }
}

/// The fewest prompt tokens worth copying from another slot's cache rather
/// than computing: below this the copy (every layer's keys and values for
/// the whole prefix) saves too little.
pub const MIN_BORROWED_PREFIX: usize = 8;

/// Length of the longest common prefix of two token sequences.
fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
