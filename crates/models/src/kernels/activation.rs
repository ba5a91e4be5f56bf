//! The gated activation of a feed-forward layer, `act(gate) · up`, in one
//! AVX-512 or AVX2 pass ([`gated`]), GELU (tanh) or SiLU.

use candle_core::Tensor;

use super::dispatch::{Isa, Kernels};
#[cfg(target_arch = "x86_64")]
use super::simd::{exp16, exp8, LANES};

/// Whether [`gated`] runs here (the AVX-512 and AVX2 kernels; elsewhere
/// callers take candle's path).
pub(crate) fn gated_runs() -> bool {
    Kernels::detect().is_some_and(runs_on)
}

fn runs_on(kernels: Kernels) -> bool {
    matches!(kernels.isa(), Isa::Avx512 | Isa::Avx2)
}

/// `act(gate) · up` in one pass, 16 values at a time: `act` is GELU with
/// the tanh approximation (`gelu`, Gemma 3, as candle's `gelu` and
/// PyTorch's `gelu(approximate="tanh")`) or SiLU. candle computes the
/// GELU with a scalar `tanh` per value (14% of Gemma 3 270M's prefill in
/// a profile) and the product as a separate pass; here tanh(u) is
/// `1 - 2 / (1 + e^{2u})` and e^x is `exp16`.
///
/// An error where the kernels do not run ([`gated_runs`]): callers take
/// candle's path there.
pub(crate) fn gated(gate: &Tensor, up: &Tensor, gelu: bool) -> candle_core::Result<Tensor> {
    match Kernels::detect() {
        Some(kernels) => gated_with(kernels, gate, up, gelu),
        None => candle_core::bail!("the activation kernels do not run on this CPU"),
    }
}

/// [`gated`] with the given kernels (the tests run each set the CPU has).
fn gated_with(
    kernels: Kernels,
    gate: &Tensor,
    up: &Tensor,
    gelu: bool,
) -> candle_core::Result<Tensor> {
    if !runs_on(kernels) {
        candle_core::bail!("no activation kernels for {kernels:?}");
    }
    let shape = gate.shape().clone();
    let g = gate.flatten_all()?.to_vec1::<f32>()?;
    let u = up.flatten_all()?.to_vec1::<f32>()?;
    if g.len() != u.len() {
        candle_core::bail!(
            "gate and up differ in shape: {shape:?} and {:?}",
            up.shape()
        );
    }
    let mut out = vec![0f32; g.len()];
    crate::parallel::for_each_chunk(&mut out, 16 * 1024, |i, out| {
        let at = i * 16 * 1024;
        let (g, u) = (&g[at..at + out.len()], &u[at..at + out.len()]);
        // SAFETY: `kernels` came from the CPU feature check and is AVX-512
        // or AVX2 (checked above), each arm its own kernel; `g` and `u`
        // are equally long, so both pieces are `out.len()` long.
        unsafe {
            match kernels.isa() {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => gated_chunk_avx2(g, u, out, gelu),
                _ => gated_chunk(g, u, out, gelu),
            }
        }
    });
    Tensor::from_vec(out, shape, gate.device())
}

/// [`gated`] on one piece.
///
/// # Safety
/// The CPU must have AVX-512 F; the three slices must be equally long.
// SAFETY: called only from `gated_with`, with AVX-512 `Kernels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gated_chunk(g: &[f32], u: &[f32], out: &mut [f32], gelu: bool) {
    // SAFETY: the caller upholds the contract under `# Safety` above.
    unsafe {
        use std::arch::x86_64::*;
        let one = _mm512_set1_ps(1.0);
        // √(2/π) and the cubic's coefficient, as PyTorch's tanh GELU.
        let c = _mm512_set1_ps(0.797_884_6);
        let c3 = _mm512_set1_ps(0.044_715);
        for at in (0..g.len()).step_by(LANES) {
            let k = (g.len() - at).min(LANES);
            let mask = ((1u32 << k) - 1) as __mmask16;
            let x = _mm512_maskz_loadu_ps(mask, g.as_ptr().add(at));
            let y = _mm512_maskz_loadu_ps(mask, u.as_ptr().add(at));
            let act = if gelu {
                // 0.5 · x · (1 + tanh(c · (x + c3 · x³)))
                let inner = _mm512_mul_ps(
                    c,
                    _mm512_fmadd_ps(_mm512_mul_ps(c3, x), _mm512_mul_ps(x, x), x),
                );
                let e = exp16(_mm512_add_ps(inner, inner));
                let tanh = _mm512_sub_ps(
                    one,
                    _mm512_div_ps(_mm512_set1_ps(2.0), _mm512_add_ps(one, e)),
                );
                _mm512_mul_ps(
                    _mm512_mul_ps(_mm512_set1_ps(0.5), x),
                    _mm512_add_ps(one, tanh),
                )
            } else {
                // x / (1 + e^-x)
                let e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
                _mm512_div_ps(x, _mm512_add_ps(one, e))
            };
            _mm512_mask_storeu_ps(out.as_mut_ptr().add(at), mask, _mm512_mul_ps(act, y));
        }
    }
}

