//! The matrix-vector kernels (decoding, a few rows of activations) on
//! AVX2 + FMA CPUs (x86-64-v3: Intel since Haswell, AMD since Zen 1):
//! Q4_K, Q6_K, Q8_0 and Q5_0, reading the GGUF layout as the AVX-512
//! ones do. Without `vpdpbusd`, a multiply-add of bytes is `vpmaddubsw`
//! (pairs of unsigned weights times signed activations, in 16 bits) then
//! `vpmaddwd` (pairs of those times the sub-block's scale, or one, into 32
//! bits): the same integer sums, so the results differ from the AVX-512
//! kernels' only in the order of the floating-point additions.

use std::arch::x86_64::*;

use super::activations::{Q8Block, Q8Row32};
use super::format::{BLOCK_32, Q4K_BYTES, Q5_0_BYTES, Q6K_BYTES, Q8_0_BYTES};
use super::q4k::q4k_scales_mins;
use crate::kernels::simd::hsum8 as hsum;

/// Values `64c..64c + 32` and `64c + 32..64c + 64` of a Q4_K block, one
/// per byte (0..=15): the low and high nibbles of its 32 bytes at
/// `16 + 32c`.
///
/// # Safety
/// The CPU must have AVX2; `block` must point at a whole Q4_K block and
/// `c < 4`.
// SAFETY: called only from `dot_rows_q4k` and `repack` (AVX2), with a
// pointer to a whole block of the weights they were handed.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn q4k_halves(block: *const u8, c: usize) -> [__m256i; 2] {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        let low4 = _mm256_set1_epi8(0x0F);
        let packed = _mm256_loadu_si256(block.add(16 + 32 * c).cast());
        [
            _mm256_and_si256(packed, low4),
            _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low4),
        ]
    }
}

/// The four quarters (32 values each, 0..=63: the value plus 32) of half
/// `h` of a Q6_K block: quarter `j` is the low (j even) or high nibbles of
/// `ql[64h + 32 (j % 2)..]` with bits `2j, 2j + 1` of `qh[32h..]` above
/// them.
///
/// # Safety
/// The CPU must have AVX2; `block` must point at a whole Q6_K block and
/// `h < 2`.
// SAFETY: called only from `dot_rows_q6k` and `repack` (AVX2), with a
// pointer to a whole block of the weights they were handed.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn q6k_quarters(block: *const u8, h: usize) -> [__m256i; 4] {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        let low4 = _mm256_set1_epi8(0x0F);
        let bits = _mm256_set1_epi8(0x30);
        let ql0 = _mm256_loadu_si256(block.add(64 * h).cast());
        let ql1 = _mm256_loadu_si256(block.add(64 * h + 32).cast());
        let qh = _mm256_loadu_si256(block.add(128 + 32 * h).cast());
        [
            _mm256_or_si256(
                _mm256_and_si256(ql0, low4),
                _mm256_and_si256(_mm256_slli_epi16::<4>(qh), bits),
            ),
            _mm256_or_si256(
                _mm256_and_si256(ql1, low4),
                _mm256_and_si256(_mm256_slli_epi16::<2>(qh), bits),
            ),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), low4),
                _mm256_and_si256(qh, bits),
            ),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), low4),
                _mm256_and_si256(_mm256_srli_epi16::<2>(qh), bits),
            ),
        ]
    }
}

