//! Activations quantized to 8 bits as candle quantizes them: blocks of
//! 256 for Q4_K and Q6_K weights ([`Q8Block`], `Q8_K`), blocks of 32 for
//! Q5_0 and Q8_0 ones ([`Q8Row32`], `Q8_0`).

use super::format::{BLOCK, BLOCK_32};
use crate::kernels::dispatch::{Isa, Kernels};

/// One block of 256 activations quantized to 8 bits, as candle's
/// `BlockQ8K`, with sums over 32 values (Q4_K's minimums) where candle
/// keeps sums over 16.
#[derive(Clone)]
pub(super) struct Q8Block {
    pub(super) d: f32,
    pub(super) qs: [i8; BLOCK],
    /// Sums of `qs` over each 32 values (at most 32 · 128 in magnitude).
    pub(super) sums: [i16; 8],
    /// Sums of `qs` over each 16 values (Q6_K's sub-blocks, for the
    /// prefill kernel).
    pub(super) sums16: [i16; 16],
}

/// Quantizes `xs` (a multiple of 256 long) as candle's
/// `BlockQ8K::from_float`: scale -127 / (the value of largest magnitude),
/// round half away from zero, clamp to -128..=127.
pub(super) fn quantize_q8(xs: &[f32], kernels: Kernels) -> Vec<Q8Block> {
    match kernels.isa() {
        // SAFETY: AVX-512 `Kernels`: the CPU has AVX-512 F and BW.
        Isa::Avx512 => return unsafe { quantize_q8_avx512(xs) },
        // SAFETY: AVX2 `Kernels`: the CPU has AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => return unsafe { quantize_q8_avx2(xs) },
        _ => {}
    }
    portable(xs)
}

/// [`quantize_q8`] value by value (the NEON kernels' activations).
fn portable(xs: &[f32]) -> Vec<Q8Block> {
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
                sums: [0; 8],
                sums16: [0; 16],
            };
            if amax != 0.0 {
                let iscale = -127f32 / max;
                for (q, &x) in block.qs.iter_mut().zip(xs) {
                    *q = (iscale * x).round().clamp(-128.0, 127.0) as i8;
                }
                block.d = 1.0 / iscale;
            }
            for (sum, qs) in block.sums16.iter_mut().zip(block.qs.chunks_exact(16)) {
                *sum = qs.iter().map(|&q| i16::from(q)).sum();
            }
            for (sum, pair) in block.sums.iter_mut().zip(block.sums16.chunks_exact(2)) {
                *sum = pair[0] + pair[1];
            }
            block
        })
        .collect()
}

/// [`quantize_q8`] 16 values at a time. The same arithmetic: the first
/// value of largest magnitude sets the scale, `round` is done as truncation
/// plus one away from zero where the remainder is at least a half (exact
/// in f32), and the clamp is the saturating narrowing to bytes. Vectorized
/// because it runs on every row of activations before every matrix
/// product, and `f32::round` value by value took 5% of the seed article's
/// translation, on one thread while the other waited.
///
/// # Safety
/// The CPU must have AVX-512 F and BW.
// SAFETY: called only from `quantize_q8`, with AVX-512 `Kernels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_q8_avx512(xs: &[f32]) -> Vec<Q8Block> {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        let half = _mm512_set1_ps(0.5);
        let one = _mm512_set1_ps(1.0);
        let sign = _mm512_set1_epi32(i32::MIN);
        xs.chunks_exact(BLOCK)
            .map(|xs| {
                let mut block = Q8Block {
                    d: 0.0,
                    qs: [0; BLOCK],
                    sums: [0; 8],
                    sums16: [0; 16],
                };
                let load = |g: usize| _mm512_loadu_ps(xs.as_ptr().add(16 * g));
                let mut amax = _mm512_setzero_ps();
                for g in 0..BLOCK / 16 {
                    amax = _mm512_max_ps(amax, _mm512_abs_ps(load(g)));
                }
                let amax = _mm512_reduce_max_ps(amax);
                if amax != 0.0 {
                    // The first value whose magnitude is the largest.
                    let wanted = _mm512_set1_ps(amax);
                    let max = (0..BLOCK / 16)
                        .find_map(|g| {
                            let hits =
                                _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(load(g)), wanted);
                            (hits != 0).then(|| xs[16 * g + hits.trailing_zeros() as usize])
                        })
                        .unwrap_or(amax);
                    let iscale = -127f32 / max;
                    let scale = _mm512_set1_ps(iscale);
                    for g in 0..BLOCK / 16 {
                        let v = _mm512_mul_ps(load(g), scale);
                        let t =
                            _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
                        let frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
                        let away = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, half);
                        // ±1 with the sign of v.
                        let step = _mm512_castsi512_ps(_mm512_or_si512(
                            _mm512_and_si512(_mm512_castps_si512(v), sign),
                            _mm512_castps_si512(one),
                        ));
                        let r = _mm512_mask_add_ps(t, away, t, step);
                        let ints = _mm512_cvttps_epi32(r);
                        block.sums16[g] = _mm512_reduce_add_epi32(_mm512_max_epi32(
                            _mm512_min_epi32(ints, _mm512_set1_epi32(127)),
                            _mm512_set1_epi32(-128),
                        )) as i16;
                        _mm_storeu_si128(
                            block.qs.as_mut_ptr().add(16 * g).cast(),
                            _mm512_cvtsepi32_epi8(ints),
                        );
                    }
                    block.d = 1.0 / iscale;
                }
                for (sum, pair) in block.sums.iter_mut().zip(block.sums16.chunks_exact(2)) {
                    *sum = pair[0] + pair[1];
                }
                block
            })
            .collect()
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn quantize_q8_avx512(_: &[f32]) -> Vec<Q8Block> {
    unreachable!("no AVX-512 kernels off x86_64")
}

