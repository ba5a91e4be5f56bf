//! Reading hypothesis and reference files the way the `sacrebleu` command
//! does (`smart_open()` in
//! [`utils.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/utils.py)
//! and the reading loops of
//! [`sacrebleu.py`](https://github.com/mjpost/sacrebleu/blob/v2.6.0/sacrebleu/sacrebleu.py)):
//! UTF-8, lines end at `\n` only, and every line is `rstrip()`ed, which also
//! drops a `\r` from CRLF files. A final newline does not start another line;
//! blank lines in the middle stay (as empty strings).
//!
//! One deliberate difference: a UTF-8 byte-order mark at the start of the file
//! is dropped. sacreBLEU keeps it as U+FEFF glued to the first word, which
//! costs a match on line 1 and helps no one.

use std::path::Path;

use crate::{pystr, Error, Result};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads a text file into lines (see the module docs for the rules). Errors
/// name the file, and the line for invalid UTF-8.
pub fn read_lines(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    lines_from_bytes(&bytes, path)
}

/// Splits file contents into lines as [`read_lines`] does; `origin` names the
/// source in errors (e.g. the path of a gzip file the bytes came from).
pub fn lines_from_bytes(bytes: &[u8], origin: &Path) -> Result<Vec<String>> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = std::str::from_utf8(line).map_err(|source| Error::InvalidUtf8 {
                path: origin.to_path_buf(),
                line: i + 1,
                source,
            })?;
            Ok(pystr::rstrip(line).to_string())
        })
        .collect()
}

/// Checks that a hypothesis file and a reference file have the same number
/// of lines; the error names both files and both counts.
pub fn check_aligned(
    hyp_path: impl AsRef<Path>,
    hyp_lines: usize,
    ref_path: impl AsRef<Path>,
    ref_lines: usize,
) -> Result<()> {
    if hyp_lines == ref_lines {
        return Ok(());
    }
    Err(Error::FileLineCountMismatch {
        hyp_path: hyp_path.as_ref().to_path_buf(),
        hyp_lines,
        ref_path: ref_path.as_ref().to_path_buf(),
        ref_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(bytes: &[u8]) -> Vec<String> {
        lines_from_bytes(bytes, Path::new("mem")).expect("valid UTF-8")
    }

    #[test]
    fn final_newline_does_not_add_a_line() {
        assert_eq!(lines(b"a\nb\n"), ["a", "b"]);
        assert_eq!(lines(b"a\nb"), ["a", "b"]);
        assert_eq!(lines(b"a\n\n"), ["a", ""]);
        assert_eq!(lines(b"\n"), [""]);
        assert!(lines(b"").is_empty());
        assert!(lines(BOM).is_empty());
    }

    #[test]
    fn crlf_bom_and_trailing_space() {
        assert_eq!(lines(b"\xEF\xBB\xBFa b \r\nc\r\n"), ["a b", "c"]);
        // A lone \r is not a line break (sacreBLEU opens files with newline="\n").
        assert_eq!(lines(b"a\rb\n"), ["a\rb"]);
    }

    #[test]
    fn invalid_utf8_names_file_and_line() {
        let err = lines_from_bytes(b"ok\n\xFF\n", Path::new("hyp.txt")).unwrap_err();
        assert!(matches!(err, Error::InvalidUtf8 { line: 2, .. }), "{err:?}");
        assert_eq!(err.to_string(), "hyp.txt: line 2 is not valid UTF-8");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_lines("/nonexistent/tarjoman/hyp.txt").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/tarjoman/hyp.txt"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn mismatch_names_both_files_and_counts() {
        assert!(check_aligned("h.txt", 3, "r.txt", 3).is_ok());
        let err = check_aligned("h.txt", 3, "r.txt", 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "h.txt has 3 lines but r.txt has 4: hypotheses and references must be aligned \
             line by line"
        );
    }
}