/// `dot_rows_q4k` (AVX-512) with AVX2: per block and row, `d · Σⱼ scaleⱼ ·
/// (qⱼ · y) - dmin · Σⱼ minⱼ · Σ yⱼ`, each block unpacked once for all `R`
/// rows and each row's sums formed in the same order for every `R`.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `xs` and `out` must be `R` long and `w`
/// must hold as many Q4_K blocks as each row of `xs`.
// Block `b` indexes the weight row and every row of activations alike.
// SAFETY: called only from `products`, for matrices made with AVX2
// `Kernels` (AVX2 and FMA).
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_rows_q4k<const R: usize>(w: &[u8], xs: &[Vec<Q8Block>], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(xs.len() == R && out.len() == R);
        let blocks = xs[0].len();
        debug_assert!(w.len() >= blocks * Q4K_BYTES);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut acc_min = [_mm_setzero_ps(); R];
        for b in 0..blocks {
            let block = w.as_ptr().add(b * Q4K_BYTES);
            let d = half::f16::from_le_bytes([*block, *block.add(1)]).to_f32();
            let dmin = half::f16::from_le_bytes([*block.add(2), *block.add(3)]).to_f32();
            let scales_mins = q4k_scales_mins(block);
            let mins = _mm_cvtepu8_epi16(_mm_srli_si128::<8>(scales_mins));
            for r in 0..R {
                let y = &xs[r][b];
                let min_dot = _mm_madd_epi16(mins, _mm_loadu_si128(y.sums.as_ptr().cast()));
                acc_min[r] = _mm_fmadd_ps(
                    _mm_cvtepi32_ps(min_dot),
                    _mm_set1_ps(dmin * y.d),
                    acc_min[r],
                );
            }
            // The 8 scales as 16-bit words, each broadcast when used.
            let scales = _mm256_cvtepu8_epi16(scales_mins);
            let mut words = [0i16; 16];
            _mm256_storeu_si256(words.as_mut_ptr().cast(), scales);
            let mut isum = [_mm256_setzero_si256(); R];
            for c in 0..4 {
                let [lo, hi] = q4k_halves(block, c);
                let (s_lo, s_hi) = (
                    _mm256_set1_epi16(words[2 * c]),
                    _mm256_set1_epi16(words[2 * c + 1]),
                );
                for r in 0..R {
                    let ys = xs[r][b].qs.as_ptr().add(64 * c);
                    let y_lo = _mm256_loadu_si256(ys.cast());
                    let y_hi = _mm256_loadu_si256(ys.add(32).cast());
                    // Pairs q·y in 16 bits (at most 2 · 15 · 128), then
                    // pairs of pairs times the scale into 32 bits.
                    let p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y_lo), s_lo);
                    let p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y_hi), s_hi);
                    isum[r] = _mm256_add_epi32(isum[r], _mm256_add_epi32(p_lo, p_hi));
                }
            }
            for r in 0..R {
                let scale = _mm256_set1_ps(d * xs[r][b].d);
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), scale, acc[r]);
            }
        }
        for r in 0..R {
            let mins = _mm_add_ps(acc_min[r], _mm_movehl_ps(acc_min[r], acc_min[r]));
            let mins = _mm_add_ss(mins, _mm_shuffle_ps::<1>(mins, mins));
            out[r] = hsum(acc[r]) - _mm_cvtss_f32(mins);
        }
    }
}

/// `dot_rows_q6k` (AVX-512) with AVX2: per block and row, `d · Σⱼ scaleⱼ ·
/// ((q - 32)ⱼ · y)` over its 16 sub-blocks; `q · y` by `vpmaddubsw` and
/// the offset as `-32 · Σⱼ scaleⱼ · Σ yⱼ` from the activations' sums over
/// 16 values, all in 32-bit integers.
///
/// # Safety
/// As for `dot_rows_q4k` (AVX2), with Q6_K blocks.
// SAFETY: called only from `products`, for matrices made with AVX2
// `Kernels` (AVX2 and FMA).
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_rows_q6k<const R: usize>(w: &[u8], xs: &[Vec<Q8Block>], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(xs.len() == R && out.len() == R);
        let blocks = xs[0].len();
        debug_assert!(w.len() >= blocks * Q6K_BYTES);
        // Quarter j of a half: its first 16 values take scale 2j, the next
        // 16 scale 2j + 1 (16-bit lanes 0..8 and 8..16 of the products).
        let spread: [__m128i; 4] = std::array::from_fn(|j| {
            let (a, b) = (2 * j as i8, 2 * j as i8 + 1);
            _mm_setr_epi8(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b)
        });
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let block = w.as_ptr().add(b * Q6K_BYTES);
            let sc = _mm_loadu_si128(block.add(192).cast());
            let d = half::f16::from_le_bytes([*block.add(208), *block.add(209)]).to_f32();
            let all = _mm256_cvtepi8_epi16(sc);
            let mut isum = [_mm256_setzero_si256(); R];
            for r in 0..R {
                // -32 · Σⱼ scaleⱼ · Σ yⱼ over the 16 sub-blocks.
                let sums = _mm256_loadu_si256(xs[r][b].sums16.as_ptr().cast());
                isum[r] = _mm256_slli_epi32::<5>(_mm256_sub_epi32(
                    _mm256_setzero_si256(),
                    _mm256_madd_epi16(all, sums),
                ));
            }
            for h in 0..2 {
                let qs = q6k_quarters(block, h);
                let half_scales = if h == 0 { sc } else { _mm_srli_si128::<8>(sc) };
                for (j, q) in qs.iter().enumerate() {
                    let s = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(half_scales, spread[j]));
                    for r in 0..R {
                        let y =
                            _mm256_loadu_si256(xs[r][b].qs.as_ptr().add(128 * h + 32 * j).cast());
                        let p = _mm256_madd_epi16(_mm256_maddubs_epi16(*q, y), s);
                        isum[r] = _mm256_add_epi32(isum[r], p);
                    }
                }
            }
            for r in 0..R {
                let scale = _mm256_set1_ps(d * xs[r][b].d);
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), scale, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum(acc[r]);
        }
    }
}

