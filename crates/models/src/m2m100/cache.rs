//! What encoding leaves for decoding ([`EncoderOutput`]) and the decoder's
//! keys and values so far ([`DecoderCache`], a [`LayerCache`] per layer).

use candle_core::Tensor;

use crate::{Error, Result};

/// Encoder states for a batch of sources, with their padding.
pub struct EncoderOutput {
    pub(super) hidden: Tensor,
    pub(super) mask: Tensor,
    pub(super) bias: Tensor,
}

impl EncoderOutput {
    /// Final encoder states, (batch, source_len, d_model); rows past a
    /// source's length are padding.
    pub fn hidden(&self) -> &Tensor {
        &self.hidden
    }

    /// (batch, source_len) u8: 1 for a real token, 0 for padding.
    pub fn mask(&self) -> &Tensor {
        &self.mask
    }

    pub fn batch_size(&self) -> usize {
        self.hidden.dims().first().copied().unwrap_or(0)
    }
}

/// One decoder layer's keys and values: its own so far, and the
/// encoder states'.
#[derive(Clone)]
pub(super) struct LayerCache {
    pub(super) self_kv: Option<(Tensor, Tensor)>,
    pub(super) cross_kv: (Tensor, Tensor),
}

/// Decoder state for one batch of sources: self-attention keys and values
/// of the tokens decoded so far, and the cross-attention keys and values
/// computed once from the encoder states.
#[derive(Clone)]
pub struct DecoderCache {
    pub(super) layers: Vec<LayerCache>,
    pub(super) cross_bias: Tensor,
    pub(super) batch: usize,
    pub(super) len: usize,
}

impl DecoderCache {
    /// Number of decoder tokens already in the cache.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the rows `rows` of the batch, in that order (repeats allowed):
    /// what beam search needs after choosing which hypotheses go on, and
    /// what dropping finished rows needs.
    pub fn select_rows(&mut self, rows: &[u32]) -> Result<()> {
        if let Some(&bad) = rows.iter().find(|&&r| r as usize >= self.batch) {
            return Err(Error::Input(format!(
                "row {bad} selected from a batch of {}",
                self.batch
            )));
        }
        let index = Tensor::new(rows, self.cross_bias.device())?;
        let pick = |t: &Tensor| t.index_select(&index, 0);
        for layer in &mut self.layers {
            if let Some((k, v)) = &layer.self_kv {
                layer.self_kv = Some((pick(k)?, pick(v)?));
            }
            let (k, v) = &layer.cross_kv;
            layer.cross_kv = (pick(k)?, pick(v)?);
        }
        self.cross_bias = pick(&self.cross_bias)?;
        self.batch = rows.len();
        Ok(())
    }
}
