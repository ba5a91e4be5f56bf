//! Q4_K kernels: unpacking a block's scales and values, the dot products
//! of one weight row with a few activation rows (decoding), and the
//! product of a repacked tile with many rows (prefill).

use super::activations::Q8Block;
use super::format::TileBlock;

#[cfg(target_arch = "x86_64")]
use super::format::{Q4K_BYTES, TILE};

/// ggml's unpacking of a Q4_K block's 6-bit scales and minimums (the 12
/// bytes after its two f16 scales) into 8 bytes of scales followed by 8
/// bytes of minimums.
///
/// # Safety
/// `block` must point at a whole Q4_K block.
// SAFETY: called only from Q4_K kernels (`dot_rows_q4k`, `repack`), with a
// pointer to a whole block of the weights they were handed.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) unsafe fn q4k_scales_mins(block: *const u8) -> std::arch::x86_64::__m128i {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        const K1: u32 = 0x3f3f_3f3f;
        const K2: u32 = 0x0f0f_0f0f;
        const K3: u32 = 0x0303_0303;
        let mut u = [0u32; 4];
        std::ptr::copy_nonoverlapping(block.add(4), u.as_mut_ptr().cast::<u8>(), 12);
        u[3] = ((u[2] >> 4) & K2) | (((u[1] >> 6) & K3) << 4);
        let aux = u[1] & K1;
        u[1] = (u[2] & K2) | (((u[0] >> 6) & K3) << 4);
        u[2] = aux;
        u[0] &= K1;
        std::arch::x86_64::_mm_loadu_si128(u.as_ptr().cast())
    }
}

/// Values `64c..64c + 64` of a Q4_K block, one per byte (0..=15): the 32
/// bytes of nibbles at `16 + 32c` hold the first 32 in their low nibbles
/// and the next 32 in their high ones.
///
/// # Safety
/// The CPU must have AVX-512 F; `block` must point at a whole Q4_K block
/// and `c < 4`.
// SAFETY: called only from `dot_rows_q4k` and `repack`, both behind
// AVX-512 `Kernels` (AVX-512 F and BW among others).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) unsafe fn q4k_values(block: *const u8, c: usize) -> std::arch::x86_64::__m512i {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        let low4 = _mm256_set1_epi8(0x0F);
        let packed = _mm256_loadu_si256(block.add(16 + 32 * c).cast());
        let lo = _mm256_and_si256(packed, low4);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low4);
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    }
}

