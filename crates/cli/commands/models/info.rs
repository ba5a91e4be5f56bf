//! `tarjoman models info`: what a model is, read from its files' headers
//! (GGUF metadata; `config.json`, safetensors headers, the pickles of a
//! `pytorch_model.bin`), without loading the weights.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use indicatif::HumanBytes;
use serde::Serialize;
use tarjoman_models::gguf::GgufFile;
use tarjoman_models::weights::Checkpoint;
use tarjoman_registry::{ModelFiles, TokenizerFiles, WeightsFormat};

/// What `info` reports.
#[derive(Debug, Serialize)]
pub struct Info {
    /// `general.architecture` or `config.json` `model_type`.
    family: Option<String>,
    /// `general.name` or `_name_or_path`, when given.
    name: Option<String>,
    /// Elements over all tensors.
    parameters: Option<u64>,
    /// Storage types by share of parameters, largest first, e.g.
    /// `Q4K 82.1%`.
    dtypes: Vec<String>,
    vocab_size: Option<u64>,
    context_length: Option<u64>,
    tokenizer: String,
    size_bytes: u64,
}

pub fn describe(files: &ModelFiles) -> Result<Info> {
    let mut info = match files.format {
        WeightsFormat::Gguf => {
            let mut info = gguf_info(&files.weights[0])?;
            // A GGUF beside config.json (T5 / MADLAD-400 repos: the GGUF
            // holds only tensors): the config says what the GGUF does not.
            if files.config.is_some() {
                let config = config_info(files.config.as_deref())?;
                info.family = info.family.or(config.family);
                info.name = info.name.or(config.name);
                info.vocab_size = info.vocab_size.or(config.vocab_size);
                info.context_length = info.context_length.or(config.context_length);
            }
            info
        }
        WeightsFormat::Safetensors => {
            let mut info = config_info(files.config.as_deref())?;
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for shard in &files.weights {
                safetensors_counts(shard, &mut counts)?;
            }
            info.parameters = Some(counts.values().sum());
            info.dtypes = shares(&counts);
            info
        }
        WeightsFormat::PytorchBin => {
            let mut info = config_info(files.config.as_deref())?;
            let ckpt = Checkpoint::open(&files.weights)?;
            let counts: BTreeMap<String, u64> = ckpt
                .dtype_counts()
                .into_iter()
                .map(|(dtype, n)| (dtype.to_uppercase(), n))
                .collect();
            info.parameters = Some(ckpt.parameter_count());
            info.dtypes = shares(&counts);
            info
        }
    };
    info.tokenizer = match &files.tokenizer {
        TokenizerFiles::Json { .. } => "tokenizer.json".into(),
        TokenizerFiles::Marian { .. } => {
            "SentencePiece source.spm/target.spm + vocab.json (Marian)".into()
        }
        TokenizerFiles::InGguf => "built from the GGUF's metadata".into(),
        TokenizerFiles::Missing => "none found".into(),
    };
    info.size_bytes = files
        .weights
        .iter()
        .filter_map(|w| std::fs::metadata(w).ok())
        .map(|m| m.len())
        .sum();
    Ok(info)
}

fn empty() -> Info {
    Info {
        family: None,
        name: None,
        parameters: None,
        dtypes: Vec::new(),
        vocab_size: None,
        context_length: None,
        tokenizer: String::new(),
        size_bytes: 0,
    }
}

fn gguf_info(path: &Path) -> Result<Info> {
    let gguf = GgufFile::open(path)?;
    let arch = gguf.architecture().ok().map(str::to_owned);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for tensor in gguf.content.tensor_infos.values() {
        *counts
            .entry(format!("{:?}", tensor.ggml_dtype))
            .or_default() += tensor.shape.elem_count() as u64;
    }
    let context_length = arch
        .as_deref()
        .and_then(|a| gguf.u32(&format!("{a}.context_length")).ok())
        .map(u64::from);
    let vocab_size = match gguf.get("tokenizer.ggml.tokens") {
        Some(candle_value) => candle_value.to_vec().ok().map(|v| v.len() as u64),
        None => None,
    };
    Ok(Info {
        family: arch,
        name: gguf.string("general.name").ok().map(str::to_owned),
        parameters: Some(gguf.parameter_count()),
        dtypes: shares(&counts),
        vocab_size,
        context_length,
        ..empty()
    })
}

