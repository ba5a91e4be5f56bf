//! Model checkpoints (safetensors, PyTorch `pytorch_model.bin`, or a GGUF
//! beside a `config.json`), checked against what a model asks for before it
//! is built.
//!
//! candle's model constructors report a missing tensor or a wrong shape
//! without the file's name, and some (candle-transformers' llama) `unwrap`
//! those errors into a panic. So a model is first built against a dry-run
//! [`VarBuilder`] that hands out zero-cost broadcast zeros and records every
//! tensor the constructor requests with the shape it expects; those requests
//! are checked against the files' headers (presence, shape, a float dtype),
//! and only then is the model built from the real weights. Errors name the
//! tensor and the file.
//!
//! Formats:
//! - safetensors (`model.safetensors` or shards with their index), memory
//!   mapped;
//! - PyTorch pickles (`pytorch_model.bin` or shards with
//!   `pytorch_model.bin.index.json`), read with candle's pickle reader
//!   tensor by tensor;
//! - GGUF, for families whose implementation keeps quantized weights
//!   quantized ([`MaybeQuantized`], used by T5 / MADLAD-400): candle's
//!   `tensor-tools` writes such files with the safetensors tensor names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::pickle::PthTensors;
use candle_core::quantized::{GgmlDType, QMatMul};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use candle_transformers::quantized_var_builder;

use crate::gguf::GgufFile;
use crate::{Error, Result};

/// A checkpoint's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Safetensors,
    /// PyTorch's zip-of-pickle `torch.save` format (`pytorch_model.bin`).
    Pytorch,
    Gguf,
}

impl Format {
    /// The format a weights file's name implies: `.gguf`, `.bin`/`.pt`/
    /// `.pth`, anything else safetensors.
    pub fn of(path: &Path) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("gguf") => Format::Gguf,
            Some("bin" | "pt" | "pth") => Format::Pytorch,
            _ => Format::Safetensors,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Pytorch => "PyTorch pickle (pytorch_model.bin)",
            Format::Gguf => "GGUF",
        }
    }
}

/// How a tensor is stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A plain candle dtype (safetensors, pickle, or an f32/f16 GGUF tensor).
    Plain(DType),
    /// A GGUF block-quantized type (Q8_0, Q4K, ...).
    Quantized(GgmlDType),
    /// A type candle cannot load (e.g. safetensors BOOL), by its name.
    Other(String),
}

impl Stored {
    /// Short name, e.g. `f32`, `Q4K`.
    pub fn name(&self) -> String {
        match self {
            Stored::Plain(d) => d.as_str().to_string(),
            Stored::Quantized(q) => format!("{q:?}"),
            Stored::Other(name) => name.clone(),
        }
    }
}

/// Where one tensor lives and what its header says.
#[derive(Debug, Clone)]
struct TensorMeta {
    file: usize,
    stored: Stored,
    shape: Vec<usize>,
    /// Pickles only: the storage and offset this tensor views; tied
    /// parameters (T5's `shared` and `*.embed_tokens`) share one, and are
    /// counted once.
    view: Option<(String, usize)>,
}

/// The headers of a checkpoint's files (one file or shards).
pub struct Checkpoint {
    files: Vec<PathBuf>,
    format: Format,
    tensors: HashMap<String, TensorMeta>,
    /// The opened pickles, one per file (PyTorch format only).
    pth: Vec<PthTensors>,
    /// The mapped files (safetensors format only).
    st: Vec<MmapedSafetensors>,
}

impl Checkpoint {
    /// Opens and indexes `files`, all of one format (see [`Format::of`]); a
    /// file that is not valid (bad header, data cut short) is an error
    /// naming it.
    pub fn open(files: &[PathBuf]) -> Result<Self> {
        let first = files
            .first()
            .ok_or_else(|| Error::Input("no weights files given".into()))?;
        let format = Format::of(first);
        if let Some(other) = files.iter().find(|f| Format::of(f) != format) {
            return Err(Error::Config {
                path: other.clone(),
                reason: format!(
                    "mixed weights formats: {} is {}, {} is {}",
                    first.display(),
                    format.name(),
                    other.display(),
                    Format::of(other).name()
                ),
            });
        }
        let mut ckpt = Self {
            files: files.to_vec(),
            format,
            tensors: HashMap::new(),
            pth: Vec::new(),
            st: Vec::new(),
        };
        for (index, path) in files.iter().enumerate() {
            match format {
                Format::Safetensors => ckpt.index_safetensors(index, path)?,
                Format::Pytorch => ckpt.index_pth(index, path)?,
                Format::Gguf => ckpt.index_gguf(index, path)?,
            }
        }
        if format == Format::Gguf && files.len() > 1 {
            return Err(Error::Config {
                path: first.clone(),
                reason: "split GGUF checkpoints are not supported; give one .gguf file".into(),
            });
        }
        Ok(ckpt)
    }

