//! Turning the bytes of an input file into text.
//!
//! [`decode`] accepts UTF-8 with or without a byte-order mark and UTF-16
//! (little- or big-endian) with one. It is lossless except for two changes:
//! the byte-order mark is dropped and every CRLF pair becomes a single LF.
//! A lone CR is kept as it is (the segmenter treats it as a line break).
//! Nothing else is normalised here; see [`mod@crate::normalize`] for that.
//!
//! Refused, each with its own [`Error`] variant: input over a size limit,
//! binary data (a NUL byte, or a high share of control characters), invalid
//! UTF-8 (with the offset of the first bad byte) or UTF-16, and input that is
//! empty or only whitespace. UTF-16 without a byte-order mark is not guessed:
//! its NUL bytes make it fail as binary data. UTF-32 is not supported.

use crate::error::{BinaryEvidence, Error, Result, Utf16Problem};

/// The size limit of [`decode`]: 8 MiB, far more than any news article.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Text in which more than this share of characters (and at least
/// [`MIN_CONTROL_CHARS`] of them) are control characters is taken for binary.
const MAX_CONTROL_SHARE: f64 = 0.10;
const MIN_CONTROL_CHARS: usize = 4;

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16_LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16_BE_BOM: &[u8] = &[0xFE, 0xFF];

/// Decodes `bytes` with the [`DEFAULT_MAX_BYTES`] limit.
pub fn decode(bytes: &[u8]) -> Result<String> {
    decode_with_limit(bytes, DEFAULT_MAX_BYTES)
}

