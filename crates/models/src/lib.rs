//! Loading tarjoman's models with candle.
//!
//! Finding model files (the manifest, downloads, checksums) is the job of
//! `tarjoman-registry`; this crate takes paths that already exist and turns
//! them into runnable models, and never touches the network:
//!
//! - [`causal`]: decoder-only language models from a GGUF file (qwen2,
//!   gemma3, llama), behind one [`causal::CausalLm`] type;
//! - [`tokenizer`]: a `tokenizer.json`, or a tokenizer built from a GGUF's own
//!   `tokenizer.ggml.*` metadata;
//! - [`embed`]: BERT sentence embeddings (all-MiniLM-L6-v2) for extractive
//!   summaries;
//! - [`config`], [`dense`], [`seq2seq`]: checkpoints from `config.json` +
//!   safetensors: decoder-only gemma3, qwen2, qwen3, llama ([`dense::DenseLm`])
//!   and encoder-decoder Marian, M2M100 / NLLB and T5
//!   ([`seq2seq::Seq2SeqLm`]), validated tensor by tensor first ([`weights`]);
//! - [`lm`]: the [`lm::Lm`] trait the generation loop drives, for every
//!   model (sequences in slots, decoded one token per slot per step);
//! - [`m2m100`]: the BART-style encoder-decoder network of M2M100 / NLLB-200
//!   and Marian (OPUS-MT), with padding masks;
//! - [`gguf`]: opening and validating GGUF files so that a truncated or
//!   corrupt file is an error naming the file and tensor, never a panic;
//! - [`decoder`]: the quantized decoder-only transformer behind
//!   [`causal::CausalLm`]'s fast path, and `kernels`, the hand-written
//!   AVX-512 kernels it runs ([`kquants`] among them).
//!
//! `unsafe` code is denied crate-wide. It is allowed in `kernels` (SIMD
//! intrinsics behind CPU feature checks) and, item by item, where it
//! cannot be avoided: the thread pool's disjoint writes (`parallel`) and
//! the memory maps of safetensors files ([`weights`]). Every `unsafe`
//! block, impl and function says why it is sound in a `SAFETY:` comment.

#![deny(unsafe_code)]

pub mod causal;
pub mod config;
pub mod decoder;
pub mod dense;
pub mod embed;
mod error;
pub mod gguf;
#[allow(unsafe_code)]
mod kernels;
pub mod lm;
pub mod m2m100;
mod parallel;
pub mod seq2seq;
pub mod t5;
pub mod tokenizer;
pub mod weights;

pub use error::{Error, Result};
/// Matrix products with Q4_K, Q6_K, Q5_0 and Q8_0 weights (in `kernels`).
pub use kernels::kquants;

/// Threads candle's CPU kernels use (`RAYON_NUM_THREADS`, else one per
/// core).
pub fn cpu_threads() -> usize {
    candle_core::utils::get_num_threads()
}
