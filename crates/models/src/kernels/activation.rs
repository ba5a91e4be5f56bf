//! The gated activation of a feed-forward layer, `act(gate) · up`, in one
//! AVX-512 pass ([`gated`]), GELU (tanh) or SiLU.

use candle_core::Tensor;

use super::simd::supported;
#[cfg(target_arch = "x86_64")]
use super::simd::{exp16, LANES};

/// `act(gate) · up` in one pass, 16 values at a time: `act` is GELU with
/// the tanh approximation (`gelu`, Gemma 3, as candle's `gelu` and
/// PyTorch's `gelu(approximate="tanh")`) or SiLU. candle computes the
/// GELU with a scalar `tanh` per value (14% of Gemma 3 270M's prefill in
/// a profile) and the product as a separate pass; here tanh(u) is
/// `1 - 2 / (1 + e^{2u})` and e^x is `exp16`.
///
/// An error on a CPU without the kernels ([`supported`]): callers take
/// candle's path there.
pub(crate) fn gated(gate: &Tensor, up: &Tensor, gelu: bool) -> candle_core::Result<Tensor> {
    if !supported() {
        candle_core::bail!("the AVX-512 activation kernel does not run on this CPU");
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
        // SAFETY: `supported()` (AVX-512 F among others) was checked
        // above; `g` and `u` are equally long, so both pieces are
        // `out.len()` long.
        unsafe { gated_chunk(&g[at..at + out.len()], &u[at..at + out.len()], out, gelu) }
    });
    Tensor::from_vec(out, shape, gate.device())
}

/// [`gated`] on one piece.
///
/// # Safety
/// The CPU must have AVX-512 F; the three slices must be equally long.
// SAFETY: called only from `gated`, after its `supported()` check.
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

// SAFETY: never called: `supported()` is false off x86_64, and `gated`
// returns before calling it then.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn gated_chunk(_: &[f32], _: &[f32], _: &mut [f32], _: bool) {
    unreachable!("kernels::supported() is false off x86_64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::values;
    use candle_core::Device;

    #[test]
    fn gated_activations_match_candle() {
        if !supported() {
            return;
        }
        let n = 5 * (16 * 1024 / 5 * 3 + 7);
        let g: Vec<f32> = values(n, 7).iter().map(|x| 12.0 * x).collect();
        let u = values(n, 8);
        let g = Tensor::from_vec(g, (n / 5, 5), &Device::Cpu).unwrap();
        let u = Tensor::from_vec(u, (n / 5, 5), &Device::Cpu).unwrap();
        for gelu in [true, false] {
            let ours = gated(&g, &u, gelu).unwrap();
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
                    "gelu {gelu}, value {at}: {a} vs {b}"
                );
            }
        }
    }
}
