//! One transformer block of a [`DecoderLm`]: norms, the attention's
//! projections, the gated feed-forward; and the token embeddings.

use std::borrow::Cow;

use candle_core::quantized::{QStorage, QTensor};
use candle_core::{Device, Module, Tensor, D};

use super::config::Arch;
use super::layer::{Layer, Linear};
use super::model::DecoderLm;
use crate::kernels::activation::{gated, gated_runs};

impl DecoderLm {
    /// One transformer block around `attention` (which maps the normalized
    /// input to the attention output, `wo` included).
    pub(super) fn block(
        &self,
        layer: &Layer,
        x: &Tensor,
        attention: impl FnOnce(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Tensor> {
        let h = candle_nn::ops::rms_norm(x, &layer.attn_norm, self.cfg.eps as f32)?;
        let h = attention(&h)?;
        let h = match &layer.post_norms {
            Some((post_attn, _)) => candle_nn::ops::rms_norm(&h, post_attn, self.cfg.eps as f32)?,
            None => h,
        };
        let x1 = (h + x)?;
        let h = candle_nn::ops::rms_norm(&x1, &layer.ffn_norm, self.cfg.eps as f32)?;
        let [gate, up] = Linear::forward_many([&layer.gate, &layer.up], &h)?;
        let gelu = self.cfg.arch == Arch::Gemma3;
        // One pass for a prompt's rows; candle's two for a decoded token
        // (a few thousand values, where the pool's dispatch would cost more
        // than it saves).
        let rows = gate.elem_count() / gate.dim(D::Minus1)?;
        let h = match self.own_kernels && gated_runs() && rows > 16 {
            true => gated(&gate, &up, gelu)?,
            false if gelu => (gate.gelu()? * up)?,
            false => (candle_nn::ops::silu(&gate)? * up)?,
        };
        let h = layer.down.forward(&h)?;
        let h = match &layer.post_norms {
            Some((_, post_ffn)) => candle_nn::ops::rms_norm(&h, post_ffn, self.cfg.eps as f32)?,
            None => h,
        };
        h + x1
    }

    /// Token embeddings `[seq, hidden]`, dequantizing only the rows needed
    /// (scaled by sqrt(hidden) for Gemma 3, as it was trained).
    pub(super) fn embed(&self, tokens: &[u32]) -> candle_core::Result<Tensor> {
        let table = &self.embeddings;
        let (vocab, hidden) = table.shape().dims2()?;
        let dtype = table.dtype();
        let row_bytes = hidden / dtype.block_size() * dtype.type_size();
        let data = table.data()?;
        let mut rows = Vec::with_capacity(tokens.len());
        for &t in tokens {
            let t = t as usize;
            if t >= vocab {
                candle_core::bail!("token id {t} is outside the vocabulary of {vocab}");
            }
            let bytes = &data[t * row_bytes..(t + 1) * row_bytes];
            let storage = QStorage::from_data(Cow::Borrowed(bytes), &Device::Cpu, dtype)?;
            rows.push(QTensor::new(storage, (1, hidden))?.dequantize(&Device::Cpu)?);
        }
        let x = Tensor::cat(&rows, 0)?;
        match self.cfg.arch {
            Arch::Gemma3 => x * (self.cfg.hidden as f64).sqrt(),
            _ => Ok(x),
        }
    }

    /// Queries, keys and values `[seq, heads * hd]` of the normalized input.
    pub(super) fn project(
        &self,
        layer: &Layer,
        x: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let [mut q, mut k, mut v] = Linear::forward_many([&layer.wq, &layer.wk, &layer.wv], x)?;
        if let Some((bq, bk, bv)) = &layer.bias {
            q = q.broadcast_add(bq)?;
            k = k.broadcast_add(bk)?;
            v = v.broadcast_add(bv)?;
        }
        Ok((q, k, v))
    }
}
