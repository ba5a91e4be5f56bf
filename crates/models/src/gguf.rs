//! Opening GGUF files ([format spec](https://github.com/ggml-org/ggml/blob/master/docs/gguf.md))
//! with the checks candle leaves to the caller.
//!
//! candle's reader validates the header, but a file cut short after its
//! header only fails when a tensor is read, deep inside a model constructor.
//! [`GgufFile::open`] checks every tensor's extent against the file length up
//! front, so a truncated download is reported with the file and tensor name.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};

use crate::{Error, Result};

/// An open, validated GGUF file.
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    pub reader: BufReader<File>,
    pub len: u64,
}

impl GgufFile {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|source| Error::Gguf {
            path: path.clone(),
            source,
        })?;
        let gguf = Self {
            path,
            content,
            reader,
            len,
        };
        gguf.check_extents()?;
        Ok(gguf)
    }

    fn check_extents(&self) -> Result<()> {
        let mut names: Vec<_> = self.content.tensor_infos.keys().collect();
        names.sort();
        for name in names {
            let info = &self.content.tensor_infos[name];
            let elems = info.shape.elem_count() as u64;
            let block = info.ggml_dtype.block_size() as u64;
            let bytes = elems.div_ceil(block) * info.ggml_dtype.type_size() as u64;
            let end = self
                .content
                .tensor_data_offset
                .saturating_add(info.offset)
                .saturating_add(bytes);
            if end > self.len {
                return Err(Error::Truncated {
                    path: self.path.clone(),
                    tensor: name.clone(),
                    end,
                    len: self.len,
                });
            }
        }
        Ok(())
    }

    /// A second reader of the same file, so that tensors can be read while
    /// other threads use the parsed header.
    pub fn reopen(&self) -> Result<BufReader<File>> {
        File::open(&self.path)
            .map(BufReader::new)
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// The parsed header and the reader positioned anywhere: what candle's
    /// `ModelWeights::from_gguf` constructors take.
    pub fn into_parts(self) -> (Content, BufReader<File>) {
        (self.content, self.reader)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    fn missing(&self, key: &str) -> Error {
        Error::Metadata {
            path: self.path.clone(),
            key: key.to_string(),
        }
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(self.missing(key)),
        }
    }

    pub fn u32(&self, key: &str) -> Result<u32> {
        self.get(key)
            .and_then(|v| v.to_u32().ok())
            .ok_or_else(|| self.missing(key))
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<&str>> {
        let Some(Value::Array(values)) = self.get(key) else {
            return Err(self.missing(key));
        };
        values
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                _ => Err(self.missing(key)),
            })
            .collect()
    }

    /// `general.architecture`, e.g. `qwen2`, `gemma3`, `llama`.
    pub fn architecture(&self) -> Result<&str> {
        self.string("general.architecture")
    }

    /// Total number of parameters (elements over all tensors).
    pub fn parameter_count(&self) -> u64 {
        self.content
            .tensor_infos
            .values()
            .map(|t| t.shape.elem_count() as u64)
            .sum()
    }
}
