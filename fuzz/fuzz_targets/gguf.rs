//! GGUF parsing (candle's header reader plus tarjoman's extent checks) and
//! building a tokenizer from the GGUF metadata: errors, never a panic.
//! `GgufFile::open` takes a path, so each input goes through a file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("tarjoman-fuzz-{}.gguf", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(gguf) = tarjoman_models::gguf::GgufFile::open(&path) {
        let _ = gguf.architecture();
        let _ = gguf.parameter_count();
        let _ = tarjoman_models::tokenizer::from_gguf(&gguf);
    }
});
