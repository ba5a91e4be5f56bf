//! The shape of one attention call over a KV cache ([`Queries`]), which
//! the decoding and prompt kernels both read.

/// The shape of attention for `seq` new queries at positions
/// `index_pos..` over a KV cache laid out `[n_kv_head, capacity,
/// head_dim]` that already holds their keys and values.
pub(crate) struct Queries {
    pub(crate) n_head: usize,
    pub(crate) n_kv_head: usize,
    pub(crate) head_dim: usize,
    pub(crate) capacity: usize,
    pub(crate) index_pos: usize,
    pub(crate) seq: usize,
    /// Sliding window: each query sees its last `w` positions (see the
    /// decoder's `mask`).
    pub(crate) window: Option<usize>,
}

impl Queries {
    /// Query heads per KV head.
    pub(super) fn group(&self) -> usize {
        self.n_head / self.n_kv_head
    }

    /// The positions query `i` sees: causal, and within the window.
    pub(super) fn visible(&self, i: usize) -> std::ops::Range<usize> {
        let end = self.index_pos + i + 1;
        self.window.map_or(0, |w| end.saturating_sub(w))..end
    }
}
