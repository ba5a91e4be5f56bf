//! The matrix-vector kernels for Q4_K and Q6_K weights on aarch64 (NEON),
//! reading the GGUF layout: 16 weights by 16 activations at a time, with
//! `sdot` where the CPU has `dotprod` (Apple M1 and later, Cortex-A76 and
//! later, Graviton 2 and later), else `smull` / `smlal2` and pairwise
//! adds. Integer sums per sub-block, scaled as candle and ggml scale them:
//! only the order of the floating-point additions differs.
//!
//! `sdot` is written as inline assembly: its intrinsic (`vdotq_s32`) is not
//! stable in Rust yet.

use std::arch::aarch64::*;

use super::activations::Q8Block;
use super::format::{Q4K_BYTES, Q6K_BYTES};

/// `acc + Σ a·b` over each 4 of 16 signed bytes: `sdot` (`DOT`) or, without
/// it, products in 16 bits (each at most 63 · 128 in magnitude here, so a
/// pair fits) added pairwise into the 32-bit lanes.
///
/// # Safety
/// The CPU must have NEON, and `dotprod` where `DOT`.
// SAFETY: called only from the kernels below, `DOT` only from those that
// run with NEON `Kernels` whose `dotprod()` holds.
#[inline(always)]
unsafe fn dot16<const DOT: bool>(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    if DOT {
        let mut acc = acc;
        // SAFETY: the CPU has `dotprod` (the caller's contract); the
        // instruction only reads and writes these registers.
        unsafe {
            std::arch::asm!(
                ".arch_extension dotprod",
                "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
                acc = inout(vreg) acc,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags),
            );
        }
        acc
    } else {
        // SAFETY: the CPU has NEON (the caller's contract).
        unsafe {
            let p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
            let p = vmlal_high_s8(p, a, b);
            vpadalq_s16(acc, p)
        }
    }
}

/// ggml's unpacking of a Q4_K block's 6-bit scales and minimums (the 12
/// bytes after its two f16 scales): 8 scales, then 8 minimums.
fn q4k_scales_mins(block: &[u8]) -> [u8; 16] {
    const K1: u32 = 0x3f3f_3f3f;
    const K2: u32 = 0x0f0f_0f0f;
    const K3: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes(block[4 + 4 * i..8 + 4 * i].try_into().expect("4"));
    let mut u = [word(0), word(1), word(2), 0];
    u[3] = ((u[2] >> 4) & K2) | (((u[1] >> 6) & K3) << 4);
    let aux = u[1] & K1;
    u[1] = (u[2] & K2) | (((u[0] >> 6) & K3) << 4);
    u[2] = aux;
    u[0] &= K1;
    let mut out = [0u8; 16];
    for (o, u) in out.chunks_exact_mut(4).zip(u) {
        o.copy_from_slice(&u.to_le_bytes());
    }
    out
}

/// The dot product of one Q4_K weight row with one row of Q8_K
/// activations: per block, `d · Σⱼ scaleⱼ · (qⱼ · y) - dmin · Σⱼ minⱼ ·
/// Σ yⱼ` over its 8 groups of 32, times the activations' scale.
///
/// # Safety
/// The CPU must have NEON, and `dotprod` where `DOT`; `w` must hold as
/// many Q4_K blocks as `x`.
#[inline(always)]
unsafe fn q4k<const DOT: bool>(w: &[u8], x: &[Q8Block]) -> f32 {
    // SAFETY: the caller upholds the contract under `# Safety` above; every
    // load reads 16 bytes of one block or of one block's activations.
    unsafe {
        let low4 = vdupq_n_u8(0x0F);
        let mut sum = 0f32;
        for (b, y) in x.iter().enumerate() {
            let block = &w[b * Q4K_BYTES..(b + 1) * Q4K_BYTES];
            let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            let dmin = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
            let sm = q4k_scales_mins(block);
            let min_dot: i32 = (0..8)
                .map(|j| i32::from(sm[8 + j]) * i32::from(y.sums[j]))
                .sum();
            let mut isum = 0i32;
            for c in 0..4 {
                let p = block.as_ptr().add(16 + 32 * c);
                let (p0, p1) = (vld1q_u8(p), vld1q_u8(p.add(16)));
                let ys = y.qs.as_ptr().add(64 * c);
                let y: [int8x16_t; 4] = std::array::from_fn(|i| vld1q_s8(ys.add(16 * i)));
                let lo = dot16::<DOT>(
                    dot16::<DOT>(
                        vdupq_n_s32(0),
                        vreinterpretq_s8_u8(vandq_u8(p0, low4)),
                        y[0],
                    ),
                    vreinterpretq_s8_u8(vandq_u8(p1, low4)),
                    y[1],
                );
                let hi = dot16::<DOT>(
                    dot16::<DOT>(
                        vdupq_n_s32(0),
                        vreinterpretq_s8_u8(vshrq_n_u8::<4>(p0)),
                        y[2],
                    ),
                    vreinterpretq_s8_u8(vshrq_n_u8::<4>(p1)),
                    y[3],
                );
                isum += vaddvq_s32(lo) * i32::from(sm[2 * c])
                    + vaddvq_s32(hi) * i32::from(sm[2 * c + 1]);
            }
            sum += d * y.d * isum as f32 - dmin * y.d * min_dot as f32;
        }
        sum
    }
}

