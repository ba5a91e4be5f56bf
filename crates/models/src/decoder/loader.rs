//! Building a [`DecoderLm`] from an open GGUF: the architecture's metadata
//! into a [`Config`], and every layer's weights.

use std::sync::Arc;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};

use super::config::{Arch, Config};
use super::layer::{own_kernels, Layer, Linear, Rope};
use super::model::DecoderLm;

/// The initial KV-cache capacity in tokens; it doubles when full, up to the
/// model's context length.
const INITIAL_CAPACITY: usize = 1024;

/// Reads a tensor and dequantizes it to f32 (norms, biases).
fn dense<R: std::io::Seek + std::io::Read>(
    ct: &gguf_file::Content,
    reader: &mut R,
    name: &str,
) -> candle_core::Result<Tensor> {
    ct.tensor(reader, name, &Device::Cpu)?
        .dequantize(&Device::Cpu)
}

fn qmatmul<R: std::io::Seek + std::io::Read>(
    ct: &gguf_file::Content,
    reader: &mut R,
    name: &str,
    own_kernels: bool,
) -> candle_core::Result<Linear> {
    Linear::new(
        Arc::new(ct.tensor(reader, name, &Device::Cpu)?),
        own_kernels,
    )
}

impl DecoderLm {
    /// Builds the model from an open GGUF (`arch` from
    /// `general.architecture`).
    pub fn from_gguf<R: std::io::Seek + std::io::Read>(
        arch: Arch,
        ct: &gguf_file::Content,
        reader: &mut R,
    ) -> candle_core::Result<Self> {
        let prefix = match arch {
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Llama => "llama",
            Arch::Gemma3 => "gemma3",
        };
        let md = |key: &str| {
            let key = format!("{prefix}.{key}");
            ct.metadata
                .get(&key)
                .ok_or_else(|| candle_core::Error::Msg(format!("missing metadata `{key}`")))
        };
        let n_head = md("attention.head_count")?.to_u32()? as usize;
        let n_kv_head = md("attention.head_count_kv")?.to_u32()? as usize;
        let hidden = md("embedding_length")?.to_u32()? as usize;
        let n_layer = md("block_count")?.to_u32()? as usize;
        let eps = md("attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let head_dim = match md("attention.key_length") {
            Ok(v) => v.to_u32()? as usize,
            Err(_) => hidden / n_head,
        };
        let context_length = match md("context_length") {
            Ok(v) => v.to_u32()? as usize,
            Err(_) => 4096,
        };
        let rope_dim = match md("rope.dimension_count") {
            Ok(v) => v.to_u32()? as usize,
            Err(_) => head_dim,
        };
        if n_kv_head == 0 || !n_head.is_multiple_of(n_kv_head) || rope_dim > head_dim {
            candle_core::bail!(
                "inconsistent attention shape: {n_head} heads, {n_kv_head} KV heads, \
                 head size {head_dim}, RoPE size {rope_dim}"
            );
        }
        let base = md("rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(match arch {
                Arch::Gemma3 => 1_000_000.0,
                _ => 10_000.0,
            });
        let capacity = INITIAL_CAPACITY.min(context_length);
        let mut ropes = vec![Rope::new(base, rope_dim, capacity)?];
        let (window, window_every) = if arch == Arch::Gemma3 {
            let local_base = md("rope.local_freq_base")
                .and_then(|v| v.to_f32())
                .unwrap_or(10_000.0);
            ropes.push(Rope::new(local_base, rope_dim, capacity)?);
            let window = md("attention.sliding_window")?.to_u32()? as usize;
            let every = md("attention.sliding_window_type")
                .and_then(|v| v.to_u32())
                .unwrap_or(6) as usize;
            (Some(window), every.max(1))
        } else {
            (None, 1)
        };
        let cfg = Config {
            arch,
            n_head,
            n_kv_head,
            head_dim,
            hidden,
            eps,
            context_length,
            rope_neox: arch != Arch::Llama,
            rope_dim,
        };

        let own_kernels = own_kernels();
        let embeddings = Arc::new(ct.tensor(reader, "token_embd.weight", &Device::Cpu)?);
        let output = if ct.tensor_infos.contains_key("output.weight") {
            qmatmul(ct, reader, "output.weight", own_kernels)?
        } else {
            Linear::new(embeddings.clone(), own_kernels)?
        };
        let norm = dense(ct, reader, "output_norm.weight")?;
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let name = |s: &str| format!("blk.{i}.{s}");
            let bias = if arch == Arch::Qwen2 {
                Some((
                    dense(ct, reader, &name("attn_q.bias"))?,
                    dense(ct, reader, &name("attn_k.bias"))?,
                    dense(ct, reader, &name("attn_v.bias"))?,
                ))
            } else {
                None
            };
            let gemma = arch == Arch::Gemma3;
            let qk_norm = if gemma || arch == Arch::Qwen3 {
                Some((
                    dense(ct, reader, &name("attn_q_norm.weight"))?,
                    dense(ct, reader, &name("attn_k_norm.weight"))?,
                ))
            } else {
                None
            };
            let post_norms = if gemma {
                Some((
                    dense(ct, reader, &name("post_attention_norm.weight"))?,
                    dense(ct, reader, &name("post_ffw_norm.weight"))?,
                ))
            } else {
                None
            };
            // Gemma 3: every `window_every`-th layer is global, the others
            // local (sliding window, their own RoPE base).
            let local = gemma && (i + 1) % window_every != 0;
            layers.push(Layer {
                wq: qmatmul(ct, reader, &name("attn_q.weight"), own_kernels)?,
                wk: qmatmul(ct, reader, &name("attn_k.weight"), own_kernels)?,
                wv: qmatmul(ct, reader, &name("attn_v.weight"), own_kernels)?,
                wo: qmatmul(ct, reader, &name("attn_output.weight"), own_kernels)?,
                bias,
                qk_norm,
                attn_norm: dense(ct, reader, &name("attn_norm.weight"))?,
                post_norms,
                ffn_norm: dense(ct, reader, &name("ffn_norm.weight"))?,
                gate: qmatmul(ct, reader, &name("ffn_gate.weight"), own_kernels)?,
                up: qmatmul(ct, reader, &name("ffn_up.weight"), own_kernels)?,
                down: qmatmul(ct, reader, &name("ffn_down.weight"), own_kernels)?,
                rope: usize::from(local),
                window: if local { window } else { None },
            });
        }
        let mut model = Self {
            cfg,
            embeddings,
            layers,
            norm,
            output,
            ropes,
            seqs: Vec::new(),
            own_kernels,
        };
        model.add_sequence(capacity)?;
        Ok(model)
    }
}
