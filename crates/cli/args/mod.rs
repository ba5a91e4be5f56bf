//! Command-line options shared by several subcommands (flattened into their
//! `Args`); the subcommands themselves are under `commands/`.

mod model;
mod translation;

pub use model::ModelArgs;
pub use translation::{confidence_threshold, TranslationArgs};
