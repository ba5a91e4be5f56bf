//! tarjoman's hand-written CPU kernels: the only module of this crate with
//! SIMD `unsafe` code (AVX-512, AVX2 and NEON intrinsics behind
//! `#[target_feature]`).
//!
//! Each kernel sits beside the tests that check it against candle or
//! against the textbook formula. What the rest of the crate calls is safe:
//! the functions exported here take the kernels the CPU has
//! ([`dispatch::Kernels`], checked once at run time, so a portable binary
//! still runs the fastest ones) and check the lengths of the slices they
//! are given before any `unsafe` code runs, and fall back to (or leave the
//! work to) candle elsewhere.
//!
//! - [`kquants`]: matrix products with Q4_K, Q6_K, Q5_0 and Q8_0 weights;
//! - [`attention`]: causal attention over a preallocated KV cache;
//! - [`activation`]: the gated feed-forward activations (GELU, SiLU);
//! - [`dispatch`]: which kernels run (`TARJOMAN_KERNELS`, CPU features);
//! - `simd`: the vector helpers they share (`exp`).

pub(crate) mod activation;
pub(crate) mod attention;
pub(crate) mod dispatch;
pub mod kquants;
mod simd;
#[cfg(test)]
mod test_values;
