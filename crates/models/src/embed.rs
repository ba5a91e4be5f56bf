//! Sentence embeddings with a BERT encoder (sentence-transformers
//! all-MiniLM-L6-v2): mean pooling over tokens, then L2 normalization, as in
//! the model's `1_Pooling/config.json` and sentence-transformers' `Normalize`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::{tokenizer, Error, Result};

/// all-MiniLM-L6-v2 was trained on inputs of at most 256 word pieces.
const MAX_TOKENS: usize = 256;

pub struct SentenceEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl SentenceEmbedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let file = |name: &str| -> PathBuf { dir.join(name) };
        let read =
            |path: PathBuf| std::fs::read(&path).map_err(|source| Error::Io { path, source });
        let config_path = file("config.json");
        let config: Config =
            serde_json::from_slice(&read(config_path.clone())?).map_err(|e| Error::Weights {
                path: config_path.clone(),
                source: candle_core::Error::Msg(format!("invalid config.json: {e}")),
            })?;
        let mut tokenizer = tokenizer::from_file(&file("tokenizer.json"))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(Error::Tokenize)?;
        let device = Device::Cpu;
        let weights_path = file("model.safetensors");
        let weights_err = |source| Error::Weights {
            path: weights_path.clone(),
            source,
        };
        let vb =
            VarBuilder::from_buffered_safetensors(read(weights_path.clone())?, DType::F32, &device)
                .map_err(weights_err)?;
        let model = BertModel::load(vb, &config).map_err(weights_err)?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    /// Embeds each sentence as a unit-length vector.
    pub fn embed(&self, sentences: &[String]) -> Result<Vec<Vec<f32>>> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(sentences.to_vec(), true)
            .map_err(Error::Tokenize)?;
        let ids: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_ids(), &self.device))
            .collect::<candle_core::Result<_>>()?;
        let masks: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
            .collect::<candle_core::Result<_>>()?;
        let ids = Tensor::stack(&ids, 0)?;
        let mask = Tensor::stack(&masks, 0)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2()?)
    }
}