    fn insert(&mut self, name: String, meta: TensorMeta) {
        self.tensors.insert(name, meta);
    }

    fn index_safetensors(&mut self, index: usize, path: &Path) -> Result<()> {
        // SAFETY: the file is memory-mapped read-only; as with every
        // mmap-based loader, it must not be modified while we read it.
        #[allow(unsafe_code)]
        let st = unsafe { MmapedSafetensors::new(path) }.map_err(|source| Error::Safetensors {
            path: path.to_path_buf(),
            source,
        })?;
        for (name, view) in st.tensors() {
            let stored = match DType::try_from(view.dtype()) {
                Ok(d) => Stored::Plain(d),
                Err(_) => Stored::Other(format!("{:?}", view.dtype())),
            };
            let shape = view.shape().to_vec();
            self.insert(
                name,
                TensorMeta {
                    file: index,
                    stored,
                    shape,
                    view: None,
                },
            );
        }
        self.st.push(st);
        Ok(())
    }

    fn index_pth(&mut self, index: usize, path: &Path) -> Result<()> {
        let pickle_error = |source| Error::Pickle {
            path: path.to_path_buf(),
            source,
        };
        // candle's pickle reader indexes into the tuples it decodes, so a
        // crafted or corrupt `data.pkl` can make it panic rather than
        // return an error; contain that here so bad input is an error.
        let opened = std::panic::catch_unwind(|| PthTensors::new(path, None)).map_err(|_| {
            pickle_error(candle_core::Error::Msg(
                "the pickle reader failed on malformed data".into(),
            ))
        })?;
        let pth = opened.map_err(pickle_error)?;
        if pth.tensor_infos().is_empty() {
            return Err(pickle_error(candle_core::Error::Msg(
                "holds no tensors (not a PyTorch state dict)".into(),
            )));
        }
        for (name, info) in pth.tensor_infos() {
            self.insert(
                name.clone(),
                TensorMeta {
                    file: index,
                    stored: Stored::Plain(info.dtype),
                    shape: info.layout.dims().to_vec(),
                    view: Some((info.path.clone(), info.layout.start_offset())),
                },
            );
        }
        self.pth.push(pth);
        Ok(())
    }

    fn index_gguf(&mut self, index: usize, path: &Path) -> Result<()> {
        let gguf = GgufFile::open(path)?;
        for (name, info) in &gguf.content.tensor_infos {
            let stored = match info.ggml_dtype {
                GgmlDType::F32 => Stored::Plain(DType::F32),
                GgmlDType::F16 => Stored::Plain(DType::F16),
                GgmlDType::BF16 => Stored::Plain(DType::BF16),
                q => Stored::Quantized(q),
            };
            self.insert(
                name.clone(),
                TensorMeta {
                    file: index,
                    stored,
                    shape: info.shape.dims().to_vec(),
                    view: None,
                },
            );
        }
        Ok(())
    }

