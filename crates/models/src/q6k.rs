//! Matrix-vector products with Q6_K weights on AVX-512 VNNI CPUs.
//!
//! Written by hand because candle 0.11 has no such kernel: on x86 it runs
//! every Q6_K weight row through its AVX2 dot product, which is
//! compute-bound (about 1.7x the time per byte of its Q4_K kernel). In a
//! Q4_K_M GGUF the output projection and half of the `ffn_down` and `attn_v`
//! weights are Q6_K: for Qwen2.5-1.5B, 338 of the 930 MB that every decoded
//! token reads.
//!
//! The arithmetic is candle's (and ggml's): activations are quantized to
//! 8 bits per block of 256 (`Q8_K`, quantized exactly as candle does), each
//! block's integer dot product is scaled by both blocks' scales, and only
//! the order of the floating-point additions differs. With 512-bit
//! registers and `vpdpbusd` one block takes 8 multiply-adds instead of
//! AVX2's 16 multiplies and 16 pairwise adds.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Tensor};
use rayon::prelude::*;

/// Values per block (`QK_K`).
const BLOCK: usize = 256;
/// Bytes per Q6_K block: 128 low nibbles, 64 bytes of high bit pairs, 16
/// signed 8-bit scales, an f16 scale.
const Q6K_BYTES: usize = 210;
/// Rows above this go to candle (prefill): the kernel below reads each
/// weight row once for all rows, which pays only while they fit in cache.
const MAX_ROWS: usize = 16;
/// Weight rows per parallel task.
const ROWS_PER_TASK: usize = 32;

/// One block of 256 activations quantized to 8 bits, as candle's
/// `BlockQ8K` (without its block sums, which this kernel does not need).
#[derive(Clone)]
struct Q8Block {
    d: f32,
    qs: [i8; BLOCK],
}

/// Quantizes `xs` (a multiple of 256 long) as candle's
/// `BlockQ8K::from_float`: scale -127 / (the value of largest magnitude),
/// round half away from zero, clamp to -128..=127.
fn quantize_q8(xs: &[f32]) -> Vec<Q8Block> {
    xs.chunks_exact(BLOCK)
        .map(|xs| {
            let (mut max, mut amax) = (0f32, 0f32);
            for &x in xs {
                if amax < x.abs() {
                    amax = x.abs();
                    max = x;
                }
            }
            let mut block = Q8Block {
                d: 0.0,
                qs: [0; BLOCK],
            };
            if amax != 0.0 {
                let iscale = -127f32 / max;
                for (q, &x) in block.qs.iter_mut().zip(xs) {
                    *q = (iscale * x).round().clamp(-128.0, 127.0) as i8;
                }
                block.d = 1.0 / iscale;
            }
            block
        })
        .collect()
}

/// A Q6_K weight matrix (`n` rows of `k`) with a fast path for a few rows
/// of activations and candle's matmul for the rest.
#[derive(Debug, Clone)]
pub struct Q6kMatMul {
    weights: Arc<QTensor>,
    candle: QMatMul,
    n: usize,
    k: usize,
}

impl Q6kMatMul {
    /// `Some` for a Q6_K tensor on a CPU with AVX-512 (F, BW) and VNNI;
    /// `None` leaves the tensor to candle.
    pub fn new(weights: Arc<QTensor>) -> candle_core::Result<Option<Self>> {
        if weights.dtype() != GgmlDType::Q6K || !supported() {
            return Ok(None);
        }
        let (n, k) = weights.shape().dims2()?;
        // The GGUF layout the kernel reads: whole blocks, row after row.
        if k % BLOCK != 0 || weights.data()?.len() != n * (k / BLOCK * Q6K_BYTES) {
            return Ok(None);
        }
        let candle = QMatMul::from_arc(weights.clone())?;
        Ok(Some(Self {
            weights,
            candle,
            n,
            k,
        }))
    }

    /// `x · Wᵀ` for `x` of shape `[.., k]`.
    fn matmul(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let rows: usize = dims[..dims.len() - 1].iter().product();
        if rows > MAX_ROWS || rows == 0 || dims.last() != Some(&self.k) {
            return self.candle.forward(x);
        }
        let xs = x
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        let quantized: Vec<Vec<Q8Block>> = xs.chunks_exact(self.k).map(quantize_q8).collect();
        // Borrowed, not copied, for CPU storage; its length was checked in `new`.
        let data = self.weights.data()?;
        let row_bytes = self.k / BLOCK * Q6K_BYTES;
        // Output transposed ([n, rows]) so that each task writes one
        // contiguous piece; each weight row is read once for all rows.
        let mut out_t = vec![0f32; self.n * rows];
        out_t
            .par_chunks_mut(ROWS_PER_TASK * rows)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * ROWS_PER_TASK;
                for (j, out) in out.chunks_exact_mut(rows).enumerate() {
                    let w = &data[(first + j) * row_bytes..(first + j + 1) * row_bytes];
                    for (o, x) in out.iter_mut().zip(&quantized) {
                        // SAFETY: `supported()` checked the CPU features in
                        // `new`; `w` holds `x.len()` whole blocks.
                        *o = unsafe { dot_row(w, x) };
                    }
                }
            });
        let mut out = vec![0f32; rows * self.n];
        for (j, col) in out_t.chunks_exact(rows).enumerate() {
            for (i, &v) in col.iter().enumerate() {
                out[i * self.n + j] = v;
            }
        }
        let mut shape = dims;
        *shape.last_mut().expect("x has a last dimension") = self.n;
        Tensor::from_vec(out, shape, x.device())
    }
}

impl Module for Q6kMatMul {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.matmul(x)
    }
}

