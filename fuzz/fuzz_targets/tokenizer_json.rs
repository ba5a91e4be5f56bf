//! Loading a `tokenizer.json` (through a file, as the loader takes a path)
//! and encoding with whatever loads: errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys installs a panic hook that aborts at once, before any
    // `catch_unwind` runs; our loader catches the tokenizers crate's own
    // panics, so restore the default hook. A panic that escapes our code
    // still aborts (libfuzzer-sys catches it and aborts) and counts as a
    // crash.
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
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
