//! The shape of one decoder-only architecture: which family ([`Arch`]) and
//! the sizes read from its GGUF metadata ([`Config`]).

/// Per-family differences of the shared architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Qwen2,
    Qwen3,
    Llama,
    Gemma3,
}

#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) arch: Arch,
    pub(super) n_head: usize,
    pub(super) n_kv_head: usize,
    pub(super) head_dim: usize,
    pub(super) hidden: usize,
    pub(super) eps: f64,
    pub(super) context_length: usize,
    /// Pairs `(i, i + d/2)` rotate together (NeoX/Qwen/Gemma) rather than
    /// `(2i, 2i + 1)` (Llama weights as GGUF stores them).
    pub(super) rope_neox: bool,
    pub(super) rope_dim: usize,
}
