//! The prefill kernels (many rows of activations) on AVX2 + FMA CPUs:
//! `repack` of 16 weight rows into the same [`TileBlock`] layout the
//! AVX-512 kernels read, and the products of a tile with up to
//! [`MT_AVX2`] rows of activations, each 16-row tile taken as two halves
//! of 8 rows (one 256-bit vector of 32-bit lanes). `vpdpbusd` becomes
//! `vpmaddubsw` summed in 16 bits over as many groups as cannot overflow,
//! then `vpmaddwd` with ones.

use std::arch::x86_64::*;

use super::activations::{Q8Block, Q8Row32};
use super::avx2::{q4k_halves, q6k_quarters};
use super::format::{Format, TileBlock, TileBlock32, BLOCK_32, TILE};
use super::q4k::q4k_scales_mins;

/// Activation rows per register block of the AVX2 prefill kernels: with 16
/// registers, 4 rows' integer and float sums (8) leave room for the
/// weights, the broadcast activations and the scales.
pub(super) const MT_AVX2: usize = 4;

/// Transposes an 8 × 8 matrix of 32-bit words held in 8 vectors: word `c`
/// of `rows[r]` becomes word `r` of the result's vector `c`.
///
/// # Safety
/// The CPU must have AVX2.
// SAFETY: called only from `repack` (AVX2), itself behind AVX2 `Kernels`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn transpose_8x8(rows: &[__m256i; 8]) -> [__m256i; 8] {
    let t: [__m256i; 8] = std::array::from_fn(|i| {
        let (a, b) = (rows[i / 2 * 2], rows[i / 2 * 2 + 1]);
        if i % 2 == 0 {
            _mm256_unpacklo_epi32(a, b)
        } else {
            _mm256_unpackhi_epi32(a, b)
        }
    });
    // u[4i + j] holds, per 128-bit lane l, word 4l + j of rows 4i..4i + 4.
    let u: [__m256i; 8] = std::array::from_fn(|i| {
        let (base, j) = (i / 4 * 4, i % 4);
        let (a, b) = (t[base + j / 2], t[base + 2 + j / 2]);
        if j % 2 == 0 {
            _mm256_unpacklo_epi64(a, b)
        } else {
            _mm256_unpackhi_epi64(a, b)
        }
    });
    std::array::from_fn(|c| {
        if c < 4 {
            _mm256_permute2x128_si256::<0x20>(u[c], u[4 + c])
        } else {
            _mm256_permute2x128_si256::<0x31>(u[c - 4], u[c])
        }
    })
}

/// `repack` (AVX-512) with AVX2: 16 weight rows (`weights`, `row_bytes`
/// each) into `tile`, one [`TileBlock`] per block; the scales row by row,
/// the values unpacked 32 to a vector and transposed 8 rows at a time.
///
/// # Safety
/// The CPU must have AVX2; `weights` must hold 16 rows of `row_bytes`
/// bytes, each `tile.len()` blocks of `format` (Q4_K or Q6_K).
// SAFETY: called only from `gemm`, for matrices made with AVX2 `Kernels`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn repack(
    format: Format,
    weights: &[u8],
    row_bytes: usize,
    tile: &mut [TileBlock],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(weights.len() >= TILE * row_bytes);
        debug_assert!(row_bytes >= tile.len() * format.block_bytes());
        let bytes = format.block_bytes();
        for (b, t) in tile.iter_mut().enumerate() {
            let block = |r: usize| weights.as_ptr().add(r * row_bytes + b * bytes);
            for r in 0..TILE {
                let block = block(r);
                let f16 =
                    |at: usize| half::f16::from_le_bytes([*block.add(at), *block.add(at + 1)]);
                if format == Format::Q4K {
                    let (d, dmin) = (f16(0).to_f32(), f16(2).to_f32());
                    let mut sm = [0u8; 16];
                    _mm_storeu_si128(sm.as_mut_ptr().cast(), q4k_scales_mins(block));
                    for j in 0..8 {
                        t.scales[j][r] = d * f32::from(sm[j]);
                        t.mins[j][r] = dmin * f32::from(sm[8 + j]);
                    }
                } else {
                    let d = f16(208).to_f32();
                    for (j, scales) in t.scales.iter_mut().enumerate() {
                        scales[r] = d * f32::from(*block.add(192 + j) as i8);
                    }
                }
            }
            for c in 0..4 {
                for rows in 0..2 {
                    let mut lo = [_mm256_setzero_si256(); 8];
                    let mut hi = [_mm256_setzero_si256(); 8];
                    for r in 0..8 {
                        let block = block(8 * rows + r);
                        [lo[r], hi[r]] = match format {
                            Format::Q4K => q4k_halves(block, c),
                            _ => {
                                let q = q6k_quarters(block, c / 2);
                                [q[2 * (c % 2)], q[2 * (c % 2) + 1]]
                            }
                        };
                    }
                    let words = transpose_8x8(&lo).into_iter().chain(transpose_8x8(&hi));
                    for (g, v) in words.enumerate() {
                        let at = (16 * c + g) * TILE * 4 + 32 * rows;
                        _mm256_storeu_si256(t.qs.as_mut_ptr().add(at).cast(), v);
                    }
                }
            }
        }
    }
}

