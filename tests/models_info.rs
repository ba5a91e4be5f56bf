//! `tarjoman models info` on local checkpoints in the formats beyond
//! safetensors: pytorch_model.bin (single and sharded) and a T5 GGUF beside
//! its config.json. Reads headers only; no model runs.

mod support;

use std::path::Path;
use std::process::Command;

use support::fixture;

use serde_json::Value;

fn info(path: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tarjoman"))
        .args(["models", "info", "--json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn pytorch_bin_reports_parameters_and_dtype() {
    let v = info(&fixture("qwen2-bin"));
    assert_eq!(v["format"], "pytorchbin");
    assert_eq!(v["info"]["family"], "qwen2");
    // Same weights as the safetensors fixture.
    let st = info(&fixture("qwen2"));
    assert_eq!(v["info"]["parameters"], st["info"]["parameters"]);
    assert_eq!(v["info"]["dtypes"][0], "F32 100.0%");

    let v = info(&fixture("t5-bin-sharded"));
    assert_eq!(v["info"]["family"], "t5");
    assert_eq!(v["files"]["weights"].as_array().unwrap().len(), 2);
    assert!(v["info"]["parameters"].as_u64().unwrap() > 0);
}

#[test]
fn t5_gguf_with_config_reports_family_and_quantization() {
    let dir = tempfile::tempdir().unwrap();
    support::write_t5_gguf(dir.path());

    let v = info(dir.path());
    assert_eq!(v["format"], "gguf");
    assert_eq!(v["info"]["family"], "t5");
    assert_eq!(v["info"]["vocab_size"], 256);
    assert!(
        v["info"]["dtypes"][0].as_str().unwrap().starts_with("Q8_0"),
        "{}",
        v["info"]["dtypes"]
    );
    assert_eq!(v["info"]["tokenizer"], "none found");
    assert!(v["files"]["config"]
        .as_str()
        .unwrap()
        .ends_with("config.json"));
}
