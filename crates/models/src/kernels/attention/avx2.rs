//! The AVX2 + FMA kernel of one decoding step's attention task
//! ([`decode_block`]): one query position, one KV head, up to 256 cached
//! positions, as `decode_block` (AVX-512) does it with 8 lanes.

use std::arch::x86_64::*;

use crate::kernels::simd::{exp8, hsum8 as hsum};

/// Output dimensions per register block: 4 vectors of 8.
const DIMS: usize = 32;

/// One decoding task of `cached_attention` on CPUs with AVX2 and FMA, for
/// head sizes that are multiples of 32: the scores of the group's queries
/// against `n` keys (4 independent sums per key), 8 exponentials at a time
/// ([`exp8`]), then the weighted values for 2 heads × 32 dimensions at a
/// time (8 sums in registers, each value vector loaded once for both
/// heads). Leaves what the scalar loop leaves in `part`: `group`
/// unnormalized outputs, then (max, sum) per head.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `keys` and `values` must hold the same
/// whole number of rows of `hd`, a multiple of 32, each query `hd` values,
/// `part` `group · (hd + 2)`.
// SAFETY: called only from `cached_attention` with AVX2 `Kernels`, on
// slices it cut to these lengths.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn decode_block(
    queries: &[&[f32]],
    keys: &[f32],
    values: &[f32],
    scale: f32,
    part: &mut [f32],
) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        let hd = queries[0].len();
        let group = queries.len();
        let n = keys.len() / hd;
        debug_assert!(hd.is_multiple_of(DIMS) && values.len() == keys.len());
        debug_assert!(part.len() == group * (hd + 2));
        let width = n.next_multiple_of(8);
        let mut weights = vec![0f32; group * width];
        let (ys, stats) = part.split_at_mut(group * hd);
        for (h, q) in queries.iter().enumerate() {
            let w = &mut weights[h * width..(h + 1) * width];
            for (t, w) in w.iter_mut().enumerate().take(n) {
                let k = keys.as_ptr().add(t * hd);
                let mut acc = [_mm256_setzero_ps(); 4];
                for c in (0..hd).step_by(DIMS) {
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let at = c + 8 * i;
                        *acc = _mm256_fmadd_ps(
                            _mm256_loadu_ps(q.as_ptr().add(at)),
                            _mm256_loadu_ps(k.add(at)),
                            *acc,
                        );
                    }
                }
                let sum =
                    _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
                *w = hsum(sum) * scale;
            }
            // Softmax over the `n` scores (the padding to 8 masked to zero).
            let m = w[..n].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mut sum = _mm256_setzero_ps();
            for at in (0..width).step_by(8) {
                let valid = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
                    _mm256_set1_epi32((n - at) as i32),
                    lane,
                ));
                let x = _mm256_loadu_ps(w.as_ptr().add(at));
                let e = _mm256_and_ps(exp8(_mm256_sub_ps(x, _mm256_set1_ps(m))), valid);
                _mm256_storeu_ps(w.as_mut_ptr().add(at), e);
                sum = _mm256_add_ps(sum, e);
            }
            stats[2 * h] = m;
            stats[2 * h + 1] = hsum(sum);
        }
        for h0 in (0..group).step_by(2) {
            let pair = h0 + 1 < group;
            let w0 = &weights[h0 * width..];
            let w1 = &weights[(h0 + usize::from(pair)) * width..];
            for d in (0..hd).step_by(DIMS) {
                let mut acc = [[_mm256_setzero_ps(); 4]; 2];
                for t in 0..n {
                    let v = values.as_ptr().add(t * hd + d);
                    let vs: [__m256; 4] = std::array::from_fn(|i| _mm256_loadu_ps(v.add(8 * i)));
                    let ws = [_mm256_set1_ps(w0[t]), _mm256_set1_ps(w1[t])];
                    for (acc, w) in acc.iter_mut().zip(&ws) {
                        for (a, v) in acc.iter_mut().zip(&vs) {
                            *a = _mm256_fmadd_ps(*w, *v, *a);
                        }
                    }
                }
                for (j, acc) in acc.iter().enumerate().take(1 + usize::from(pair)) {
                    for (i, a) in acc.iter().enumerate() {
                        _mm256_storeu_ps(ys.as_mut_ptr().add((h0 + j) * hd + d + 8 * i), *a);
                    }
                }
            }
        }
    }
}
