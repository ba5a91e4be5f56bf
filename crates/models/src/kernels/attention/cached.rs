//! Causal attention over a preallocated KV cache ([`cached_attention`]):
//! the entry point, which checks its inputs, and the portable loop, which
//! hands decoding steps to the kernels of the CPU (`decode_block`: AVX-512,
//! AVX2 or NEON) and prompts to [`prompt_attention`] where it has AVX-512.

use super::decode::decode_block;
use super::prompt::prompt_attention;
use super::shape::Queries;
use crate::kernels::dispatch::{Isa, Kernels};

/// Causal softmax(q·kᵀ / √hd)·v for `q` of `[n_head, seq, hd]`,
/// returning `[seq, n_head * hd]`; query `i` sees positions up to its own,
/// `index_pos + i`, and within the window.
///
/// Written out because candle's batched matmul copies and packs the cache
/// on every call, computes the masked half of a prompt's scores, and makes
/// several passes over the score matrix (scale, mask, softmax); and
/// because, for decoding, a loop per query head would read each KV head's
/// cache once per query head that shares it (6 times for Qwen2.5-1.5B,
/// from L3 at long contexts): at 1,024 tokens of context that was a
/// quarter of the decoding time. Here each task takes one KV head, one
/// query position and (when decoding, for parallelism) one block of 256
/// positions; it reads each key and value once for all of the head's
/// queries and leaves the block's maximum, sum of exponentials and
/// unnormalized output, and the blocks are combined exactly (rescaled by
/// exp(mᵦ - m)), as in FlashAttention's split-KV decoding. The sums differ
/// from candle's only in order.
///
/// An error, before anything runs, where the slices do not fit `shape`:
/// `q` must be `n_head · seq · hd` long, `keys` and `values` at least
/// `n_kv_head · capacity · hd`, the query heads must split evenly over the
/// KV heads, and the queries' positions must fit the capacity.
pub(crate) fn cached_attention(
    shape: &Queries,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
) -> candle_core::Result<Vec<f32>> {
    cached_attention_with(Kernels::detect(), shape, q, keys, values)
}

/// [`cached_attention`] with the given kernels (`None`: the portable loop
/// alone); the tests run each set the CPU has.
pub(crate) fn cached_attention_with(
    kernels: Option<Kernels>,
    shape: &Queries,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
) -> candle_core::Result<Vec<f32>> {
    check(shape, q, keys, values)?;
    Ok(attention(kernels, shape, q, keys, values))
}

/// What the kernels' pointer arithmetic relies on (see
/// [`cached_attention`]).
fn check(shape: &Queries, q: &[f32], keys: &[f32], values: &[f32]) -> candle_core::Result<()> {
    let &Queries {
        n_head,
        n_kv_head,
        head_dim,
        capacity,
        index_pos,
        seq,
        ..
    } = shape;
    if n_kv_head == 0 || head_dim == 0 || !n_head.is_multiple_of(n_kv_head) {
        candle_core::bail!(
            "attention over {n_head} heads, {n_kv_head} KV heads of size {head_dim}"
        );
    }
    if index_pos.checked_add(seq).is_none_or(|end| end > capacity) {
        candle_core::bail!(
            "{seq} queries at position {index_pos} exceed the KV cache's {capacity}"
        );
    }
    let queries = n_head
        .checked_mul(seq)
        .and_then(|n| n.checked_mul(head_dim));
    let cache = n_kv_head
        .checked_mul(capacity)
        .and_then(|n| n.checked_mul(head_dim));
    if queries != Some(q.len())
        || cache.is_none_or(|cache| keys.len() < cache || values.len() < cache)
    {
        candle_core::bail!(
            "attention slices of {}, {} and {} values do not fit their shape",
            q.len(),
            keys.len(),
            values.len()
        );
    }
    Ok(())
}