/// Whether this CPU runs the kernel.
pub fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The dot product of one Q6_K weight row with one quantized activation
/// row.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `w` must hold `x.len()` Q6_K
/// blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_row(w: &[u8], x: &[Q8Block]) -> f32 {
    use std::arch::x86_64::*;
    debug_assert!(w.len() >= x.len() * Q6K_BYTES);
    let low4 = _mm512_set1_epi8(0x0F);
    let low2 = _mm512_set1_epi8(0x03);
    let offset = _mm512_set1_epi8(32);
    // Bytes 0..32 of a 64-byte vector take the high bits of the first
    // quarter of a half block, bytes 32..64 of the second: shift the 16-bit
    // words of the duplicated `qh` by 0 and 2 (low nibbles) or 4 and 6.
    let shifts = |a: i16, b: i16| {
        let mut words = [a; 32];
        words[16..].fill(b);
        _mm512_loadu_si512(words.as_ptr().cast())
    };
    let shift_lo = shifts(0, 2);
    let shift_hi = shifts(4, 6);
    // Lane j of a dot product covers values 4j..4j+4, whose scale is j / 4
    // (16 values per scale).
    let spread_lo = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    let spread_hi = _mm_setr_epi8(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
    let zero = _mm512_setzero_si512();
    let mut acc = _mm512_setzero_ps();
    for (b, y) in x.iter().enumerate() {
        let block = w.as_ptr().add(b * Q6K_BYTES);
        let (ql, qh, sc) = (block, block.add(128), block.add(192));
        let d = half::f16::from_le_bytes([*block.add(208), *block.add(209)]).to_f32();
        let mut isum = zero;
        for half in 0..2 {
            let low = _mm512_loadu_si512(ql.add(64 * half).cast());
            let high = _mm512_broadcast_i64x4(_mm256_loadu_si256(qh.add(32 * half).cast()));
            let h_lo = _mm512_and_si512(_mm512_srlv_epi16(high, shift_lo), low2);
            let h_hi = _mm512_and_si512(_mm512_srlv_epi16(high, shift_hi), low2);
            // Values 0..64 and 64..128 of this half, each 0..=63.
            let q_lo = _mm512_or_si512(_mm512_and_si512(low, low4), _mm512_slli_epi16(h_lo, 4));
            let q_hi = _mm512_or_si512(
                _mm512_and_si512(_mm512_srli_epi16(low, 4), low4),
                _mm512_slli_epi16(h_hi, 4),
            );
            let y_lo = _mm512_loadu_si512(y.qs.as_ptr().add(128 * half).cast());
            let y_hi = _mm512_loadu_si512(y.qs.as_ptr().add(128 * half + 64).cast());
            // (q - 32) · y, four values per lane.
            let d_lo = _mm512_sub_epi32(
                _mm512_dpbusd_epi32(zero, q_lo, y_lo),
                _mm512_dpbusd_epi32(zero, offset, y_lo),
            );
            let d_hi = _mm512_sub_epi32(
                _mm512_dpbusd_epi32(zero, q_hi, y_hi),
                _mm512_dpbusd_epi32(zero, offset, y_hi),
            );
            let scales = _mm_loadl_epi64(sc.add(8 * half).cast());
            let s_lo = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scales, spread_lo));
            let s_hi = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scales, spread_hi));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(d_lo, s_lo));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(d_hi, s_hi));
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * y.d), acc);
    }
    _mm512_reduce_add_ps(acc)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_row(_w: &[u8], _x: &[Q8Block]) -> f32 {
    unreachable!("supported() is false off x86_64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Values with a spread of magnitudes, deterministic.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let u = state as f32 / u32::MAX as f32 - 0.5;
                u * (1.0 + (i % 7) as f32)
            })
            .collect()
    }

    #[test]
    fn matches_candle_on_every_row_count_it_takes() {
        let (n, k) = (72, 768);
        let w = Tensor::from_vec(values(n * k, 1), (n, k), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&w, GgmlDType::Q6K).unwrap());
        let Some(fast) = Q6kMatMul::new(q.clone()).unwrap() else {
            // Without AVX-512 VNNI the weights stay with candle.
            assert!(!supported());
            return;
        };
        let candle = QMatMul::from_arc(q).unwrap();
        for rows in [1, 2, 3, 4, 8, MAX_ROWS] {
            let x = Tensor::from_vec(values(rows * k, rows as u32 + 7), (rows, k), &Device::Cpu)
                .unwrap();
            let ours = fast.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            let theirs = candle.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            for (a, b) in ours.iter().flatten().zip(theirs.iter().flatten()) {
                // The same integer sums; only float addition order differs.
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{rows} rows: {a} vs {b}"
                );
            }
        }
        // A 3-d input ([batch, seq, k]) keeps its shape.
        let x = Tensor::from_vec(values(2 * k, 3), (1, 2, k), &Device::Cpu).unwrap();
        assert_eq!(fast.forward(&x).unwrap().dims(), &[1, 2, n]);
    }

    #[test]
    fn quantizes_activations_as_candle_does() {
        use candle_core::quantized::k_quants::{BlockQ8K, GgmlType};
        let xs = values(2 * BLOCK, 5);
        let ours = quantize_q8(&xs);
        let mut theirs = vec![BlockQ8K::zeros(); 2];
        BlockQ8K::from_float(&xs, &mut theirs);
        let mut back = vec![0f32; 2 * BLOCK];
        BlockQ8K::to_float(&theirs, &mut back);
        for (b, block) in ours.iter().enumerate() {
            for (i, &q) in block.qs.iter().enumerate() {
                assert_eq!(
                    q as f32 * block.d,
                    back[b * BLOCK + i],
                    "value {i} of block {b}"
                );
            }
        }
    }
}
