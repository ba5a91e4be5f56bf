//! Persian text handling for tarjoman.
//!
//! The steps a Persian news article goes through before and after a model
//! sees it, each a module of pure functions on `&str` or `&[u8]` that never
//! panic on input:
//!
//! - [`mod@input`]: bytes to text (UTF-8 or UTF-16), refusing binary, empty and
//!   oversized input with messages fit to follow a file name;
//! - [`mod@segment`]: sentences, metadata and whitespace with byte offsets into
//!   the original text, so that a translation keeps the layout;
//! - [`mod@normalize`]: one spelling for letters, digits and spaces, and the
//!   zero-width non-joiners that copy-paste loses ([`repair_zwnj`]);
//! - [`mod@script`]: a cheap guess at the language, for routing;
//! - [`mod@numbers`]: the numbers and Latin tokens a translation must keep;
//! - [`mod@romanize`]: a guessed Latin spelling for a Persian name.
//!
//! Segment the original text first, then normalise each sentence:
//!
//! ```
//! use tarjoman_text::{normalize, segment, NormalizeOptions, PieceKind};
//!
//! let text = " date 2025-11-08 گفتوگوها بینتیجه ماند. آتشبس ادامه دارد.\n";
//! let opts = NormalizeOptions::default();
//! let sentences: Vec<String> = segment(text)
//!     .iter()
//!     .filter(|piece| piece.kind == PieceKind::Sentence)
//!     .map(|piece| normalize(piece.text(text), &opts))
//!     .collect();
//! assert_eq!(sentences, ["گفت\u{200C}وگوها بی\u{200C}نتیجه ماند.", "آتش\u{200C}بس ادامه دارد."]);
//! ```

#![forbid(unsafe_code)]

mod error;
pub mod input;
pub mod normalize;
pub mod numbers;
pub mod romanize;
pub mod script;
pub mod segment;

pub use error::{BinaryEvidence, Error, Result, Utf16Problem};
pub use input::{decode, decode_with_limit, DEFAULT_MAX_BYTES};
pub use normalize::{normalize, repair_zwnj, DigitMode, NormalizeOptions, ZWNJ};
pub use numbers::{extract_numbers, latin_tokens};
pub use romanize::romanize;
pub use script::{detect, has_arabic_script, persian_letter_ratio, Lang};
pub use segment::{segment, sentences, Piece, PieceKind};
