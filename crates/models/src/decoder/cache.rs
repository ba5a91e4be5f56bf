//! Keys and values in preallocated buffers: one layer's ([`KvCache`]) and
//! one sequence's, a cache per layer ([`Sequence`]).

use candle_core::{DType, Device, Tensor};

/// One layer's keys and values for the tokens seen so far, in buffers of
/// `[n_kv_head, capacity, head_dim]` written in place.
pub(super) struct KvCache {
    pub(super) k: Tensor,
    pub(super) v: Tensor,
}

/// One sequence's state: a KV cache per layer.
pub(super) struct Sequence {
    pub(super) cache: Vec<KvCache>,
    /// Tokens in the cache (positions `0..len`).
    pub(super) len: usize,
    pub(super) capacity: usize,
}

impl KvCache {
    pub(super) fn new(n_kv: usize, capacity: usize, head_dim: usize) -> candle_core::Result<Self> {
        Ok(Self {
            k: Tensor::zeros((n_kv, capacity, head_dim), DType::F32, &Device::Cpu)?,
            v: Tensor::zeros((n_kv, capacity, head_dim), DType::F32, &Device::Cpu)?,
        })
    }

    /// Moves the first `keep` positions into buffers of `capacity`.
    pub(super) fn grow(&mut self, keep: usize, capacity: usize) -> candle_core::Result<()> {
        let (n_kv, _, hd) = self.k.dims3()?;
        let bigger = Self::new(n_kv, capacity, hd)?;
        if keep > 0 {
            bigger
                .k
                .slice_set(&self.k.narrow(1, 0, keep)?.contiguous()?, 1, 0)?;
            bigger
                .v
                .slice_set(&self.v.narrow(1, 0, keep)?.contiguous()?, 1, 0)?;
        }
        *self = bigger;
        Ok(())
    }
}
