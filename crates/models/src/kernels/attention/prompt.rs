//! Attention for a prompt (several queries at once) on CPUs with AVX-512
//! ([`prompt_attention`]): small matrix products on blocks of registers,
//! one KV head and 8 query positions per task.

use super::shape::Queries;
use crate::kernels::simd::LANES;

#[cfg(target_arch = "x86_64")]
use crate::kernels::simd::exp16;

/// Query positions per task of [`prompt_attention`].
const PROMPT_QUERIES: usize = 8;

/// `cached_attention` for a prompt (several queries) on CPUs with
/// AVX-512: each task takes one KV head and [`PROMPT_QUERIES`] positions,
/// that is `group · 8` query vectors, and works as small matrix products
/// on blocks of registers: scores for up to 8 query vectors × 16 keys at a
/// time against the keys transposed once per call (`[hd][positions]`, so
/// each step is one broadcast query value times 16 keys, with no
/// horizontal sums), a softmax over each query's visible positions (16
/// exponentials at a time), then outputs for up to 4 query vectors × 64
/// dimensions at a time, each value row loaded once for the 4. The
/// one-query-at-a-time loop of `cached_attention` took a dot product
/// per key and head and one scalar exponential per score: at 1,024 prompt
/// tokens it was a quarter of Qwen2.5-1.5B's prefill.
///
/// Only with AVX-512 `Kernels` (`cached_attention` checks), on
/// slices `cached_attention` checked against `shape`.
pub(super) fn prompt_attention(
    shape: &Queries,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
) -> Vec<f32> {
    let &Queries {
        n_head,
        n_kv_head,
        head_dim: hd,
        capacity,
        index_pos,
        seq,
        ..
    } = shape;
    let group = shape.group();
    let total = index_pos + seq;
    // Keys transposed per KV head, `[hd][width]`, zero past `total` so that
    // every 16-key step is whole.
    let width = total.next_multiple_of(LANES);
    let mut kt = vec![0f32; n_kv_head * hd * width];
    for kv in 0..n_kv_head {
        let kt = &mut kt[kv * hd * width..(kv + 1) * hd * width];
        for t in 0..total {
            let key = &keys[(kv * capacity + t) * hd..(kv * capacity + t + 1) * hd];
            for (d, &k) in key.iter().enumerate() {
                kt[d * width + t] = k;
            }
        }
    }
    let blocks = seq.div_ceil(PROMPT_QUERIES);
    // Per task: `group · PROMPT_QUERIES` output rows of `hd`.
    let stride = group * PROMPT_QUERIES * hd;
    let mut partial = vec![0f32; n_kv_head * blocks * stride];
    let task = PromptTask {
        shape,
        q,
        kt: &kt,
        width,
        values,
    };
    crate::parallel::for_each_chunk(&mut partial, stride, |i, out| {
        // SAFETY: `prompt_attention` runs only with AVX-512 `Kernels`
        // (AVX-512 F among others).
        unsafe { task.run(i / blocks, i % blocks * PROMPT_QUERIES, out) }
    });
    let mut out = vec![0f32; seq * n_head * hd];
    for task in 0..n_kv_head * blocks {
        let (kv, block) = (task / blocks, task % blocks);
        let first = block * PROMPT_QUERIES;
        let nq = (seq - first).min(PROMPT_QUERIES);
        for h in 0..group {
            for i in 0..nq {
                let from = &partial[task * stride + (h * nq + i) * hd..][..hd];
                let head = kv * group + h;
                out[((first + i) * n_head + head) * hd..][..hd].copy_from_slice(from);
            }
        }
    }
    out
}

/// What every task of [`prompt_attention`] reads.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct PromptTask<'a> {
    shape: &'a Queries,
    q: &'a [f32],
    /// Keys transposed, `[n_kv_head][hd][width]`.
    kt: &'a [f32],
    width: usize,
    values: &'a [f32],
}

