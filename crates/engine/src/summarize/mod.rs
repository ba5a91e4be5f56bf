//! Short English summaries that a reader can check.
//!
//! - [`grounded`] (the default): content selection over the whole article,
//!   then the language model fuses and compresses each selected group into
//!   one sentence, a faithfulness guard checks every sentence against the
//!   article (numbers, dates, names; no restating, no copying) and
//!   regenerates or replaces what fails, and every sentence cites the
//!   article sentences that support it;
//! - [`abstractive`]: one prompt over the whole article;
//! - [`extractive`]: the article's most central, mutually different
//!   sentences, by maximal marginal relevance ([`select_sentences`]);
//! - [`lead`]: the article's first sentences.
//!
//! Every method returns a [`Summary`] whose sentences carry citations
//! ([`Citation`]) and the facts the article lacks, so methods compare on
//! the same terms.

mod article;
mod attribute;
mod facts;
mod fuse;
mod grounded;
mod methods;
mod select;
mod types;

pub use article::{Article, ArticleSentence};
pub use facts::FactIndex;
pub use grounded::{grounded, GroundedOptions, MAX_WORDS, RETRY_ATTEMPTS};
pub use methods::{abstractive, extractive, lead};
pub use select::{plan_groups, select_sentences, summary_length};
pub use types::{
    Citation, Method, Origin, Rejected, Summary, SummarySentence, MAX_SENTENCES, MIN_SENTENCES,
};
