//! The weights of one transformer layer ([`Layer`]), its quantized
//! matrices ([`Linear`]: tarjoman's kernels where they take them, candle's
//! `QMatMul` otherwise), and the RoPE tables its attention turns queries
//! and keys with ([`Rope`]).

use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use crate::kernels::kquants::KQuantMatMul;

pub(super) struct Layer {
    pub(super) wq: Linear,
    pub(super) wk: Linear,
    pub(super) wv: Linear,
    pub(super) wo: Linear,
    /// Qwen2's q/k/v biases.
    pub(super) bias: Option<(Tensor, Tensor, Tensor)>,
    /// Gemma 3's and Qwen3's per-head RMS norms of queries and keys.
    pub(super) qk_norm: Option<(Tensor, Tensor)>,
    pub(super) attn_norm: Tensor,
    /// Gemma 3's norms on the attention and feed-forward outputs.
    pub(super) post_norms: Option<(Tensor, Tensor)>,
    pub(super) ffn_norm: Tensor,
    pub(super) gate: Linear,
    pub(super) up: Linear,
    pub(super) down: Linear,
    /// Index into `DecoderLm::ropes`.
    pub(super) rope: usize,
    /// Gemma 3's local layers attend to this many previous tokens.
    pub(super) window: Option<usize>,
}

/// RoPE frequencies of one base, and cos/sin tables for `cos.dim(0)`
/// positions.
pub(super) struct Rope {
    inv_freq: Vec<f32>,
    pub(super) cos: Tensor,
    pub(super) sin: Tensor,
}

impl Rope {
    pub(super) fn new(base: f32, dim: usize, positions: usize) -> candle_core::Result<Self> {
        let inv_freq: Vec<f32> = (0..dim)
            .step_by(2)
            .map(|i| 1f32 / base.powf(i as f32 / dim as f32))
            .collect();
        let (cos, sin) = Self::tables(&inv_freq, positions)?;
        Ok(Self { inv_freq, cos, sin })
    }

    fn tables(inv_freq: &[f32], positions: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let half = inv_freq.len();
        let mut angles = Vec::with_capacity(positions * half);
        for p in 0..positions {
            angles.extend(inv_freq.iter().map(|f| p as f32 * f));
        }
        let angles = Tensor::from_vec(angles, (positions, half), &Device::Cpu)?;
        Ok((angles.cos()?, angles.sin()?))
    }

    pub(super) fn ensure(&mut self, positions: usize) -> candle_core::Result<()> {
        if self.cos.dim(0)? < positions {
            (self.cos, self.sin) = Self::tables(&self.inv_freq, positions)?;
        }
        Ok(())
    }
}

/// Whether tarjoman's kernels run where they can: everything but
/// `TARJOMAN_KERNELS=candle`, which leaves every matrix product and the
/// decoding attention to candle (to compare).
pub(super) fn own_kernels() -> bool {
    std::env::var("TARJOMAN_KERNELS").map_or(true, |v| v != "candle")
}

/// A quantized weight matrix: Q4_K, Q6_K and Q5_0 weights go through
/// tarjoman's kernels ([`crate::kernels::kquants`]) where the CPU runs them,
/// everything else through candle (all of them with
/// `TARJOMAN_KERNELS=candle`).
#[derive(Debug, Clone)]
pub(super) enum Linear {
    Candle(QMatMul),
    KQuant(KQuantMatMul),
}

impl Linear {
    pub(super) fn new(weights: Arc<QTensor>, own_kernels: bool) -> candle_core::Result<Self> {
        match own_kernels
            .then(|| KQuantMatMul::new(weights.clone()))
            .transpose()?
            .flatten()
        {
            Some(fast) => Ok(Self::KQuant(fast)),
            None => Ok(Self::Candle(QMatMul::from_arc(weights)?)),
        }
    }
}

impl Linear {
    /// `x · Wᵢᵀ` for several matrices of the same input `x`, in one pass of
    /// the kernels when they all take it ([`KQuantMatMul::products`]).
    pub(super) fn forward_many<const N: usize>(
        linears: [&Self; N],
        x: &Tensor,
    ) -> candle_core::Result<[Tensor; N]> {
        let own: Vec<&KQuantMatMul> = linears
            .iter()
            .filter_map(|l| match l {
                Self::KQuant(m) => Some(m),
                Self::Candle(_) => None,
            })
            .collect();
        if own.len() == N {
            if let Some(outs) = KQuantMatMul::products(&own, x)? {
                return Ok(outs.try_into().expect("one product per matrix"));
            }
        }
        let outs = linears
            .iter()
            .map(|l| l.forward(x))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(outs.try_into().expect("one product per matrix"))
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Candle(m) => m.forward(x),
            Self::KQuant(m) => m.forward(x),
        }
    }
}
