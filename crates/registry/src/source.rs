//! Where a model's files come from, resolved before anything is loaded.
//!
//! A model is named one of three ways, tried in this order:
//!
//! 1. a path: a GGUF file, or a directory holding `config.json` with
//!    `model.safetensors`, sharded `model-0000x-of-0000y.safetensors` with
//!    their `model.safetensors.index.json`, or `pytorch_model.bin`, plus
//!    tokenizer files (`tokenizer.json`, or Marian's `source.spm`,
//!    `target.spm` and `vocab.json`);
//! 2. a name from the manifest (`tarjoman models list`), fetched into the
//!    store on first use;
//! 3. a Hugging Face repo id, `org/name[@revision][:file.gguf]`, taken from
//!    the hub cache or downloaded ([`crate::hub`]).
//!
//! [`Resolver::resolve`] returns the files and their provenance;
//! `tarjoman-models` loads them.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::hub::{Hub, HubConfig, RepoId, Snapshot};
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::store::Store;

/// How a model was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    Path(PathBuf),
    Manifest(String),
    /// A hub repo, and the GGUF file to take when it holds several.
    Hub {
        repo: RepoId,
        file: Option<String>,
    },
}

/// The weights' file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsFormat {
    Gguf,
    Safetensors,
    PytorchBin,
}

impl fmt::Display for WeightsFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightsFormat::Gguf => "GGUF",
            WeightsFormat::Safetensors => "safetensors",
            WeightsFormat::PytorchBin => "PyTorch pickle (pytorch_model.bin)",
        })
    }
}

/// The tokenizer's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TokenizerFiles {
    /// A Hugging Face `tokenizer.json`.
    Json { path: PathBuf },
    /// A Marian repo's SentencePiece models and shared vocabulary.
    Marian {
        source_spm: PathBuf,
        target_spm: PathBuf,
        vocab: PathBuf,
    },
    /// None beside the weights: a GGUF carries its own vocabulary.
    InGguf,
    /// No tokenizer files found.
    Missing,
}

/// Where the files came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Provenance {
    /// A path given on the command line.
    Local { path: PathBuf },
    /// A manifest model, in the store.
    Manifest { name: String, dir: PathBuf },
    /// A Hugging Face repo, in the hub cache.
    Hub {
        repo: String,
        revision: String,
        commit: String,
        endpoint: String,
        snapshot: PathBuf,
        /// Files downloaded by this resolution (empty on a cache hit).
        downloaded: Vec<String>,
        /// Whether the hub was asked (`false`: resolved from the cache).
        contacted_hub: bool,
    },
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Local { path } => write!(f, "local path {}", path.display()),
            Provenance::Manifest { name, dir } => {
                write!(f, "manifest model {name}, stored in {}", dir.display())
            }
            Provenance::Hub {
                repo,
                revision,
                commit,
                endpoint,
                snapshot,
                downloaded,
                contacted_hub,
            } => {
                write!(
                    f,
                    "Hugging Face {repo}@{revision} (commit {commit}) from {endpoint}, cached in {}",
                    snapshot.display()
                )?;
                if !downloaded.is_empty() {
                    write!(f, "; downloaded {}", downloaded.join(", "))
                } else if *contacted_hub {
                    write!(f, "; all files were already cached")
                } else {
                    write!(f, "; from the cache without contacting the hub")
                }
            }
        }
    }
}

/// A model's files, found and present on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFiles {
    /// The directory holding them (for a GGUF file, its directory).
    pub dir: PathBuf,
    pub format: WeightsFormat,
    /// The weights: one GGUF, one safetensors or bin, or every shard in
    /// order.
    pub weights: Vec<PathBuf>,
    /// `config.json`: always beside safetensors or bin weights; beside a
    /// GGUF when there is one (T5 / MADLAD-400 GGUF repos ship one, since
    /// their GGUF holds only tensors).
    pub config: Option<PathBuf>,
    pub tokenizer: TokenizerFiles,
    /// `generation_config.json`, `tokenizer_config.json` and the like, when
    /// present.
    pub extras: Vec<PathBuf>,
    pub provenance: Provenance,
}

