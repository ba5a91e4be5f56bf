//! Times loading tokenizers: built from a GGUF's metadata versus parsed
//! from `tokenizer.json`. Numbers go in BENCHMARKS.md.
//!
//! cargo run --release -p tarjoman-models --example tokenizer_load -- \
//!     models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf models/gemma-3-270m/tokenizer.json

use std::path::Path;
use std::time::Instant;

use tarjoman_models::gguf::GgufFile;
use tarjoman_models::tokenizer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for arg in std::env::args().skip(1) {
        let path = Path::new(&arg);
        let started = Instant::now();
        let tok = if arg.ends_with(".gguf") {
            let gguf = GgufFile::open(path)?;
            let opened = started.elapsed();
            let tok = tokenizer::from_gguf(&gguf)?;
            eprintln!(
                "{arg}: GGUF header {:.2} s, tokenizer built in {:.2} s",
                opened.as_secs_f64(),
                (started.elapsed() - opened).as_secs_f64()
            );
            tok
        } else {
            tokenizer::from_file(path)?
        };
        println!(
            "{arg}: {:.2} s total, vocabulary {}",
            started.elapsed().as_secs_f64(),
            tok.get_vocab_size(true)
        );
    }
    Ok(())
}
