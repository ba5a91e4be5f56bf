//! What every kernel shares: whether this CPU runs them ([`supported`]),
//! the width of a 512-bit vector of f32 ([`LANES`]) and `exp` on such a
//! vector ([`exp16`]).

/// Keys per score vector, values per activation step: 16 lanes of f32.
pub(super) const LANES: usize = 16;

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

/// `exp(x)` of 16 values: `2ⁿ · e^f` with `n = round(x / ln 2)` and
/// `f = x - n ln 2` (ln 2 in two parts, as Cody and Waite), `e^f` by its Taylor
/// polynomial to degree 7 (relative error below 2e-7 for |f| ≤ ln 2 / 2),
/// and 2ⁿ applied by `vscalefps`. Arguments are clamped to [-87, 88]
/// (−∞ gives about 1.6e-38, which the softmax masks away).
///
/// # Safety
/// The CPU must have AVX-512 F.
// SAFETY: called only from other AVX-512 F kernels (`decode_block`,
// `PromptTask::run`, `gated_chunk`), which run only where `supported()`
// holds, and from the test below after the same check.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn exp16(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let x = _mm512_min_ps(
        _mm512_max_ps(x, _mm512_set1_ps(-87.0)),
        _mm512_set1_ps(88.0),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let f = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let f = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), f);
    let mut e = _mm512_set1_ps(1.0 / 5040.0);
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        e = _mm512_fmadd_ps(e, f, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(e, n)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp16_is_exp_to_float_precision() {
        use super::{exp16, supported};
        if !supported() {
            // Only the AVX-512 prompt attention uses it.
            return;
        }
        let xs: Vec<f32> = (0..=16 * 600).map(|i| -86.0 + i as f32 * 0.009).collect();
        for chunk in xs.chunks(16) {
            let mut x = [0f32; 16];
            x[..chunk.len()].copy_from_slice(chunk);
            let mut e = [0f32; 16];
            // SAFETY: AVX-512 F checked above.
            unsafe {
                use std::arch::x86_64::*;
                _mm512_storeu_ps(e.as_mut_ptr(), exp16(_mm512_loadu_ps(x.as_ptr())));
            }
            for (&x, &e) in x.iter().zip(&e) {
                let exact = (x as f64).exp();
                assert!(
                    ((e as f64) - exact).abs() <= 1e-6 * exact,
                    "exp({x}) = {e}, not {exact}"
                );
            }
        }
        // A masked score (-inf) weighs nothing next to any visible one.
        let mut e = [0f32; 16];
        // SAFETY: AVX-512 F checked above.
        unsafe {
            use std::arch::x86_64::*;
            _mm512_storeu_ps(e.as_mut_ptr(), exp16(_mm512_set1_ps(f32::NEG_INFINITY)));
        }
        assert!(e.iter().all(|&e| e < 1e-37));
    }
}