// SAFETY: never called: `gated_with` returns before calling it off
// x86_64 (no AVX-512 or AVX2 `Kernels` there).
#[cfg(not(target_arch = "x86_64"))]
unsafe fn gated_chunk(_: &[f32], _: &[f32], _: &mut [f32], _: bool) {
    unreachable!("no activation kernels off x86_64")
}

/// [`gated_chunk`] with AVX2 and FMA, 8 values at a time ([`exp8`]); the
/// last values of a piece through a zero-padded copy.
///
/// # Safety
/// The CPU must have AVX2 and FMA; the three slices must be equally long.
// SAFETY: called only from `gated_with`, with AVX2 `Kernels`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gated_chunk_avx2(g: &[f32], u: &[f32], out: &mut [f32], gelu: bool) {
    // SAFETY: the caller upholds the contract under `# Safety` above; every
    // load and store covers 8 values within the slices or the copies.
    unsafe {
        use std::arch::x86_64::*;
        let one = _mm256_set1_ps(1.0);
        let c = _mm256_set1_ps(0.797_884_6);
        let c3 = _mm256_set1_ps(0.044_715);
        let step = |x: __m256, y: __m256| {
            let act = if gelu {
                let inner = _mm256_mul_ps(
                    c,
                    _mm256_fmadd_ps(_mm256_mul_ps(c3, x), _mm256_mul_ps(x, x), x),
                );
                let e = exp8(_mm256_add_ps(inner, inner));
                let tanh = _mm256_sub_ps(
                    one,
                    _mm256_div_ps(_mm256_set1_ps(2.0), _mm256_add_ps(one, e)),
                );
                _mm256_mul_ps(
                    _mm256_mul_ps(_mm256_set1_ps(0.5), x),
                    _mm256_add_ps(one, tanh),
                )
            } else {
                let e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
                _mm256_div_ps(x, _mm256_add_ps(one, e))
            };
            _mm256_mul_ps(act, y)
        };
        let whole = g.len() / 8 * 8;
        for at in (0..whole).step_by(8) {
            let v = step(
                _mm256_loadu_ps(g.as_ptr().add(at)),
                _mm256_loadu_ps(u.as_ptr().add(at)),
            );
            _mm256_storeu_ps(out.as_mut_ptr().add(at), v);
        }
        if whole < g.len() {
            let (mut gs, mut us, mut os) = ([0f32; 8], [0f32; 8], [0f32; 8]);
            let k = g.len() - whole;
            gs[..k].copy_from_slice(&g[whole..]);
            us[..k].copy_from_slice(&u[whole..]);
            _mm256_storeu_ps(
                os.as_mut_ptr(),
                step(_mm256_loadu_ps(gs.as_ptr()), _mm256_loadu_ps(us.as_ptr())),
            );
            out[whole..].copy_from_slice(&os[..k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::values;
    use candle_core::Device;

    #[test]
    fn gated_activations_match_candle() {
        for kernels in Kernels::available().into_iter().filter(|&k| runs_on(k)) {
            gated_matches_candle(kernels);
        }
    }

    fn gated_matches_candle(kernels: Kernels) {
        let n = 5 * (16 * 1024 / 5 * 3 + 7);
        let g: Vec<f32> = values(n, 7).iter().map(|x| 12.0 * x).collect();
        let u = values(n, 8);
        let g = Tensor::from_vec(g, (n / 5, 5), &Device::Cpu).unwrap();
        let u = Tensor::from_vec(u, (n / 5, 5), &Device::Cpu).unwrap();
        for gelu in [true, false] {
            let ours = gated_with(kernels, &g, &u, gelu).unwrap();
            let act = if gelu {
                g.gelu().unwrap()
            } else {
                candle_nn::ops::silu(&g).unwrap()
            };
            let theirs = (act * &u).unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            let ours = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let theirs = theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (at, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "{kernels:?}, gelu {gelu}, value {at}: {a} vs {b}"
                );
            }
        }
    }
}
