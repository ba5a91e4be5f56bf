//! Running a [`KQuantMatMul`]: `x · Wᵀ` for one or several matrices, the
//! matrix-vector pass over the GGUF layout for a few rows of activations
//! (decoding), and the dispatch of many rows to the prefill kernel.

use candle_core::{Module, Tensor};

use super::activations::{quantize_q8, quantize_q8_32, Activations, Q8Block, Q8Row32};
use super::format::{rows_of, Format, BLOCK_32, MAX_ROWS, MT, ROWS_PER_TASK, TILE};
use super::matrix::KQuantMatMul;
use super::prefill::gemm;
use super::q4k::dot_rows_q4k;
use super::q5_0::{dot_row_q5_0, unpack_q5_0};
use super::q6k::dot_rows_q6k;
use super::q8_0::dot_rows_q8_0;
use crate::kernels::dispatch::{Isa, Kernels};

#[cfg(target_arch = "x86_64")]
use super::avx2::{dot_rows_q4k as avx2_q4k, dot_rows_q6k as avx2_q6k};

impl KQuantMatMul {
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
    /// more than `MAX_ROWS` rows (prefill), one's rows
    /// do not split into whole tiles.
    pub fn products(mats: &[&Self], x: &Tensor) -> candle_core::Result<Option<Vec<Tensor>>> {
        let Some(first) = mats.first() else {
            return Ok(Some(Vec::new()));
        };
        let k = first.k;
        let dims = x.dims().to_vec();
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let family = |f: Format| matches!(f, Format::Q5_0 | Format::Q8_0);
        let kernels = first.kernels;
        // The NEON kernels have no prefill tiles: many rows go through the
        // matrix-vector pass too (still without a copy of the weights).
        let prefill = rows > MAX_ROWS && kernels.isa() != Isa::Neon;
        if mats
            .iter()
            .any(|m| family(m.format) != family(first.format) || m.kernels != kernels)
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
            Activations::K(
                xs.chunks_exact(k)
                    .map(|x| quantize_q8(x, kernels))
                    .collect(),
            )
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
                // SAFETY (all three): `m.kernels` came from the CPU feature
                // check; `w` holds whole blocks of `m.format` for `k`
                // values, as many as `x` has (the family was checked above).
                match (&quantized, m.format) {
                    (Activations::K(xs), Format::Q4K | Format::Q6K) => {
                        // Register blocks of up to `MT` rows, each weight
                        // block unpacked once per register block.
                        for (out, xs) in out.chunks_mut(MT).zip(xs.chunks(MT)) {
                            // SAFETY: as above.
                            unsafe { dot_rows_k(kernels, m.format, w, xs, out) }
                        }
                    }
                    (Activations::Blocks32(xs), Format::Q5_0) => {
                        // SAFETY: as above; `unpacked` and `scales` were
                        // sized for `k` values.
                        unsafe { unpack_q5_0_with(kernels, w, &mut unpacked, &mut scales) };
                        for (o, x) in out.iter_mut().zip(xs) {
                            // SAFETY: as above.
                            *o = unsafe { dot_row_q5_0_with(kernels, &unpacked, &scales, x) };
                        }
                    }
                    (Activations::Blocks32(xs), Format::Q8_0) => {
                        for (out, xs) in out.chunks_mut(MT).zip(xs.chunks(MT)) {
                            // SAFETY: as above.
                            unsafe { dot_rows_q8_0_with(kernels, w, xs, out) }
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

/// The dot products of one Q4_K or Q6_K weight row (`w`) with up to `MT`
/// rows of activations, by the kernels of `kernels`.
///
/// # Safety
/// `kernels` came from the CPU feature check; `w` holds as many blocks of
/// `format` as each row of `xs`, and `out` is as long as `xs`.
unsafe fn dot_rows_k(
    kernels: Kernels,
    format: Format,
    w: &[u8],
    xs: &[Vec<Q8Block>],
    out: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above, and
    // each arm runs the kernels of the instruction set `kernels` names.
    unsafe {
        match (kernels.isa(), format) {
            (Isa::Avx512, Format::Q4K) => rows_of!(dot_rows_q4k, xs.len(), w, xs, out),
            (Isa::Avx512, _) => rows_of!(dot_rows_q6k, xs.len(), w, xs, out),
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, Format::Q4K) => rows_of!(avx2_q4k, xs.len(), w, xs, out),
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, _) => rows_of!(avx2_q6k, xs.len(), w, xs, out),
            #[cfg(target_arch = "aarch64")]
            (Isa::Neon, _) => {
                use super::neon;
                let dot = match (format, kernels.dotprod()) {
                    (Format::Q4K, true) => neon::dot_row_q4k_dotprod,
                    (Format::Q4K, false) => neon::dot_row_q4k,
                    (_, true) => neon::dot_row_q6k_dotprod,
                    (_, false) => neon::dot_row_q6k,
                };
                for (o, x) in out.iter_mut().zip(xs) {
                    *o = dot(w, x);
                }
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("{kernels:?} kernels on another architecture"),
        }
    }
}

/// `unpack_q5_0` by the kernels of `kernels` (AVX-512 or AVX2).
///
/// # Safety
/// As for `unpack_q5_0`, with `kernels` from the CPU feature check.
unsafe fn unpack_q5_0_with(kernels: Kernels, w: &[u8], q: &mut [u8], d: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        match kernels.isa() {
            Isa::Avx512 => unpack_q5_0(w, q, d),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => super::avx2::unpack_q5_0(w, q, d),
            #[allow(unreachable_patterns)]
            _ => unreachable!("no Q5_0 kernels for {kernels:?}"),
        }
    }
}

/// `dot_row_q5_0` by the kernels of `kernels` (AVX-512 or AVX2).
///
/// # Safety
/// As for `dot_row_q5_0`, with `kernels` from the CPU feature check.
unsafe fn dot_row_q5_0_with(kernels: Kernels, q: &[u8], d: &[f32], x: &Q8Row32) -> f32 {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        match kernels.isa() {
            Isa::Avx512 => dot_row_q5_0(q, d, x),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => super::avx2::dot_row_q5_0(q, d, x),
            #[allow(unreachable_patterns)]
            _ => unreachable!("no Q5_0 kernels for {kernels:?}"),
        }
    }
}

/// `dot_rows_q8_0` for up to `MT` rows by the kernels of `kernels`
/// (AVX-512 or AVX2).
///
/// # Safety
/// As for `dot_rows_q8_0`, with `kernels` from the CPU feature check.
unsafe fn dot_rows_q8_0_with(kernels: Kernels, w: &[u8], xs: &[Q8Row32], out: &mut [f32]) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        match kernels.isa() {
            Isa::Avx512 => rows_of!(dot_rows_q8_0, xs.len(), w, xs, out),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                use super::avx2::dot_rows_q8_0 as avx2_q8_0;
                rows_of!(avx2_q8_0, xs.len(), w, xs, out)
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("no Q8_0 kernels for {kernels:?}"),
        }
    }
}

