//! Helpers shared by the CLI tests that use `tarjoman-models`' tiny
//! fixtures (crates/models/tests/fixtures).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};

/// A fixture directory of `tarjoman-models`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/models/tests/fixtures")
        .join(name)
}

/// Writes the T5 fixture's weights into `dir` as `model-q8_0.gguf`, beside
/// its `config.json`, the way candle's `tensor-tools quantize` writes
/// MADLAD-400 GGUFs: same tensor names, Q8_0 where rows split into
/// 32-element blocks, F32 elsewhere.
pub fn write_t5_gguf(dir: &Path) {
    let src = fixture("t5");
    std::fs::copy(src.join("config.json"), dir.join("config.json")).unwrap();
    let tensors =
        candle_core::safetensors::load(src.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    let quantized: Vec<(String, QTensor)> = tensors
        .iter()
        .map(|(name, t)| {
            let dtype = match t.dims() {
                [_, cols] if cols % 32 == 0 => GgmlDType::Q8_0,
                _ => GgmlDType::F32,
            };
            (name.clone(), QTensor::quantize(t, dtype).unwrap())
        })
        .collect();
    let refs: Vec<(&str, &QTensor)> = quantized.iter().map(|(n, q)| (n.as_str(), q)).collect();
    let mut file = std::fs::File::create(dir.join("model-q8_0.gguf")).unwrap();
    gguf_file::write(&mut file, &[], &refs).unwrap();
}
