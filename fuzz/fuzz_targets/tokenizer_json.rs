//! Loading a `tokenizer.json` (through a file, as the loader takes a path)
//! and encoding with whatever loads: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("tarjoman-fuzz-{}.json", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(tok) = tarjoman_models::tokenizer::from_file(&path) {
        if let Ok(ids) = tarjoman_models::tokenizer::encode(&tok, "سلام، hello 123") {
            let _ = tarjoman_models::tokenizer::decode(&tok, &ids);
        }
    }
});