/// [`cached_attention`] on checked inputs.
fn attention(
    kernels: Option<Kernels>,
    shape: &Queries,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
) -> Vec<f32> {
    /// Positions per task when decoding: enough tasks for the cores at
    /// long contexts, few enough that combining them costs nothing.
    const POSITIONS_PER_TASK: usize = 256;
    let isa = kernels.map(Kernels::isa);
    if shape.seq > 1 && isa == Some(Isa::Avx512) {
        return prompt_attention(shape, q, keys, values);
    }
    let &Queries {
        n_head,
        n_kv_head,
        head_dim: hd,
        capacity,
        seq,
        ..
    } = shape;
    let group = shape.group();
    let visible = |i: usize| shape.visible(i);
    // A prompt's queries are tasks enough; one query splits its positions.
    let blocks = if seq == 1 {
        visible(0).len().div_ceil(POSITIONS_PER_TASK)
    } else {
        1
    };
    let scale = (1.0 / (hd as f64).sqrt()) as f32;
    // Per task: `group` unnormalized outputs, then (max, sum) per query.
    let stride = group * (hd + 2);
    let mut partial = vec![0f32; n_kv_head * seq * blocks * stride];
    crate::parallel::for_each_chunk(&mut partial, stride, |task, part| {
        let (kv, i, block) = (task / (seq * blocks), task / blocks % seq, task % blocks);
        let positions = visible(i);
        let from = positions.start + block * POSITIONS_PER_TASK;
        let to = if seq == 1 {
            (from + POSITIONS_PER_TASK).min(positions.end)
        } else {
            positions.end
        };
        let n = to - from;
        let row = |t: usize| (kv * capacity + t) * hd..(kv * capacity + t + 1) * hd;
        // Query `i` of the group's heads, `[n_head, seq, hd]` in `q`.
        let query = |h: usize| {
            let at = ((kv * group + h) * seq + i) * hd;
            &q[at..at + hd]
        };
        if seq == 1 && isa.is_some() {
            let span = (kv * capacity + from) * hd..(kv * capacity + to) * hd;
            let queries: Vec<&[f32]> = (0..group).map(query).collect();
            let (keys, values) = (&keys[span.clone()], &values[span]);
            // SAFETY: `kernels` came from the CPU feature check, and each
            // arm runs its own instruction set's kernel; `keys` and
            // `values` hold `n` rows of `hd`, `part` is `group · (hd + 2)`
            // long, and each kernel gets the head sizes it takes.
            unsafe {
                match (isa, hd) {
                    (Some(Isa::Avx512), 64) => {
                        return decode_block::<4, 2>(&queries, keys, values, scale, part)
                    }
                    (Some(Isa::Avx512), 128) => {
                        return decode_block::<8, 2>(&queries, keys, values, scale, part)
                    }
                    (Some(Isa::Avx512), 256) => {
                        return decode_block::<16, 1>(&queries, keys, values, scale, part)
                    }
                    #[cfg(target_arch = "x86_64")]
                    (Some(Isa::Avx2), hd) if hd.is_multiple_of(32) => {
                        return super::avx2::decode_block(&queries, keys, values, scale, part)
                    }
                    #[cfg(target_arch = "aarch64")]
                    (Some(Isa::Neon), hd) if hd.is_multiple_of(16) => {
                        return super::neon::decode_block(&queries, keys, values, scale, part)
                    }
                    // Other head sizes: the loop below.
                    _ => {}
                }
            }
        }
        let mut weights = vec![0f32; group * n];
        for (j, t) in (from..to).enumerate() {
            let k = &keys[row(t)];
            for h in 0..group {
                weights[h * n + j] = dot(query(h), k) * scale;
            }
        }
        let (ys, stats) = part.split_at_mut(group * hd);
        for (w, stats) in weights.chunks_exact_mut(n).zip(stats.chunks_exact_mut(2)) {
            let max = w.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let mut sum = 0f32;
            for x in w.iter_mut() {
                *x = (*x - max).exp();
                sum += *x;
            }
            stats.copy_from_slice(&[max, sum]);
        }
        for (j, t) in (from..to).enumerate() {
            let v = &values[row(t)];
            for (h, y) in ys.chunks_exact_mut(hd).enumerate() {
                let w = weights[h * n + j];
                for (y, &v) in y.iter_mut().zip(v) {
                    *y += w * v;
                }
            }
        }
    });
    let mut out = vec![0f32; seq * n_head * hd];
    for (at, y) in out.chunks_exact_mut(hd).enumerate() {
        let (i, head) = (at / n_head, at % n_head);
        let (kv, h) = (head / group, head % group);
        let first = (kv * seq + i) * blocks * stride;
        let parts = partial[first..first + blocks * stride].chunks_exact(stride);
        let stats = |p: &[f32]| (p[group * hd + 2 * h], p[group * hd + 2 * h + 1]);
        let max = parts
            .clone()
            .map(|p| stats(p).0)
            .fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for p in parts {
            let (m, s) = stats(p);
            let f = (m - max).exp();
            sum += f * s;
            for (y, &py) in y.iter_mut().zip(&p[h * hd..(h + 1) * hd]) {
                *y += f * py;
            }
        }
        for y in y.iter_mut() {
            *y /= sum;
        }
    }
    out
}

