//! Matrix products with Q4_K, Q6_K and Q5_0 weights on AVX-512 VNNI CPUs:
//! matrix-vector kernels that read the GGUF layout (decoding, a few rows
//! of activations) and a prefill kernel on 16-row tiles repacked as it
//! goes (many rows).
//!
//! Written by hand because candle 0.11 has no such kernel: on x86 it runs
//! every Q6_K weight row through its AVX2 dot product, which is
//! compute-bound (about 1.7x the time per byte of its Q4_K kernel), and it
//! runs Q4_K weights through a copy interleaved for 16 rows at a time whose
//! scales are unpacked to f32, 1.33x the bytes of the GGUF layout. Decoding
//! one token reads every weight once, so bytes are time: in a Q4_K_M GGUF
//! the output projection and half of the `ffn_down` and `attn_v` weights
//! are Q6_K (for Qwen2.5-1.5B, 338 of the 930 MB that every decoded token
//! reads), the rest Q4_K.
//!
//! The arithmetic is candle's (and ggml's): activations are quantized to
//! 8 bits per block of 256 (`Q8_K`, quantized exactly as candle does), each
//! block's integer dot products are scaled by both blocks' scales, and only
//! the order of the floating-point additions differs. With 512-bit
//! registers and `vpdpbusd` one Q6_K block takes 8 multiply-adds and one
//! Q4_K block 4. Q5_0 (Gemma 3's layers), which candle multiplies with a
//! scalar loop, pairs with activations quantized as candle's `Q8_0`
//! (blocks of 32); see `dot_row_q5_0`.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Tensor};

/// Values per block (`QK_K`).
const BLOCK: usize = 256;
/// Bytes per Q6_K block: 128 low nibbles, 64 bytes of high bit pairs, 16
/// signed 8-bit scales, an f16 scale.
const Q6K_BYTES: usize = 210;
/// Bytes per Q4_K block: an f16 scale and an f16 scale of minimums, 12
/// bytes of 6-bit scales and minimums (8 of each), 128 bytes of nibbles.
const Q4K_BYTES: usize = 144;
/// Bytes per Q5_0 block: an f16 scale, 32 high bits, 16 bytes of nibbles
/// (32 values).
const Q5_0_BYTES: usize = 22;
/// Bytes per Q8_0 block: an f16 scale, 32 signed bytes.
const Q8_0_BYTES: usize = 34;
/// Values per Q5_0 and Q8_0 block (`QK5_0`, `QK8_0`).
const BLOCK_32: usize = 32;
/// Up to this many rows, Q4_K and Q6_K go through the matrix-vector
/// kernels, which read the GGUF layout and unpack each weight block again
/// for every row (decoding: one row per sequence); above it, through the
/// prefill kernel (`gemm`), which repacks 16 weight rows at a time and
/// runs every row over them. Q5_0 likewise.
const MAX_ROWS: usize = 16;
/// Weight rows per tile of the prefill kernel: one 512-bit vector of
/// 32-bit lanes.
const TILE: usize = 16;
/// Activation rows per register block of the prefill kernel: each repacked
/// weight vector is loaded once for this many `vpdpbusd`, and as many
/// independent sums hide the instruction's latency.
const MT: usize = 8;
/// Weight rows per parallel task.
const ROWS_PER_TASK: usize = 32;

/// One block of 256 activations quantized to 8 bits, as candle's
/// `BlockQ8K`, with sums over 32 values (Q4_K's minimums) where candle
/// keeps sums over 16.
#[derive(Clone)]
struct Q8Block {
    d: f32,
    qs: [i8; BLOCK],
    /// Sums of `qs` over each 32 values (at most 32 · 128 in magnitude).
    sums: [i16; 8],
    /// Sums of `qs` over each 16 values (Q6_K's sub-blocks, for the
    /// prefill kernel).
    sums16: [i16; 16],
}

