//! The model ([`DecoderLm`]) and its forward passes: a prompt into one
//! slot, and one decoding step over several slots; with the additive
//! masks candle's attention takes (`TARJOMAN_KERNELS=candle`), where
//! tarjoman's own attention skips hidden positions instead.

use std::sync::Arc;

use candle_core::quantized::QTensor;
use candle_core::{Device, Module, Tensor};

use super::cache::Sequence;
use super::config::Config;
use super::layer::{Layer, Linear, Rope};

/// A quantized decoder-only language model with reusable KV caches.
///
/// It keeps one sequence per *slot*. Slot 0 is what [`DecoderLm::forward`]
/// runs; [`DecoderLm::forward_in`] prefills any slot, and
/// [`DecoderLm::step_many`] decodes one token in each of several slots with
/// a single pass through the weights, which is where batching pays on a CPU:
/// decoding one token reads every weight once for a single row of
/// activations, so the matrix products are bound by memory bandwidth, and
/// four rows cost little more than one.
pub struct DecoderLm {
    pub(super) cfg: Config,
    pub(super) embeddings: Arc<QTensor>,
    pub(super) layers: Vec<Layer>,
    pub(super) norm: Tensor,
    pub(super) output: Linear,
    pub(super) ropes: Vec<Rope>,
    pub(super) seqs: Vec<Sequence>,
    /// See `own_kernels` (in `layer`), read once at load.
    pub(super) own_kernels: bool,
}

impl DecoderLm {
    /// Runs `tokens` at positions `index_pos..` and returns the logits of the
    /// last one (`[vocab]`, f32). Cached positions from `index_pos` on are
    /// forgotten first, so `index_pos == 0` starts a new sequence and any
    /// `index_pos <= cached()` continues after a shared prefix.
    pub fn forward(&mut self, tokens: &[u32], index_pos: usize) -> candle_core::Result<Tensor> {
        self.forward_in(0, tokens, index_pos)
    }

