//! tarjoman's hand-written CPU kernels: the only module of this crate with
//! SIMD `unsafe` code (AVX-512 intrinsics behind `#[target_feature]`).
//!
//! Each kernel sits beside the tests that check it against candle or
//! against the textbook formula. What the rest of the crate calls is safe:
//! the functions exported here check the CPU's features ([`supported`])
//! and the lengths of the slices they are given before any `unsafe` code
//! runs, and fall back to (or leave the work to) candle elsewhere.
//!
//! - [`kquants`]: matrix products with Q4_K, Q6_K, Q5_0 and Q8_0 weights;
//! - [`attention`]: causal attention over a preallocated KV cache;
//! - [`activation`]: the gated feed-forward activations (GELU, SiLU);
//! - `simd`: the CPU feature check and the 512-bit helpers they share.

pub(crate) mod activation;
pub(crate) mod attention;
pub mod kquants;
mod simd;
#[cfg(test)]
mod test_values;

pub(crate) use simd::supported;
