//! Q5_0 kernels (Gemma 3's layers): unpacking a weight row once for all
//! rows of activations and its dot product with one of them (decoding),
//! and repacking 16 rows into a tile for the prefill kernel.

use super::activations::Q8Row32;
use super::format::{TileBlock32, BLOCK_32, Q5_0_BYTES, TILE};

/// `repack` (in `prefill`) for Q5_0: per block an f16 scale, 32 high
/// bits, 16 bytes of nibbles (values 0..16 low, 16..32 high); four values
/// at a time, their nibbles joined with their high bits spread one per
/// byte.
pub(super) fn repack_q5_0(weights: &[u8], row_bytes: usize, tile: &mut [TileBlock32]) {
    for r in 0..TILE {
        let row = &weights[r * row_bytes..(r + 1) * row_bytes];
        for (block, t) in row.chunks_exact(Q5_0_BYTES).zip(tile.iter_mut()) {
            t.d[r] = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            let qh = u32::from_le_bytes(block[2..6].try_into().expect("four bytes"));
            let qs = &block[6..22];
            for g in 0..BLOCK_32 / 4 {
                let at = g % 4 * 4;
                let w = u32::from_le_bytes(qs[at..at + 4].try_into().expect("four bytes"));
                let nibbles = if g < 4 { w } else { w >> 4 } & 0x0F0F_0F0F;
                let b = (qh >> (4 * g)) & 0xF;
                let high = (b & 1) | ((b & 2) << 7) | ((b & 4) << 14) | ((b & 8) << 21);
                let word = nibbles | (high << 4);
                t.qs[(g * TILE + r) * 4..][..4].copy_from_slice(&word.to_le_bytes());
            }
        }
    }
}

/// `tile_q4k` for Q5_0 weights and activations in blocks of 32: per
/// block and row, `d_w · d_x · ((q - 16) · x)`, the offset folded into the
/// integer sum's starting value, `-16 · Σ x`.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` must hold `R` rows of
/// `tile.len()` blocks and `out` `16 · R` values.
// SAFETY: called only from `gemm`, for matrices that were made with AVX-512
// `Kernels` (see `dispatch`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tile_q5_0<const R: usize>(
    tile: &[TileBlock32],
    xs: &[Q8Row32],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(xs.len() == R && out.len() == R * TILE);
        let mut acc = [_mm512_setzero_ps(); R];
        for (b, t) in tile.iter().enumerate() {
            let mut isum = [_mm512_setzero_si512(); R];
            for r in 0..R {
                isum[r] = _mm512_set1_epi32(-16 * xs[r].sums[b]);
            }
            for g in 0..BLOCK_32 / 4 {
                let w = _mm512_load_si512(t.qs.as_ptr().add(g * TILE * 4).cast());
                for r in 0..R {
                    let y = xs[r].qs.as_ptr().add(b * BLOCK_32 + g * 4);
                    let y = _mm512_set1_epi32(std::ptr::read_unaligned(y.cast::<i32>()));
                    isum[r] = _mm512_dpbusd_epi32(isum[r], w, y);
                }
            }
            let d = _mm512_load_ps(t.d.as_ptr());
            for r in 0..R {
                let scale = _mm512_mul_ps(d, _mm512_set1_ps(xs[r].d[b]));
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r]), scale, acc[r]);
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
pub(super) unsafe fn tile_q5_0<const R: usize>(_: &[TileBlock32], _: &[Q8Row32], _: &mut [f32]) {
    unreachable!("no AVX-512 kernels off x86_64")
}

