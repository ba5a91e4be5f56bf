//! The NEON kernel of one decoding step's attention task
//! ([`decode_block`], aarch64): one query position, one KV head, up to 256
//! cached positions, as `decode_block` (AVX-512) does it with 4 lanes.

use std::arch::aarch64::*;

/// Output dimensions per register block: 4 vectors of 4.
const DIMS: usize = 16;

/// One decoding task of `cached_attention` on aarch64, for head sizes
/// that are multiples of 16: the scores of the group's queries against `n`
/// keys (4 independent sums per key), the softmax's exponentials one by
/// one (`n` per head against `n · hd` multiply-adds), then the weighted
/// values for 2 heads × 16 dimensions at a time, their sums in registers
/// and each value vector loaded once for both heads. Leaves what the
/// scalar loop leaves in `part`: `group` unnormalized outputs, then (max,
/// sum) per head.
///
/// # Safety
/// The CPU must have NEON; `keys` and `values` must hold the same whole
/// number of rows of `hd`, a multiple of 16, each query `hd` values, `part`
/// `group · (hd + 2)`.
// SAFETY: called only from `cached_attention` with NEON `Kernels`, on
// slices it cut to these lengths.
#[target_feature(enable = "neon")]
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
        let mut weights = vec![0f32; group * n];
        let (ys, stats) = part.split_at_mut(group * hd);
        for (h, q) in queries.iter().enumerate() {
            let w = &mut weights[h * n..(h + 1) * n];
            for (t, w) in w.iter_mut().enumerate() {
                let k = keys.as_ptr().add(t * hd);
                let mut acc = [vdupq_n_f32(0.0); 4];
                for c in (0..hd).step_by(DIMS) {
                    for (i, acc) in acc.iter_mut().enumerate() {
                        let at = c + 4 * i;
                        *acc = vfmaq_f32(*acc, vld1q_f32(q.as_ptr().add(at)), vld1q_f32(k.add(at)));
                    }
                }
                let sum = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
                *w = vaddvq_f32(sum) * scale;
            }
            let m = w.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let mut sum = 0f32;
            for w in w.iter_mut() {
                *w = (*w - m).exp();
                sum += *w;
            }
            stats[2 * h] = m;
            stats[2 * h + 1] = sum;
        }
        for h0 in (0..group).step_by(2) {
            let pair = h0 + 1 < group;
            let w0 = &weights[h0 * n..];
            let w1 = &weights[(h0 + usize::from(pair)) * n..];
            for d in (0..hd).step_by(DIMS) {
                let mut acc = [[vdupq_n_f32(0.0); 4]; 2];
                for t in 0..n {
                    let v = values.as_ptr().add(t * hd + d);
                    let vs: [float32x4_t; 4] = std::array::from_fn(|i| vld1q_f32(v.add(4 * i)));
                    for (acc, w) in acc.iter_mut().zip([w0[t], w1[t]]) {
                        for (a, v) in acc.iter_mut().zip(&vs) {
                            *a = vfmaq_n_f32(*a, *v, w);
                        }
                    }
                }
                for (j, acc) in acc.iter().enumerate().take(1 + usize::from(pair)) {
                    for (i, a) in acc.iter().enumerate() {
                        vst1q_f32(ys.as_mut_ptr().add((h0 + j) * hd + d + 4 * i), *a);
                    }
                }
            }
        }
    }
}