/// Quantizes `xs` (a multiple of 256 long) as candle's
/// `BlockQ8K::from_float`: scale -127 / (the value of largest magnitude),
/// round half away from zero, clamp to -128..=127.
fn quantize_q8(xs: &[f32]) -> Vec<Q8Block> {
    if supported() {
        // SAFETY: the CPU has AVX-512 F and BW.
        return unsafe { quantize_q8_avx512(xs) };
    }
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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_q8_avx512(xs: &[f32]) -> Vec<Q8Block> {
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
                        let hits = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(load(g)), wanted);
                        (hits != 0).then(|| xs[16 * g + hits.trailing_zeros() as usize])
                    })
                    .unwrap_or(amax);
                let iscale = -127f32 / max;
                let scale = _mm512_set1_ps(iscale);
                for g in 0..BLOCK / 16 {
                    let v = _mm512_mul_ps(load(g), scale);
                    let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn quantize_q8_avx512(_: &[f32]) -> Vec<Q8Block> {
    unreachable!("supported() is false off x86_64")
}

/// Activations quantized as candle's `BlockQ8_0` (for Q5_0 weights):
/// blocks of 32, scale amax / 127 stored as f16, round half away from
/// zero; with each block's sum.
struct Q8Row32 {
    qs: Vec<i8>,
    d: Vec<f32>,
    sums: Vec<i32>,
}

fn quantize_q8_32(xs: &[f32]) -> Q8Row32 {
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

/// The weight formats the kernels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Q4K,
    Q6K,
    Q5_0,
    /// Decoding only (a few rows); prefill leaves it to candle.
    Q8_0,
}

impl Format {
    fn block_bytes(self) -> usize {
        match self {
            Self::Q4K => Q4K_BYTES,
            Self::Q6K => Q6K_BYTES,
            Self::Q5_0 => Q5_0_BYTES,
            Self::Q8_0 => Q8_0_BYTES,
        }
    }

    /// Values per block.
    fn block_len(self) -> usize {
        match self {
            Self::Q4K | Self::Q6K => BLOCK,
            Self::Q5_0 | Self::Q8_0 => BLOCK_32,
        }
    }
}

/// A batch of activation rows, quantized for one family of formats.
enum Activations {
    /// `Q8_K` blocks of 256, for Q4_K and Q6_K.
    K(Vec<Vec<Q8Block>>),
    /// `Q8_0` blocks of 32, for Q5_0.
    Blocks32(Vec<Q8Row32>),
}

/// Calls `kernel::<n>(args)` for a register block of `n` (1..=[`MT`])
/// activation rows: the number of rows is a constant in each instance, so
/// that its sums stay in registers.
macro_rules! rows_of {
    ($kernel:ident, $n:expr, $($arg:expr),*) => {
        match $n {
            1 => $kernel::<1>($($arg),*),
            2 => $kernel::<2>($($arg),*),
            3 => $kernel::<3>($($arg),*),
            4 => $kernel::<4>($($arg),*),
            5 => $kernel::<5>($($arg),*),
            6 => $kernel::<6>($($arg),*),
            7 => $kernel::<7>($($arg),*),
            8 => $kernel::<8>($($arg),*),
            n => unreachable!("{n} rows in a register block of at most {MT}"),
        }
    };
}

/// A Q4_K, Q6_K or Q5_0 weight matrix (`n` rows of `k`) with our kernels
/// where they pay and candle's matmul for the rest.
#[derive(Debug, Clone)]
pub struct KQuantMatMul {
    weights: Arc<QTensor>,
    candle: QMatMul,
    format: Format,
    n: usize,
    k: usize,
}

impl KQuantMatMul {
    /// `Some` for a Q4_K, Q6_K, Q5_0 or Q8_0 tensor on a CPU with AVX-512 (F,
    /// BW) and VNNI; `None` leaves the tensor to candle.
    pub fn new(weights: Arc<QTensor>) -> candle_core::Result<Option<Self>> {
        let format = match weights.dtype() {
            GgmlDType::Q4K => Format::Q4K,
            GgmlDType::Q6K => Format::Q6K,
            GgmlDType::Q5_0 => Format::Q5_0,
            GgmlDType::Q8_0 => Format::Q8_0,
            _ => return Ok(None),
        };
        if !supported() {
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
        }))
    }

    /// `x · Wᵀ` for `x` of shape `[.., k]`.
    fn matmul(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match Self::products(&[self], x)? {
            Some(mut out) => Ok(out.pop().expect("one product per matrix")),
            None => self.candle.forward(x),
        }
    }

    /// `x · Wᵢᵀ` for several matrices `Wᵢ` of the same width (a layer's
    /// query, key and value projections, or its gate and up projections),
    /// in one pass: `x` is quantized once and the rows of all matrices are
    /// spread over the thread pool together, one synchronization instead
    /// of one per matrix. `None` where the kernels do not take `x`: where
    /// the matrices' formats quantize activations differently, or, for
    /// several matrices, one's rows do not split into whole tasks, or, for
    /// more than [`MAX_ROWS`] rows (prefill), one's rows
    /// do not split into whole tiles.
    pub fn products(mats: &[&Self], x: &Tensor) -> candle_core::Result<Option<Vec<Tensor>>> {
        let Some(first) = mats.first() else {
            return Ok(Some(Vec::new()));
        };
        let k = first.k;
        let dims = x.dims().to_vec();
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let family = |f: Format| matches!(f, Format::Q5_0 | Format::Q8_0);
        let prefill = rows > MAX_ROWS;
        if mats
            .iter()
            .any(|m| family(m.format) != family(first.format))
            || rows == 0
            || dims.last() != Some(&k)
            || mats.iter().any(|m| m.k != k)
            || (mats.len() > 1 && mats.iter().any(|m| m.n % ROWS_PER_TASK != 0))
            || (prefill
                && mats
                    .iter()
                    .any(|m| m.n % TILE != 0 || m.format == Format::Q8_0))
        {
            return Ok(None);
        }
        let xs = x
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        let quantized = if family(first.format) {
            Activations::Blocks32(xs.chunks_exact(k).map(quantize_q8_32).collect())
        } else {
            Activations::K(xs.chunks_exact(k).map(quantize_q8).collect())
        };
        // Borrowed, not copied, for CPU storage; lengths were checked in `new`.
        let data = mats
            .iter()
            .map(|m| m.weights.data())
            .collect::<candle_core::Result<Vec<_>>>()?;
        if prefill {
            return gemm(mats, &data, &quantized, &dims, x.device()).map(Some);
        }
        // The first task of each matrix, and one past the last.
        let mut starts = vec![0];
        for m in mats {
            starts.push(starts.last().expect("starts at 0") + m.n.div_ceil(ROWS_PER_TASK));
        }
        let total: usize = mats.iter().map(|m| m.n).sum();
        // Output transposed ([n, rows]) so that each task writes one
        // contiguous piece; each weight row is read once for all rows.
        let mut out_t = vec![0f32; total * rows];
        crate::parallel::for_each_chunk(&mut out_t, ROWS_PER_TASK * rows, |task, out| {
            let i = starts.partition_point(|&s| s <= task) - 1;
            let (m, data) = (mats[i], &data[i]);
            let row_bytes = k / m.format.block_len() * m.format.block_bytes();
            let first = (task - starts[i]) * ROWS_PER_TASK;
            // Q5_0 rows are unpacked here, once per weight row.
            let (mut unpacked, mut scales) = match m.format {
                Format::Q5_0 => (vec![0u8; k], vec![0f32; k / BLOCK_32]),
                Format::Q4K | Format::Q6K | Format::Q8_0 => (Vec::new(), Vec::new()),
            };
            for (j, out) in out.chunks_exact_mut(rows).enumerate() {
                let w = &data[(first + j) * row_bytes..(first + j + 1) * row_bytes];
                // SAFETY (all three): `supported()` checked the CPU features
                // in `new`; `w` holds whole blocks of `m.format` for `k`
                // values, as many as `x` has (the family was checked above).
                match (&quantized, m.format) {
                    (Activations::K(xs), Format::Q4K | Format::Q6K) => {
                        // Register blocks of up to `MT` rows, each weight
                        // block unpacked once per register block.
                        for (out, xs) in out.chunks_mut(MT).zip(xs.chunks(MT)) {
                            unsafe {
                                if m.format == Format::Q4K {
                                    rows_of!(dot_rows_q4k, xs.len(), w, xs, out)
                                } else {
                                    rows_of!(dot_rows_q6k, xs.len(), w, xs, out)
                                }
                            }
                        }
                    }
                    (Activations::Blocks32(xs), Format::Q5_0) => {
                        unsafe { unpack_q5_0(w, &mut unpacked, &mut scales) };
                        for (o, x) in out.iter_mut().zip(xs) {
                            *o = unsafe { dot_row_q5_0(&unpacked, &scales, x) };
                        }
                    }
                    (Activations::Blocks32(xs), Format::Q8_0) => {
                        for (out, xs) in out.chunks_mut(MT).zip(xs.chunks(MT)) {
                            unsafe { rows_of!(dot_rows_q8_0, xs.len(), w, xs, out) }
                        }
                    }
                    _ => unreachable!("one activation family per pass"),
                }
            }
        });
        let mut outs = Vec::with_capacity(mats.len());
        if let ([m], 1) = (mats, rows) {
            // One row of one matrix: `out_t` is the output as it is.
            let mut shape = dims.clone();
            *shape.last_mut().expect("x has a last dimension") = m.n;
            outs.push(Tensor::from_vec(out_t, shape, x.device())?);
            return Ok(Some(outs));
        }
        let mut pieces = &out_t[..];
        for m in mats {
            let (piece, rest) = pieces.split_at(m.n * rows);
            pieces = rest;
            let out = match rows {
                1 => piece.to_vec(),
                _ => {
                    let mut out = vec![0f32; rows * m.n];
                    for (j, col) in piece.chunks_exact(rows).enumerate() {
                        for (r, &v) in col.iter().enumerate() {
                            out[r * m.n + j] = v;
                        }
                    }
                    out
                }
            };
            let mut shape = dims.clone();
            *shape.last_mut().expect("x has a last dimension") = m.n;
            outs.push(Tensor::from_vec(out, shape, x.device())?);
        }
        Ok(Some(outs))
    }
}

