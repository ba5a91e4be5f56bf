//! Causal attention of new queries over a preallocated KV cache, the
//! decoder's own ([`cached_attention`]): the portable loop and its input
//! checks (`cached`), the AVX-512 kernels for a decoding step (`decode`)
//! and for a prompt (`prompt`), and the shape they share (`shape`).

mod cached;
mod decode;
mod prompt;
mod shape;

pub(crate) use cached::cached_attention;
pub(crate) use shape::Queries;
