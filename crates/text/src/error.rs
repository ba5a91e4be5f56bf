//! The error type of this crate.

use std::fmt;

/// Why [`crate::input::decode`] refused some bytes.
///
/// Messages are written to follow a file name and a colon
/// (`article.txt: invalid UTF-8 at byte 12 ...`): the caller adds the path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing to translate: no bytes, or only whitespace.
    #[error("the input is empty (or only whitespace)")]
    Empty,

    /// The bytes look like a binary file, not text.
    #[error("this looks like binary data, not text ({evidence})")]
    Binary {
        /// What gave it away.
        evidence: BinaryEvidence,
    },

    /// The input has no byte-order mark and is not valid UTF-8.
    #[error(
        "invalid UTF-8 at byte {offset}; is the file in a legacy encoding such as \
         Windows-1256? Convert it to UTF-8 first"
    )]
    InvalidUtf8 {
        /// Offset of the first invalid byte, counted from the start of the
        /// input including any byte-order mark.
        offset: usize,
        /// The decoder's own account.
        #[source]
        source: std::str::Utf8Error,
    },

    /// The input starts with a UTF-16 byte-order mark but is not valid UTF-16.
    #[error("invalid UTF-16 at byte {offset}: {problem}")]
    InvalidUtf16 {
        /// Offset of the offending code unit, counted from the start of the
        /// input including the byte-order mark.
        offset: usize,
        /// What is wrong there.
        problem: Utf16Problem,
    },

    /// The input is larger than the caller allows.
    #[error("the input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
}

/// The evidence behind [`Error::Binary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryEvidence {
    /// A NUL byte (or NUL character) at this byte offset of the input.
    NulByte {
        /// Offset of the NUL in the input.
        offset: usize,
    },
    /// Too many control characters among the characters of the text.
    ControlChars {
        /// How many control characters were seen.
        count: usize,
        /// Out of how many characters.
        total: usize,
    },
}

impl fmt::Display for BinaryEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NulByte { offset } => write!(f, "a NUL byte at offset {offset}"),
            Self::ControlChars { count, total } => {
                write!(
                    f,
                    "{count} of its {total} characters are control characters"
                )
            }
        }
    }
}

/// What is wrong with a UTF-16 input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16Problem {
    /// The input has an odd number of bytes.
    OddLength,
    /// A surrogate code unit without its other half.
    UnpairedSurrogate,
}

impl fmt::Display for Utf16Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OddLength => f.write_str("the input has an odd number of bytes"),
            Self::UnpairedSurrogate => f.write_str("an unpaired surrogate"),
        }
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
