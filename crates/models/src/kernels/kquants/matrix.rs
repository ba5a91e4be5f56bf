//! [`KQuantMatMul`]: a quantized weight matrix that tarjoman's kernels
//! take, and the checks that decide whether they take it.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};

use super::format::Format;
use crate::kernels::dispatch::{Isa, Kernels};

/// A Q4_K, Q6_K or Q5_0 weight matrix (`n` rows of `k`) with our kernels
/// where they pay and candle's matmul for the rest.
#[derive(Debug, Clone)]
pub struct KQuantMatMul {
    pub(super) weights: Arc<QTensor>,
    pub(super) candle: QMatMul,
    pub(super) format: Format,
    pub(super) n: usize,
    pub(super) k: usize,
    /// The kernels that run it (all matrices of one model share them).
    pub(super) kernels: Kernels,
}

impl KQuantMatMul {
    /// `Some` for a Q4_K, Q6_K, Q5_0 or Q8_0 tensor where this CPU has
    /// kernels for it ([`Kernels::detect`]: AVX-512 VNNI or AVX2 for all
    /// four, NEON for Q4_K and Q6_K); `None` leaves the tensor to candle.
    pub fn new(weights: Arc<QTensor>) -> candle_core::Result<Option<Self>> {
        match Kernels::detect() {
            Some(kernels) => Self::with_kernels(weights, kernels),
            None => Ok(None),
        }
    }

    /// [`KQuantMatMul::new`] with the given kernels (the tests run each set
    /// the CPU has).
    pub(crate) fn with_kernels(
        weights: Arc<QTensor>,
        kernels: Kernels,
    ) -> candle_core::Result<Option<Self>> {
        let format = match weights.dtype() {
            GgmlDType::Q4K => Format::Q4K,
            GgmlDType::Q6K => Format::Q6K,
            GgmlDType::Q5_0 => Format::Q5_0,
            GgmlDType::Q8_0 => Format::Q8_0,
            _ => return Ok(None),
        };
        if kernels.isa() == Isa::Neon && matches!(format, Format::Q5_0 | Format::Q8_0) {
            // No NEON kernels for these: candle's.
            return Ok(None);
        }
        let (n, k) = weights.shape().dims2()?;
        // The GGUF layout the kernel reads: whole blocks, row after row.
        let block = format.block_len();
        if k % block != 0 || weights.data()?.len() != n * (k / block * format.block_bytes()) {
            return Ok(None);
        }
        let candle = QMatMul::from_arc(weights.clone())?;
        Ok(Some(Self {
            weights,
            candle,
            format,
            n,
            k,
            kernels,
        }))
    }
}