    /// [`DecoderLm::forward`] on the sequence of `slot`; a slot past the
    /// last one used starts empty (slots are created as needed).
    pub fn forward_in(
        &mut self,
        slot: usize,
        tokens: &[u32],
        index_pos: usize,
    ) -> candle_core::Result<Tensor> {
        if tokens.is_empty() {
            candle_core::bail!("no tokens to run");
        }
        while self.seqs.len() <= slot {
            // Extra slots start small: translation prompts are short.
            self.add_sequence(0)?;
        }
        let cached = self.seqs[slot].len;
        if index_pos > cached {
            candle_core::bail!("position {index_pos} is past the {cached} cached tokens");
        }
        let end = index_pos + tokens.len();
        if end > self.cfg.context_length {
            candle_core::bail!(
                "{end} tokens exceed the context of {}",
                self.cfg.context_length
            );
        }
        self.seqs[slot].len = index_pos;
        self.reserve(slot, end)?;
        let seq = tokens.len();
        let mut x = self.embed(tokens)?;
        // One mask per forward for global layers and one for windowed
        // layers, shared by every layer of its kind; none for our own
        // attention, which skips the hidden positions instead.
        let window = self.layers.iter().find_map(|l| l.window);
        let (global_mask, window_mask) = if self.own_kernels {
            (None, None)
        } else {
            (
                mask(seq, index_pos, None)?,
                window
                    .map(|w| mask(seq, index_pos, Some(w)))
                    .transpose()?
                    .flatten(),
            )
        };
        let seq_state = &self.seqs[slot];
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_mask = match layer.window {
                Some(_) => window_mask.as_ref(),
                None => global_mask.as_ref(),
            };
            x = self.block(layer, &x, |h| {
                let (q, k, v) = self.project(layer, h)?;
                let y = self.attend(
                    layer,
                    &seq_state.cache[i],
                    &q,
                    &k,
                    &v,
                    index_pos,
                    layer_mask,
                )?;
                layer.wo.forward(&y)
            })?;
        }
        self.seqs[slot].len = end;
        let last = x.narrow(0, seq - 1, 1)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, self.cfg.eps as f32)?;
        self.output.forward(&last)?.squeeze(0)
    }

    /// Decodes one token in each of several slots in one pass: `rows` pairs
    /// a slot with the token to append to it (each slot at most once), and
    /// the result is `[rows.len(), vocab]` logits, row by row. The matrix
    /// products run on all rows together; attention runs per row on its own
    /// cache, so rows at different positions never need padding or masks.
    pub fn step_many(&mut self, rows: &[(usize, u32)]) -> candle_core::Result<Tensor> {
        if rows.is_empty() {
            candle_core::bail!("no rows to run");
        }
        for (n, &(slot, _)) in rows.iter().enumerate() {
            if slot >= self.seqs.len() || self.seqs[slot].len == 0 {
                candle_core::bail!("slot {slot} has no prompt to continue");
            }
            if rows[..n].iter().any(|&(s, _)| s == slot) {
                candle_core::bail!("slot {slot} appears twice in one step");
            }
            let end = self.seqs[slot].len + 1;
            if end > self.cfg.context_length {
                candle_core::bail!(
                    "{end} tokens exceed the context of {}",
                    self.cfg.context_length
                );
            }
            self.reserve(slot, end)?;
        }
        let tokens: Vec<u32> = rows.iter().map(|&(_, t)| t).collect();
        let positions: Vec<usize> = rows.iter().map(|&(s, _)| self.seqs[s].len).collect();
        let mut x = self.embed(&tokens)?;
        // A single query needs a mask only on windowed layers, and not at
        // all in our own attention.
        let window = self.layers.iter().find_map(|l| l.window);
        let window_masks = positions
            .iter()
            .map(|&p| match window {
                Some(w) if !self.own_kernels => mask(1, p, Some(w)),
                _ => Ok(None),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        for (i, layer) in self.layers.iter().enumerate() {
            x = self.block(layer, &x, |h| {
                let (q, k, v) = self.project(layer, h)?;
                let mut ys = Vec::with_capacity(rows.len());
                for (r, &(slot, _)) in rows.iter().enumerate() {
                    let layer_mask = match layer.window {
                        Some(_) => window_masks[r].as_ref(),
                        None => None,
                    };
                    ys.push(self.attend(
                        layer,
                        &self.seqs[slot].cache[i],
                        &q.narrow(0, r, 1)?,
                        &k.narrow(0, r, 1)?,
                        &v.narrow(0, r, 1)?,
                        positions[r],
                        layer_mask,
                    )?);
                }
                layer.wo.forward(&Tensor::cat(&ys, 0)?)
            })?;
        }
        for &(slot, _) in rows {
            self.seqs[slot].len += 1;
        }
        let x = candle_nn::ops::rms_norm(&x, &self.norm, self.cfg.eps as f32)?;
        self.output.forward(&x)
    }
}

/// The additive attention mask for `seq` queries at positions
/// `index_pos..` over keys `0..index_pos + seq`: 0 where a query may look,
/// -inf in its future and (with a window) beyond `window - 1` tokens back.
/// `None` when nothing is masked.
fn mask(
    seq: usize,
    index_pos: usize,
    window: Option<usize>,
) -> candle_core::Result<Option<Tensor>> {
    let total = index_pos + seq;
    let windowed = window.is_some_and(|w| total > w);
    if seq == 1 && !windowed {
        return Ok(None);
    }
    let mut m = vec![0f32; seq * total];
    for i in 0..seq {
        let p = index_pos + i;
        for (j, cell) in m[i * total..(i + 1) * total].iter_mut().enumerate() {
            let future = j > p;
            let too_old = window.is_some_and(|w| p >= j + w);
            if future || too_old {
                *cell = f32::NEG_INFINITY;
            }
        }
    }
    Tensor::from_vec(m, (seq, total), &Device::Cpu).map(Some)
}
