//! Greedy generation from a GGUF file, printing timings: a smoke test of the
//! loader and a quick speed probe.
//!
//! cargo run --release -p tarjoman-models --example generate -- MODEL.gguf [TOKENIZER.json] "prompt"

use std::time::Instant;

use tarjoman_models::causal::CausalLm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (gguf, tokenizer, prompt) = match args.as_slice() {
        [g, p] => (g, None, p),
        [g, t, p] => (g, Some(t), p),
        _ => return Err("usage: generate MODEL.gguf [tokenizer.json] PROMPT".into()),
    };
    let start = Instant::now();
    let mut lm = CausalLm::load(gguf.as_ref(), tokenizer.map(|t| t.as_ref()))?;
    eprintln!(
        "load: {:.2} s, {:?}",
        start.elapsed().as_secs_f64(),
        lm.info
    );
    let prompt = prompt.replace("\\n", "\n");
    let mut ids = Vec::new();
    if lm.info.add_bos {
        ids.extend(lm.info.bos_id);
    }
    ids.extend(lm.encode(&prompt)?);
    let start = Instant::now();
    let mut logits = lm.forward(&ids, 0)?;
    let prefill = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut out = Vec::new();
    for _ in 0..64 {
        let next = logits.argmax(0)?.to_scalar::<u32>()?;
        if lm.info.eos_ids.contains(&next) {
            break;
        }
        out.push(next);
        logits = lm.forward(&[next], ids.len() + out.len() - 1)?;
    }
    let decode = start.elapsed().as_secs_f64();
    println!("{}", lm.decode(&out)?);
    eprintln!(
        "prompt {} tokens: prefill {:.1} tok/s; decode {} tokens {:.1} tok/s",
        ids.len(),
        ids.len() as f64 / prefill,
        out.len(),
        out.len() as f64 / decode
    );
    Ok(())
}