    /// The weights files of `dir`, by preference: `model.safetensors`, the
    /// shards listed in `model.safetensors.index.json`, `pytorch_model.bin`,
    /// the shards listed in `pytorch_model.bin.index.json`, or the one
    /// `.gguf` file there.
    pub fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
        for (single, index) in [
            ("model.safetensors", "model.safetensors.index.json"),
            ("pytorch_model.bin", "pytorch_model.bin.index.json"),
        ] {
            let single = dir.join(single);
            if single.is_file() {
                return Ok(vec![single]);
            }
            let index = dir.join(index);
            if index.is_file() {
                return Self::shards(dir, &index);
            }
        }
        let mut ggufs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && Format::of(p) == Format::Gguf)
            .collect();
        ggufs.sort();
        match ggufs.len() {
            1 => Ok(ggufs),
            0 => Err(Error::NoWeights {
                dir: dir.to_path_buf(),
                reason: "expected model.safetensors, model.safetensors.index.json, \
                         pytorch_model.bin, pytorch_model.bin.index.json or one .gguf file"
                    .into(),
            }),
            _ => Err(Error::NoWeights {
                dir: dir.to_path_buf(),
                reason: format!(
                    "{} .gguf files and no safetensors or pytorch_model.bin; give the \
                     weights file to load",
                    ggufs.len()
                ),
            }),
        }
    }

    /// The distinct files of a shard index's `weight_map`, sorted.
    fn shards(dir: &Path, index: &Path) -> Result<Vec<PathBuf>> {
        let text = std::fs::read_to_string(index).map_err(|source| Error::Io {
            path: index.to_path_buf(),
            source,
        })?;
        let bad = |reason: String| Error::Config {
            path: index.to_path_buf(),
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
        if files.is_empty() {
            return Err(bad("the `weight_map` is empty".into()));
        }
        files.sort();
        Ok(files)
    }

    /// The first file, for messages about the checkpoint as a whole.
    pub fn path(&self) -> PathBuf {
        self.files.first().cloned().unwrap_or_default()
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The tensors, each tied (shared-storage) group once.
    fn distinct(&self) -> impl Iterator<Item = &TensorMeta> {
        let mut seen = std::collections::HashSet::new();
        self.tensors.values().filter(move |t| match &t.view {
            Some((storage, offset)) => seen.insert((t.file, storage, *offset, &t.shape)),
            None => true,
        })
    }

    /// Total number of parameters stored (tied ones once).
    pub fn parameter_count(&self) -> u64 {
        self.distinct()
            .map(|t| t.shape.iter().product::<usize>() as u64)
            .sum()
    }

    /// Parameters by storage type (e.g. `f32`, `Q8_0`), sorted by name.
    pub fn dtype_counts(&self) -> Vec<(String, u64)> {
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        for t in self.distinct() {
            *counts.entry(t.stored.name()).or_default() += t.shape.iter().product::<usize>() as u64;
        }
        counts.into_iter().collect()
    }

    fn file_of(&self, meta: &TensorMeta) -> PathBuf {
        self.files.get(meta.file).cloned().unwrap_or_default()
    }

    /// Whether the checkpoint holds a tensor named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// One tensor as f32, after the checks [`Self::load`] makes (present,
    /// this shape, a float dtype): for loaders that read tensors by name
    /// rather than through a `VarBuilder`. Safetensors and pickles only.
    pub fn tensor(&self, name: &str, shape: &[usize], device: &Device) -> Result<Tensor> {
        if self.format == Format::Gguf {
            return Err(self.gguf_unsupported());
        }
        self.check(name, &Shape::from(shape.to_vec()))?;
        let meta = self.tensors.get(name).ok_or_else(|| Error::MissingTensor {
            path: self.path(),
            files: self.files.len(),
            tensor: name.to_string(),
        })?;
        let read = match self.format {
            Format::Safetensors => self
                .st
                .get(meta.file)
                .ok_or_else(|| candle_core::Error::Msg("file not mapped".into()))
                .and_then(|st| st.load(name, device)),
            _ => self
                .pth
                .get(meta.file)
                .ok_or_else(|| candle_core::Error::Msg("file not opened".into()))
                .and_then(|pth| pth.get(name))
                .and_then(|t| {
                    t.ok_or_else(|| candle_core::Error::CannotFindTensor {
                        path: name.to_string(),
                    })
                })
                .and_then(|t| t.to_device(device)),
        };
        read.and_then(|t| t.to_dtype(DType::F32))
            .map_err(|source| Error::TensorData {
                path: self.file_of(meta),
                tensor: name.to_string(),
                source: Box::new(source),
            })
    }

    /// Runs `build` against a dry-run builder and checks every tensor it
    /// asked for against the headers; then builds the model for real.
    /// Dense weights only: a GGUF checkpoint is an error here (see
    /// [`Self::load_maybe_quantized`]).
    pub fn load<T>(
        &self,
        dtype: DType,
        device: &Device,
        build: impl Fn(VarBuilder) -> candle_core::Result<T>,
    ) -> Result<T> {
        if self.format == Format::Gguf {
            return Err(self.gguf_unsupported());
        }
        self.validate(dtype, device, &build)?;
        let failure = ReadFailure::default();
        let vb = self.real(dtype, device, &failure)?;
        build(vb).map_err(|source| self.build_error(&failure, source))
    }

    /// [`Self::load`] for models whose linear layers may stay quantized:
    /// `build` gets dense f32 weights from safetensors or pickles, and the
    /// GGUF's own (possibly quantized) tensors from a GGUF file.
    pub fn load_maybe_quantized<T>(
        &self,
        device: &Device,
        build: impl Fn(MaybeQuantized) -> candle_core::Result<T>,
    ) -> Result<T> {
        let dtype = DType::F32;
        self.validate(dtype, device, &|vb| build(MaybeQuantized::Dense(vb)))?;
        if self.format == Format::Gguf {
            let path = self.path();
            let vb = quantized_var_builder::VarBuilder::from_gguf(&path, device)
                .map_err(|source| Error::Gguf { path, source })?;
            return build(MaybeQuantized::gguf(vb)).map_err(|source| Error::Weights {
                path: self.path(),
                source,
            });
        }
        let failure = ReadFailure::default();
        let vb = self.real(dtype, device, &failure)?;
        build(MaybeQuantized::Dense(vb)).map_err(|source| self.build_error(&failure, source))
    }

    /// The dry run: every requested tensor exists with the expected shape
    /// and a usable dtype.
    fn validate<T>(
        &self,
        dtype: DType,
        device: &Device,
        build: &dyn Fn(VarBuilder) -> candle_core::Result<T>,
    ) -> Result<()> {
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
        for (name, shape) in &log.take() {
            self.check(name, shape)?;
        }
        Ok(())
    }

    /// The builder over the real dense weights.
    fn real<'a>(
        &'a self,
        dtype: DType,
        device: &Device,
        failure: &'a ReadFailure,
    ) -> Result<VarBuilder<'a>> {
        match self.format {
            // SAFETY: read-only memory maps of the files `open` indexed
            // (see `index_safetensors`); they must not be modified while
            // the builder reads them.
            #[allow(unsafe_code)]
            Format::Safetensors => {
                unsafe { VarBuilder::from_mmaped_safetensors(&self.files, dtype, device) }.map_err(
                    |source| Error::Safetensors {
                        path: self.path(),
                        source,
                    },
                )
            }
            Format::Pytorch => Ok(VarBuilder::from_backend(
                Box::new(PthBackend {
                    ckpt: self,
                    failure,
                }),
                dtype,
                device.clone(),
            )),
            Format::Gguf => Err(self.gguf_unsupported()),
        }
    }

    fn gguf_unsupported(&self) -> Error {
        Error::Config {
            path: self.path(),
            reason: "GGUF weights beside a config.json load only for t5 (MADLAD-400); \
                     decoder-only GGUF models load from the .gguf file alone"
                .into(),
        }
    }

    /// A failed real build: the tensor whose data could not be read, if
    /// that is what failed.
    fn build_error(&self, failure: &ReadFailure, source: candle_core::Error) -> Error {
        match failure.take() {
            Some((file, tensor, source)) => Error::TensorData {
                path: self.files.get(file).cloned().unwrap_or_default(),
                tensor,
                source: Box::new(source),
            },
            None => Error::Weights {
                path: self.path(),
                source,
            },
        }
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
        match &meta.stored {
            Stored::Plain(DType::F16 | DType::BF16 | DType::F32 | DType::F64) => {}
            // Only GGUF holds these, and its loader dequantizes them or
            // keeps them for quantized matmuls.
            Stored::Quantized(_) => {}
            other => {
                return Err(Error::TensorDtype {
                    path: self.file_of(meta),
                    tensor: name.to_string(),
                    dtype: other.name(),
                })
            }
        }
        Ok(())
    }
}

