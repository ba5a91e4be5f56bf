//! tarjoman's engine: prompts kept as data ([`prompt`]), one generation loop
//! for every model ([`generate`]), and the pipelines built on them:
//! sentence-aligned translation ([`translate`]) and summaries ([`summarize`]).

mod error;
pub mod generate;
pub mod guard;
pub mod prompt;
pub mod summarize;
pub mod translate;

pub use error::{Error, Result};