impl PromptTask<'_> {
    /// The outputs of queries `first..first + 8` (fewer at the end) of
    /// every head of KV head `kv`, row `h · nq + i` for head `h` of the
    /// group and query `first + i`, unnormalized rows divided by their
    /// sums at the end.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F.
    // SAFETY: called only from `prompt_attention`, which runs only where
    // AVX-512 `Kernels` (AVX-512 F among others) are used.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn run(&self, kv: usize, first: usize, out: &mut [f32]) {
        // SAFETY: the caller upholds the contract under `# Safety` above.
        unsafe {
            use std::arch::x86_64::*;
            let &Queries {
                head_dim: hd,
                capacity,
                seq,
                ..
            } = self.shape;
            let group = self.shape.group();
            let visible = |i: usize| self.shape.visible(i);
            let nq = (seq - first).min(PROMPT_QUERIES);
            // Keys from `lo` (16-aligned) to `hi`: the union of what the
            // block's queries see; `n` of them in whole steps of 16.
            let lo = visible(first).start / LANES * LANES;
            let hi = visible(first + nq - 1).end;
            let n = (hi - lo).next_multiple_of(LANES);
            let rows = group * nq;
            let query = |row: usize| {
                let (h, i) = (row / nq, row % nq);
                self.q[((kv * group + h) * seq + first + i) * hd..].as_ptr()
            };
            let kt = self.kt[kv * hd * self.width + lo..].as_ptr();
            let scale = _mm512_set1_ps((1.0 / (hd as f64).sqrt()) as f32);
            let mut p = vec![0f32; rows * n];
            // Scores: up to 8 rows × 16 keys per step.
            for row in (0..rows).step_by(8) {
                let r = (rows - row).min(8);
                let mut qs = [query(row); 8];
                for (j, q) in qs.iter_mut().enumerate().take(r) {
                    *q = query(row + j);
                }
                for t in (0..n).step_by(LANES) {
                    let mut acc = [_mm512_setzero_ps(); 8];
                    for d in 0..hd {
                        let k = _mm512_loadu_ps(kt.add(d * self.width + t));
                        // All 8 always (rows past `r` repeat the first): a
                        // fixed count keeps the sums in registers.
                        for (acc, q) in acc.iter_mut().zip(&qs) {
                            *acc = _mm512_fmadd_ps(_mm512_set1_ps(*q.add(d)), k, *acc);
                        }
                    }
                    for (j, acc) in acc.iter().enumerate().take(r) {
                        _mm512_storeu_ps(
                            p.as_mut_ptr().add((row + j) * n + t),
                            _mm512_mul_ps(*acc, scale),
                        );
                    }
                }
            }
            // Softmax over each query's visible positions (zero elsewhere),
            // left unnormalized.
            let mut sums = vec![0f32; rows];
            for (row, (p, sum)) in p.chunks_exact_mut(n).zip(&mut sums).enumerate() {
                let seen = visible(first + row % nq);
                let (from, to) = (seen.start - lo, seen.end - lo);
                let mask = |at: usize| -> __mmask16 {
                    let (a, b) = (from.max(at), to.min(at + LANES));
                    if a >= b {
                        0
                    } else {
                        (((1u32 << (b - a)) - 1) << (a - at)) as __mmask16
                    }
                };
                let steps = (from / LANES * LANES..to).step_by(LANES);
                let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
                for at in steps.clone() {
                    let x = _mm512_maskz_loadu_ps(mask(at), p.as_ptr().add(at));
                    max = _mm512_mask_max_ps(max, mask(at), max, x);
                }
                let max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
                let mut total = _mm512_setzero_ps();
                for at in (0..n).step_by(LANES) {
                    let m = mask(at);
                    let x = _mm512_loadu_ps(p.as_ptr().add(at));
                    let e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(x, max)));
                    _mm512_storeu_ps(p.as_mut_ptr().add(at), e);
                    total = _mm512_add_ps(total, e);
                }
                *sum = _mm512_reduce_add_ps(total);
            }
            // Outputs: Σₜ pₜ · vₜ over the block's positions, up to 4 rows ×
            // 64 dimensions per step.
            let span = hi - lo;
            let v0 = self.values[(kv * capacity + lo) * hd..].as_ptr();
            for row in (0..rows).step_by(4) {
                let r = (rows - row).min(4);
                let mut ps = [p.as_ptr().add(row * n); 4];
                for (j, w) in ps.iter_mut().enumerate().take(r) {
                    *w = p.as_ptr().add((row + j) * n);
                }
                let mut d = 0;
                while d < hd {
                    // 64 dimensions, or the last 16-wide pieces (masked past
                    // `hd`).
                    let width = (hd - d).min(64);
                    let masks: [__mmask16; 4] = std::array::from_fn(|c| {
                        let w = width.saturating_sub(c * LANES).min(LANES);
                        ((1u32 << w) - 1) as __mmask16
                    });
                    let mut acc = [[_mm512_setzero_ps(); 4]; 4];
                    for t in 0..span {
                        let v = v0.add(t * hd + d);
                        let vs: [__m512; 4] = std::array::from_fn(|c| {
                            _mm512_maskz_loadu_ps(masks[c], v.add(c * LANES))
                        });
                        for (acc, w) in acc.iter_mut().zip(&ps) {
                            let w = _mm512_set1_ps(*w.add(t));
                            for (a, v) in acc.iter_mut().zip(&vs) {
                                *a = _mm512_fmadd_ps(w, *v, *a);
                            }
                        }
                    }
                    for (j, acc) in acc.iter().enumerate().take(r) {
                        let inv = _mm512_set1_ps(1.0 / sums[row + j]);
                        for (c, a) in acc.iter().enumerate() {
                            _mm512_mask_storeu_ps(
                                out.as_mut_ptr().add((row + j) * hd + d + c * LANES),
                                masks[c],
                                _mm512_mul_ps(*a, inv),
                            );
                        }
                    }
                    d += width;
                }
            }
        }
    }

    // SAFETY: never called: there are no AVX-512 `Kernels` off x86_64.
    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn run(&self, _kv: usize, _first: usize, _out: &mut [f32]) {
        unreachable!("no AVX-512 kernels off x86_64")
    }
}
