//! BART-style encoder-decoder translation models on candle-nn: M2M100 /
//! NLLB-200, and Marian (OPUS-MT), which differ only in the details listed
//! below ([`Variant`]).
//!
//! candle-transformers has no M2M100 (candle issue #3024 asks for one), so
//! this is a port of Hugging Face transformers' `modeling_m2m_100.py`
//! (`M2M100ForConditionalGeneration`), which NLLB-200 checkpoints also use:
//!
//! - token embeddings shared by encoder, decoder and (tied) LM head, scaled by
//!   `sqrt(d_model)` when `scale_embedding`;
//! - fixed sinusoidal positions (tensor2tensor layout: all sines, then all
//!   cosines) whose ids come from the token ids as in fairseq: padding keeps
//!   position `pad_token_id` (a zero row), real tokens count up from
//!   `pad_token_id + 1`, offset by the decoder's cached length;
//! - pre-norm layers (layer norm, sub-layer, residual) and a final layer norm
//!   after each stack;
//! - generation starts from `decoder_start_token_id` (`</s>`), and the target
//!   language code is forced as the first generated token.
//!
//! Marian (`modeling_marian.py`, `MarianMTModel`) is the same network with
//! post-norm layers (sub-layer, residual, layer norm), no layer norm after
//! either stack, sinusoidal positions `0..len` computed in f64 (sines of
//! `pos / 10000^(2i/d)`, then the cosines) counted from the decoder's cached
//! length rather than from the token ids, `final_logits_bias` added to the
//! LM head's output, and generation starting from the pad token. candle's
//! own Marian takes no encoder padding mask, which is why Marian runs here.
//!
//! NLLB's tokenizer (non-legacy mode) writes a source as
//! `[src_lang] tokens </s>`: see [`source_ids`] and [`lang_code_id`].
//!
//! Encoder outputs keep a padding mask, so a right-padded batch gives every
//! row the result it gets alone; the decoder caches self-attention keys and
//! values per step and cross-attention keys and values once per source.
//!
//! The code lies by concern: `config` (`config.json` and [`Variant`]),
//! `tensors` (the checkpoint's tensors by name), `layers` (attention,
//! feed-forward and the encoder and decoder layers), `cache` (encoder
//! output and decoder cache), `model` ([`M2M100`]: loading, embeddings,
//! encoding, decoding), `generate` (greedy decoding) and `ids` (language
//! codes and source ids).

mod cache;
mod config;
mod generate;
mod ids;
mod layers;
mod model;
mod tensors;

pub use cache::{DecoderCache, EncoderOutput};
pub use config::{Config, Variant};
pub use ids::{lang_code_id, source_ids};
pub use model::M2M100;