/// Files a repo or directory needs, from its file list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    format: WeightsFormat,
    config: Option<String>,
    /// The weights, or the shard index to read them from.
    weights: Weights,
    tokenizer: TokenizerPlan,
    extras: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Weights {
    Files(Vec<String>),
    Index(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenizerPlan {
    Json(String),
    Marian,
    InGguf,
    Missing,
}

const EXTRAS: [&str; 3] = [
    "generation_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
];
const MARIAN: [&str; 3] = ["source.spm", "target.spm", "vocab.json"];

impl Plan {
    /// Chooses the files from a repo's or directory's top-level file list.
    fn from_listing(files: &[String], gguf: Option<&str>) -> std::result::Result<Plan, String> {
        let has = |name: &str| files.iter().any(|f| f == name);
        let tokenizer = if has("tokenizer.json") {
            TokenizerPlan::Json("tokenizer.json".into())
        } else if MARIAN.iter().all(|f| has(f)) {
            TokenizerPlan::Marian
        } else {
            TokenizerPlan::Missing
        };
        let extras: Vec<String> = EXTRAS
            .iter()
            .filter(|f| has(f))
            .map(|f| f.to_string())
            .collect();
        let ggufs: Vec<&String> = files
            .iter()
            .filter(|f| f.to_ascii_lowercase().ends_with(".gguf"))
            .collect();
        if let Some(choice) = gguf {
            if !has(choice) {
                return Err(format!("has no file {choice}"));
            }
            return Ok(Plan::gguf(choice, tokenizer, has("config.json")));
        }
        if has("config.json") {
            let weights = if has("model.safetensors") {
                Some((
                    WeightsFormat::Safetensors,
                    Weights::Files(vec!["model.safetensors".into()]),
                ))
            } else if has("model.safetensors.index.json") {
                Some((
                    WeightsFormat::Safetensors,
                    Weights::Index("model.safetensors.index.json".into()),
                ))
            } else if has("pytorch_model.bin") {
                Some((
                    WeightsFormat::PytorchBin,
                    Weights::Files(vec!["pytorch_model.bin".into()]),
                ))
            } else if has("pytorch_model.bin.index.json") {
                Some((
                    WeightsFormat::PytorchBin,
                    Weights::Index("pytorch_model.bin.index.json".into()),
                ))
            } else {
                None
            };
            if let Some((format, weights)) = weights {
                return Ok(Plan {
                    format,
                    config: Some("config.json".into()),
                    weights,
                    tokenizer,
                    extras,
                });
            }
        }
        match ggufs.as_slice() {
            [one] => Ok(Plan::gguf(one, tokenizer, has("config.json"))),
            [] => Err(
                "holds no model weights: expected config.json with model.safetensors, \
                 model.safetensors.index.json or pytorch_model.bin, or a .gguf file"
                    .into(),
            ),
            many => Err(format!(
                "holds {} GGUF files ({}); name one as REPO:FILE or give its path",
                many.len(),
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn gguf(file: &str, tokenizer: TokenizerPlan, with_config: bool) -> Plan {
        Plan {
            format: WeightsFormat::Gguf,
            config: with_config.then(|| "config.json".to_string()),
            weights: Weights::Files(vec![file.to_owned()]),
            tokenizer: match tokenizer {
                TokenizerPlan::Json(p) => TokenizerPlan::Json(p),
                // A GGUF with a config.json beside it (T5 / MADLAD-400) is
                // tensors only, with no tokenizer metadata.
                other if with_config => other,
                _ => TokenizerPlan::InGguf,
            },
            extras: Vec::new(),
        }
    }

    /// The files to have before the shard index can be read.
    fn first_files(&self) -> Vec<String> {
        let mut files: Vec<String> = self.config.iter().cloned().collect();
        match &self.weights {
            Weights::Files(w) => files.extend(w.iter().cloned()),
            Weights::Index(index) => files.push(index.clone()),
        }
        match &self.tokenizer {
            TokenizerPlan::Json(p) => files.push(p.clone()),
            TokenizerPlan::Marian => files.extend(MARIAN.iter().map(|f| f.to_string())),
            TokenizerPlan::InGguf | TokenizerPlan::Missing => {}
        }
        files.extend(self.extras.iter().cloned());
        files
    }

    /// The weight files, reading the shard index in `dir` if there is one.
    fn weight_files(&self, dir: &Path) -> Result<Vec<String>> {
        match &self.weights {
            Weights::Files(files) => Ok(files.clone()),
            Weights::Index(index) => shards(&dir.join(index)),
        }
    }

    fn into_files(self, dir: &Path, weights: &[String], provenance: Provenance) -> ModelFiles {
        let at = |f: &str| dir.join(f);
        ModelFiles {
            dir: dir.to_path_buf(),
            format: self.format,
            weights: weights.iter().map(|w| at(w)).collect(),
            config: self.config.as_deref().map(at),
            tokenizer: match &self.tokenizer {
                TokenizerPlan::Json(p) => TokenizerFiles::Json { path: at(p) },
                TokenizerPlan::Marian => TokenizerFiles::Marian {
                    source_spm: at("source.spm"),
                    target_spm: at("target.spm"),
                    vocab: at("vocab.json"),
                },
                TokenizerPlan::InGguf => TokenizerFiles::InGguf,
                TokenizerPlan::Missing => TokenizerFiles::Missing,
            },
            extras: self.extras.iter().map(|e| at(e)).collect(),
            provenance,
        }
    }
}

/// The shard files a `*.index.json` names in its `weight_map`, in order.
fn shards(index: &Path) -> Result<Vec<String>> {
    let text = fs::read_to_string(index).map_err(|e| Error::io("read", index, e))?;
    let bad = |message: String| Error::Source {
        spec: index.display().to_string(),
        message,
    };
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let map = doc
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("has no `weight_map` object".into()))?;
    let mut files = BTreeSet::new();
    for (tensor, file) in map {
        let file = file
            .as_str()
            .filter(|f| !f.is_empty() && !f.contains("..") && !f.starts_with('/'))
            .ok_or_else(|| bad(format!("tensor `{tensor}` maps to an invalid file name")))?;
        files.insert(file.to_owned());
    }
    if files.is_empty() {
        return Err(bad("`weight_map` is empty".into()));
    }
    Ok(files.into_iter().collect())
}

/// Turns model names, paths and repo ids into files on disk.
pub struct Resolver<'a> {
    pub manifest: &'a Manifest,
    pub store: &'a Store,
    pub hub: HubConfig,
}

impl Resolver<'_> {
    /// How `spec` names a model: an existing path, a manifest name, or a
    /// repo id.
    pub fn parse(&self, spec: &str) -> Result<ModelSpec> {
        let path = Path::new(spec);
        if path.exists() {
            return Ok(ModelSpec::Path(path.to_path_buf()));
        }
        if self.manifest.models.iter().any(|m| m.name == spec) {
            return Ok(ModelSpec::Manifest(spec.to_owned()));
        }
        let (repo_part, file) = match spec.split_once(':') {
            Some((repo, file)) if !file.is_empty() && !file.contains("..") => {
                (repo, Some(file.to_owned()))
            }
            _ => (spec, None),
        };
        if let Some(repo) = RepoId::parse(repo_part) {
            return Ok(ModelSpec::Hub { repo, file });
        }
        let known: Vec<&str> = self
            .manifest
            .models
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        Err(Error::Source {
            spec: spec.to_owned(),
            message: format!(
                "not an existing file or directory, a known model ({}), or a Hugging Face \
                 repo id (org/name[@revision])",
                known.join(", ")
            ),
        })
    }

    /// Finds (fetching if needed) the files of the model `spec` names.
    pub fn resolve(&self, spec: &str, progress: &dyn Progress) -> Result<ModelFiles> {
        match self.parse(spec)? {
            ModelSpec::Path(path) => local(&path),
            ModelSpec::Manifest(name) => self.manifest_model(&name, progress),
            ModelSpec::Hub { repo, file } => self.hub_model(&repo, file.as_deref(), progress),
        }
    }

    fn manifest_model(&self, name: &str, progress: &dyn Progress) -> Result<ModelFiles> {
        let entry = self.manifest.find(name)?;
        let paths = self.store.ensure(entry, progress)?;
        let listing: Vec<String> = entry.files.iter().map(|f| f.path.clone()).collect();
        let plan = Plan::from_listing(&listing, None).map_err(|message| Error::Source {
            spec: name.to_owned(),
            message,
        })?;
        let weights = plan.weight_files(&paths.dir)?;
        let provenance = Provenance::Manifest {
            name: name.to_owned(),
            dir: paths.dir.clone(),
        };
        Ok(plan.into_files(&paths.dir, &weights, provenance))
    }

    fn hub_model(
        &self,
        repo: &RepoId,
        gguf: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<ModelFiles> {
        let mut hub = Hub::new(self.hub.clone());
        let fail = |message: String| Error::Source {
            spec: repo.to_string(),
            message,
        };
        // Cache first: a snapshot holding every needed file is used as is.
        if let Some(snapshot) = hub.cached_snapshot(repo) {
            if let Ok(plan) = Plan::from_listing(&snapshot.files, gguf) {
                let complete = plan.weight_files(&snapshot.dir).ok().filter(|weights| {
                    plan.first_files()
                        .iter()
                        .chain(weights)
                        .all(|f| snapshot.dir.join(f).is_file())
                });
                if let Some(weights) = complete {
                    progress.note(&format!(
                        "{repo}: using the cached snapshot {}",
                        snapshot.commit
                    ));
                    return Ok(finish(&hub, &snapshot, plan, &weights, Vec::new(), false));
                }
            }
            if hub.config().offline {
                // Name the first file the cached copy lacks.
                let plan = Plan::from_listing(&snapshot.files, gguf).map_err(|m| {
                    fail(format!(
                        "the cached snapshot {} {m}, and HF_HUB_OFFLINE is set",
                        snapshot.commit
                    ))
                })?;
                hub.ensure(&snapshot, &plan.first_files(), progress)?;
                let weights = plan.weight_files(&snapshot.dir)?;
                hub.ensure(&snapshot, &weights, progress)?;
            }
        }
        let snapshot = hub.list(repo, progress)?;
        let top_level: Vec<String> = snapshot
            .files
            .iter()
            .filter(|f| !f.contains('/'))
            .cloned()
            .collect();
        let plan = Plan::from_listing(&top_level, gguf).map_err(fail)?;
        let mut fetched = hub.ensure(&snapshot, &plan.first_files(), progress)?;
        let weights = plan.weight_files(&snapshot.dir)?;
        let shards = hub.ensure(&snapshot, &weights, progress)?;
        fetched.downloaded.extend(shards.downloaded);
        Ok(finish(
            &hub,
            &snapshot,
            plan,
            &weights,
            fetched.downloaded,
            true,
        ))
    }
}

fn finish(
    hub: &Hub,
    snapshot: &Snapshot,
    plan: Plan,
    weights: &[String],
    downloaded: Vec<String>,
    contacted_hub: bool,
) -> ModelFiles {
    let provenance = Provenance::Hub {
        repo: snapshot.repo.repo.clone(),
        revision: snapshot.repo.revision.clone(),
        commit: snapshot.commit.clone(),
        endpoint: hub.config().endpoint.clone(),
        snapshot: snapshot.dir.clone(),
        downloaded,
        contacted_hub,
    };
    plan.into_files(&snapshot.dir, weights, provenance)
}

/// A local GGUF file or model directory.
fn local(path: &Path) -> Result<ModelFiles> {
    let fail = |message: String| Error::Source {
        spec: path.display().to_string(),
        message,
    };
    let provenance = Provenance::Local {
        path: path.to_path_buf(),
    };
    if path.is_file() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let tokenizer_json = dir.join("tokenizer.json");
        return Ok(ModelFiles {
            dir,
            format: WeightsFormat::Gguf,
            weights: vec![path.to_path_buf()],
            config: None,
            tokenizer: if tokenizer_json.is_file() {
                TokenizerFiles::Json {
                    path: tokenizer_json,
                }
            } else {
                TokenizerFiles::InGguf
            },
            extras: Vec::new(),
            provenance,
        });
    }
    let entries = fs::read_dir(path).map_err(|e| Error::io("read directory", path, e))?;
    let mut listing: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    listing.sort();
    let plan = Plan::from_listing(&listing, None).map_err(fail)?;
    let weights = plan.weight_files(path)?;
    if let Some(missing) = weights.iter().find(|w| !path.join(w).is_file()) {
        return Err(fail(format!(
            "the shard index names {missing}, which is not in the directory"
        )));
    }
    Ok(plan.into_files(path, &weights, provenance))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plans_the_files_of_each_layout() {
        let plan = Plan::from_listing(
            &names(&[
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "generation_config.json",
                "README.md",
            ]),
            None,
        )
        .expect("plan");
        assert_eq!(plan.format, WeightsFormat::Safetensors);
        assert_eq!(
            plan.first_files(),
            names(&[
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "generation_config.json"
            ])
        );

        let marian = Plan::from_listing(
            &names(&[
                "config.json",
                "pytorch_model.bin",
                "source.spm",
                "target.spm",
                "vocab.json",
            ]),
            None,
        )
        .expect("plan");
        assert_eq!(marian.format, WeightsFormat::PytorchBin);
        assert_eq!(marian.tokenizer, TokenizerPlan::Marian);

        let sharded = Plan::from_listing(
            &names(&[
                "config.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
                "model.safetensors.index.json",
            ]),
            None,
        )
        .expect("plan");
        assert_eq!(
            sharded.weights,
            Weights::Index("model.safetensors.index.json".into())
        );
        assert_eq!(sharded.tokenizer, TokenizerPlan::Missing);

        let gguf = Plan::from_listing(&names(&["m.Q4_K_M.gguf", "README.md"]), None).expect("plan");
        assert_eq!(gguf.format, WeightsFormat::Gguf);
        assert_eq!(gguf.tokenizer, TokenizerPlan::InGguf);

        assert_eq!(gguf.config, None);

        // A MADLAD-400 GGUF repo: config.json + tokenizer + the GGUF.
        let madlad = Plan::from_listing(
            &names(&["config.json", "model-q4k.gguf", "tokenizer.json"]),
            None,
        )
        .expect("plan");
        assert_eq!(madlad.format, WeightsFormat::Gguf);
        assert_eq!(madlad.config, Some("config.json".into()));
        assert_eq!(madlad.weights, Weights::Files(names(&["model-q4k.gguf"])));
        assert!(madlad.first_files().contains(&"config.json".to_string()));
        let bare =
            Plan::from_listing(&names(&["config.json", "model-q4k.gguf"]), None).expect("plan");
        assert_eq!(bare.tokenizer, TokenizerPlan::Missing);

        let err = Plan::from_listing(&names(&["a.gguf", "b.gguf"]), None).unwrap_err();
        assert!(err.contains("a.gguf, b.gguf"), "{err}");
        let picked =
            Plan::from_listing(&names(&["a.gguf", "b.gguf"]), Some("b.gguf")).expect("plan");
        assert_eq!(picked.weights, Weights::Files(names(&["b.gguf"])));
        let err = Plan::from_listing(&names(&["README.md"]), None).unwrap_err();
        assert!(err.contains("no model weights"), "{err}");
    }

    #[test]
    fn reads_shards_from_an_index_and_rejects_bad_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = dir.path().join("model.safetensors.index.json");
        fs::write(
            &index,
            r#"{"metadata": {}, "weight_map": {"a": "model-00002-of-00002.safetensors",
                "b": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}"#,
        )
        .expect("write");
        assert_eq!(
            shards(&index).expect("shards"),
            names(&[
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors"
            ])
        );
        fs::write(&index, r#"{"weight_map": {"a": "../../etc/passwd"}}"#).expect("write");
        let err = shards(&index).unwrap_err().to_string();
        assert!(err.contains("tensor `a`"), "{err}");
        fs::write(&index, "not json").expect("write");
        assert!(shards(&index).is_err());
    }
}