/// [`quantize_q8`] 8 values at a time with AVX2, the arithmetic of
/// `quantize_q8_avx512`: truncation plus one away from zero where the
/// remainder is at least a half, then the values narrowed to bytes (in
/// range already: the scale maps the largest magnitude to 127).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
// SAFETY: called only from `quantize_q8`, with AVX2 `Kernels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_q8_avx2(xs: &[f32]) -> Vec<Q8Block> {
    // SAFETY: the caller upholds the contract under `# Safety` above; every
    // load reads 8 of the block's 256 values, every store 32 of its bytes.
    unsafe {
        use std::arch::x86_64::*;
        let half = _mm256_set1_ps(0.5);
        let one = _mm256_set1_ps(1.0);
        let sign = _mm256_set1_epi32(i32::MIN);
        let abs = |v: __m256| _mm256_andnot_ps(_mm256_castsi256_ps(sign), v);
        // packs_epi32 then packs_epi16 interleave 32-bit groups of the
        // four inputs across lanes; this puts them back in order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        xs.chunks_exact(BLOCK)
            .map(|xs| {
                let mut block = Q8Block {
                    d: 0.0,
                    qs: [0; BLOCK],
                    sums: [0; 8],
                    sums16: [0; 16],
                };
                let load = |g: usize| _mm256_loadu_ps(xs.as_ptr().add(8 * g));
                let mut amax = _mm256_setzero_ps();
                for g in 0..BLOCK / 8 {
                    amax = _mm256_max_ps(amax, abs(load(g)));
                }
                let mut lanes = [0f32; 8];
                _mm256_storeu_ps(lanes.as_mut_ptr(), amax);
                let amax = lanes.iter().fold(0f32, |m, &x| m.max(x));
                if amax != 0.0 {
                    // The first value whose magnitude is the largest.
                    let wanted = _mm256_set1_ps(amax);
                    let max = (0..BLOCK / 8)
                        .find_map(|g| {
                            let hits = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(
                                abs(load(g)),
                                wanted,
                            ));
                            (hits != 0).then(|| xs[8 * g + hits.trailing_zeros() as usize])
                        })
                        .unwrap_or(amax);
                    let iscale = -127f32 / max;
                    let scale = _mm256_set1_ps(iscale);
                    let round = |g: usize| {
                        let v = _mm256_mul_ps(load(g), scale);
                        let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
                        let frac = abs(_mm256_sub_ps(v, t));
                        let away = _mm256_cmp_ps::<_CMP_GE_OQ>(frac, half);
                        // ±1 with the sign of v, where the remainder is ≥ ½.
                        let step = _mm256_or_ps(_mm256_and_ps(v, _mm256_castsi256_ps(sign)), one);
                        let r = _mm256_add_ps(t, _mm256_and_ps(step, away));
                        _mm256_max_epi32(
                            _mm256_min_epi32(_mm256_cvttps_epi32(r), _mm256_set1_epi32(127)),
                            _mm256_set1_epi32(-128),
                        )
                    };
                    for q in 0..BLOCK / 32 {
                        let ints: [__m256i; 4] = std::array::from_fn(|i| round(4 * q + i));
                        for pair in 0..2 {
                            let s = _mm256_add_epi32(ints[2 * pair], ints[2 * pair + 1]);
                            let s = _mm_add_epi32(
                                _mm256_castsi256_si128(s),
                                _mm256_extracti128_si256::<1>(s),
                            );
                            let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
                            let s = _mm_add_epi32(s, _mm_shuffle_epi32::<1>(s));
                            block.sums16[2 * q + pair] = _mm_cvtsi128_si32(s) as i16;
                        }
                        let bytes = _mm256_packs_epi16(
                            _mm256_packs_epi32(ints[0], ints[1]),
                            _mm256_packs_epi32(ints[2], ints[3]),
                        );
                        let bytes = _mm256_permutevar8x32_epi32(bytes, order);
                        _mm256_storeu_si256(block.qs.as_mut_ptr().add(32 * q).cast(), bytes);
                    }
                    block.d = 1.0 / iscale;
                }
                for (sum, pair) in block.sums.iter_mut().zip(block.sums16.chunks_exact(2)) {
                    *sum = pair[0] + pair[1];
                }
                block
            })
            .collect()
    }
}

