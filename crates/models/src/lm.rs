//! The interface the generation loop drives, shared by every family:
//! decoder-only models continue a prompt, encoder-decoder models decode
//! from a source sentence.

use candle_core::Tensor;

use crate::causal::CausalLm;
use crate::Result;

/// A model that produces next-token logits one token at a time.
pub trait Decoder {
    /// Starts a new sequence (clearing any cache) from `input`: a
    /// decoder-only model's prompt, or an encoder-decoder model's source.
    /// Returns the logits (1-D f32, vocabulary size) of the first token to
    /// generate.
    fn start(&mut self, input: &[u32]) -> Result<Tensor>;
    /// Appends `token` to the sequence and returns the next logits.
    fn step(&mut self, token: u32) -> Result<Tensor>;
    /// How many tokens can be generated after an input of `input_len`
    /// tokens before the model runs out of positions.
    fn room(&self, input_len: usize) -> usize;
    /// How many input tokens the last [`Decoder::start`] computed, when the
    /// model reused a cached prefix (`None`: all of them).
    fn prefilled(&self) -> Option<usize> {
        None
    }
    /// Ids that end generation.
    fn eos_ids(&self) -> &[u32];
    /// Ids generation must never pick (e.g. Marian's pad token, which
    /// Marian checkpoints ban through `bad_words_ids`).
    fn suppressed_ids(&self) -> &[u32] {
        &[]
    }
    /// Detokenizes generated ids, skipping special tokens.
    fn decode(&self, ids: &[u32]) -> Result<String>;
}

/// A [`CausalLm`] driven through [`Decoder`]: tracks the position that
/// `CausalLm::forward` takes.
pub struct CausalDecoder<'a> {
    lm: &'a mut CausalLm,
    pos: usize,
    prefilled: usize,
}

impl CausalLm {
    /// This model as a [`Decoder`].
    pub fn decoder(&mut self) -> CausalDecoder<'_> {
        CausalDecoder {
            lm: self,
            pos: 0,
            prefilled: 0,
        }
    }
}

impl Decoder for CausalDecoder<'_> {
    /// Reuses the cached prefix the prompt shares with the previous one.
    fn start(&mut self, input: &[u32]) -> Result<Tensor> {
        let (logits, computed) = self.lm.prefill(input)?;
        self.pos = input.len();
        self.prefilled = computed;
        Ok(logits)
    }

    fn prefilled(&self) -> Option<usize> {
        Some(self.prefilled)
    }

    fn step(&mut self, token: u32) -> Result<Tensor> {
        let logits = self.lm.forward(&[token], self.pos)?;
        self.pos += 1;
        Ok(logits)
    }

    fn room(&self, input_len: usize) -> usize {
        self.lm.info.context_length.saturating_sub(input_len)
    }

    fn eos_ids(&self) -> &[u32] {
        &self.lm.info.eos_ids
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        self.lm.decode(ids)
    }
}
