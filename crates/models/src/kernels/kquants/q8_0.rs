//! The Q8_0 kernel for decoding (Gemma 3's tied output projection): the
//! dot products of one weight row with a few rows of activations.

use super::activations::Q8Row32;

#[cfg(target_arch = "x86_64")]
use super::format::{BLOCK_32, Q8_0_BYTES};

/// The dot products of one Q8_0 weight row (GGUF layout) with `R` rows of
/// activations quantized in blocks of 32: per block `d_w · d_x · (w · x)`,
/// two blocks per 512-bit `vpdpbusd`. `vpdpbusd` multiplies unsigned by
/// signed bytes, so it takes `|w|` and `x` with the sign of `w` (as
/// ggml's AVX2 kernel does with `_mm256_sign_epi8`); `x` is never -128
/// (quantized to ±127), so negating it cannot overflow. `|w|`, its signs
/// and its scales are taken once for all `R` rows.
///
/// Written by hand because candle's Q8_0 product (Gemma 3's tied output
/// projection, 262,144 × 640: three quarters of the bytes a decoded token
/// reads) is its 256-bit AVX2 kernel on a thread pool of its own.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, DQ and VNNI; `xs` and `out` must be
/// `R` long and `w` must hold as many Q8_0 blocks as each row of `xs`.
// SAFETY: called only from `products`, for matrices made with AVX-512
// `Kernels` (AVX-512 F, BW, DQ and VNNI).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni")]
pub(super) unsafe fn dot_rows_q8_0<const R: usize>(w: &[u8], xs: &[Q8Row32], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(xs.len() == R && out.len() == R);
        let blocks = xs[0].d.len();
        debug_assert!(w.len() >= blocks * Q8_0_BYTES);
        let w_scale = |b: usize| {
            let p = w.as_ptr().add(b * Q8_0_BYTES);
            half::f16::from_bits(u16::from_le_bytes([*p, *p.add(1)])).to_f32()
        };
        let values = |b: usize| _mm256_loadu_si256(w.as_ptr().add(b * Q8_0_BYTES + 2).cast());
        let zero = _mm512_setzero_si512();
        let mut acc = [_mm512_setzero_ps(); R];
        let mut b = 0;
        while b < blocks {
            // Two blocks, or the last one alone (the upper half zero).
            let pair = b + 2 <= blocks;
            let wv = match pair {
                true => _mm512_inserti64x4::<1>(_mm512_castsi256_si512(values(b)), values(b + 1)),
                false => _mm512_zextsi256_si512(values(b)),
            };
            let negative = _mm512_movepi8_mask(wv);
            let magnitude = _mm512_abs_epi8(wv);
            let (s0, s1) = (w_scale(b), if pair { w_scale(b + 1) } else { 0.0 });
            for r in 0..R {
                let x = &xs[r];
                let xv = match pair {
                    true => _mm512_loadu_si512(x.qs.as_ptr().add(b * BLOCK_32).cast()),
                    false => _mm512_zextsi256_si512(_mm256_loadu_si256(
                        x.qs.as_ptr().add(b * BLOCK_32).cast(),
                    )),
                };
                let signed = _mm512_mask_sub_epi8(xv, negative, zero, xv);
                let dot = _mm512_dpbusd_epi32(zero, magnitude, signed);
                let scales = match pair {
                    true => _mm512_insertf32x8::<1>(
                        _mm512_set1_ps(s0 * x.d[b]),
                        _mm256_set1_ps(s1 * x.d[b + 1]),
                    ),
                    false => _mm512_set1_ps(s0 * x.d[b]),
                };
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, acc[r]);
            }
            b += 2;
        }
        for r in 0..R {
            out[r] = _mm512_reduce_add_ps(acc[r]);
        }
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn dot_rows_q8_0<const R: usize>(_w: &[u8], _xs: &[Q8Row32], _out: &mut [f32]) {
    unreachable!("no AVX-512 kernels off x86_64")
}
