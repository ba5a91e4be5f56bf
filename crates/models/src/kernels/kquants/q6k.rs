//! Q6_K kernels: unpacking a block's values, the dot products of one
//! weight row with a few activation rows (decoding), and the product of a
//! repacked tile with many rows (prefill).

use super::activations::Q8Block;
use super::format::TileBlock;

#[cfg(target_arch = "x86_64")]
use super::format::{Q6K_BYTES, TILE};

/// Values `64c..64c + 64` of a Q6_K block, one per byte (0..=63, the value
/// plus 32): per half block of 128, the low nibbles of its 64 bytes of
/// `ql` (values 0..64) or their high nibbles (64..128), with two high bits
/// each from its 32 bytes of `qh`.
///
/// # Safety
/// The CPU must have AVX-512 F and BW; `block` must point at a whole Q6_K
/// block and `c < 4`.
// SAFETY: called only from `dot_rows_q6k` and `repack`, both behind
// AVX-512 `Kernels` (AVX-512 F and BW among others).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) unsafe fn q6k_values(block: *const u8, c: usize) -> std::arch::x86_64::__m512i {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        /// Bytes 0..32 of a vector take the high bits of the first quarter of
        /// a half block, bytes 32..64 of the second: the 16-bit words of the
        /// duplicated `qh` shift by 0 and 2 (values 0..64) or 4 and 6 (64..128).
        static SHIFTS: [[i16; 32]; 2] = {
            let mut shifts = [[0i16; 32]; 2];
            let mut i = 16;
            while i < 32 {
                shifts[0][i] = 2;
                i += 1;
            }
            let mut i = 0;
            while i < 32 {
                shifts[1][i] = shifts[0][i] + 4;
                i += 1;
            }
            shifts
        };
        let low4 = _mm512_set1_epi8(0x0F);
        let half = c / 2;
        let low = _mm512_loadu_si512(block.add(64 * half).cast());
        let high = _mm512_broadcast_i64x4(_mm256_loadu_si256(block.add(128 + 32 * half).cast()));
        let nibbles = match c % 2 {
            0 => _mm512_and_si512(low, low4),
            _ => _mm512_and_si512(_mm512_srli_epi16::<4>(low), low4),
        };
        let shift = _mm512_loadu_si512(SHIFTS[c % 2].as_ptr().cast());
        let high = _mm512_and_si512(_mm512_srlv_epi16(high, shift), _mm512_set1_epi8(0x03));
        _mm512_or_si512(nibbles, _mm512_slli_epi16::<4>(high))
    }
}

/// The dot products of one Q6_K weight row with `R` quantized activation
/// rows, each block unpacked once for all of them (see `dot_rows_q4k`).
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` and `out` must be `R`
/// long and `w` must hold as many Q6_K blocks as each row of `xs`.
// Block `b` indexes the weight row and every row of activations alike.
// SAFETY: called only from `products`, for matrices made with AVX-512
// `Kernels` (AVX-512 F, BW and VNNI among others).
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn dot_rows_q6k<const R: usize>(w: &[u8], xs: &[Vec<Q8Block>], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(xs.len() == R && out.len() == R);
        let blocks = xs[0].len();
        debug_assert!(w.len() >= blocks * Q6K_BYTES);
        let offset = _mm512_set1_epi8(32);
        // 16-bit lane j of a product covers values 2j..2j+2, whose scale is
        // j / 8 (16 values per scale).
        let spread_lo = _mm256_setr_m128i(
            _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
            _mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),
        );
        let spread_hi = _mm256_setr_m128i(
            _mm_setr_epi8(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5),
            _mm_setr_epi8(6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7),
        );
        let zero = _mm512_setzero_si512();
        let mut acc = [_mm512_setzero_ps(); R];
        for b in 0..blocks {
            let block = w.as_ptr().add(b * Q6K_BYTES);
            let sc = block.add(192);
            let d = half::f16::from_le_bytes([*block.add(208), *block.add(209)]).to_f32();
            let mut isum = [zero; R];
            for half in 0..2 {
                // Values 0..64 and 64..128 of this half, each 0..=63.
                let (q_lo, q_hi) = (q6k_values(block, 2 * half), q6k_values(block, 2 * half + 1));
                let scales = _mm256_broadcastsi128_si256(_mm_loadl_epi64(sc.add(8 * half).cast()));
                let s_lo = _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(scales, spread_lo));
                let s_hi = _mm512_cvtepi8_epi16(_mm256_shuffle_epi8(scales, spread_hi));
                for r in 0..R {
                    let y = &xs[r][b];
                    let y_lo = _mm512_loadu_si512(y.qs.as_ptr().add(128 * half).cast());
                    let y_hi = _mm512_loadu_si512(y.qs.as_ptr().add(128 * half + 64).cast());
                    // (q - 32) · y for pairs of values in 16 bits (q · y at
                    // most 2 · 63 · 128), then pairs of pairs times their
                    // scale into 32-bit lanes (see `dot_rows_q4k`).
                    let d_lo = _mm512_sub_epi16(
                        _mm512_maddubs_epi16(q_lo, y_lo),
                        _mm512_maddubs_epi16(offset, y_lo),
                    );
                    let d_hi = _mm512_sub_epi16(
                        _mm512_maddubs_epi16(q_hi, y_hi),
                        _mm512_maddubs_epi16(offset, y_hi),
                    );
                    isum[r] = _mm512_dpwssd_epi32(isum[r], d_lo, s_lo);
                    isum[r] = _mm512_dpwssd_epi32(isum[r], d_hi, s_hi);
                }
            }
            for r in 0..R {
                let scale = _mm512_set1_ps(d * xs[r][b].d);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), scale, acc[r]);
            }
        }
        for r in 0..R {
            out[r] = _mm512_reduce_add_ps(acc[r]);
        }
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn dot_rows_q6k<const R: usize>(
    _w: &[u8],
    _xs: &[Vec<Q8Block>],
    _out: &mut [f32],
) {
    unreachable!("no AVX-512 kernels off x86_64")
}

/// `tile_q4k` for Q6_K: per block and row, `Σⱼ d·scaleⱼ · ((q - 32)ⱼ ·
/// y)` over its 16 sub-blocks, the offset folded into each sub-block's
/// integer sum as its starting value, `-32 · Σ yⱼ`.
///
/// # Safety
/// As for `tile_q4k`.
// SAFETY: called only from `gemm`, for matrices that were made with AVX-512
// `Kernels` (see `dispatch`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tile_q6k<const R: usize>(
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
            for sub in 0..16 {
                let mut isum = [_mm512_setzero_si512(); R];
                for r in 0..R {
                    isum[r] = _mm512_set1_epi32(-32 * i32::from(xs[r][b].sums16[sub]));
                }
                for g in 0..4 {
                    let w = _mm512_load_si512(t.qs.as_ptr().add((sub * 4 + g) * TILE * 4).cast());
                    for r in 0..R {
                        let y = xs[r][b].qs.as_ptr().add(sub * 16 + g * 4);
                        let y = _mm512_set1_epi32(std::ptr::read_unaligned(y.cast::<i32>()));
                        isum[r] = _mm512_dpbusd_epi32(isum[r], w, y);
                    }
                }
                let scale = _mm512_load_ps(t.scales[sub].as_ptr());
                for r in 0..R {
                    block[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), scale, block[r]);
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
pub(super) unsafe fn tile_q6k<const R: usize>(_: &[TileBlock], _: &[Vec<Q8Block>], _: &mut [f32]) {
    unreachable!("no AVX-512 kernels off x86_64")
}