/// `a · b` in 16 independent sums, which the compiler keeps in one vector
/// register.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 16];
    let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = a16
        .remainder()
        .iter()
        .zip(b16.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (a, b) in a16.zip(b16) {
        for i in 0..16 {
            sums[i] += a[i] * b[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::values;

    /// The textbook formula, in f64, one query and head at a time.
    fn reference(shape: &Queries, q: &[f32], keys: &[f32], values: &[f32]) -> Vec<f64> {
        let hd = shape.head_dim;
        let group = shape.n_head / shape.n_kv_head;
        let mut out = vec![0f64; shape.seq * shape.n_head * hd];
        for i in 0..shape.seq {
            let p = shape.index_pos + i;
            // Causal, and within the window: as `mask` builds it.
            let visible: Vec<usize> = (0..=p)
                .filter(|&j| shape.window.is_none_or(|w| p < j + w))
                .collect();
            for head in 0..shape.n_head {
                let kv = head / group;
                let at = |t: usize| (kv * shape.capacity + t) * hd;
                let q = &q[(head * shape.seq + i) * hd..(head * shape.seq + i + 1) * hd];
                let scores: Vec<f64> = visible
                    .iter()
                    .map(|&t| {
                        let k = &keys[at(t)..at(t) + hd];
                        q.iter()
                            .zip(k)
                            .map(|(&a, &b)| a as f64 * b as f64)
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                let y =
                    &mut out[(i * shape.n_head + head) * hd..(i * shape.n_head + head + 1) * hd];
                for (&t, e) in visible.iter().zip(&exps) {
                    for (d, y) in y.iter_mut().enumerate() {
                        *y += e / sum * values[at(t) + d] as f64;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn cached_attention_matches_the_formula() {
        // Grouped queries (3 per KV head) and one KV head for all; head
        // sizes that are and are not multiples of 16; one query (decoding) at
        // contexts of one position, one block and several blocks (256
        // positions each), and several queries (a prompt, and a prompt's
        // continuation after a cached prefix); with and without a window.
        let cases = [(0, 1), (199, 1), (599, 1), (0, 40), (300, 37)];
        // Head sizes of 64, 128 and 256 take the AVX-512 decoding kernel's
        // three shapes (where the CPU has it), 20 the plain loop.
        for (n_head, n_kv_head, head_dim) in [(6, 2, 20), (4, 1, 64), (6, 2, 128), (3, 1, 256)] {
            for window in [None, Some(5), Some(256), Some(500)] {
                for (index_pos, seq) in cases {
                    let capacity = 700;
                    let shape = Queries {
                        n_head,
                        n_kv_head,
                        head_dim,
                        capacity,
                        index_pos,
                        seq,
                        window,
                    };
                    let q = values(n_head * seq * head_dim, 1);
                    // Larger keys make the softmax peaked, as trained ones are.
                    let keys: Vec<f32> = values(n_kv_head * capacity * head_dim, 2)
                        .iter()
                        .map(|k| 4.0 * k)
                        .collect();
                    let vals = values(n_kv_head * capacity * head_dim, 3);
                    let theirs = reference(&shape, &q, &keys, &vals);
                    // Every set of kernels the CPU has, and none.
                    let all = Kernels::available().into_iter().map(Some);
                    for kernels in all.chain([None]) {
                        let ours =
                            cached_attention_with(kernels, &shape, &q, &keys, &vals).unwrap();
                        assert_eq!(ours.len(), theirs.len());
                        for (at, (&a, &b)) in ours.iter().zip(&theirs).enumerate() {
                            assert!(
                                (a as f64 - b).abs() <= 1e-5,
                                "{kernels:?}: {n_head}/{n_kv_head} heads, window {window:?}, \
                                 {seq} queries at {index_pos}, value {at}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn slices_that_do_not_fit_the_shape_are_errors() {
        let shape = Queries {
            n_head: 4,
            n_kv_head: 2,
            head_dim: 64,
            capacity: 32,
            index_pos: 20,
            seq: 8,
            window: None,
        };
        let q = values(4 * 8 * 64, 1);
        let cache = values(2 * 32 * 64, 2);
        assert!(cached_attention(&shape, &q, &cache, &cache).is_ok());
        // Short queries, a short cache, too many positions, uneven heads.
        assert!(cached_attention(&shape, &q[1..], &cache, &cache).is_err());
        assert!(cached_attention(&shape, &q, &cache, &cache[64..]).is_err());
        let past_capacity = Queries {
            index_pos: 25,
            ..shape
        };
        assert!(cached_attention(&past_capacity, &q, &cache, &cache).is_err());
        let uneven = Queries { n_head: 3, ..shape };
        assert!(cached_attention(&uneven, &q[..3 * 8 * 64], &cache, &cache).is_err());
    }
}