impl Module for KQuantMatMul {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.matmul(x)
    }
}

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
fn gemm(
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
            let each_block = |kernel: &dyn Fn(usize, usize, &mut [f32])| {
                let mut block = [0f32; MT * TILE];
                let mut r = 0;
                while r < rows {
                    let n = (rows - r).min(MT);
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
            // SAFETY (the kernels and `repack`): `supported()` was checked
            // in `new`; `weights` holds the tile's 16 rows; the tile and
            // every row of activations cover the same `kb` blocks
            // (`products` checked the widths and the family).
            match (m.format, xs) {
                (Format::Q4K | Format::Q6K, Activations::K(xs)) => SCRATCH.with(|scratch| {
                    let mut tile = scratch.borrow_mut();
                    tile.resize_with(kb, TileBlock::zeroed);
                    unsafe { repack(m.format, weights, row_bytes, &mut tile) };
                    each_block(&|r, n, out| unsafe {
                        let xs = &xs[r..r + n];
                        if m.format == Format::Q4K {
                            rows_of!(tile_q4k, n, &tile, xs, out)
                        } else {
                            rows_of!(tile_q6k, n, &tile, xs, out)
                        }
                    });
                }),
                (Format::Q5_0, Activations::Blocks32(xs)) => SCRATCH_32.with(|scratch| {
                    let mut tile = scratch.borrow_mut();
                    tile.resize_with(kb, TileBlock32::zeroed);
                    repack_q5_0(weights, row_bytes, &mut tile);
                    each_block(&|r, n, out| unsafe {
                        rows_of!(tile_q5_0, n, &tile, &xs[r..r + n], out)
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

/// One 256-value block of 16 weight rows, repacked for the prefill
/// kernel: values one per byte, four consecutive values of a row side by
/// side and the 16 rows after each other (`[group of 4 (64)][row (16)][4]`),
/// so that one 512-bit load holds four values of each row for `vpdpbusd`
/// against four broadcast activations; and the scales as f32 per
/// sub-block and row.
#[repr(C, align(64))]
struct TileBlock {
    /// Q4_K: 0..=15; Q6_K: 0..=63 (the value plus 32).
    qs: [u8; BLOCK * TILE],
    /// `d · scale` per sub-block (Q4_K: 8 of 32 values; Q6_K: 16 of 16).
    scales: [[f32; TILE]; 16],
    /// Q4_K: `dmin · min` per sub-block.
    mins: [[f32; TILE]; 8],
}

impl TileBlock {
    fn zeroed() -> Self {
        Self {
            qs: [0; BLOCK * TILE],
            scales: [[0.0; TILE]; 16],
            mins: [[0.0; TILE]; 8],
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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn repack(format: Format, weights: &[u8], row_bytes: usize, tile: &mut [TileBlock]) {
    use std::arch::x86_64::*;
    debug_assert!(weights.len() >= TILE * row_bytes);
    debug_assert!(row_bytes >= tile.len() * format.block_bytes());
    let bytes = format.block_bytes();
    let mut rows = [_mm512_setzero_si512(); TILE];
    for (b, t) in tile.iter_mut().enumerate() {
        let block = |r: usize| weights.as_ptr().add(r * row_bytes + b * bytes);
        for (r, row) in rows.iter_mut().enumerate() {
            let block = block(r);
            let f16 = |at: usize| half::f16::from_le_bytes([*block.add(at), *block.add(at + 1)]);
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn repack(_: Format, _: &[u8], _: usize, _: &mut [TileBlock]) {
    unreachable!("supported() is false off x86_64")
}

/// Transposes a 16 × 16 matrix of 32-bit words held in 16 vectors:
/// word `c` of `rows[r]` becomes word `r` of the result's vector `c`.
/// Three rounds: words within 128-bit lanes, then pairs of words, then the
/// lanes themselves (a 4 × 4 transpose of lanes).
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

/// `R` rows of Q8_K activations (`xs`) times one repacked Q4_K tile: per
/// block and row, `Σⱼ d·scaleⱼ · (qⱼ · y) - dmin·minⱼ · Σ yⱼ` over its 8
/// sub-blocks, times the row's scale; `out` gets 16 values per row.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` must hold `R` rows of
/// `tile.len()` blocks and `out` `16 · R` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_q4k<const R: usize>(tile: &[TileBlock], xs: &[Vec<Q8Block>], out: &mut [f32]) {
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

/// [`tile_q4k`] for Q6_K: per block and row, `Σⱼ d·scaleⱼ · ((q - 32)ⱼ ·
/// y)` over its 16 sub-blocks, the offset folded into each sub-block's
/// integer sum as its starting value, `-32 · Σ yⱼ`.
///
/// # Safety
/// As for [`tile_q4k`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_q6k<const R: usize>(tile: &[TileBlock], xs: &[Vec<Q8Block>], out: &mut [f32]) {
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile_q4k<const R: usize>(_: &[TileBlock], _: &[Vec<Q8Block>], _: &mut [f32]) {
    unreachable!("supported() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile_q6k<const R: usize>(_: &[TileBlock], _: &[Vec<Q8Block>], _: &mut [f32]) {
    unreachable!("supported() is false off x86_64")
}

/// One Q5_0 block (32 values) of 16 weight rows, repacked for the
/// prefill kernel as [`TileBlock`] is: values 0..=31 (the value plus 16)
/// one per byte, `[group of 4 (8)][row (16)][4]`, and the rows' scales.
#[repr(C, align(64))]
struct TileBlock32 {
    qs: [u8; BLOCK_32 * TILE],
    d: [f32; TILE],
}

impl TileBlock32 {
    fn zeroed() -> Self {
        Self {
            qs: [0; BLOCK_32 * TILE],
            d: [0.0; TILE],
        }
    }
}

/// [`repack`] for Q5_0: per block an f16 scale, 32 high bits, 16 bytes of
/// nibbles (values 0..16 low, 16..32 high); four values at a time, their
/// nibbles joined with their high bits spread one per byte.
fn repack_q5_0(weights: &[u8], row_bytes: usize, tile: &mut [TileBlock32]) {
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

/// [`tile_q4k`] for Q5_0 weights and activations in blocks of 32: per
/// block and row, `d_w · d_x · ((q - 16) · x)`, the offset folded into the
/// integer sum's starting value, `-16 · Σ x`.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` must hold `R` rows of
/// `tile.len()` blocks and `out` `16 · R` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_q5_0<const R: usize>(tile: &[TileBlock32], xs: &[Q8Row32], out: &mut [f32]) {
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile_q5_0<const R: usize>(_: &[TileBlock32], _: &[Q8Row32], _: &mut [f32]) {
    unreachable!("supported() is false off x86_64")
}

/// Whether this CPU runs the kernels.
pub fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// ggml's unpacking of a Q4_K block's 6-bit scales and minimums (the 12
/// bytes after its two f16 scales) into 8 bytes of scales followed by 8
/// bytes of minimums.
///
/// # Safety
/// `block` must point at a whole Q4_K block.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn q4k_scales_mins(block: *const u8) -> std::arch::x86_64::__m128i {
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

/// Values `64c..64c + 64` of a Q4_K block, one per byte (0..=15): the 32
/// bytes of nibbles at `16 + 32c` hold the first 32 in their low nibbles
/// and the next 32 in their high ones.
///
/// # Safety
/// The CPU must have AVX-512 F; `block` must point at a whole Q4_K block
/// and `c < 4`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn q4k_values(block: *const u8, c: usize) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let low4 = _mm256_set1_epi8(0x0F);
    let packed = _mm256_loadu_si256(block.add(16 + 32 * c).cast());
    let lo = _mm256_and_si256(packed, low4);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low4);
    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
}

/// Values `64c..64c + 64` of a Q6_K block, one per byte (0..=63, the value
/// plus 32): per half block of 128, the low nibbles of its 64 bytes of
/// `ql` (values 0..64) or their high nibbles (64..128), with two high bits
/// each from its 32 bytes of `qh`.
///
/// # Safety
/// The CPU must have AVX-512 F and BW; `block` must point at a whole Q6_K
/// block and `c < 4`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn q6k_values(block: *const u8, c: usize) -> std::arch::x86_64::__m512i {
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
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_rows_q4k<const R: usize>(w: &[u8], xs: &[Vec<Q8Block>], out: &mut [f32]) {
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

/// The dot products of one Q6_K weight row with `R` quantized activation
/// rows, each block unpacked once for all of them (see [`dot_rows_q4k`]).
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `xs` and `out` must be `R`
/// long and `w` must hold as many Q6_K blocks as each row of `xs`.
// Block `b` indexes the weight row and every row of activations alike.
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dot_rows_q6k<const R: usize>(w: &[u8], xs: &[Vec<Q8Block>], out: &mut [f32]) {
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

/// Unpacks one Q5_0 weight row: its 5-bit values (0..=31) one per byte
/// into `q`, its block scales into `d`. A row is unpacked once and then
/// multiplied with every row of activations (prefill has hundreds).
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `w` must hold `d.len()` Q5_0
/// blocks and `q` be `32 · d.len()` long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn unpack_q5_0(w: &[u8], q: &mut [u8], d: &mut [f32]) {
    use std::arch::x86_64::*;
    debug_assert!(w.len() >= d.len() * Q5_0_BYTES && q.len() == d.len() * BLOCK_32);
    let low4 = _mm_set1_epi8(0x0F);
    let bit4 = _mm256_set1_epi8(0x10);
    for (b, (q, d)) in q.chunks_exact_mut(BLOCK_32).zip(d.iter_mut()).enumerate() {
        let block = w.as_ptr().add(b * Q5_0_BYTES);
        *d = half::f16::from_le_bytes([*block, *block.add(1)]).to_f32();
        let qh = u32::from_le_bytes([*block.add(2), *block.add(3), *block.add(4), *block.add(5)]);
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

/// The dot product of one unpacked Q5_0 weight row (`q`, `d`) with one
/// row of activations quantized in blocks of 32: per block, `d_w · d_x ·
/// (q · x - 16 Σ x)`, two blocks per 512-bit `vpdpbusd`.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, DQ and VNNI; `q`, `d` and `x` must cover
/// the same number of blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni")]
unsafe fn dot_row_q5_0(q: &[u8], d: &[f32], x: &Q8Row32) -> f32 {
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
        let qv = _mm512_zextsi256_si512(_mm256_loadu_si256(q.as_ptr().add(b * BLOCK_32).cast()));
        let xs = _mm512_zextsi256_si512(_mm256_loadu_si256(x.qs.as_ptr().add(b * BLOCK_32).cast()));
        let dot = _mm512_dpbusd_epi32(zero, qv, xs);
        let s = d[b] * x.d[b];
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_set1_ps(s), acc);
        offset += s * x.sums[b] as f32;
    }
    _mm512_reduce_add_ps(acc) - 16.0 * offset
}

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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vnni")]
unsafe fn dot_rows_q8_0<const R: usize>(w: &[u8], xs: &[Q8Row32], out: &mut [f32]) {
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

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_rows_q8_0<const R: usize>(_w: &[u8], _xs: &[Q8Row32], _out: &mut [f32]) {
    unreachable!("supported() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn unpack_q5_0(_w: &[u8], _q: &mut [u8], _d: &mut [f32]) {
    unreachable!("supported() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_row_q5_0(_q: &[u8], _d: &[f32], _x: &Q8Row32) -> f32 {
    unreachable!("supported() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_rows_q4k<const R: usize>(_w: &[u8], _xs: &[Vec<Q8Block>], _out: &mut [f32]) {
    unreachable!("supported() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_rows_q6k<const R: usize>(_w: &[u8], _xs: &[Vec<Q8Block>], _out: &mut [f32]) {
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

    /// Our products against candle's `QMatMul` on the same quantized
    /// `n × k` weights, for each number of activation rows in `row_counts`.
    fn matches_candle(dtype: GgmlDType, n: usize, k: usize, row_counts: &[usize]) {
        let w = Tensor::from_vec(values(n * k, 1), (n, k), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&w, dtype).unwrap());
        let Some(fast) = KQuantMatMul::new(q.clone()).unwrap() else {
            // Without AVX-512 VNNI the weights stay with candle.
            assert!(!supported());
            return;
        };
        let candle = QMatMul::from_arc(q).unwrap();
        for &rows in row_counts {
            let x = Tensor::from_vec(values(rows * k, rows as u32 + 7), (rows, k), &Device::Cpu)
                .unwrap();
            let ours = fast.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            let theirs = candle.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            for (a, b) in ours.iter().flatten().zip(theirs.iter().flatten()) {
                // The same integer sums; only float addition order differs.
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{dtype:?}, {rows} rows: {a} vs {b}"
                );
            }
        }
        // A 3-d input ([batch, seq, k]) keeps its shape.
        let x = Tensor::from_vec(values(2 * k, 3), (1, 2, k), &Device::Cpu).unwrap();
        assert_eq!(fast.forward(&x).unwrap().dims(), &[1, 2, n]);
    }

    /// Row counts for both kernels: the matrix-vector one (up to
    /// `MAX_ROWS`) and the prefill one, whose register blocks of `MT` rows
    /// leave every remainder from 1 to `MT - 1` for some count.
    const ROW_COUNTS: [usize; 14] = [1, 2, 3, 4, 8, MAX_ROWS, 17, 18, 19, 20, 21, 22, 23, 100];

    #[test]
    fn q4k_matches_candle_on_any_row_count() {
        matches_candle(GgmlDType::Q4K, 80, 768, &ROW_COUNTS);
        // Rows that do not split into prefill tiles stay with candle there.
        matches_candle(GgmlDType::Q4K, 72, 768, &[1, MAX_ROWS, 40]);
    }

    #[test]
    fn q6k_matches_candle_on_any_row_count() {
        matches_candle(GgmlDType::Q6K, 80, 768, &ROW_COUNTS);
        matches_candle(GgmlDType::Q6K, 72, 768, &[1, MAX_ROWS, 40]);
    }

    #[test]
    fn q5_0_matches_candle_on_any_row_count() {
        matches_candle(GgmlDType::Q5_0, 80, 768, &ROW_COUNTS);
        matches_candle(GgmlDType::Q5_0, 72, 768, &[1, 2, 3, 4, 8, MAX_ROWS]);
        // An odd number of blocks per row (the one-block tail), and more
        // rows than the K-quant kernels take (prefill).
        matches_candle(GgmlDType::Q5_0, 40, 160, &[1, 5, 100]);
    }

    #[test]
    fn q8_0_matches_candle_on_any_row_count() {
        // Widths that are not a multiple of 256, as Gemma 3's 640: there
        // candle multiplies Q8_0 by Q8_0 blocks of 32, our arithmetic (for
        // multiples of 256 it uses a repacked copy and activations in
        // blocks of 256). Odd block counts take the single-block tail;
        // prefill (above MAX_ROWS) goes to candle itself.
        matches_candle(GgmlDType::Q8_0, 80, 640, &ROW_COUNTS);
        matches_candle(GgmlDType::Q8_0, 40, 160, &[1, 5, MAX_ROWS, 100]);
    }

    #[test]
    fn products_of_several_matrices_equal_one_at_a_time() {
        let k = 512;
        let mats: Vec<KQuantMatMul> = [
            (64, GgmlDType::Q4K),
            (32, GgmlDType::Q6K),
            (96, GgmlDType::Q4K),
        ]
        .iter()
        .enumerate()
        .filter_map(|(i, &(n, dtype))| {
            let w = Tensor::from_vec(values(n * k, 11 + i as u32), (n, k), &Device::Cpu).unwrap();
            KQuantMatMul::new(Arc::new(QTensor::quantize(&w, dtype).unwrap())).unwrap()
        })
        .collect();
        if mats.is_empty() {
            assert!(!supported());
            return;
        }
        let refs: Vec<&KQuantMatMul> = mats.iter().collect();
        for rows in [1, 3, MAX_ROWS, MAX_ROWS + 1, 40] {
            let x = Tensor::from_vec(values(rows * k, 40 + rows as u32), (rows, k), &Device::Cpu)
                .unwrap();
            let together = KQuantMatMul::products(&refs, &x)
                .unwrap()
                .expect("the kernels take x");
            for (m, t) in mats.iter().zip(&together) {
                let alone = m.forward(&x).unwrap();
                assert_eq!(t.dims(), alone.dims());
                // The same rows through the same kernel: identical.
                assert_eq!(t.to_vec2::<f32>().unwrap(), alone.to_vec2::<f32>().unwrap());
            }
        }
        // Prefill-sized inputs for a matrix whose rows do not split into
        // 16-row tiles are left to candle.
        let w = Tensor::from_vec(values(72 * k, 5), (72, k), &Device::Cpu).unwrap();
        let odd = KQuantMatMul::new(Arc::new(QTensor::quantize(&w, GgmlDType::Q4K).unwrap()))
            .unwrap()
            .expect("supported above");
        let x = Tensor::zeros((MAX_ROWS + 1, k), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(KQuantMatMul::products(&[&odd], &x).unwrap().is_none());
        let x = x.narrow(0, 0, MAX_ROWS).unwrap();
        assert!(KQuantMatMul::products(&[&odd], &x).unwrap().is_some());
    }

    /// A decoding step multiplies several sequences' rows together: each
    /// row's result must be exactly what it gets alone, whatever register
    /// block it falls in.
    #[test]
    fn rows_decoded_together_equal_rows_alone() {
        let (n, k) = (64, 768);
        for dtype in [
            GgmlDType::Q4K,
            GgmlDType::Q6K,
            GgmlDType::Q5_0,
            GgmlDType::Q8_0,
        ] {
            let w = Tensor::from_vec(values(n * k, 9), (n, k), &Device::Cpu).unwrap();
            let Some(m) =
                KQuantMatMul::new(Arc::new(QTensor::quantize(&w, dtype).unwrap())).unwrap()
            else {
                assert!(!supported());
                return;
            };
            for rows in [2, 3, 5, MT, MT + 3, MAX_ROWS] {
                let x =
                    Tensor::from_vec(values(rows * k, 70 + rows as u32), (rows, k), &Device::Cpu)
                        .unwrap();
                let together = m.forward(&x).unwrap().to_vec2::<f32>().unwrap();
                for (r, row) in together.iter().enumerate() {
                    let alone = m.forward(&x.narrow(0, r, 1).unwrap()).unwrap();
                    assert_eq!(
                        row,
                        &alone.to_vec2::<f32>().unwrap()[0],
                        "{dtype:?}, row {r} of {rows}"
                    );
                }
            }
        }
    }

    #[test]
    fn other_formats_stay_with_candle() {
        let w = Tensor::from_vec(values(32 * 256, 2), (32, 256), &Device::Cpu).unwrap();
        for dtype in [GgmlDType::Q5K, GgmlDType::Q4_0, GgmlDType::Q4_1] {
            let q = Arc::new(QTensor::quantize(&w, dtype).unwrap());
            assert!(KQuantMatMul::new(q).unwrap().is_none(), "{dtype:?}");
        }
    }

    #[test]
    fn quantizes_activations_as_candle_does() {
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
