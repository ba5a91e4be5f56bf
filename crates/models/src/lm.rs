//! The one interface the generation loop drives, for every model kind:
//! GGUF decoder-only models ([`CausalLm`]), safetensors decoder-only models
//! ([`crate::dense::DenseLm`]) and encoder-decoder translation models
//! ([`crate::seq2seq::Seq2SeqLm`]).
//!
//! A model holds sequences in numbered slots. A slot is started from an
//! input (a decoder-only model's prompt, an encoder-decoder model's
//! source), then extended one token at a time; several slots can be
//! extended in one pass ([`Lm::step_many`]), which on a memory-bound CPU
//! costs little more than one.

use candle_core::Tensor;

use crate::causal::CausalLm;
use crate::Result;

/// A model that produces next-token logits, in slots `0..max_slots()`.
pub trait Lm {
    /// How many sequences can be held and decoded together.
    fn max_slots(&self) -> usize;
    /// How many tokens can be generated after an input of `input_len`
    /// tokens before the model runs out of positions.
    fn room(&self, input_len: usize) -> usize;
    /// Ids that end generation.
    fn eos_ids(&self) -> &[u32];
    /// Ids generation must never pick (e.g. Marian's pad token, which
    /// Marian checkpoints ban through `bad_words_ids`).
    fn suppressed_ids(&self) -> &[u32] {
        &[]
    }
    /// Starts the sequence of `slot` from `input` (a decoder-only model may
    /// reuse a cached prefix). Returns the logits (1-D f32, vocabulary
    /// size) of the first token to generate and how many input tokens were
    /// computed.
    fn prefill_in(&mut self, slot: usize, input: &[u32]) -> Result<(Tensor, usize)>;
    /// Appends `token` to the sequence of `slot`; returns the next logits.
    fn step(&mut self, slot: usize, token: u32) -> Result<Tensor>;
    /// Appends one token to each listed slot and returns each row's
    /// logits, in order. Models that can read their weights once for all
    /// rows override this; the default steps one row at a time.
    fn step_many(&mut self, rows: &[(usize, u32)]) -> Result<Vec<Tensor>> {
        rows.iter()
            .map(|&(slot, token)| self.step(slot, token))
            .collect()
    }
    /// Makes slot `to` a copy of slot `from` (beam search forks a
    /// hypothesis).
    fn copy_slot(&mut self, from: usize, to: usize) -> Result<()>;
    /// Detokenizes generated ids, skipping special tokens.
    fn decode(&self, ids: &[u32]) -> Result<String>;
}

/// The error for a slot a model does not have.
pub(crate) fn no_slot(slot: usize, max: usize) -> crate::Error {
    crate::Error::Input(format!(
        "slot {slot}: this model holds {max} sequence{} at a time",
        if max == 1 { "" } else { "s" }
    ))
}

impl Lm for CausalLm {
    fn max_slots(&self) -> usize {
        CausalLm::max_slots(self)
    }

    fn room(&self, input_len: usize) -> usize {
        self.info.context_length.saturating_sub(input_len)
    }

    fn eos_ids(&self) -> &[u32] {
        &self.info.eos_ids
    }

    /// Reuses the cached prefix the prompt shares with a slot's sequence.
    fn prefill_in(&mut self, slot: usize, input: &[u32]) -> Result<(Tensor, usize)> {
        CausalLm::prefill_in(self, slot, input)
    }

    fn step(&mut self, slot: usize, token: u32) -> Result<Tensor> {
        let pos = self.cached_in(slot);
        self.forward_in(slot, &[token], pos)
    }

    fn step_many(&mut self, rows: &[(usize, u32)]) -> Result<Vec<Tensor>> {
        CausalLm::step_many(self, rows)
    }

    fn copy_slot(&mut self, from: usize, to: usize) -> Result<()> {
        CausalLm::copy_slot(self, from, to)
    }

    fn decode(&self, ids: &[u32]) -> Result<String> {
        CausalLm::decode(self, ids)
    }
}
