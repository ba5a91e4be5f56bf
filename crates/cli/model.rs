//! Resolving `--model NAME|PATH` to loaded models: manifest names are fetched
//! on first use (saying so on stderr), paths are loaded as they are.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tarjoman_models::causal::{Backend, CausalLm, Family};
use tarjoman_models::embed::SentenceEmbedder;
use tarjoman_registry::{Manifest, ModelEntry, ModelPaths, Store, Task};

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

/// Makes sure a model's files are present and verified, pulling them first
/// if needed.
fn ensure(entry: &ModelEntry) -> Result<ModelPaths> {
    Ok(store().ensure(entry, &Bars::new())?)
}

/// Where a generation model's files are and how to prompt it: resolved
/// (and fetched if needed) once, loaded as often as needed (once per
/// worker of a batch).
#[derive(Debug, Clone)]
pub struct LmSource {
    pub gguf: PathBuf,
    pub tokenizer: Option<PathBuf>,
    pub format: FormatSource,
    pub name: String,
}

/// Where a model's prompt format comes from.
#[derive(Debug, Clone)]
pub enum FormatSource {
    /// Named by the manifest.
    Named(String),
    /// A manifest model that names none: its family's default.
    FamilyDefault,
    /// A bare GGUF: read from its chat template.
    ChatTemplate,
}

impl LmSource {
    pub fn load(&self) -> Result<LoadedLm> {
        self.load_with(Backend::Fast)
    }

    pub fn load_with(&self, backend: Backend) -> Result<LoadedLm> {
        let lm = CausalLm::load_with(&self.gguf, self.tokenizer.as_deref(), backend)?;
        let format = match &self.format {
            FormatSource::Named(f) => f.clone(),
            FormatSource::FamilyDefault => default_format(lm.info.family).to_string(),
            FormatSource::ChatTemplate => format_for(&lm).to_string(),
        };
        Ok(LoadedLm {
            lm,
            format,
            name: self.name.clone(),
        })
    }
}

/// Loads `--model` (a manifest name or a GGUF path; `None` = the default).
pub fn load_lm(model: Option<&str>) -> Result<LoadedLm> {
    resolve_lm(model)?.load()
}

/// [`load_lm`] with a chosen implementation (benchmarks compare them).
pub fn load_lm_with(model: Option<&str>, backend: Backend) -> Result<LoadedLm> {
    resolve_lm(model)?.load_with(backend)
}

/// Finds `--model`'s files, fetching a manifest model on first use.
pub fn resolve_lm(model: Option<&str>) -> Result<LmSource> {
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
        return Ok(LmSource {
            gguf: path.to_path_buf(),
            tokenizer: sibling.is_file().then_some(sibling),
            format: FormatSource::ChatTemplate,
            name: spec,
        });
    }
    let entry = manifest.find(&spec)?.clone();
    if entry.task != Task::Generate {
        bail!(
            "model `{}` is a {:?} model, not a generation model",
            entry.name,
            entry.task
        );
    }
    let paths = ensure(&entry)?;
    let gguf = paths
        .files
        .values()
        .find(|p| p.extension().is_some_and(|e| e == "gguf"))
        .with_context(|| format!("model `{}` lists no .gguf file", entry.name))?
        .clone();
    Ok(LmSource {
        gguf,
        tokenizer: paths.get("tokenizer.json").map(Path::to_path_buf),
        format: entry
            .prompt
            .clone()
            .map_or(FormatSource::FamilyDefault, FormatSource::Named),
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
fn format_for(lm: &CausalLm) -> &'static str {
    match lm.info.chat_template.as_deref() {
        Some(t) if t.contains("<|im_start|>") => "chatml",
        Some(t) if t.contains("<start_of_turn>") => "gemma",
        Some(_) => default_format(lm.info.family),
        None => "fewshot",
    }
}

/// Loads the default sentence embedder (for extractive summaries).
pub fn load_embedder() -> Result<SentenceEmbedder> {
    Ok(SentenceEmbedder::load(&resolve_embedder()?)?)
}

/// The default sentence embedder's folder, fetched on first use.
pub fn resolve_embedder() -> Result<PathBuf> {
    let manifest = Manifest::builtin()?;
    let entry = manifest
        .default_model(Task::Embed)
        .context("the manifest names no embedding model")?
        .clone();
    Ok(ensure(&entry)?.dir)
}