/// `tile_q4k` (AVX-512) with AVX2: `R` (at most [`MT_AVX2`]) rows of Q8_K
/// activations times one repacked Q4_K tile; per block, sub-block and
/// row, `d·scale · (q · y) - dmin·min · Σ y`, times the row's scale.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `xs` must hold `R` rows of `tile.len()`
/// blocks and `out` `16 · R` values.
// SAFETY: called only from `gemm`, for matrices made with AVX2 `Kernels`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_q4k<const R: usize>(
    tile: &[TileBlock],
    xs: &[Vec<Q8Block>],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(xs.len() == R && R <= MT_AVX2 && out.len() == R * TILE);
        let ones = _mm256_set1_epi16(1);
        for half in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            for (b, t) in tile.iter().enumerate() {
                for sub in 0..8 {
                    // 8 groups of 4 values: pairs at most 2 · 15 · 128, their
                    // sum over the 8 within 16 bits.
                    let mut pairs = [_mm256_setzero_si256(); R];
                    for g in 0..8 {
                        let w = _mm256_loadu_si256(
                            t.qs.as_ptr()
                                .add((sub * 8 + g) * TILE * 4 + 32 * half)
                                .cast(),
                        );
                        for (r, pairs) in pairs.iter_mut().enumerate() {
                            let y = xs[r][b].qs.as_ptr().add(sub * 32 + g * 4);
                            let y = _mm256_set1_epi32(std::ptr::read_unaligned(y.cast::<i32>()));
                            *pairs = _mm256_add_epi16(*pairs, _mm256_maddubs_epi16(w, y));
                        }
                    }
                    let scale = _mm256_loadu_ps(t.scales[sub].as_ptr().add(8 * half));
                    let min = _mm256_loadu_ps(t.mins[sub].as_ptr().add(8 * half));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let y = &xs[r][b];
                        let isum = _mm256_madd_epi16(pairs[r], ones);
                        let d = _mm256_set1_ps(y.d);
                        *acc = _mm256_fmadd_ps(
                            _mm256_cvtepi32_ps(isum),
                            _mm256_mul_ps(scale, d),
                            *acc,
                        );
                        let sum = _mm256_set1_ps(f32::from(y.sums[sub]) * y.d);
                        *acc = _mm256_fnmadd_ps(min, sum, *acc);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(r * TILE + 8 * half), *acc);
            }
        }
    }
}

