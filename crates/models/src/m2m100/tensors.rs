//! A checkpoint's tensors by name ([`Weights`]), and under a dotted prefix
//! ([`Prefixed`]), as candle's `VarBuilder` hands them out.

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use candle_nn::{LayerNorm, Linear};

use crate::weights::Checkpoint;
use crate::{Error, Result};

/// The tensors of a checkpoint (safetensors files, one or shards, or
/// `pytorch_model.bin`), handed out by checkpoint name as f32 with their
/// shape and dtype checked by [`Checkpoint`], so that a mismatched
/// checkpoint is an error naming the file and tensor.
pub(super) struct Weights {
    checkpoint: Checkpoint,
    pub(super) device: Device,
}

impl Weights {
    pub(super) fn open(paths: &[PathBuf], device: &Device) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::Input("no weight files to load".into()));
        }
        Ok(Self {
            checkpoint: Checkpoint::open(paths)?,
            device: device.clone(),
        })
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.checkpoint.contains(name)
    }

    /// Number of weights in every file.
    pub(super) fn parameter_count(&self) -> u64 {
        self.checkpoint.parameter_count()
    }

    /// The tensor `name` as f32, which must have shape `shape`.
    pub(super) fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.checkpoint.tensor(name, shape, &self.device)
    }

    pub(super) fn pp(&self, prefix: &str) -> Prefixed<'_> {
        Prefixed {
            weights: self,
            prefix: prefix.to_string(),
        }
    }
}

/// Tensor names under a dotted prefix, as candle's `vb.pp(...)`.
pub(super) struct Prefixed<'a> {
    weights: &'a Weights,
    prefix: String,
}

impl Prefixed<'_> {
    pub(super) fn pp(&self, name: impl std::fmt::Display) -> Self {
        Self {
            weights: self.weights,
            prefix: format!("{}.{name}", self.prefix),
        }
    }

    pub(super) fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.weights.get(&format!("{}.{name}", self.prefix), shape)
    }

    pub(super) fn linear(&self, name: &str, in_dim: usize, out_dim: usize) -> Result<Linear> {
        let p = self.pp(name);
        Ok(Linear::new(
            p.get("weight", &[out_dim, in_dim])?,
            Some(p.get("bias", &[out_dim])?),
        ))
    }

    pub(super) fn layer_norm(&self, name: &str, dim: usize) -> Result<LayerNorm> {
        let p = self.pp(name);
        // torch.nn.LayerNorm's default eps, which M2M100 does not change.
        Ok(LayerNorm::new(
            p.get("weight", &[dim])?,
            p.get("bias", &[dim])?,
            1e-5,
        ))
    }
}