/// Family, vocabulary and context length from `config.json`.
fn config_info(config: Option<&Path>) -> Result<Info> {
    let Some(path) = config else {
        return Ok(empty());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    // Multimodal configs (Gemma 3 4B) keep the language model's settings
    // in `text_config`.
    let text_config = doc.get("text_config").unwrap_or(&doc);
    let number = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| text_config.get(*k).or_else(|| doc.get(*k)))
            .and_then(serde_json::Value::as_u64)
    };
    Ok(Info {
        family: doc
            .get("model_type")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        name: doc
            .get("_name_or_path")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        vocab_size: number(&["vocab_size"]),
        context_length: number(&["max_position_embeddings", "n_positions", "max_length"]),
        ..empty()
    })
}

/// Adds each tensor's element count, by dtype, from a safetensors header;
/// checks that the file holds the data the header describes.
fn safetensors_counts(path: &Path, counts: &mut BTreeMap<String, u64>) -> Result<()> {
    const MAX_HEADER: u64 = 100_000_000;
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata()?.len();
    let mut size = [0u8; 8];
    file.read_exact(&mut size)
        .with_context(|| format!("{}: too short for a safetensors file", path.display()))?;
    let n = u64::from_le_bytes(size);
    if n > MAX_HEADER || n + 8 > len {
        bail!(
            "{}: header length {n} does not fit a {len}-byte file: not a safetensors file, or truncated",
            path.display()
        );
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let metadata: safetensors::tensor::Metadata = serde_json::from_slice(&header)
        .with_context(|| format!("{}: invalid safetensors header", path.display()))?;
    for (name, tensor) in metadata.tensors() {
        let elems: u64 = tensor.shape.iter().map(|&d| d as u64).product();
        *counts.entry(format!("{:?}", tensor.dtype)).or_default() += elems;
        let (_, stop) = tensor.data_offsets;
        if 8 + n + stop as u64 > len {
            bail!(
                "{}: truncated: tensor `{name}` ends at byte {} but the file has {len}",
                path.display(),
                8 + n + stop as u64
            );
        }
    }
    Ok(())
}

/// `DTYPE share%`, largest first.
fn shares(counts: &BTreeMap<String, u64>) -> Vec<String> {
    let total: u64 = counts.values().sum();
    let mut items: Vec<(&String, &u64)> = counts.iter().collect();
    items.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    items
        .into_iter()
        .map(|(dtype, &n)| format!("{dtype} {:.1}%", 100.0 * n as f64 / (total.max(1)) as f64))
        .collect()
}

fn human_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

pub fn print(spec: &str, files: &ModelFiles, info: &Info, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let doc = serde_json::json!({
            "model": spec,
            "info": info,
            "format": files.format,
            "files": files,
            "source": files.provenance.to_string(),
        });
        serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON to stdout")?;
        writeln!(out)?;
        return Ok(());
    }
    let or_unknown = |v: Option<String>| v.unwrap_or_else(|| "unknown".into());
    writeln!(out, "model:          {spec}")?;
    if let Some(name) = &info.name {
        writeln!(out, "name:           {name}")?;
    }
    writeln!(out, "family:         {}", or_unknown(info.family.clone()))?;
    writeln!(
        out,
        "parameters:     {}",
        match info.parameters {
            Some(n) => format!("{} ({n})", human_count(n)),
            None => "unknown".into(),
        }
    )?;
    writeln!(out, "format:         {}", files.format)?;
    writeln!(
        out,
        "dtype:          {}",
        if info.dtypes.is_empty() {
            "unknown".into()
        } else {
            info.dtypes.join(", ")
        }
    )?;
    writeln!(
        out,
        "vocabulary:     {}",
        or_unknown(info.vocab_size.map(|v| v.to_string()))
    )?;
    writeln!(
        out,
        "context:        {}",
        or_unknown(info.context_length.map(|v| format!("{v} tokens")))
    )?;
    writeln!(out, "tokenizer:      {}", info.tokenizer)?;
    writeln!(out, "weights:        {}", HumanBytes(info.size_bytes))?;
    for w in &files.weights {
        writeln!(out, "  {}", w.display())?;
    }
    writeln!(out, "source:         {}", files.provenance)?;
    Ok(())
}
