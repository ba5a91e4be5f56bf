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
//! - [`m2m100`]: M2M100 / NLLB-200 encoder-decoder translation models from
//!   `config.json` and `model.safetensors`;
//! - [`gguf`]: opening and validating GGUF files so that a truncated or
//!   corrupt file is an error naming the file and tensor, never a panic.

pub mod causal;
pub mod embed;
mod error;
pub mod gguf;
pub mod m2m100;
pub mod tokenizer;

pub use error::{Error, Result};
