//! Folder-scale batch runs for tarjoman, built to survive being killed at
//! any moment and to scale out on existing schedulers.
//!
//! - [`walk`]: the inputs under a folder (`*.txt`, `*.md`, or `--glob`),
//!   never following a link out of it;
//! - [`shard`]: a stable partition of the inputs by a hash of their path,
//!   for Slurm job arrays and Kubernetes Indexed Jobs;
//! - [`manifest`]: `manifest.jsonl`, one record per input, appended and
//!   synced record by record, read back tolerating a torn last line, merged
//!   across shards;
//! - [`layout`]: outputs mirroring the input tree, written atomically, never
//!   outside the output folder;
//! - [`lang`]: language detection (whatlang) to route each article;
//! - [`chunk`]: cutting huge articles into bounded pieces;
//! - [`run`]: the worker pool that ties them together, skipping inputs done
//!   by an earlier run with the same input and settings.
//!
//! Summarizing itself is the caller's: it implements [`run::Summarizer`].

#![forbid(unsafe_code)]

pub mod chunk;
mod error;
pub mod lang;
pub mod layout;
pub mod manifest;
pub mod run;
pub mod shard;
pub mod walk;

pub use error::{Error, Result};
pub use run::{run, Article, Config, Observer, Report, Summarized, Summarizer};
pub use shard::Shard;