/// Weights for a model whose linear layers may run on quantized GGUF
/// tensors: the one type t5.rs builds from, so the model code is written
/// once for safetensors, pickles and GGUF. Mirrors the parts of
/// candle-nn's `VarBuilder` the model uses.
#[derive(Clone)]
pub enum MaybeQuantized<'a> {
    /// f32 tensors (safetensors, pickles, or the dry run).
    Dense(VarBuilder<'a>),
    /// A GGUF's tensors; `prefix` mirrors the builder's own (private) one
    /// for `contains_tensor`.
    Gguf {
        vb: quantized_var_builder::VarBuilder,
        prefix: String,
    },
}

impl MaybeQuantized<'_> {
    fn gguf(vb: quantized_var_builder::VarBuilder) -> Self {
        MaybeQuantized::Gguf {
            vb,
            prefix: String::new(),
        }
    }

    pub fn pp<S: ToString>(&self, s: S) -> Self {
        match self {
            MaybeQuantized::Dense(vb) => MaybeQuantized::Dense(vb.pp(s)),
            MaybeQuantized::Gguf { vb, prefix } => {
                let s = s.to_string();
                MaybeQuantized::Gguf {
                    vb: vb.pp(&s),
                    prefix: if prefix.is_empty() {
                        s
                    } else {
                        format!("{prefix}.{s}")
                    },
                }
            }
        }
    }

    pub fn device(&self) -> &Device {
        match self {
            MaybeQuantized::Dense(vb) => vb.device(),
            MaybeQuantized::Gguf { vb, .. } => vb.device(),
        }
    }

    pub fn contains_tensor(&self, name: &str) -> bool {
        match self {
            MaybeQuantized::Dense(vb) => vb.contains_tensor(name),
            MaybeQuantized::Gguf { vb, prefix } if prefix.is_empty() => vb.contains_key(name),
            MaybeQuantized::Gguf { vb, prefix } => vb.contains_key(&format!("{prefix}.{name}")),
        }
    }

    /// A dense f32 tensor (a quantized one is dequantized).
    pub fn get<S: Into<Shape>>(&self, shape: S, name: &str) -> candle_core::Result<Tensor> {
        match self {
            MaybeQuantized::Dense(vb) => vb.get(shape, name),
            MaybeQuantized::Gguf { vb, .. } => vb.get(shape, name)?.dequantize(vb.device()),
        }
    }

    /// A linear layer's weight `[out, in]`, kept quantized when the GGUF
    /// stores it so (f32/f16 GGUF tensors become dense, as candle does).
    pub fn matmul_weight<S: Into<Shape>>(
        &self,
        shape: S,
        name: &str,
    ) -> candle_core::Result<QMatMul> {
        match self {
            MaybeQuantized::Dense(vb) => Ok(QMatMul::Tensor(vb.get(shape, name)?)),
            MaybeQuantized::Gguf { vb, .. } => QMatMul::from_arc(vb.get(shape, name)?),
        }
    }
}

