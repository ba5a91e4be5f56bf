//! The prefill kernel ([`gemm`]): Q4_K, Q6_K and Q5_0 products for many
//! rows of activations, on tiles of 16 weight rows repacked as it goes
//! (`repack`, `transpose_16x16`).

use candle_core::Tensor;

use super::activations::{Activations, Q8Block};
use super::format::{rows_of, Format, TileBlock, TileBlock32, MT, TILE};
use super::matrix::KQuantMatMul;
use super::q4k::tile_q4k;
use super::q5_0::{repack_q5_0, tile_q5_0};
use super::q6k::tile_q6k;
use crate::kernels::dispatch::Kernels;

#[cfg(target_arch = "x86_64")]
use crate::kernels::dispatch::Isa;

#[cfg(target_arch = "x86_64")]
use super::avx2_tiles::{
    self, tile_q4k as avx2_q4k, tile_q5_0 as avx2_q5_0, tile_q6k as avx2_q6k, MT_AVX2,
};

#[cfg(target_arch = "x86_64")]
use super::format::BLOCK;
#[cfg(target_arch = "x86_64")]
use super::q4k::{q4k_scales_mins, q4k_values};
#[cfg(target_arch = "x86_64")]
use super::q6k::q6k_values;

/// `x · Wᵢᵀ` for Q4_K and Q6_K matrices and many rows of `x` (prefill),
/// `xs` its rows quantized: each task repacks one tile of 16 weight rows
/// ([`TileBlock`], in a per-thread buffer) and runs every row of `x` over
/// it, [`MT`] rows at a time, so each repacked weight vector is loaded once
/// for `MT` multiply-adds and each block is unpacked once per call rather
/// than once per row.
///
/// Written by hand because candle's prefill kernel works on a copy of the
/// weights that it repacks on first use and keeps (1.33x the Q4_K bytes,
/// 1.5x the Q6_K ones: the model in memory twice, and about 0.9 s for
/// Qwen2.5-1.5B's first prompt), and because ours does less work per
/// block: the weights come unpacked to bytes, and block scales are applied
/// once per sub-block instead of being rebuilt from nibbles per row pair.
pub(super) fn gemm(
    mats: &[&KQuantMatMul],
    data: &[std::borrow::Cow<'_, [u8]>],
    xs: &Activations,
    dims: &[usize],
    device: &candle_core::Device,
) -> candle_core::Result<Vec<Tensor>> {
    thread_local! {
        /// The current task's repacked tile, reused across tasks and calls
        /// (up to 35 blocks, 200 KB, for a 8,960-wide matrix).
        static SCRATCH: std::cell::RefCell<Vec<TileBlock>> = const { std::cell::RefCell::new(Vec::new()) };
        /// The same for Q5_0 (blocks of 32).
        static SCRATCH_32: std::cell::RefCell<Vec<TileBlock32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let rows = match xs {
        Activations::K(xs) => xs.len(),
        Activations::Blocks32(xs) => xs.len(),
    };
    let mut starts = vec![0];
    for m in mats {
        starts.push(starts.last().expect("starts at 0") + m.n / TILE);
    }
    let mut outs: Vec<Vec<f32>> = mats.iter().map(|m| vec![0f32; rows * m.n]).collect();
    {
        let targets: Vec<_> = outs
            .iter_mut()
            .map(|o| crate::parallel::Disjoint::new(o))
            .collect();
        crate::parallel::for_each_task(*starts.last().expect("starts at 0"), |task| {
            let i = starts.partition_point(|&s| s <= task) - 1;
            let (m, data) = (mats[i], &data[i]);
            let kb = m.k / m.format.block_len();
            let row_bytes = kb * m.format.block_bytes();
            let first = (task - starts[i]) * TILE;
            let weights = &data[first * row_bytes..(first + TILE) * row_bytes];
            // Runs `kernel(r, n, out)` for every register block of `n`
            // rows from row `r` and writes out its 16 columns of each row.
            let mt = match m.kernels.isa() {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => MT_AVX2,
                _ => MT,
            };
            let each_block = |kernel: &dyn Fn(usize, usize, &mut [f32])| {
                let mut block = [0f32; MT * TILE];
                let mut r = 0;
                while r < rows {
                    let n = (rows - r).min(mt);
                    let out = &mut block[..n * TILE];
                    kernel(r, n, out);
                    for (j, lanes) in out.chunks_exact(TILE).enumerate() {
                        // SAFETY: this task alone writes columns
                        // `first..first + 16` of matrix `i`.
                        unsafe { targets[i].write((r + j) * m.n + first, lanes) };
                    }
                    r += n;
                }
            };
            // SAFETY (the kernels and `repack`): `m.kernels` came from
            // the CPU feature check (AVX-512 or AVX2: `products` sends no
            // NEON matrix here); `weights` holds the tile's 16 rows; the
            // tile and every row of activations cover the same `kb` blocks
            // (`products` checked the widths and the family).
            let kernels = m.kernels;
            match (m.format, xs) {
                (Format::Q4K | Format::Q6K, Activations::K(xs)) => SCRATCH.with(|scratch| {
                    let mut tile = scratch.borrow_mut();
                    tile.resize_with(kb, TileBlock::zeroed);
                    // SAFETY: as above.
                    unsafe { repack_with(kernels, m.format, weights, row_bytes, &mut tile) };
                    // SAFETY: as above.
                    each_block(&|r, n, out| unsafe {
                        tile_k(kernels, m.format, &tile, &xs[r..r + n], out)
                    });
                }),
                (Format::Q5_0, Activations::Blocks32(xs)) => SCRATCH_32.with(|scratch| {
                    let mut tile = scratch.borrow_mut();
                    tile.resize_with(kb, TileBlock32::zeroed);
                    repack_q5_0(weights, row_bytes, &mut tile);
                    // SAFETY: as above.
                    each_block(&|r, n, out| unsafe {
                        let xs = &xs[r..r + n];
                        match kernels.isa() {
                            #[cfg(target_arch = "x86_64")]
                            Isa::Avx2 => rows_of!(avx2_q5_0, n, &tile, xs, out),
                            _ => rows_of!(tile_q5_0, n, &tile, xs, out),
                        }
                    });
                }),
                _ => unreachable!("one activation family per pass"),
            }
        });
    }
    let mut tensors = Vec::with_capacity(mats.len());
    for (m, out) in mats.iter().zip(outs) {
        let mut shape = dims.to_vec();
        *shape.last_mut().expect("x has a last dimension") = m.n;
        tensors.push(Tensor::from_vec(out, shape, device)?);
    }
    Ok(tensors)
}

/// `repack` by the kernels of `kernels` (AVX-512 or AVX2).
///
/// # Safety
/// As for `repack`, with `kernels` from the CPU feature check.
unsafe fn repack_with(
    kernels: Kernels,
    format: Format,
    weights: &[u8],
    row_bytes: usize,
    tile: &mut [TileBlock],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        match kernels.isa() {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => avx2_tiles::repack(format, weights, row_bytes, tile),
            _ => repack(format, weights, row_bytes, tile),
        }
    }
}

/// A Q4_K or Q6_K tile times `xs.len()` rows (at most `MT`, or `MT_AVX2`
/// for AVX2) by the kernels of `kernels`.
///
/// # Safety
/// As for `tile_q4k`, with `kernels` from the CPU feature check.
unsafe fn tile_k(
    kernels: Kernels,
    format: Format,
    tile: &[TileBlock],
    xs: &[Vec<Q8Block>],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        let n = xs.len();
        match (kernels.isa(), format) {
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, Format::Q4K) => rows_of!(avx2_q4k, n, tile, xs, out),
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, _) => rows_of!(avx2_q6k, n, tile, xs, out),
            (_, Format::Q4K) => rows_of!(tile_q4k, n, tile, xs, out),
            _ => rows_of!(tile_q6k, n, tile, xs, out),
        }
    }
}

