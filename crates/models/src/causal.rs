//! Decoder-only language models loaded from GGUF through candle-transformers'
//! quantized implementations, behind one type the generation loop drives.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_gemma3, quantized_llama, quantized_qwen2};
use tokenizers::Tokenizer;

use crate::gguf::GgufFile;
use crate::{tokenizer, Error, Result};

/// Architectures this crate can run, as named by GGUF `general.architecture`.
pub const SUPPORTED: &str = "qwen2, gemma3, llama";

/// The model family, which also decides details such as context limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Qwen2,
    Gemma3,
    Llama,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Qwen2 => "qwen2",
            Family::Gemma3 => "gemma3",
            Family::Llama => "llama",
        }
    }
}

enum Weights {
    Qwen2(quantized_qwen2::ModelWeights),
    Gemma3(quantized_gemma3::ModelWeights),
    Llama(quantized_llama::ModelWeights),
}

/// Facts about a loaded model, read from its GGUF metadata.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub family: Family,
    pub name: Option<String>,
    pub parameters: u64,
    pub context_length: usize,
    /// Token ids that end generation (the GGUF's EOS plus the chat
    /// template's end-of-turn tokens found in the vocabulary).
    pub eos_ids: Vec<u32>,
    pub bos_id: Option<u32>,
    pub add_bos: bool,
    /// `tokenizer.chat_template`, absent for base models.
    pub chat_template: Option<String>,
}

/// A loaded decoder-only model: weights plus tokenizer.
pub struct CausalLm {
    weights: Weights,
    pub tokenizer: Tokenizer,
    pub info: ModelInfo,
    device: Device,
}

/// End-of-turn markers used by the chat templates we support.
const END_OF_TURN: &[&str] = &["<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<eos>"];

impl CausalLm {
    /// Loads a GGUF model. `tokenizer_json` is used when given; otherwise the
    /// tokenizer is built from the GGUF metadata.
    pub fn load(gguf_path: &Path, tokenizer_json: Option<&Path>) -> Result<Self> {
        let gguf = GgufFile::open(gguf_path)?;
        let path = gguf.path.clone();
        let arch = gguf.architecture()?.to_string();
        let family = match arch.as_str() {
            "qwen2" => Family::Qwen2,
            "gemma3" => Family::Gemma3,
            "llama" => Family::Llama,
            _ => {
                return Err(Error::UnsupportedArchitecture {
                    path,
                    arch,
                    supported: SUPPORTED,
                })
            }
        };
        let tokenizer = match tokenizer_json {
            Some(p) => tokenizer::from_file(p)?,
            None => tokenizer::from_gguf(&gguf)?,
        };
        let context_length = match family {
            // candle's quantized llama precomputes RoPE for 4,096 positions.
            Family::Llama => (gguf.u32("llama.context_length").unwrap_or(4096) as usize)
                .min(quantized_llama::MAX_SEQ_LEN),
            Family::Qwen2 => gguf.u32("qwen2.context_length")? as usize,
            Family::Gemma3 => gguf.u32("gemma3.context_length").unwrap_or(32768) as usize,
        };
        let mut eos_ids: Vec<u32> = gguf
            .u32("tokenizer.ggml.eos_token_id")
            .ok()
            .into_iter()
            .collect();
        for marker in END_OF_TURN {
            if let Some(id) = tokenizer.token_to_id(marker) {
                if !eos_ids.contains(&id) {
                    eos_ids.push(id);
                }
            }
        }
        let bos_id = gguf.u32("tokenizer.ggml.bos_token_id").ok();
        let add_bos = match gguf.get("tokenizer.ggml.add_bos_token") {
            Some(v) => v.to_bool().unwrap_or(false),
            // Gemma and Llama-2 style SentencePiece models expect BOS.
            None => family == Family::Gemma3,
        };
        let info = ModelInfo {
            family,
            name: gguf.string("general.name").ok().map(str::to_string),
            parameters: gguf.parameter_count(),
            context_length,
            eos_ids,
            bos_id,
            add_bos,
            chat_template: gguf
                .string("tokenizer.chat_template")
                .ok()
                .map(str::to_string),
        };
        let device = Device::Cpu;
        let (content, mut reader) = gguf.into_parts();
        let reader = &mut reader;
        let weights_err = |source| Error::Weights {
            path: path.clone(),
            source,
        };
        let weights = match family {
            Family::Qwen2 => Weights::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, reader, &device)
                    .map_err(weights_err)?,
            ),
            Family::Gemma3 => Weights::Gemma3(
                quantized_gemma3::ModelWeights::from_gguf(content, reader, &device)
                    .map_err(weights_err)?,
            ),
            Family::Llama => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(content, reader, &device)
                    .map_err(weights_err)?,
            ),
        };
        Ok(Self {
            weights,
            tokenizer,
            info,
            device,
        })
    }

    /// Runs `tokens` at positions `index_pos..` and returns the logits of the
    /// last position. `index_pos == 0` starts a new sequence (the KV cache is
    /// reset); otherwise the tokens extend the cached sequence. The result is
    /// a 1-D f32 tensor of vocabulary size.
    pub fn forward(&mut self, tokens: &[u32], index_pos: usize) -> Result<Tensor> {
        let end = index_pos + tokens.len();
        if end > self.info.context_length {
            return Err(Error::ContextOverflow {
                tokens: end,
                context: self.info.context_length,
            });
        }
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Qwen2(m) => m.forward(&input, index_pos)?,
            Weights::Gemma3(m) => m.forward(&input, index_pos)?,
            Weights::Llama(m) => m.forward(&input, index_pos)?,
        };
        Ok(logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?)
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        tokenizer::encode(&self.tokenizer, text)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        tokenizer::decode(&self.tokenizer, ids)
    }
}
