//! Matrix products with Q4_K, Q6_K, Q5_0 and Q8_0 weights on AVX-512 VNNI
//! CPUs, and the same on AVX2 + FMA CPUs (`avx2`, `avx2_tiles`) and, for
//! Q4_K and Q6_K decoding, on aarch64 (`neon`), chosen at run time
//! (`dispatch`):
//! matrix-vector kernels that read the GGUF layout (decoding, a few rows
//! of activations) and a prefill kernel on 16-row tiles repacked as it
//! goes (many rows).
//!
//! Written by hand because candle 0.11 has no such kernel: on x86 it runs
//! every Q6_K weight row through its AVX2 dot product, which is
//! compute-bound (about 1.7x the time per byte of its Q4_K kernel), and it
//! runs Q4_K weights through a copy interleaved for 16 rows at a time whose
//! scales are unpacked to f32, 1.33x the bytes of the GGUF layout. Decoding
//! one token reads every weight once, so bytes are time: in a Q4_K_M GGUF
//! the output projection and half of the `ffn_down` and `attn_v` weights
//! are Q6_K (for Qwen2.5-1.5B, 338 of the 930 MB that every decoded token
//! reads), the rest Q4_K.
//!
//! The arithmetic is candle's (and ggml's): activations are quantized to
//! 8 bits per block of 256 (`Q8_K`, quantized exactly as candle does), each
//! block's integer dot products are scaled by both blocks' scales, and only
//! the order of the floating-point additions differs. With 512-bit
//! registers and `vpdpbusd` one Q6_K block takes 8 multiply-adds and one
//! Q4_K block 4. Q5_0 (Gemma 3's layers), which candle multiplies with a
//! scalar loop, pairs with activations quantized as candle's `Q8_0`
//! (blocks of 32); see `dot_row_q5_0`.
//!
//! The code lies by concern: `format` (block sizes, the formats, the
//! repacked tile layouts), `activations` (activations quantized to 8
//! bits; the AVX2 quantizing too), `matrix` ([`KQuantMatMul`] and when it
//! takes a tensor),
//! `products` (running it: the matrix-vector pass and its dispatch),
//! `prefill` (the tiled kernel for many rows), and one file per weight
//! format with its AVX-512 kernels (`q4k`, `q6k`, `q5_0`, `q8_0`), one per
//! other instruction set (`avx2`, `avx2_tiles` for prefill, `neon`).

mod activations;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx2_tiles;
mod format;
mod matrix;
#[cfg(target_arch = "aarch64")]
mod neon;
mod prefill;
mod products;
mod q4k;
mod q5_0;
mod q6k;
mod q8_0;

pub use super::dispatch::kernel_path;
pub use matrix::KQuantMatMul;
