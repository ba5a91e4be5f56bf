//! tarjoman's engine: prompts kept as data ([`prompt`]), one generation loop
//! for every model ([`generate`]), and the pipelines built on them:
//! sentence-aligned translation ([`translate`]) and summaries
//! ([`summarize`]).
//!
//! The translation API is the same for both kinds of model, so the command
//! line, the folder batch and a server all call it: load a
//! [`TranslationModel`] (a GGUF file or a model directory), ask it for a
//! [`Translator`] with [`TranslateOptions`], and translate documents:
//!
//! ```
//! use std::path::Path;
//! use tarjoman_engine::{TranslateOptions, TranslationModel};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A tiny NLLB-shaped model with random weights (made for the tests).
//! let mut model = TranslationModel::load(Path::new("../models/tests/fixtures/m2m100"))?;
//! let article = std::fs::read_to_string("tests/data/two-lines.fa.txt")?;
//! let mut translator = model.translator(TranslateOptions::default())?;
//! let english = translator.translate_text(&article)?;
//! assert_eq!(english.lines().count(), article.lines().count());
//! # Ok(())
//! # }
//! ```
//!
//! [`Translator::translate_document`] streams the same output as it is
//! made: whitespace verbatim, then one [`translate::SentenceRecord`] per
//! sentence with its warnings, timings and token counts.

#![forbid(unsafe_code)]

pub mod confidence;
mod error;
pub mod generate;
pub mod guard;
pub mod model;
pub mod names;
pub mod prompt;
pub mod summarize;
pub mod translate;
pub mod words;

pub use error::{Error, Result};
pub use model::TranslationModel;
pub use translate::{ModelKind, TranslateOptions, Translator};