/// The first tensor whose data could not be read during a real build:
/// (file index, tensor name, cause). candle's builder only passes its own
/// error type through, so the backend records the details here.
#[derive(Default)]
struct ReadFailure(Mutex<Option<(usize, String, candle_core::Error)>>);

impl ReadFailure {
    fn record(&self, file: usize, name: &str, error: candle_core::Error) {
        if let Ok(mut slot) = self.0.lock() {
            if slot.is_none() {
                *slot = Some((file, name.to_string(), error));
            }
        }
    }

    fn take(&self) -> Option<(usize, String, candle_core::Error)> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The real backend over PyTorch pickles (one or more shards): reads each
/// requested tensor from its file. Shapes and dtypes were checked by the
/// dry run; a read that fails (data cut short) is recorded with the file
/// and tensor.
struct PthBackend<'a> {
    ckpt: &'a Checkpoint,
    failure: &'a ReadFailure,
}

impl PthBackend<'_> {
    fn read(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let meta =
            self.ckpt
                .tensors
                .get(name)
                .ok_or_else(|| candle_core::Error::CannotFindTensor {
                    path: name.to_string(),
                })?;
        let file = meta.file;
        let read = self
            .ckpt
            .pth
            .get(file)
            .ok_or_else(|| candle_core::Error::Msg(format!("no pickle for file {file}")))
            .and_then(|pth| pth.get(name))
            .and_then(|t| {
                t.ok_or_else(|| candle_core::Error::CannotFindTensor {
                    path: name.to_string(),
                })
            })
            .and_then(|t| t.to_dtype(dtype)?.to_device(dev));
        match read {
            Ok(t) => Ok(t),
            Err(e) => {
                let msg = format!("cannot read tensor `{name}`: {e}");
                self.failure.record(file, name, e);
                Err(candle_core::Error::Msg(msg))
            }
        }
    }
}

impl SimpleBackend for PthBackend<'_> {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.read(name, dtype, dev)?;
        if t.shape() != &s {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: s,
                got: t.shape().clone(),
            });
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.read(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.ckpt.tensors.contains_key(name)
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
