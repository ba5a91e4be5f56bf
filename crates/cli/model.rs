//! Resolving `--model NAME|PATH` to loaded models: manifest names are fetched
//! on first use (saying so on stderr), paths are loaded as they are. A
//! directory is an encoder-decoder checkpoint (Marian / OPUS-MT, M2M100 /
//! NLLB, T5 / MADLAD-400) that translates without a prompt.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tarjoman_engine::translate::{
    translate_document_seq2seq, DocumentStats, Event, TranslateOptions, Translator,
};
use tarjoman_models::causal::{Backend, CausalLm, Family};
use tarjoman_models::config;
use tarjoman_models::embed::SentenceEmbedder;
use tarjoman_models::seq2seq::Seq2SeqLm;
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
    if let Some(files) = resolve_hub(&manifest, &spec)? {
        return gguf_source(&files, &spec);
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

fn default_format(family: Family) -> &'static str {
    match family {
        Family::Qwen2 | Family::Qwen3 | Family::Llama => "chatml",
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

/// A model that translates: a prompted decoder-only model, or an
/// encoder-decoder translation model from a local directory.
// One per process, so the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum TranslationModel {
    Prompted(LoadedLm),
    Seq2Seq(LoadedSeq2Seq),
}

/// An encoder-decoder model with what its source needs in front.
pub struct LoadedSeq2Seq {
    pub lm: Seq2SeqLm,
    /// MADLAD-400 (T5) is told the target language: `<2en> `.
    pub target_prefix: Option<String>,
    pub name: String,
}

impl TranslationModel {
    pub fn name(&self) -> &str {
        match self {
            TranslationModel::Prompted(m) => &m.name,
            TranslationModel::Seq2Seq(m) => &m.name,
        }
    }

    /// The prompt format (`None`: an encoder-decoder model, no prompt).
    pub fn prompt_format(&self) -> Option<&str> {
        match self {
            TranslationModel::Prompted(m) => Some(&m.format),
            TranslationModel::Seq2Seq(_) => None,
        }
    }

    /// A translator with `opts`, ready for one document after another.
    pub fn translator(&mut self, opts: TranslateOptions) -> Result<DocumentTranslator<'_>> {
        Ok(match self {
            TranslationModel::Prompted(m) => {
                DocumentTranslator::Prompted(Box::new(Translator::new(&mut m.lm, &m.format, opts)?))
            }
            TranslationModel::Seq2Seq(m) => DocumentTranslator::Seq2Seq {
                model: m,
                opts: Box::new(opts),
            },
        })
    }
}

/// [`TranslationModel::translator`]: either kind behind one
/// `translate_document`.
pub enum DocumentTranslator<'m> {
    Prompted(Box<Translator<'m>>),
    Seq2Seq {
        model: &'m mut LoadedSeq2Seq,
        // Boxed: the options outweigh the other variant many times over.
        opts: Box<TranslateOptions>,
    },
}

impl DocumentTranslator<'_> {
    /// Translates `text`, handing `sink` each piece of output in order.
    pub fn translate_document(
        &mut self,
        text: &str,
        sink: impl FnMut(Event<'_>) -> Result<()>,
    ) -> Result<DocumentStats> {
        match self {
            DocumentTranslator::Prompted(t) => t.translate_document(text, sink),
            DocumentTranslator::Seq2Seq { model, opts } => translate_document_seq2seq(
                &mut model.lm,
                text,
                opts,
                model.target_prefix.as_deref(),
                sink,
            ),
        }
    }

    /// Translates several documents (sentences of all of them batched
    /// where the model allows), handing `sink` each piece with its
    /// document's index, in order.
    pub fn translate_documents(
        &mut self,
        docs: &[&str],
        mut sink: impl FnMut(usize, Event<'_>) -> Result<()>,
    ) -> Result<DocumentStats> {
        match self {
            DocumentTranslator::Prompted(t) => t.translate_documents(docs, sink),
            DocumentTranslator::Seq2Seq { .. } => {
                let mut total = DocumentStats::default();
                for (i, doc) in docs.iter().enumerate() {
                    total.merge(&self.translate_document(doc, |e| sink(i, e))?);
                }
                Ok(total)
            }
        }
    }
}

/// Loads `--model` for translation: a directory holding an encoder-decoder
/// checkpoint, else as [`load_lm`].
pub fn load_translation_model(model: Option<&str>) -> Result<TranslationModel> {
    match model {
        Some(dir) if Path::new(dir).is_dir() => {
            Ok(TranslationModel::Seq2Seq(load_seq2seq_dir(Path::new(dir))?))
        }
        Some(spec) => match resolve_hub(&Manifest::builtin()?, spec)? {
            Some(files) if files.format == WeightsFormat::Gguf => Ok(TranslationModel::Prompted(
                gguf_source(&files, spec)?.load()?,
            )),
            // A repo with config.json: its snapshot directory.
            Some(files) => {
                let mut loaded = load_seq2seq_dir(&files.dir)?;
                loaded.name = spec.to_string();
                Ok(TranslationModel::Seq2Seq(loaded))
            }
            None => Ok(TranslationModel::Prompted(load_lm(model)?)),
        },
        None => Ok(TranslationModel::Prompted(load_lm(model)?)),
    }
}

/// An encoder-decoder checkpoint directory: `config.json`, safetensors
/// weights and `tokenizer.json` (Marian: or its SentencePiece files).
fn load_seq2seq_dir(dir: &Path) -> Result<LoadedSeq2Seq> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        bail!(
            "{}: not found; a model directory needs config.json, model.safetensors and \
             tokenizer.json (an OPUS-MT, NLLB / M2M100 or MADLAD-400 checkpoint)",
            config_path.display()
        );
    }
    let config = config::read(&config_path)?;
    if !config.family.is_seq2seq() {
        bail!(
            "{}: {} is a decoder-only model; translate runs those from a GGUF file (a path \
             ending in .gguf or a name from `tarjoman models list`), and directories only for \
             encoder-decoder models (marian, m2m_100, t5)",
            config_path.display(),
            config.family.name()
        );
    }
    let lm = Seq2SeqLm::load(dir).with_context(|| format!("cannot load {}", dir.display()))?;
    if !lm.has_tokenizer() {
        bail!(
            "{}: not found; an encoder-decoder model directory needs its tokenizer.json              (or, for Marian / OPUS-MT, source.spm, target.spm and vocab.json)",
            dir.join("tokenizer.json").display()
        );
    }
    let target_prefix = (config.family == config::Family::T5).then(|| "<2en> ".to_string());
    Ok(LoadedSeq2Seq {
        lm,
        target_prefix,
        name: dir.display().to_string(),
    })
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
