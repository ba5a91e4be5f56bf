//! Resolving `--model NAME|PATH|REPO` to loaded models: manifest names are
//! fetched on first use (saying so on stderr), hub repos are taken from the
//! hub cache or downloaded, paths are loaded as they are. Loading itself is
//! the engine's ([`TranslationModel`]): a GGUF file, or a directory with an
//! encoder-decoder checkpoint (Marian / OPUS-MT, M2M100 / NLLB, T5 /
//! MADLAD-400) or a safetensors decoder-only one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tarjoman_engine::model::{format_for, gguf_family_format};
use tarjoman_engine::TranslationModel;
use tarjoman_models::causal::{Backend, CausalLm};
use tarjoman_registry::{
    HubConfig, Manifest, ModelEntry, ModelFiles, ModelPaths, ModelSpec, Resolver, Store, Task,
    TokenizerFiles, WeightsFormat,
};

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
            FormatSource::FamilyDefault => gguf_family_format(lm.info.family).to_string(),
            FormatSource::ChatTemplate => format_for(&lm).to_string(),
        };
        Ok(LoadedLm {
            lm,
            format,
            name: self.name.clone(),
        })
    }
}

/// Loads `--model` (as [`resolve_lm`]) with a chosen implementation (benchmarks compare them).
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
    if let Some(files) = resolve_hub(&manifest, &spec)? {
        return gguf_source(&files, &spec);
    }
    let entry = manifest.find(&spec)?.clone();
    if entry.task != Task::Generate {
        bail!(
            "model `{}` is for the `{}` task, not a generation model",
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

/// A Hugging Face repo id (`org/name[@revision][:file.gguf]`, neither an
/// existing path nor a manifest name): its files, from the hub cache or
/// downloaded with a progress bar (`HF_HOME`, `HF_ENDPOINT`,
/// `HF_HUB_OFFLINE` and `HF_TOKEN` apply). `None` for anything else.
fn resolve_hub(manifest: &Manifest, spec: &str) -> Result<Option<ModelFiles>> {
    let resolver = Resolver {
        manifest,
        store: &store(),
        hub: HubConfig::from_env(),
    };
    // Paths and manifest names parse as such, before repo ids.
    match resolver.parse(spec) {
        Ok(ModelSpec::Hub { .. }) => {}
        // Not a repo id either: the manifest lookup names the choices.
        _ => return Ok(None),
    }
    let files = resolver.resolve(spec, &Bars::new())?;
    eprintln!("{spec}: {}", files.provenance);
    Ok(Some(files))
}

/// A hub repo's GGUF as a prompted model.
fn gguf_source(files: &ModelFiles, spec: &str) -> Result<LmSource> {
    let gguf = match (files.format, files.weights.first()) {
        (WeightsFormat::Gguf, Some(gguf)) => gguf.clone(),
        _ => bail!(
            "{spec} holds {} weights, not a GGUF: `translate` and `eval run` run it as an \
             encoder-decoder model (marian, m2m_100, t5); prompted models (translation \
             prompts, `summarize`) come from a GGUF repo or file",
            files.format
        ),
    };
    Ok(LmSource {
        gguf,
        tokenizer: match &files.tokenizer {
            TokenizerFiles::Json { path } => Some(path.clone()),
            _ => None,
        },
        format: FormatSource::ChatTemplate,
        name: spec.to_string(),
    })
}

/// Where a translation model is: a GGUF (prompted), or a directory (an
/// encoder-decoder checkpoint, or a safetensors decoder-only one). Resolved
/// (and fetched) once, loaded as often as needed (once per batch worker).
#[derive(Debug, Clone)]
pub enum TranslationSource {
    Gguf(LmSource),
    Dir { path: PathBuf, name: String },
}

impl TranslationSource {
    pub fn load(&self) -> Result<TranslationModel> {
        match self {
            TranslationSource::Gguf(source) => Ok(prompted(source.load()?)),
            TranslationSource::Dir { path, name } => Ok(TranslationModel::load(path)
                .with_context(|| format!("cannot load {}", path.display()))?
                .with_name(name.clone())),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            TranslationSource::Gguf(source) => &source.name,
            TranslationSource::Dir { name, .. } => name,
        }
    }

    /// Whether the model translates through a prompt: a GGUF, or a
    /// directory whose config.json names a decoder-only family.
    pub fn is_prompted(&self) -> Result<bool> {
        match self {
            TranslationSource::Gguf(_) => Ok(true),
            TranslationSource::Dir { path, .. } => {
                let config = path.join("config.json");
                let config = tarjoman_models::config::read(&config)
                    .with_context(|| format!("cannot read {}", config.display()))?;
                Ok(!config.family.is_seq2seq())
            }
        }
    }
}

/// Resolves `--model` for translation: a directory, a hub repo, else as
/// [`resolve_lm`].
pub fn resolve_translation_model(model: Option<&str>) -> Result<TranslationSource> {
    match model {
        Some(dir) if Path::new(dir).is_dir() => Ok(TranslationSource::Dir {
            path: PathBuf::from(dir),
            name: dir.to_string(),
        }),
        Some(spec) => match resolve_hub(&Manifest::builtin()?, spec)? {
            Some(files) if files.format == WeightsFormat::Gguf => {
                Ok(TranslationSource::Gguf(gguf_source(&files, spec)?))
            }
            // A repo with config.json: its snapshot directory.
            Some(files) => Ok(TranslationSource::Dir {
                path: files.dir.clone(),
                name: spec.to_string(),
            }),
            None => Ok(TranslationSource::Gguf(resolve_lm(model)?)),
        },
        None => Ok(TranslationSource::Gguf(resolve_lm(model)?)),
    }
}

/// Loads `--model` for translation; see [`resolve_translation_model`].
pub fn load_translation_model(model: Option<&str>) -> Result<TranslationModel> {
    resolve_translation_model(model)?.load()
}

/// A loaded GGUF model as a translation model, in its prompt format.
fn prompted(loaded: LoadedLm) -> TranslationModel {
    TranslationModel::gguf(loaded.lm, Some(&loaded.format), loaded.name)
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

/// The built-in Persian word list (Lilak), fetched on first use like a
/// model: the words a possible name is told from.
pub fn load_words() -> Result<tarjoman_engine::words::WordList> {
    let manifest = Manifest::builtin()?;
    let entry = manifest
        .default_model(Task::Words)
        .context("the manifest names no word list")?
        .clone();
    let path = ensure(&entry)?.dir.join("index.dic");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(tarjoman_engine::words::WordList::parse(
        &path.display().to_string(),
        &bytes,
    )?)
}

/// The built-in gazetteer's place names (Unicode CLDR), fetched on first
/// use like a model.
pub fn load_places() -> Result<Vec<tarjoman_engine::guard::GlossaryEntry>> {
    use tarjoman_engine::names::{gazetteer, CldrFile, CldrFiles};
    let manifest = Manifest::builtin()?;
    let entry = manifest
        .default_model(Task::Names)
        .context("the manifest names no place-name data")?
        .clone();
    let dir = ensure(&entry)?.dir;
    let read = |name: &str| -> Result<(String, Vec<u8>)> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok((path.display().to_string(), bytes))
    };
    let files = [
        read("fa/territories.json")?,
        read("en/territories.json")?,
        read("fa/timeZoneNames.json")?,
        read("en/timeZoneNames.json")?,
    ];
    let file = |i: usize| CldrFile {
        name: &files[i].0,
        bytes: &files[i].1,
    };
    Ok(gazetteer(&CldrFiles {
        territories_fa: file(0),
        territories_en: file(1),
        zones_fa: file(2),
        zones_en: file(3),
    })?)
}
