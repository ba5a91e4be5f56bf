//! Causal attention of new queries over a preallocated KV cache, the
//! decoder's own ([`cached_attention`]): the portable loop and its input
//! checks (`cached`), the AVX-512 kernels for a decoding step (`decode`)
//! and for a prompt (`prompt`), the AVX2 (`avx2`) and NEON (`neon`)
//! kernels for a decoding step, and the shape they share (`shape`).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod cached;
mod decode;
#[cfg(target_arch = "aarch64")]
mod neon;
mod prompt;
mod shape;

pub(crate) use cached::cached_attention;
pub(crate) use shape::Queries;