/// Unpacks one Q5_0 weight row: its 5-bit values (0..=31) one per byte
/// into `q`, its block scales into `d`. A row is unpacked once and then
/// multiplied with every row of activations (prefill has hundreds).
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `w` must hold `d.len()` Q5_0
/// blocks and `q` be `32 · d.len()` long.
// SAFETY: called only from `products`, for matrices made with AVX-512
// `Kernels` (AVX-512 F, BW and VNNI among others).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn unpack_q5_0(w: &[u8], q: &mut [u8], d: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(w.len() >= d.len() * Q5_0_BYTES && q.len() == d.len() * BLOCK_32);
        let low4 = _mm_set1_epi8(0x0F);
        let bit4 = _mm256_set1_epi8(0x10);
        for (b, (q, d)) in q.chunks_exact_mut(BLOCK_32).zip(d.iter_mut()).enumerate() {
            let block = w.as_ptr().add(b * Q5_0_BYTES);
            *d = half::f16::from_le_bytes([*block, *block.add(1)]).to_f32();
            let qh =
                u32::from_le_bytes([*block.add(2), *block.add(3), *block.add(4), *block.add(5)]);
            let qs = _mm_loadu_si128(block.add(6).cast());
            // Values 0..16 in the low nibbles, 16..32 in the high ones; bit 4
            // of value j is bit j of `qh`.
            let nibbles = _mm256_set_m128i(
                _mm_and_si128(_mm_srli_epi16::<4>(qs), low4),
                _mm_and_si128(qs, low4),
            );
            let high = _mm256_and_si256(_mm256_movm_epi8(qh), bit4);
            _mm256_storeu_si256(q.as_mut_ptr().cast(), _mm256_or_si256(nibbles, high));
        }
    }
}

/// The dot product of one unpacked Q5_0 weight row (`q`, `d`) with one
/// row of activations quantized in blocks of 32: per block, `d_w · d_x ·
/// (q · x - 16 Σ x)`, two blocks per 512-bit `vpdpbusd`.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, DQ and VNNI; `q`, `d` and `x` must cover
/// the same number of blocks.
// SAFETY: called only from `products`, for matrices made with AVX-512
// `Kernels` (AVX-512 F, BW, DQ and VNNI).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni")]
pub(super) unsafe fn dot_row_q5_0(q: &[u8], d: &[f32], x: &Q8Row32) -> f32 {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        let blocks = d.len();
        debug_assert!(q.len() == blocks * BLOCK_32 && x.qs.len() == q.len() && x.d.len() == blocks);
        let zero = _mm512_setzero_si512();
        let mut acc = _mm512_setzero_ps();
        // Σ scale · Σ x over blocks: 16 times this is the values' offset.
        let mut offset = 0f32;
        let mut b = 0;
        while b + 2 <= blocks {
            let qv = _mm512_loadu_si512(q.as_ptr().add(b * BLOCK_32).cast());
            let xs = _mm512_loadu_si512(x.qs.as_ptr().add(b * BLOCK_32).cast());
            let dot = _mm512_dpbusd_epi32(zero, qv, xs);
            let (s0, s1) = (d[b] * x.d[b], d[b + 1] * x.d[b + 1]);
            let scales = _mm512_insertf32x8::<1>(_mm512_set1_ps(s0), _mm256_set1_ps(s1));
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scales, acc);
            offset += s0 * x.sums[b] as f32 + s1 * x.sums[b + 1] as f32;
            b += 2;
        }
        if b < blocks {
            let qv =
                _mm512_zextsi256_si512(_mm256_loadu_si256(q.as_ptr().add(b * BLOCK_32).cast()));
            let xs =
                _mm512_zextsi256_si512(_mm256_loadu_si256(x.qs.as_ptr().add(b * BLOCK_32).cast()));
            let dot = _mm512_dpbusd_epi32(zero, qv, xs);
            let s = d[b] * x.d[b];
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(s), acc);
            offset += s * x.sums[b] as f32;
        }
        _mm512_reduce_add_ps(acc) - 16.0 * offset
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn unpack_q5_0(_w: &[u8], _q: &mut [u8], _d: &mut [f32]) {
    unreachable!("no AVX-512 kernels off x86_64")
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn dot_row_q5_0(_q: &[u8], _d: &[f32], _x: &Q8Row32) -> f32 {
    unreachable!("no AVX-512 kernels off x86_64")
}
