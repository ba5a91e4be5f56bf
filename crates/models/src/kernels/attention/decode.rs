//! The AVX-512 kernel of one decoding step's attention task
//! ([`decode_block`]): one query position, one KV head, up to 256 cached
//! positions.

#[cfg(target_arch = "x86_64")]
use crate::kernels::simd::{exp16, LANES};

/// One decoding task of `cached_attention` on CPUs with AVX-512, for
/// head sizes of `16 · C`: the scores of the group's queries against `n`
/// keys (each query held in `C` registers, each key row loaded once per
/// query from L1/L2), 16 exponentials at a time ([`exp16`]), then the
/// weighted values for `H` heads at a time, their `H · C` sums in
/// registers and each value row loaded once per `H` heads. Leaves what the
/// scalar loop leaves in `part`: `group` unnormalized outputs, then (max,
/// sum) per head. The scalar loop kept each output row in memory (a load
/// and a store per multiply-add) and took one scalar exponential per
/// score.
///
/// # Safety
/// The CPU must have AVX-512 F; `keys` and `values` must hold the same
/// whole number of rows of `16 · C`, each query `16 · C` values, `part`
/// `group · (16 · C + 2)`.
// SAFETY: called only from `cached_attention`, with AVX-512 `Kernels`
// (AVX-512 F among others), with slices it cut to these lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn decode_block<const C: usize, const H: usize>(
    queries: &[&[f32]],
    keys: &[f32],
    values: &[f32],
    scale: f32,
    part: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        let hd = C * LANES;
        let group = queries.len();
        let n = keys.len() / hd;
        debug_assert!(values.len() == keys.len() && part.len() == group * (hd + 2));
        let width = n.next_multiple_of(LANES);
        let mut weights = vec![0f32; group * width];
        let (ys, stats) = part.split_at_mut(group * hd);
        for (h, q) in queries.iter().enumerate() {
            let q: [__m512; C] =
                std::array::from_fn(|c| _mm512_loadu_ps(q.as_ptr().add(c * LANES)));
            let w = &mut weights[h * width..(h + 1) * width];
            for (t, w) in w.iter_mut().enumerate().take(n) {
                let k = keys.as_ptr().add(t * hd);
                let (mut a, mut b) = (_mm512_setzero_ps(), _mm512_setzero_ps());
                for c in (0..C).step_by(2) {
                    a = _mm512_fmadd_ps(q[c], _mm512_loadu_ps(k.add(c * LANES)), a);
                    b = _mm512_fmadd_ps(q[c + 1], _mm512_loadu_ps(k.add((c + 1) * LANES)), b);
                }
                *w = _mm512_reduce_add_ps(_mm512_add_ps(a, b)) * scale;
            }
            // Softmax over the `n` scores (the padding to 16 masked).
            let tail = ((1u32 << (n % LANES)) - 1) as __mmask16;
            let mask = |at: usize| if at + LANES <= n { 0xFFFF } else { tail };
            let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
            for at in (0..n).step_by(LANES) {
                let x = _mm512_maskz_loadu_ps(mask(at), w.as_ptr().add(at));
                max = _mm512_mask_max_ps(max, mask(at), max, x);
            }
            let m = _mm512_reduce_max_ps(max);
            let mut sum = _mm512_setzero_ps();
            for at in (0..n).step_by(LANES) {
                let x = _mm512_loadu_ps(w.as_ptr().add(at));
                let e = _mm512_maskz_mov_ps(mask(at), exp16(_mm512_sub_ps(x, _mm512_set1_ps(m))));
                _mm512_storeu_ps(w.as_mut_ptr().add(at), e);
                sum = _mm512_add_ps(sum, e);
            }
            stats[2 * h] = m;
            stats[2 * h + 1] = _mm512_reduce_add_ps(sum);
        }
        for h0 in (0..group).step_by(H) {
            let heads = (group - h0).min(H);
            let mut acc = [[_mm512_setzero_ps(); C]; H];
            for t in 0..n {
                let v = values.as_ptr().add(t * hd);
                let w: [__m512; H] = std::array::from_fn(|j| {
                    _mm512_set1_ps(weights[(h0 + j.min(heads - 1)) * width + t])
                });
                let vs: [__m512; C] = std::array::from_fn(|c| _mm512_loadu_ps(v.add(c * LANES)));
                for (acc, w) in acc.iter_mut().zip(&w) {
                    for (a, v) in acc.iter_mut().zip(&vs) {
                        *a = _mm512_fmadd_ps(*w, *v, *a);
                    }
                }
            }
            for (j, acc) in acc.iter().enumerate().take(heads) {
                for (c, a) in acc.iter().enumerate() {
                    _mm512_storeu_ps(ys.as_mut_ptr().add((h0 + j) * hd + c * LANES), *a);
                }
            }
        }
    }
}

// SAFETY: never called: there are no AVX-512 `Kernels` off x86_64.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn decode_block<const C: usize, const H: usize>(
    _: &[&[f32]],
    _: &[f32],
    _: &[f32],
    _: f32,
    _: &mut [f32],
) {
    unreachable!("no AVX-512 kernels off x86_64")
}
