//! Resolving `--model NAME|PATH` to loaded models: manifest names are fetched
//! on first use (saying so on stderr), paths are loaded as they are.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tarjoman_models::causal::{CausalLm, Family};
use tarjoman_models::embed::SentenceEmbedder;
use tarjoman_registry::{Manifest, ModelEntry, Store, Task};

use crate::progress::Bars;

/// The checkout that built this binary: its `models/` holds the weights when
/// it still exists.
pub fn store() -> Store {
    Store::discover(Some(Path::new(env!("CARGO_MANIFEST_DIR"))))
}

/// A generation model ready to run, with the prompt format it expects.
pub struct LoadedLm {
    pub lm: CausalLm,
    pub format: String,
    pub name: String,
}

/// Finds a manifest entry and makes sure its files are present and verified,
/// pulling them first if needed.
fn ensure(entry: &ModelEntry) -> Result<(PathBuf, Vec<PathBuf>)> {
    let store = store();
    let progress = Bars::new();
    let paths = store.ensure(entry, &progress)?;
    let files = entry
        .files
        .iter()
        .map(|f| paths.dir.join(&f.path))
        .collect();
    Ok((paths.dir.clone(), files))
}

fn entry_for(manifest: &Manifest, name: &str) -> Result<ModelEntry> {
    Ok(manifest.find(name)?.clone())
}

/// Loads `--model` (a manifest name or a GGUF path; `None` = the default).
pub fn load_lm(model: Option<&str>) -> Result<LoadedLm> {
    let manifest = Manifest::builtin()?;
    let spec = match model {
        Some(m) => m.to_string(),
        None => manifest
            .default_model(Task::Generate)
            .context("the manifest names no default generation model")?
            .name
            .clone(),
    };
    let path = Path::new(&spec);
    if path.extension().is_some_and(|e| e == "gguf") || path.is_file() {
        let sibling = path.with_file_name("tokenizer.json");
        let tokenizer = sibling.is_file().then_some(sibling.as_path());
        let lm = CausalLm::load(path, tokenizer)?;
        let format = format_for_gguf(path, lm.info.family)?;
        return Ok(LoadedLm {
            lm,
            format,
            name: spec,
        });
    }
    let entry = entry_for(&manifest, &spec)?;
    if entry.task != Task::Generate {
        bail!(
            "model `{}` is a {:?} model, not a generation model",
            entry.name,
            entry.task
        );
    }
    let (_, files) = ensure(&entry)?;
    let gguf = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "gguf"))
        .with_context(|| format!("model `{}` lists no .gguf file", entry.name))?;
    let tokenizer = files.iter().find(|p| p.ends_with("tokenizer.json"));
    let lm = CausalLm::load(gguf, tokenizer.map(PathBuf::as_path))?;
    let format = entry
        .prompt
        .clone()
        .unwrap_or_else(|| default_format(lm.info.family).to_string());
    Ok(LoadedLm {
        lm,
        format,
        name: entry.name,
    })
}

fn default_format(family: Family) -> &'static str {
    match family {
        Family::Qwen2 | Family::Llama => "chatml",
        Family::Gemma3 => "gemma",
    }
}

/// A bare GGUF: its chat template says which format it was trained on; a
/// model without one is a base model and gets few-shot prompts.
fn format_for_gguf(path: &Path, family: Family) -> Result<String> {
    let gguf = tarjoman_models::gguf::GgufFile::open(path)?;
    Ok(match gguf.string("tokenizer.chat_template") {
        Ok(t) if t.contains("<|im_start|>") => "chatml",
        Ok(t) if t.contains("<start_of_turn>") => "gemma",
        Ok(_) => default_format(family),
        Err(_) => "fewshot",
    }
    .to_string())
}

/// Loads the default sentence embedder (for extractive summaries).
pub fn load_embedder() -> Result<SentenceEmbedder> {
    let manifest = Manifest::builtin()?;
    let entry = manifest
        .default_model(Task::Embed)
        .context("the manifest names no embedding model")?
        .clone();
    let (dir, _) = ensure(&entry)?;
    Ok(SentenceEmbedder::load(&dir)?)
}
