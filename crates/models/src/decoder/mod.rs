//! One quantized decoder-only transformer for the GGUF families we run
//! (qwen2, qwen3, llama, gemma3), written for how translation uses a model.
//!
//! It started from candle-transformers' `quantized_qwen2`, `quantized_llama`
//! and `quantized_gemma3` (same weights, same candle kernels; Qwen3 is
//! Qwen2 without q/k/v biases, with Gemma-style per-head q/k norms) and changes
//! what the profile and the reference implementations called for:
//!
//! - **A preallocated KV cache** written in place, instead of concatenating
//!   the whole cache at every step (candle's decode slowed from 13.6 to 7.2
//!   tok/s between 88 and 1,309 tokens of context because of it). It can be
//!   truncated, so a prompt that shares a prefix with the previous one (the
//!   instructions and worked examples of every translation prompt) only
//!   prefills what is new: see [`DecoderLm::forward`].
//! - **Grouped-query attention without copies**: query heads are grouped by
//!   their KV head, so K and V are never repeated.
//! - **Token embeddings stay quantized**: rows are dequantized when looked
//!   up. candle dequantizes the whole table to f32 (0.9 GiB for Qwen2.5's
//!   151,936 x 1,536), which tripled the resident memory.
//! - **RoPE tables sized to the cache**, grown with it, instead of tables for
//!   the full 32k-128k context.
//! - **Gemma 3 as trained**: a GELU (tanh) feed-forward, as in Hugging Face's
//!   `Gemma3MLP` and llama.cpp (candle 0.11.1's quantized gemma3 uses SiLU),
//!   sliding-window layers masked in decode too, and a correct mask when a
//!   prompt is prefilled after cached tokens.
//!
//! The code lies by concern: `config` (the architecture's shape), `layer`
//! (the weights), `loader` (reading them from a GGUF), `cache` and `slots`
//! (KV caches and the sequences that own them), `model` (the model and its
//! forward passes), `block` (one transformer block's norms, projections
//! and feed-forward) and `attention` (RoPE and attention over the cache).
//! The SIMD kernels it runs are in `crate::kernels`.

mod attention;
mod block;
mod cache;
mod config;
mod layer;
mod loader;
mod model;
mod slots;

pub use config::Arch;
pub use model::DecoderLm;
