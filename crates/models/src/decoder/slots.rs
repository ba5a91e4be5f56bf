//! A [`DecoderLm`]'s slots: one sequence and its KV caches each, created
//! as needed, grown, truncated and copied.

use super::cache::{KvCache, Sequence};
use super::model::DecoderLm;

impl DecoderLm {
    pub(super) fn add_sequence(&mut self, capacity: usize) -> candle_core::Result<()> {
        let cache = (0..self.layers.len())
            .map(|_| KvCache::new(self.cfg.n_kv_head, capacity, self.cfg.head_dim))
            .collect::<candle_core::Result<_>>()?;
        self.seqs.push(Sequence {
            cache,
            len: 0,
            capacity,
        });
        Ok(())
    }

    /// Makes slot `to` hold the first `len` cached positions of slot `from`
    /// (beam search forks a hypothesis; two prompts share a beginning);
    /// `to`'s own sequence is dropped.
    pub fn copy_prefix(&mut self, from: usize, to: usize, len: usize) -> candle_core::Result<()> {
        if from == to {
            return Ok(());
        }
        while self.seqs.len() <= from.max(to) {
            self.add_sequence(0)?;
        }
        if len > self.seqs[from].len {
            candle_core::bail!(
                "slot {from} holds {} positions, not {len}",
                self.seqs[from].len
            );
        }
        // Nothing of `to` is kept, so growing it copies nothing.
        self.seqs[to].len = 0;
        self.reserve(to, len)?;
        if len > 0 {
            for layer in 0..self.layers.len() {
                let src = &self.seqs[from].cache[layer];
                let k = src.k.narrow(1, 0, len)?.contiguous()?;
                let v = src.v.narrow(1, 0, len)?.contiguous()?;
                let dst = &self.seqs[to].cache[layer];
                dst.k.slice_set(&k, 1, 0)?;
                dst.v.slice_set(&v, 1, 0)?;
            }
        }
        self.seqs[to].len = len;
        Ok(())
    }

    /// Tokens currently in slot 0's KV cache.
    pub fn cached(&self) -> usize {
        self.cached_in(0)
    }

    /// Tokens currently in `slot`'s KV cache (0 for a slot never used).
    pub fn cached_in(&self, slot: usize) -> usize {
        self.seqs.get(slot).map_or(0, |s| s.len)
    }

    /// Grows `slot`'s KV cache and the RoPE tables to hold `tokens`
    /// positions.
    pub(super) fn reserve(&mut self, slot: usize, tokens: usize) -> candle_core::Result<()> {
        let seq = &mut self.seqs[slot];
        if tokens > seq.capacity {
            // A quarter more (at least `tokens`, in steps of 128 positions)
            // rather than double: the old and the new buffers coexist while
            // the cache is copied, so doubling a 1,024-position cache for a
            // 1,088-token context held 3,072 positions at once (Gemma 3
            // 270M: 108 MiB, against 81 MiB this way). Copies stay linear
            // in the context's length overall.
            let grown = (seq.capacity + seq.capacity / 4).max(tokens).max(128);
            let capacity = grown.div_ceil(128) * 128;
            let capacity = capacity.min(self.cfg.context_length);
            for cache in &mut seq.cache {
                cache.grow(seq.len, capacity)?;
            }
            seq.capacity = capacity;
        }
        let capacity = seq.capacity;
        for rope in &mut self.ropes {
            rope.ensure(capacity)?;
        }
        Ok(())
    }
}
