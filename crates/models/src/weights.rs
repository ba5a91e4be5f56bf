//! Safetensors checkpoints, checked against what a model asks for before it
//! is built.
//!
//! candle's model constructors report a missing tensor or a wrong shape
//! without the file's name, and some (candle-transformers' llama) `unwrap`
//! those errors into a panic. So a model is first built against a dry-run
//! [`VarBuilder`] that hands out zero-cost broadcast zeros and records every
//! tensor the constructor requests with the shape it expects; those requests
//! are checked against the safetensors headers (presence, shape, a float
//! dtype), and only then is the model built from the real weights. Errors
//! name the tensor and the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};

use crate::{Error, Result};

/// Where one tensor lives and what its header says.
#[derive(Debug, Clone)]
struct TensorMeta {
    file: usize,
    /// candle's dtype, or the header's name for one candle lacks (e.g. BOOL).
    dtype: std::result::Result<DType, String>,
    shape: Vec<usize>,
}

/// The headers of a checkpoint's safetensors files (one file or shards).
pub struct Checkpoint {
    files: Vec<PathBuf>,
    tensors: HashMap<String, TensorMeta>,
}

impl Checkpoint {
    /// Opens and indexes `files`; a file that is not valid safetensors (bad
    /// header, data cut short) is an error naming it.
    pub fn open(files: &[PathBuf]) -> Result<Self> {
        let mut tensors = HashMap::new();
        for (index, path) in files.iter().enumerate() {
            // SAFETY: the file is memory-mapped read-only; as with every
            // mmap-based loader, it must not be modified while we read it.
            let st =
                unsafe { MmapedSafetensors::new(path) }.map_err(|source| Error::Safetensors {
                    path: path.clone(),
                    source,
                })?;
            for (name, view) in st.tensors() {
                tensors.insert(
                    name,
                    TensorMeta {
                        file: index,
                        dtype: DType::try_from(view.dtype())
                            .map_err(|_| format!("{:?}", view.dtype())),
                        shape: view.shape().to_vec(),
                    },
                );
            }
        }
        Ok(Self {
            files: files.to_vec(),
            tensors,
        })
    }

    /// The safetensors files of `dir`: `model.safetensors`, or the shards
    /// listed in `model.safetensors.index.json`.
    pub fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
        let single = dir.join("model.safetensors");
        if single.is_file() {
            return Ok(vec![single]);
        }
        let index = dir.join("model.safetensors.index.json");
        let text = std::fs::read_to_string(&index).map_err(|source| Error::Io {
            path: if index.exists() {
                index.clone()
            } else {
                single
            },
            source,
        })?;
        let bad = |reason: String| Error::Config {
            path: index.clone(),
            reason,
        };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| bad("no `weight_map` object".into()))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for file in map.values() {
            let name = file
                .as_str()
                .ok_or_else(|| bad("a `weight_map` entry is not a file name".into()))?;
            let path = dir.join(name);
            if !files.contains(&path) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// The first file, for messages about the checkpoint as a whole.
    pub fn path(&self) -> PathBuf {
        self.files.first().cloned().unwrap_or_default()
    }

    /// Total number of parameters stored.
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .values()
            .map(|t| t.shape.iter().product::<usize>() as u64)
            .sum()
    }

    fn file_of(&self, meta: &TensorMeta) -> PathBuf {
        self.files.get(meta.file).cloned().unwrap_or_default()
    }

    /// Runs `build` against a dry-run builder and checks every tensor it
    /// asked for against the headers; then builds the model for real.
    pub fn load<T>(
        &self,
        dtype: DType,
        device: &Device,
        build: impl Fn(VarBuilder) -> candle_core::Result<T>,
    ) -> Result<T> {
        let log = RequestLog::default();
        let dry = LoggedDryRun {
            tensors: &self.tensors,
            log: &log,
        };
        let vb = VarBuilder::from_backend(Box::new(dry), dtype, device.clone());
        build(vb).map_err(|source| Error::Weights {
            path: self.path(),
            source,
        })?;
        let requests = log.take();
        for (name, shape) in &requests {
            self.check(name, shape)?;
        }
        // SAFETY: read-only memory map, as in `open`.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&self.files, dtype, device) }
            .map_err(|source| Error::Safetensors {
                path: self.path(),
                source,
            })?;
        build(vb).map_err(|source| Error::Weights {
            path: self.path(),
            source,
        })
    }

    fn check(&self, name: &str, expected: &Shape) -> Result<()> {
        let Some(meta) = self.tensors.get(name) else {
            return Err(Error::MissingTensor {
                path: self.path(),
                files: self.files.len(),
                tensor: name.to_string(),
            });
        };
        if meta.shape != expected.dims() {
            return Err(Error::TensorShape {
                path: self.file_of(meta),
                tensor: name.to_string(),
                expected: expected.dims().to_vec(),
                found: meta.shape.clone(),
            });
        }
        match &meta.dtype {
            Ok(DType::F16 | DType::BF16 | DType::F32 | DType::F64) => {}
            other => {
                return Err(Error::TensorDtype {
                    path: self.file_of(meta),
                    tensor: name.to_string(),
                    dtype: match other {
                        Ok(d) => d.as_str().to_string(),
                        Err(name) => name.clone(),
                    },
                })
            }
        }
        Ok(())
    }
}

/// What a model constructor asked for: tensor names with expected shapes.
#[derive(Default)]
struct RequestLog(Mutex<Vec<(String, Shape)>>);

impl RequestLog {
    fn push(&self, name: &str, shape: Shape) {
        if let Ok(mut v) = self.0.lock() {
            v.push((name.to_string(), shape));
        }
    }

    fn take(&self) -> Vec<(String, Shape)> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// The dry-run backend: answers every request with broadcast zeros (no
/// allocation) of the requested shape and logs it; `contains_tensor` and
/// `get_unchecked` answer from the headers, as the real backend would.
struct LoggedDryRun<'a> {
    tensors: &'a HashMap<String, TensorMeta>,
    log: &'a RequestLog,
}

fn zeros(shape: Shape, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
    Tensor::zeros((), dtype, dev)?.broadcast_as(shape)
}

impl SimpleBackend for LoggedDryRun<'_> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.log.push(name, s.clone());
        zeros(s, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        match self.tensors.get(name) {
            Some(meta) => {
                let shape = Shape::from(meta.shape.clone());
                self.log.push(name, shape.clone());
                zeros(shape, dtype, dev)
            }
            None => Err(candle_core::Error::CannotFindTensor {
                path: name.to_string(),
            }),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}