/// The dot products of one Q4_K weight row with `R` quantized activation
/// rows (`xs`, written to `out`): per block, `d · Σⱼ scaleⱼ · (qⱼ · y) -
/// dmin · Σⱼ minⱼ · Σ yⱼ` over its 8 groups of 32 values, times the
/// activations' scale. Each block is unpacked once for all `R` rows, so a
/// decoding step of several sequences costs less than one per sequence;
/// each row's sums are formed in the same order for every `R`, so a row's
/// result does not depend on the others.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` and `out` must be `R`
/// long and `w` must hold as many Q4_K blocks as each row of `xs`.
// Block `b` indexes the weight row and every row of activations alike.
// SAFETY: called only from `products`, for matrices made with AVX-512
// `Kernels` (AVX-512 F, BW and VNNI among others).
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn dot_rows_q4k<const R: usize>(w: &[u8], xs: &[Vec<Q8Block>], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(xs.len() == R && out.len() == R);
        let blocks = xs[0].len();
        debug_assert!(w.len() >= blocks * Q4K_BYTES);
        let zero = _mm512_setzero_si512();
        // 32 bytes of nibbles hold values 64c..64c+32 (low) and 64c+32..64c+64
        // (high), groups 2c and 2c+1: 16-bit lanes 0..16 of their products
        // (pairs of values) take scale 2c, lanes 16..32 scale 2c+1.
        let spread = [
            _mm256_setr_m128i(_mm_set1_epi8(0), _mm_set1_epi8(1)),
            _mm256_setr_m128i(_mm_set1_epi8(2), _mm_set1_epi8(3)),
            _mm256_setr_m128i(_mm_set1_epi8(4), _mm_set1_epi8(5)),
            _mm256_setr_m128i(_mm_set1_epi8(6), _mm_set1_epi8(7)),
        ];
        let mut acc = [_mm512_setzero_ps(); R];
        let mut acc_min = [_mm_setzero_ps(); R];
        for b in 0..blocks {
            let block = w.as_ptr().add(b * Q4K_BYTES);
            let d = half::f16::from_le_bytes([*block, *block.add(1)]).to_f32();
            let dmin = half::f16::from_le_bytes([*block.add(2), *block.add(3)]).to_f32();
            let scales_mins = q4k_scales_mins(block);
            let scales_2 = _mm256_broadcastsi128_si256(scales_mins);
            // Σⱼ minⱼ · Σ yⱼ: 6-bit minimums times 16-bit sums.
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
            let mut isum = [zero; R];
            for (c, spread) in spread.iter().enumerate() {
                let q = q4k_values(block, c);
                let scale = _mm512_cvtepu8_epi16(_mm256_shuffle_epi8(scales_2, *spread));
                for r in 0..R {
                    let ys = _mm512_loadu_si512(xs[r][b].qs.as_ptr().add(64 * c).cast());
                    // Pairs q·y in 16 bits (at most 2 · 15 · 128), then each
                    // pair of pairs times its scale into the 32-bit lane of
                    // values 4j..4j+4: the integer sums `vpdpbusd` and a
                    // multiply by the scale would give, in two instructions.
                    let pairs = _mm512_maddubs_epi16(q, ys);
                    isum[r] = _mm512_dpwssd_epi32(isum[r], pairs, scale);
                }
            }
            for r in 0..R {
                let scale = _mm512_set1_ps(d * xs[r][b].d);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), scale, acc[r]);
            }
        }
        for r in 0..R {
            let mins = _mm_add_ps(acc_min[r], _mm_movehl_ps(acc_min[r], acc_min[r]));
            let mins = _mm_add_ss(mins, _mm_shuffle_ps::<1>(mins, mins));
            out[r] = _mm512_reduce_add_ps(acc[r]) - _mm_cvtss_f32(mins);
        }
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn dot_rows_q4k<const R: usize>(
    _w: &[u8],
    _xs: &[Vec<Q8Block>],
    _out: &mut [f32],
) {
    unreachable!("no AVX-512 kernels off x86_64")
}

/// `R` rows of Q8_K activations (`xs`) times one repacked Q4_K tile: per
/// block and row, `Σⱼ d·scaleⱼ · (qⱼ · y) - dmin·minⱼ · Σ yⱼ` over its 8
/// sub-blocks, times the row's scale; `out` gets 16 values per row.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` must hold `R` rows of
/// `tile.len()` blocks and `out` `16 · R` values.
// SAFETY: called only from `gemm`, for matrices that were made with AVX-512
// `Kernels` (see `dispatch`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tile_q4k<const R: usize>(
    tile: &[TileBlock],
    xs: &[Vec<Q8Block>],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(xs.len() == R && out.len() == R * TILE);
        let mut acc = [_mm512_setzero_ps(); R];
        for (b, t) in tile.iter().enumerate() {
            let mut block = [_mm512_setzero_ps(); R];
            for sub in 0..8 {
                let mut isum = [_mm512_setzero_si512(); R];
                for g in 0..8 {
                    let w = _mm512_load_si512(t.qs.as_ptr().add((sub * 8 + g) * TILE * 4).cast());
                    for r in 0..R {
                        let y = xs[r][b].qs.as_ptr().add(sub * 32 + g * 4);
                        let y = _mm512_set1_epi32(std::ptr::read_unaligned(y.cast::<i32>()));
                        isum[r] = _mm512_dpbusd_epi32(isum[r], w, y);
                    }
                }
                let scale = _mm512_load_ps(t.scales[sub].as_ptr());
                let min = _mm512_load_ps(t.mins[sub].as_ptr());
                for r in 0..R {
                    let sum = _mm512_set1_ps(f32::from(xs[r][b].sums[sub]));
                    block[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), scale, block[r]);
                    block[r] = _mm512_fnmadd_ps(min, sum, block[r]);
                }
            }
            for r in 0..R {
                acc[r] = _mm512_fmadd_ps(block[r], _mm512_set1_ps(xs[r][b].d), acc[r]);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.as_mut_ptr().add(r * TILE), *acc);
        }
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn tile_q4k<const R: usize>(_: &[TileBlock], _: &[Vec<Q8Block>], _: &mut [f32]) {
    unreachable!("no AVX-512 kernels off x86_64")
}
