//! Attention in a [`DecoderLm`]: RoPE on queries and keys, the KV cache
//! written in place, then either tarjoman's attention over the cache
//! ([`cached_attention`]) or candle's batched matmuls with a mask.

use candle_core::{Device, Storage, Tensor, D};

use super::cache::KvCache;
use super::layer::{Layer, Rope};
use super::model::DecoderLm;
use crate::kernels::attention::{cached_attention, Queries};

impl DecoderLm {
    /// Attention of `seq` new positions starting at `index_pos`, whose keys
    /// and values are written into `cache` first; returns `[seq, heads * hd]`
    /// (before the output projection).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn attend(
        &self,
        layer: &Layer,
        cache: &KvCache,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        index_pos: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let cfg = &self.cfg;
        let seq = q.dim(0)?;
        // [seq, heads * hd] -> [heads, seq, hd]
        let q = q
            .reshape((seq, cfg.n_head, cfg.head_dim))?
            .transpose(0, 1)?;
        let k = k
            .reshape((seq, cfg.n_kv_head, cfg.head_dim))?
            .transpose(0, 1)?;
        let v = v
            .reshape((seq, cfg.n_kv_head, cfg.head_dim))?
            .transpose(0, 1)?
            .contiguous()?;
        let (q, k) = match &layer.qk_norm {
            Some((qn, kn)) => (
                candle_nn::ops::rms_norm(&q.contiguous()?, qn, cfg.eps as f32)?,
                candle_nn::ops::rms_norm(&k.contiguous()?, kn, cfg.eps as f32)?,
            ),
            None => (q.contiguous()?, k.contiguous()?),
        };
        let rope = &self.ropes[layer.rope];
        let q = self.rotate(&q, rope, index_pos)?;
        let k = self.rotate(&k, rope, index_pos)?;

        cache.k.slice_set(&k, 1, index_pos)?;
        cache.v.slice_set(&v, 1, index_pos)?;
        if self.own_kernels {
            // The mask, if any, is causality and the layer's window, which
            // `cached_attention` applies itself.
            return self.attend_cached(layer, cache, &q, index_pos);
        }
        let total = index_pos + seq;
        let keys = cache.k.narrow(1, 0, total)?;
        let values = cache.v.narrow(1, 0, total)?;

        // Queries grouped by KV head: [n_kv, group * seq, hd], so one
        // batched matmul per KV head covers all of its query heads.
        let group = cfg.n_head / cfg.n_kv_head;
        let q = q.reshape((cfg.n_kv_head, group * seq, cfg.head_dim))?;
        let scale = 1.0 / (cfg.head_dim as f64).sqrt();
        let att = (q.matmul(&keys.t()?)? * scale)?;
        let att = match mask {
            Some(mask) => att
                .reshape((cfg.n_kv_head, group, seq, total))?
                .broadcast_add(mask)?
                .reshape((cfg.n_kv_head, group * seq, total))?,
            None => att,
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let y = att.matmul(&values)?; // [n_kv, group * seq, hd]
        y.reshape((cfg.n_head, seq, cfg.head_dim))?
            .transpose(0, 1)?
            .reshape((seq, cfg.n_head * cfg.head_dim))
    }

    /// [`Self::attend`] through [`cached_attention`]: `q` is
    /// `[heads, seq, hd]` at positions `index_pos..`, its keys and values
    /// already in `cache`.
    fn attend_cached(
        &self,
        layer: &Layer,
        cache: &KvCache,
        q: &Tensor,
        index_pos: usize,
    ) -> candle_core::Result<Tensor> {
        let cfg = &self.cfg;
        let seq = q.dim(1)?;
        let shape = Queries {
            n_head: cfg.n_head,
            n_kv_head: cfg.n_kv_head,
            head_dim: cfg.head_dim,
            capacity: cache.k.dim(1)?,
            index_pos,
            seq,
            window: layer.window,
        };
        let q = q.flatten_all()?.to_vec1::<f32>()?;
        let (k_storage, k_layout) = cache.k.storage_and_layout();
        let (v_storage, v_layout) = cache.v.storage_and_layout();
        let (Storage::Cpu(k_cpu), Storage::Cpu(v_cpu)) = (&*k_storage, &*v_storage) else {
            candle_core::bail!("the KV cache is not in CPU memory");
        };
        let keys = &k_cpu.as_slice::<f32>()?[k_layout.start_offset()..];
        let values = &v_cpu.as_slice::<f32>()?[v_layout.start_offset()..];
        let out = cached_attention(&shape, &q, keys, values)?;
        Tensor::from_vec(out, (seq, cfg.n_head * cfg.head_dim), &Device::Cpu)
    }

    /// Applies RoPE to `[heads, seq, hd]` at positions `index_pos..`.
    fn rotate(&self, x: &Tensor, rope: &Rope, index_pos: usize) -> candle_core::Result<Tensor> {
        let seq = x.dim(1)?;
        let cos = rope.cos.narrow(0, index_pos, seq)?;
        let sin = rope.sin.narrow(0, index_pos, seq)?;
        let x = x.unsqueeze(0)?;
        let rotated = if self.cfg.rope_dim == self.cfg.head_dim {
            self.rope_fn(&x, &cos, &sin)?
        } else {
            // Partial rotary: only the first `rope_dim` dimensions turn.
            let turned = self.rope_fn(
                &x.narrow(D::Minus1, 0, self.cfg.rope_dim)?.contiguous()?,
                &cos,
                &sin,
            )?;
            let rest = x.narrow(
                D::Minus1,
                self.cfg.rope_dim,
                self.cfg.head_dim - self.cfg.rope_dim,
            )?;
            Tensor::cat(&[&turned, &rest], D::Minus1)?
        };
        rotated.squeeze(0)
    }

    fn rope_fn(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
        if self.cfg.rope_neox {
            candle_nn::rotary_emb::rope(x, cos, sin)
        } else {
            candle_nn::rotary_emb::rope_i(x, cos, sin)
        }
    }
}