/// `dot_rows_q8_0` (AVX-512) with AVX2, one block of 32 per vector:
/// `|w|` times `x` with the sign of `w` (`vpsignb`, as ggml), pairs summed
/// by `vpmaddwd` with ones.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `xs` and `out` must be `R` long and
/// `w` must hold as many Q8_0 blocks as each row of `xs`.
// SAFETY: called only from `products`, for matrices made with AVX2
// `Kernels` (AVX2 and FMA).
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_rows_q8_0<const R: usize>(w: &[u8], xs: &[Q8Row32], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(xs.len() == R && out.len() == R);
        let blocks = xs[0].d.len();
        debug_assert!(w.len() >= blocks * Q8_0_BYTES);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..blocks {
            let p = w.as_ptr().add(b * Q8_0_BYTES);
            let s = half::f16::from_bits(u16::from_le_bytes([*p, *p.add(1)])).to_f32();
            let wv = _mm256_loadu_si256(p.add(2).cast());
            let magnitude = _mm256_sign_epi8(wv, wv);
            for r in 0..R {
                let x = &xs[r];
                let xv = _mm256_loadu_si256(x.qs.as_ptr().add(b * BLOCK_32).cast());
                // At most 2 · 127 · 127 per pair: `x` is never -128.
                let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(xv, wv));
                let dot = _mm256_madd_epi16(pairs, ones);
                let scale = _mm256_set1_ps(s * x.d[b]);
                acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), scale, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = hsum(acc[r]);
        }
    }
}

/// `unpack_q5_0` (AVX-512) with AVX2: the 32 high bits spread one per
/// byte by a shuffle, an OR and a compare (as ggml's `bytes_from_bits_32`).
///
/// # Safety
/// The CPU must have AVX2; `w` must hold `d.len()` Q5_0 blocks and `q` be
/// `32 · d.len()` long.
// SAFETY: called only from `products`, for matrices made with AVX2
// `Kernels`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn unpack_q5_0(w: &[u8], q: &mut [u8], d: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(w.len() >= d.len() * Q5_0_BYTES && q.len() == d.len() * BLOCK_32);
        let low4 = _mm_set1_epi8(0x0F);
        let bit4 = _mm256_set1_epi8(0x10);
        // Byte j takes byte j / 8 of `qh`, then all bits but bit j % 8 set.
        let spread = _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        );
        let others = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
        for (b, (q, d)) in q.chunks_exact_mut(BLOCK_32).zip(d.iter_mut()).enumerate() {
            let block = w.as_ptr().add(b * Q5_0_BYTES);
            *d = half::f16::from_le_bytes([*block, *block.add(1)]).to_f32();
            let qh =
                i32::from_le_bytes([*block.add(2), *block.add(3), *block.add(4), *block.add(5)]);
            let bytes = _mm256_or_si256(_mm256_shuffle_epi8(_mm256_set1_epi32(qh), spread), others);
            let high = _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi8(-1)), bit4);
            let qs = _mm_loadu_si128(block.add(6).cast());
            let nibbles = _mm256_set_m128i(
                _mm_and_si128(_mm_srli_epi16::<4>(qs), low4),
                _mm_and_si128(qs, low4),
            );
            _mm256_storeu_si256(q.as_mut_ptr().cast(), _mm256_or_si256(nibbles, high));
        }
    }
}

/// `dot_row_q5_0` (AVX-512) with AVX2: per block, `d_w · d_x · (q · x -
/// 16 Σ x)`, one block per vector.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `q`, `d` and `x` must cover the same
/// number of blocks.
// SAFETY: called only from `products`, for matrices made with AVX2
// `Kernels` (AVX2 and FMA).
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_row_q5_0(q: &[u8], d: &[f32], x: &Q8Row32) -> f32 {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        let blocks = d.len();
        debug_assert!(q.len() == blocks * BLOCK_32 && x.qs.len() == q.len() && x.d.len() == blocks);
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_ps();
        let mut offset = 0f32;
        for b in 0..blocks {
            let qv = _mm256_loadu_si256(q.as_ptr().add(b * BLOCK_32).cast());
            let xs = _mm256_loadu_si256(x.qs.as_ptr().add(b * BLOCK_32).cast());
            // At most 2 · 31 · 128 per pair.
            let dot = _mm256_madd_epi16(_mm256_maddubs_epi16(qv, xs), ones);
            let s = d[b] * x.d[b];
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(s), acc);
            offset += s * x.sums[b] as f32;
        }
        hsum(acc) - 16.0 * offset
    }
}