/// Decodes `bytes` into text, refusing inputs over `max_bytes` bytes.
///
/// See the [module docs](self) for what is accepted and what changes.
pub fn decode_with_limit(bytes: &[u8], max_bytes: usize) -> Result<String> {
    if bytes.len() > max_bytes {
        return Err(Error::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    let text = if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        decode_utf8(rest, UTF8_BOM.len())?
    } else if let Some(rest) = bytes.strip_prefix(UTF16_LE_BOM) {
        decode_utf16(rest, UTF16_LE_BOM.len(), u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(UTF16_BE_BOM) {
        decode_utf16(rest, UTF16_BE_BOM.len(), u16::from_be_bytes)?
    } else {
        decode_utf8(bytes, 0)?
    };
    check_control_chars(&text)?;
    if text.trim().is_empty() {
        return Err(Error::Empty);
    }
    Ok(crlf_to_lf(text))
}

/// `base` is the number of bytes (the byte-order mark) before `bytes` in the
/// caller's input, so that reported offsets point into the whole input.
fn decode_utf8(bytes: &[u8], base: usize) -> Result<String> {
    // NUL first: a binary file is usually invalid UTF-8 too, and "binary
    // data" is the more useful message.
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::Binary {
            evidence: BinaryEvidence::NulByte {
                offset: base + offset,
            },
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(source) => Err(Error::InvalidUtf8 {
            offset: base + source.valid_up_to(),
            source,
        }),
    }
}

fn decode_utf16(bytes: &[u8], base: usize, unit: fn([u8; 2]) -> u16) -> Result<String> {
    let pairs = bytes.chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(Error::InvalidUtf16 {
            offset: base + bytes.len() - 1,
            problem: Utf16Problem::OddLength,
        });
    }
    let units = pairs.map(|pair| unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len());
    let mut offset = base;
    for decoded in char::decode_utf16(units) {
        let c = decoded.map_err(|_| Error::InvalidUtf16 {
            offset,
            problem: Utf16Problem::UnpairedSurrogate,
        })?;
        if c == '\0' {
            return Err(Error::Binary {
                evidence: BinaryEvidence::NulByte { offset },
            });
        }
        offset += 2 * c.len_utf16();
        text.push(c);
    }
    Ok(text)
}

/// Control characters other than the usual whitespace ones (tab, line
/// feed, vertical tab, form feed, carriage return); C1 controls count too.
fn is_suspicious_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

fn check_control_chars(text: &str) -> Result<()> {
    let mut total = 0usize;
    let mut count = 0usize;
    for c in text.chars() {
        total += 1;
        if is_suspicious_control(c) {
            count += 1;
        }
    }
    // Integer arithmetic would do, but the share reads better as a float and
    // `total` is bounded by the size limit.
    if count >= MIN_CONTROL_CHARS && count as f64 > MAX_CONTROL_SHARE * total as f64 {
        return Err(Error::Binary {
            evidence: BinaryEvidence::ControlChars { count, total },
        });
    }
    Ok(())
}

fn crlf_to_lf(text: String) -> String {
    if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut bytes = if big_endian {
            UTF16_BE_BOM.to_vec()
        } else {
            UTF16_LE_BOM.to_vec()
        };
        for unit in text.encode_utf16() {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            bytes.extend_from_slice(&pair);
        }
        bytes
    }

    const SAMPLE: &str = "سلام دنیا.\r\nخط دوم 🙂\rخط سوم\n";

    #[test]
    fn utf8_without_bom_keeps_everything_but_crlf() {
        let text = decode(SAMPLE.as_bytes()).unwrap();
        assert_eq!(text, "سلام دنیا.\nخط دوم 🙂\rخط سوم\n");
    }

    #[test]
    fn utf8_bom_is_removed() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice("متن".as_bytes());
        assert_eq!(decode(&bytes).unwrap(), "متن");
    }

    #[test]
    fn utf16_both_byte_orders() {
        let expected = "سلام دنیا.\nخط دوم 🙂\rخط سوم\n";
        assert_eq!(decode(&utf16(SAMPLE, false)).unwrap(), expected);
        assert_eq!(decode(&utf16(SAMPLE, true)).unwrap(), expected);
    }

    #[test]
    fn empty_and_whitespace_only_are_refused() {
        for input in [&b""[..], b"   \n\t\r\n", UTF8_BOM, UTF16_LE_BOM] {
            let err = decode(input).unwrap_err();
            assert!(matches!(err, Error::Empty), "{input:?}: {err}");
        }
        assert_eq!(
            Error::Empty.to_string(),
            "the input is empty (or only whitespace)"
        );
    }

    #[test]
    fn nul_bytes_mean_binary() {
        let err = decode(b"PK\x03\x04\x00\x00abc").unwrap_err();
        assert!(matches!(
            err,
            Error::Binary {
                evidence: BinaryEvidence::NulByte { offset: 4 }
            }
        ));
        assert_eq!(
            err.to_string(),
            "this looks like binary data, not text (a NUL byte at offset 4)"
        );
    }

    #[test]
    fn utf16_without_bom_is_binary() {
        let bytes: Vec<u8> = "hello"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert!(matches!(decode(&bytes), Err(Error::Binary { .. })));
    }

    #[test]
    fn many_control_chars_mean_binary() {
        let err = decode(b"ab\x01\x02\x03\x04\x05\x06cd").unwrap_err();
        assert!(matches!(
            err,
            Error::Binary {
                evidence: BinaryEvidence::ControlChars {
                    count: 6,
                    total: 10
                }
            }
        ));
        // A stray escape character in a long text is fine.
        let text = format!("{}\x1b[0m", "a".repeat(100));
        assert!(decode(text.as_bytes()).is_ok());
    }

    #[test]
    fn invalid_utf8_reports_the_offset() {
        // "ab" then a Windows-1256 byte.
        let err = decode(b"ab\xe1cd").unwrap_err();
        match &err {
            Error::InvalidUtf8 { offset, .. } => assert_eq!(*offset, 2),
            other => panic!("expected InvalidUtf8, got {other:?}"),
        }
        assert!(err.to_string().starts_with("invalid UTF-8 at byte 2;"));
        assert!(std::error::Error::source(&err).is_some());

        // Offsets count the byte-order mark.
        let err = decode(b"\xEF\xBB\xBFab\xff").unwrap_err();
        assert!(matches!(err, Error::InvalidUtf8 { offset: 5, .. }));
    }

    #[test]
    fn invalid_utf16() {
        let mut odd = utf16("ab", false);
        odd.push(b'c');
        assert!(matches!(
            decode(&odd),
            Err(Error::InvalidUtf16 {
                offset: 6,
                problem: Utf16Problem::OddLength
            })
        ));
        let mut lone = utf16("ab", true);
        lone.extend_from_slice(&[0xD8, 0x00, 0x00, 0x61]);
        let err = decode(&lone).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidUtf16 {
                offset: 6,
                problem: Utf16Problem::UnpairedSurrogate
            }
        ));
        assert_eq!(
            err.to_string(),
            "invalid UTF-16 at byte 6: an unpaired surrogate"
        );
    }

    #[test]
    fn size_limit() {
        let err = decode_with_limit(b"12345", 4).unwrap_err();
        assert!(matches!(err, Error::TooLarge { size: 5, limit: 4 }));
        assert_eq!(
            err.to_string(),
            "the input is 5 bytes, over the limit of 4 bytes"
        );
        assert_eq!(decode_with_limit(b"1234", 4).unwrap(), "1234");
    }
}
