//! Reading an input document (a file or `-` for stdin) with errors that name it.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Reads and decodes a text document: UTF-8 (with or without BOM) or UTF-16
/// with BOM; empty, binary and oversized inputs are refused.
pub fn read_document(path: &Path) -> Result<String> {
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    tarjoman_text::input::decode(&bytes).with_context(|| display_name(path))
}

fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Refuses text that is not Persian, naming the file.
pub fn require_persian(path: &Path, text: &str) -> Result<()> {
    use tarjoman_text::script::{detect, Lang};
    match detect(text) {
        Lang::Persian => Ok(()),
        other => anyhow::bail!(
            "{}: does not look like Persian text (detected {other:?}); tarjoman translates from Persian",
            display_name(path)
        ),
    }
}

/// An output file written atomically: a temporary file beside the target,
/// renamed over it only when complete.
pub struct AtomicOutput {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl AtomicOutput {
    pub fn create(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".tarjoman-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        // tempfile creates 0600 files; an output file should have the usual
        // permissions (0644 before the umask), like one made by `>`.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = temp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
        Ok(Self {
            temp,
            target: target.to_path_buf(),
        })
    }

    pub fn writer(&mut self) -> &mut std::fs::File {
        self.temp.as_file_mut()
    }

    pub fn commit(self) -> Result<()> {
        self.temp
            .as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        self.temp
            .persist(&self.target)
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        Ok(())
    }
}
