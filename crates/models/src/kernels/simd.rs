//! What the kernels share: the width of a 512-bit vector of f32
//! ([`LANES`]), `exp` on such a vector ([`exp16`]) and on a 256-bit one
//! ([`exp8`], AVX2), and the sum of a 256-bit one ([`hsum8`]).

/// Keys per score vector, values per activation step: 16 lanes of f32.
pub(super) const LANES: usize = 16;

/// `exp(x)` of 16 values: `2ⁿ · e^f` with `n = round(x / ln 2)` and
/// `f = x - n ln 2` (ln 2 in two parts, as Cody and Waite), `e^f` by its Taylor
/// polynomial to degree 7 (relative error below 2e-7 for |f| ≤ ln 2 / 2),
/// and 2ⁿ applied by `vscalefps`. Arguments are clamped to [-87, 88]
/// (−∞ gives about 1.6e-38, which the softmax masks away).
///
/// # Safety
/// The CPU must have AVX-512 F.
// SAFETY: called only from other AVX-512 F kernels (`decode_block`,
// `PromptTask::run`, `gated_chunk`), which run only with AVX-512
// `Kernels`, and from the test below after the same check.
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

/// [`exp16`] on 8 values with AVX2 and FMA: the same reduction and
/// polynomial, 2ⁿ put together in the exponent bits (`n` is within
/// -126..=127 after the clamp, so `n + 127` is a normal exponent).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
// SAFETY: called only from AVX2 kernels (`decode_block_avx2`,
// `gated_chunk_avx2`), which run only with AVX2 `Kernels`, and from the
// test below after the same check.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn exp8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let x = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(-87.0)),
        _mm256_set1_ps(88.0),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let f = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
    let f = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), f);
    let mut e = _mm256_set1_ps(1.0 / 5040.0);
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        e = _mm256_fmadd_ps(e, f, _mm256_set1_ps(c));
    }
    let pow2 = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(e, _mm256_castsi256_ps(pow2))
}

/// The sum of a vector's 8 floats.
///
/// # Safety
/// The CPU must have AVX2.
// SAFETY: called only from AVX2 kernels, which run only with AVX2
// `Kernels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn hsum8(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp16_is_exp_to_float_precision() {
        use super::exp16;
        use crate::kernels::dispatch::{Isa, Kernels};
        if !Kernels::available().iter().any(|k| k.isa() == Isa::Avx512) {
            // Only the AVX-512 kernels use it.
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp8_is_exp_to_float_precision() {
        use super::exp8;
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            return;
        }
        let xs: Vec<f32> = (0..=8 * 1200).map(|i| -86.0 + i as f32 * 0.009).collect();
        for chunk in xs.chunks(8) {
            let mut x = [0f32; 8];
            x[..chunk.len()].copy_from_slice(chunk);
            let mut e = [0f32; 8];
            // SAFETY: AVX2 and FMA checked above.
            unsafe {
                use std::arch::x86_64::*;
                _mm256_storeu_ps(e.as_mut_ptr(), exp8(_mm256_loadu_ps(x.as_ptr())));
            }
            for (&x, &e) in x.iter().zip(&e) {
                let exact = (x as f64).exp();
                assert!(
                    ((e as f64) - exact).abs() <= 1e-6 * exact,
                    "exp({x}) = {e}, not {exact}"
                );
            }
        }
        let mut e = [0f32; 8];
        // SAFETY: AVX2 and FMA checked above.
        unsafe {
            use std::arch::x86_64::*;
            _mm256_storeu_ps(e.as_mut_ptr(), exp8(_mm256_set1_ps(f32::NEG_INFINITY)));
        }
        assert!(e.iter().all(|&e| e < 1e-37));
    }
}