/// Repacks 16 weight rows (`weights`, `row_bytes` each, in the GGUF
/// layout) into `tile`, one [`TileBlock`] per block. Per block, each row's
/// scales (Q4_K: 8 scales and 8 minimums) become one vector of 16 floats
/// and each 64 of its values one vector of bytes (unpacked as the
/// matrix-vector kernels do); each set of 16 vectors is then transposed as
/// a 16 × 16 matrix of 32-bit words, so that an output vector holds one
/// scale, or four consecutive values, of every row.
///
/// Vectorized because it runs over every weight at every prompt: written
/// value by value it took about 40% of a 32-token prompt's time.
///
/// # Safety
/// The CPU must have AVX-512 F and BW; `weights` must hold 16 rows of
/// `row_bytes` bytes, each `tile.len()` blocks of `format` (Q4_K or Q6_K).
// SAFETY: called only from `gemm`, whose matrices were made with AVX-512
// `Kernels` (or `repack_with`, likewise).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn repack(format: Format, weights: &[u8], row_bytes: usize, tile: &mut [TileBlock]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        debug_assert!(weights.len() >= TILE * row_bytes);
        debug_assert!(row_bytes >= tile.len() * format.block_bytes());
        let bytes = format.block_bytes();
        let mut rows = [_mm512_setzero_si512(); TILE];
        for (b, t) in tile.iter_mut().enumerate() {
            let block = |r: usize| weights.as_ptr().add(r * row_bytes + b * bytes);
            for (r, row) in rows.iter_mut().enumerate() {
                let block = block(r);
                let f16 =
                    |at: usize| half::f16::from_le_bytes([*block.add(at), *block.add(at + 1)]);
                let scales = match format {
                    Format::Q4K => {
                        // 8 scales, then 8 minimums.
                        let factors = _mm512_insertf32x8::<1>(
                            _mm512_set1_ps(f16(0).to_f32()),
                            _mm256_set1_ps(f16(2).to_f32()),
                        );
                        let ints = _mm512_cvtepu8_epi32(q4k_scales_mins(block));
                        _mm512_mul_ps(_mm512_cvtepi32_ps(ints), factors)
                    }
                    _ => {
                        let ints = _mm512_cvtepi8_epi32(_mm_loadu_si128(block.add(192).cast()));
                        _mm512_mul_ps(_mm512_cvtepi32_ps(ints), _mm512_set1_ps(f16(208).to_f32()))
                    }
                };
                *row = _mm512_castps_si512(scales);
            }
            for (j, v) in transpose_16x16(&rows).iter().enumerate() {
                let v = _mm512_castsi512_ps(*v);
                match (format, j) {
                    (Format::Q4K, 8..) => _mm512_storeu_ps(t.mins[j - 8].as_mut_ptr(), v),
                    _ => _mm512_storeu_ps(t.scales[j].as_mut_ptr(), v),
                }
            }
            for c in 0..BLOCK / 64 {
                for (r, row) in rows.iter_mut().enumerate() {
                    let block = block(r);
                    *row = match format {
                        Format::Q4K => q4k_values(block, c),
                        _ => q6k_values(block, c),
                    };
                }
                for (g, v) in transpose_16x16(&rows).iter().enumerate() {
                    _mm512_storeu_si512(t.qs.as_mut_ptr().add((16 * c + g) * TILE * 4).cast(), *v);
                }
            }
        }
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64, and every
// caller runs behind it.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn repack(_: Format, _: &[u8], _: usize, _: &mut [TileBlock]) {
    unreachable!("no AVX-512 kernels off x86_64")
}