impl Module for KQuantMatMul {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.matmul(x)
    }
}

#[cfg(test)]
mod tests {
    use crate::kernels::test_values::spread as values;
    use std::sync::Arc;

    use super::*;
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::Device;

    /// `w` for each set of kernels this CPU has that takes it (all of
    /// them, on x86: AVX-512 and AVX2 on an AVX-512 machine).
    fn each_kernels(w: &Arc<QTensor>) -> Vec<KQuantMatMul> {
        Kernels::available()
            .into_iter()
            .filter_map(|kernels| KQuantMatMul::with_kernels(w.clone(), kernels).unwrap())
            .collect()
    }

    /// Our products against candle's `QMatMul` on the same quantized
    /// `n × k` weights, for each number of activation rows in `row_counts`,
    /// with every set of kernels this CPU has.
    fn matches_candle(dtype: GgmlDType, n: usize, k: usize, row_counts: &[usize]) {
        let w = Tensor::from_vec(values(n * k, 1), (n, k), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&w, dtype).unwrap());
        for fast in each_kernels(&q) {
            matches_candle_with(&fast, dtype, row_counts);
        }
    }

    fn matches_candle_with(fast: &KQuantMatMul, dtype: GgmlDType, row_counts: &[usize]) {
        let (n, k) = (fast.n, fast.k);
        let candle = QMatMul::from_arc(fast.weights.clone()).unwrap();
        let kernels = fast.kernels.name();
        for &rows in row_counts {
            let x = Tensor::from_vec(values(rows * k, rows as u32 + 7), (rows, k), &Device::Cpu)
                .unwrap();
            let ours = fast.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            let theirs = candle.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            for (a, b) in ours.iter().flatten().zip(theirs.iter().flatten()) {
                // The same integer sums; only float addition order differs.
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{kernels}, {dtype:?}, {rows} rows: {a} vs {b}"
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
        for kernels in Kernels::available() {
            several_equal_one_at_a_time(kernels);
        }
    }

    fn several_equal_one_at_a_time(kernels: Kernels) {
        let k = 512;
        let mats: Vec<KQuantMatMul> = [
            (64, GgmlDType::Q4K),
            (32, GgmlDType::Q6K),
            (96, GgmlDType::Q4K),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(n, dtype))| {
            let w = Tensor::from_vec(values(n * k, 11 + i as u32), (n, k), &Device::Cpu).unwrap();
            let q = Arc::new(QTensor::quantize(&w, dtype).unwrap());
            KQuantMatMul::with_kernels(q, kernels)
                .unwrap()
                .expect("every set of kernels takes Q4_K and Q6_K")
        })
        .collect();
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
        // 16-row tiles are left to candle (by the kernels that have tiles).
        let w = Tensor::from_vec(values(72 * k, 5), (72, k), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&w, GgmlDType::Q4K).unwrap());
        let odd = KQuantMatMul::with_kernels(q, kernels)
            .unwrap()
            .expect("Q4_K");
        let x = Tensor::zeros((MAX_ROWS + 1, k), candle_core::DType::F32, &Device::Cpu).unwrap();
        let taken = KQuantMatMul::products(&[&odd], &x).unwrap().is_some();
        assert_eq!(taken, kernels.isa() == Isa::Neon, "{kernels:?}");
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
            let q = Arc::new(QTensor::quantize(&w, dtype).unwrap());
            for m in each_kernels(&q) {
                rows_together_equal_rows_alone(&m, dtype);
            }
        }
    }

    fn rows_together_equal_rows_alone(m: &KQuantMatMul, dtype: GgmlDType) {
        let k = m.k;
        for rows in [2, 3, 5, MT, MT + 3, MAX_ROWS] {
            let x = Tensor::from_vec(values(rows * k, 70 + rows as u32), (rows, k), &Device::Cpu)
                .unwrap();
            let together = m.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            for (r, row) in together.iter().enumerate() {
                let alone = m.forward(&x.narrow(0, r, 1).unwrap()).unwrap();
                assert_eq!(
                    row,
                    &alone.to_vec2::<f32>().unwrap()[0],
                    "{:?}, {dtype:?}, row {r} of {rows}",
                    m.kernels
                );
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
}
