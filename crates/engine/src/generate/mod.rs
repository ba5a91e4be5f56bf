//! The one generation loop every pipeline uses: prefill the prompt (or
//! encode the source), then decode token by token until a stop condition,
//! which is reported. It drives any model through [`tarjoman_models::lm::Lm`]:
//! GGUF models, safetensors decoder-only models and encoder-decoder
//! translation models alike.
//!
//! - [`config`]: decoding settings and results;
//! - `row`: one generation in progress (sampling, constraints, stops);
//! - [`many`]: [`generate`] and continuous batching ([`generate_many`]);
//! - [`beam`]: beam search ([`beam_search`], [`generate_beam`]).

pub mod beam;
pub mod config;
pub mod many;
mod row;
#[cfg(test)]
mod tests;

pub use beam::{beam_search, generate_beam};
pub use config::{Generation, GenerationConfig, StopReason};
pub use many::{generate, generate_many, Job, JobSource};
pub(crate) use row::logprob;