/// Activations quantized as candle's `BlockQ8_0` (for Q5_0 weights):
/// blocks of 32, scale amax / 127 stored as f16, round half away from
/// zero; with each block's sum.
pub(super) struct Q8Row32 {
    pub(super) qs: Vec<i8>,
    pub(super) d: Vec<f32>,
    pub(super) sums: Vec<i32>,
}

pub(super) fn quantize_q8_32(xs: &[f32]) -> Q8Row32 {
    let blocks = xs.len() / BLOCK_32;
    let mut row = Q8Row32 {
        qs: vec![0; xs.len()],
        d: Vec::with_capacity(blocks),
        sums: Vec::with_capacity(blocks),
    };
    for (xs, qs) in xs
        .chunks_exact(BLOCK_32)
        .zip(row.qs.chunks_exact_mut(BLOCK_32))
    {
        let amax = xs.iter().fold(0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        for (q, &x) in qs.iter_mut().zip(xs) {
            *q = (x * id).round() as i8;
        }
        row.d.push(half::f16::from_f32(d).to_f32());
        row.sums.push(qs.iter().map(|&q| i32::from(q)).sum());
    }
    row
}

/// A batch of activation rows, quantized for one family of formats.
pub(super) enum Activations {
    /// `Q8_K` blocks of 256, for Q4_K and Q6_K.
    K(Vec<Vec<Q8Block>>),
    /// `Q8_0` blocks of 32, for Q5_0.
    Blocks32(Vec<Q8Row32>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::spread as values;

    #[test]
    fn quantizes_activations_as_candle_does() {
        // Every set of kernels this CPU has, and the portable loop (which
        // the NEON kernels use).
        for kernels in Kernels::available() {
            quantizes_as_candle(|xs| quantize_q8(xs, kernels));
        }
        quantizes_as_candle(portable);
    }

    fn quantizes_as_candle(quantize_q8: impl Fn(&[f32]) -> Vec<Q8Block>) {
        use candle_core::quantized::k_quants::{BlockQ8K, GgmlType};
        let mut xs = values(3 * BLOCK, 5);
        // A third block of exact halves (scale 1: the largest is -127),
        // which round away from zero, and a tie for the largest magnitude
        // (the first sets the scale's sign).
        for (i, x) in xs[2 * BLOCK..].iter_mut().enumerate() {
            *x = (i as f32 - 128.0) / 2.0;
        }
        xs[2 * BLOCK + 7] = -127.0;
        xs[2 * BLOCK + 9] = 127.0;
        let ours = quantize_q8(&xs);
        let mut theirs = vec![BlockQ8K::zeros(); 3];
        BlockQ8K::from_float(&xs, &mut theirs);
        let mut back = vec![0f32; 3 * BLOCK];
        BlockQ8K::to_float(&theirs, &mut back);
        for (b, block) in ours.iter().enumerate() {
            for (i, &q) in block.qs.iter().enumerate() {
                assert_eq!(
                    q as f32 * block.d,
                    back[b * BLOCK + i],
                    "value {i} of block {b}"
                );
            }
            for (j, &sum) in block.sums.iter().enumerate() {
                let expected: i32 = block.qs[32 * j..32 * (j + 1)]
                    .iter()
                    .map(|&q| i32::from(q))
                    .sum();
                assert_eq!(i32::from(sum), expected, "sum {j} of block {b}");
            }
            for (j, &sum) in block.sums16.iter().enumerate() {
                let expected: i32 = block.qs[16 * j..16 * (j + 1)]
                    .iter()
                    .map(|&q| i32::from(q))
                    .sum();
                assert_eq!(i32::from(sum), expected, "16-sum {j} of block {b}");
            }
        }
    }
}