/// `tile_q6k` (AVX-512) with AVX2: per block, sub-block and row,
/// `d·scale · ((q - 32) · y)`, the offset folded into the integer sum's
/// starting value, `-32 · Σ y`.
///
/// # Safety
/// As for `tile_q4k` (AVX2).
// SAFETY: called only from `gemm`, for matrices made with AVX2 `Kernels`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_q6k<const R: usize>(
    tile: &[TileBlock],
    xs: &[Vec<Q8Block>],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(xs.len() == R && R <= MT_AVX2 && out.len() == R * TILE);
        let ones = _mm256_set1_epi16(1);
        for half in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            for (b, t) in tile.iter().enumerate() {
                for sub in 0..16 {
                    let mut isum: [__m256i; R] = std::array::from_fn(|r| {
                        _mm256_set1_epi32(-32 * i32::from(xs[r][b].sums16[sub]))
                    });
                    // Pairs at most 2 · 63 · 128: two groups' sums fit 16 bits.
                    for gs in 0..2 {
                        let mut pairs = [_mm256_setzero_si256(); R];
                        for g in 2 * gs..2 * gs + 2 {
                            let w = _mm256_loadu_si256(
                                t.qs.as_ptr()
                                    .add((sub * 4 + g) * TILE * 4 + 32 * half)
                                    .cast(),
                            );
                            for (r, pairs) in pairs.iter_mut().enumerate() {
                                let y = xs[r][b].qs.as_ptr().add(sub * 16 + g * 4);
                                let y =
                                    _mm256_set1_epi32(std::ptr::read_unaligned(y.cast::<i32>()));
                                *pairs = _mm256_add_epi16(*pairs, _mm256_maddubs_epi16(w, y));
                            }
                        }
                        for (isum, pairs) in isum.iter_mut().zip(&pairs) {
                            *isum = _mm256_add_epi32(*isum, _mm256_madd_epi16(*pairs, ones));
                        }
                    }
                    let scale = _mm256_loadu_ps(t.scales[sub].as_ptr().add(8 * half));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let scale = _mm256_mul_ps(scale, _mm256_set1_ps(xs[r][b].d));
                        *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), scale, *acc);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(r * TILE + 8 * half), *acc);
            }
        }
    }
}

/// `tile_q5_0` (AVX-512) with AVX2: per block and row, `d_w · d_x · ((q -
/// 16) · x)`, the offset folded into the integer sum's starting value.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `xs` must hold `R` rows of `tile.len()`
/// blocks and `out` `16 · R` values.
// SAFETY: called only from `gemm`, for matrices made with AVX2 `Kernels`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_q5_0<const R: usize>(
    tile: &[TileBlock32],
    xs: &[Q8Row32],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        debug_assert!(xs.len() == R && R <= MT_AVX2 && out.len() == R * TILE);
        let ones = _mm256_set1_epi16(1);
        for half in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            for (b, t) in tile.iter().enumerate() {
                let mut isum: [__m256i; R] =
                    std::array::from_fn(|r| _mm256_set1_epi32(-16 * xs[r].sums[b]));
                // Pairs at most 2 · 31 · 128: four groups' sums fit 16 bits.
                for gs in 0..2 {
                    let mut pairs = [_mm256_setzero_si256(); R];
                    for g in 4 * gs..4 * gs + 4 {
                        let w =
                            _mm256_loadu_si256(t.qs.as_ptr().add(g * TILE * 4 + 32 * half).cast());
                        for (r, pairs) in pairs.iter_mut().enumerate() {
                            let y = xs[r].qs.as_ptr().add(b * BLOCK_32 + g * 4);
                            let y = _mm256_set1_epi32(std::ptr::read_unaligned(y.cast::<i32>()));
                            *pairs = _mm256_add_epi16(*pairs, _mm256_maddubs_epi16(w, y));
                        }
                    }
                    for (isum, pairs) in isum.iter_mut().zip(&pairs) {
                        *isum = _mm256_add_epi32(*isum, _mm256_madd_epi16(*pairs, ones));
                    }
                }
                let d = _mm256_loadu_ps(t.d.as_ptr().add(8 * half));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let scale = _mm256_mul_ps(d, _mm256_set1_ps(xs[r].d[b]));
                    *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), scale, *acc);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(r * TILE + 8 * half), *acc);
            }
        }
    }
}