/// The dot product of one Q6_K weight row with one row of Q8_K
/// activations: per block, `d · Σⱼ scaleⱼ · ((q - 32)ⱼ · y)` over its 16
/// sub-blocks of 16, times the activations' scale.
///
/// # Safety
/// As for `q4k`, with Q6_K blocks.
#[inline(always)]
unsafe fn q6k<const DOT: bool>(w: &[u8], x: &[Q8Block]) -> f32 {
    // SAFETY: the caller upholds the contract under `# Safety` above; every
    // load reads 16 bytes of one block or of one block's activations.
    unsafe {
        let low4 = vdupq_n_u8(0x0F);
        let bits = vdupq_n_u8(0x30);
        let offset = vdupq_n_s8(32);
        let mut sum = 0f32;
        for (b, y) in x.iter().enumerate() {
            let block = &w[b * Q6K_BYTES..(b + 1) * Q6K_BYTES];
            let d = half::f16::from_le_bytes([block[208], block[209]]).to_f32();
            let scale = |sub: usize| i32::from(block[192 + sub] as i8);
            let mut isum = 0i32;
            for h in 0..2 {
                for k in 0..2 {
                    let ql = block.as_ptr().add(64 * h + 16 * k);
                    let (ql0, ql1) = (vld1q_u8(ql), vld1q_u8(ql.add(32)));
                    let qh = vld1q_u8(block.as_ptr().add(128 + 32 * h + 16 * k));
                    // Values 128h + 32j + 16k + 0..16, sub-block 8h + 2j + k.
                    let quarters = [
                        vorrq_u8(vandq_u8(ql0, low4), vandq_u8(vshlq_n_u8::<4>(qh), bits)),
                        vorrq_u8(vandq_u8(ql1, low4), vandq_u8(vshlq_n_u8::<2>(qh), bits)),
                        vorrq_u8(vshrq_n_u8::<4>(ql0), vandq_u8(qh, bits)),
                        vorrq_u8(vshrq_n_u8::<4>(ql1), vandq_u8(vshrq_n_u8::<2>(qh), bits)),
                    ];
                    for (j, q) in quarters.into_iter().enumerate() {
                        let q = vsubq_s8(vreinterpretq_s8_u8(q), offset);
                        let at = 128 * h + 32 * j + 16 * k;
                        let ys = vld1q_s8(y.qs.as_ptr().add(at));
                        let dot = vaddvq_s32(dot16::<DOT>(vdupq_n_s32(0), q, ys));
                        isum += dot * scale(8 * h + 2 * j + k);
                    }
                }
            }
            sum += d * y.d * isum as f32;
        }
        sum
    }
}

/// [`q4k`] with `sdot`.
///
/// # Safety
/// The CPU must have NEON and `dotprod`; `w` must hold as many Q4_K
/// blocks as `x`.
// SAFETY: called only from `products`, for matrices made with NEON
// `Kernels` whose `dotprod()` holds.
#[target_feature(enable = "neon,dotprod")]
pub(super) unsafe fn dot_row_q4k_dotprod(w: &[u8], x: &[Q8Block]) -> f32 {
    // SAFETY: the caller upholds `q4k`'s contract (dotprod included).
    unsafe { q4k::<true>(w, x) }
}

/// [`q4k`] without `sdot`.
///
/// # Safety
/// The CPU must have NEON; `w` must hold as many Q4_K blocks as `x`.
// SAFETY: called only from `products`, for matrices made with NEON
// `Kernels`.
#[target_feature(enable = "neon")]
pub(super) unsafe fn dot_row_q4k(w: &[u8], x: &[Q8Block]) -> f32 {
    // SAFETY: the caller upholds `q4k`'s contract.
    unsafe { q4k::<false>(w, x) }
}

/// [`q6k`] with `sdot`.
///
/// # Safety
/// The CPU must have NEON and `dotprod`; `w` must hold as many Q6_K
/// blocks as `x`.
// SAFETY: called only from `products`, for matrices made with NEON
// `Kernels` whose `dotprod()` holds.
#[target_feature(enable = "neon,dotprod")]
pub(super) unsafe fn dot_row_q6k_dotprod(w: &[u8], x: &[Q8Block]) -> f32 {
    // SAFETY: the caller upholds `q6k`'s contract (dotprod included).
    unsafe { q6k::<true>(w, x) }
}

/// [`q6k`] without `sdot`.
///
/// # Safety
/// The CPU must have NEON; `w` must hold as many Q6_K blocks as `x`.
// SAFETY: called only from `products`, for matrices made with NEON
// `Kernels`.
#[target_feature(enable = "neon")]
pub(super) unsafe fn dot_row_q6k(w: &[u8], x: &[Q8Block]) -> f32 {
    // SAFETY: the caller upholds `q6k`'s contract.
    unsafe { q6k::<false>(w, x) }
}