/// Transposes a 16 × 16 matrix of 32-bit words held in 16 vectors:
/// word `c` of `rows[r]` becomes word `r` of the result's vector `c`.
/// Three rounds: words within 128-bit lanes, then pairs of words, then the
/// lanes themselves (a 4 × 4 transpose of lanes).
// SAFETY: called only from `repack`, itself behind AVX-512 `Kernels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_16x16(
    rows: &[std::arch::x86_64::__m512i; 16],
) -> [std::arch::x86_64::__m512i; 16] {
    use std::arch::x86_64::*;
    let mut t = [_mm512_setzero_si512(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_epi32(rows[2 * i], rows[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(rows[2 * i], rows[2 * i + 1]);
    }
    // Lane l of u[4i + j]: word 4l + j of rows 4i..4i + 4.
    let mut u = [_mm512_setzero_si512(); 16];
    for i in 0..4 {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    let mut out = [_mm512_setzero_si512(); 16];
    for j in 0..4 {
        let (a, b, c, d) = (u[j], u[4 + j], u[8 + j], u[12 + j]);
        let s0 = _mm512_shuffle_i32x4::<0x44>(a, b);
        let s1 = _mm512_shuffle_i32x4::<0xEE>(a, b);
        let s2 = _mm512_shuffle_i32x4::<0x44>(c, d);
        let s3 = _mm512_shuffle_i32x4::<0xEE>(c, d);
        out[j] = _mm512_shuffle_i32x4::<0x88>(s0, s2);
        out[4 + j] = _mm512_shuffle_i32x4::<0xDD>(s0, s2);
        out[8 + j] = _mm512_shuffle_i32x4::<0x88>(s1, s3);
        out[12 + j] = _mm512_shuffle_i32x4::<0xDD>(s1, s3);
    }
    out
}
