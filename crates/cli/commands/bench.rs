//! `tarjoman bench`: how fast a model loads, prefills and decodes here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::{json, Value};
use tarjoman_engine::translate::{TranslateOptions, Translator};
use tarjoman_models::causal::{Backend, CausalLm};

use crate::input::{read_document, AtomicOutput};
use crate::model::load_lm_with;

/// Measure a model's speed on this machine: load time, prefill tokens/s at
/// several prompt lengths, decode tokens/s at short and long context, peak
/// memory, and optionally the seed article end to end.
///
/// Prompts are fixed token sequences cut from TICO-19 text (English and
/// Persian lines alternating), so runs are comparable; --dump-prompts writes
/// them as token ids for other engines (scripts/bench_peer.py runs the same
/// ids through llama.cpp). Decoding is greedy and ignores end-of-sequence,
/// so every run decodes the same number of tokens.
///
/// Examples:
///
///   tarjoman bench --json
///
///   tarjoman bench -m gemma-3-270m --prompts 64,256,1024 --article ../shared/seed/article.fa.txt
///
///   tarjoman bench -m gemma-3-270m --dump-prompts prompts.json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// A model name from `tarjoman models list`, or a GGUF path (default:
    /// the default model).
    #[arg(short, long, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// Prompt lengths (tokens) to time prefill at.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "64,256,1024"
    )]
    pub prompts: Vec<usize>,

    /// Context lengths (tokens) to time decoding after.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "64,1024"
    )]
    pub contexts: Vec<usize>,

    /// Tokens decoded at each context length.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub decode_tokens: usize,

    /// Batched decoding: for each N, N sequences (all after the shortest
    /// context) decode together, one token each per step, as `translate
    /// --batch N` does; reported as total tokens/s. Empty to skip; the
    /// reference backend decodes one sequence at a time and skips it.
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "4")]
    pub rows: Vec<usize>,

    /// Also translate this article end to end with the default settings and
    /// report its wall time.
    #[arg(long, value_name = "FILE")]
    pub article: Option<PathBuf>,

    /// Run candle-transformers' own quantized model instead of tarjoman's
    /// decoder (to measure what the fast path gains).
    #[arg(long)]
    pub reference: bool,

    /// Write the benchmark prompts as token ids (JSON) to this file and exit.
    #[arg(long, value_name = "FILE")]
    pub dump_prompts: Option<PathBuf>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let backend = if args.reference {
        Backend::Reference
    } else {
        Backend::Fast
    };
    let started = Instant::now();
    let mut loaded = load_lm_with(args.model.as_deref(), backend)?;
    let load_s = started.elapsed().as_secs_f64();
    let lengths: Vec<usize> = {
        let mut all: Vec<usize> = args.prompts.iter().chain(&args.contexts).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let longest = lengths.last().copied().unwrap_or(0);
    let source = prompt_tokens(&loaded.lm, longest)?;
    let prompt = |n: usize| &source[..n];

    if let Some(path) = &args.dump_prompts {
        let prompts: serde_json::Map<String, Value> = lengths
            .iter()
            .map(|&n| (n.to_string(), json!(prompt(n))))
            .collect();
        let mut out = AtomicOutput::create(path)?;
        serde_json::to_writer(
            out.writer(),
            &json!({ "model": loaded.name, "prompts": prompts }),
        )?;
        out.commit()?;
        eprintln!("wrote {} prompts to {}", lengths.len(), path.display());
        return Ok(ExitCode::SUCCESS);
    }

    let lm = &mut loaded.lm;
    let mut prefill = Vec::new();
    for &n in &args.prompts {
        let t = Instant::now();
        lm.forward(prompt(n), 0)?;
        let s = t.elapsed().as_secs_f64();
        prefill.push(json!({ "tokens": n, "seconds": s, "tok_s": n as f64 / s }));
    }
    let mut decode = Vec::new();
    for &c in &args.contexts {
        let mut logits = lm.forward(prompt(c), 0)?;
        let t = Instant::now();
        for i in 0..args.decode_tokens {
            let next = logits.argmax(0)?.to_scalar::<u32>()?;
            logits = lm.forward(&[next], c + i)?;
        }
        let s = t.elapsed().as_secs_f64();
        decode.push(json!({
            "context": c,
            "tokens": args.decode_tokens,
            "seconds": s,
            "tok_s": args.decode_tokens as f64 / s,
        }));
    }
    let mut batched = Vec::new();
    let context = args.contexts.iter().min().copied().unwrap_or(64);
    let max_slots = lm.max_slots();
    for &rows in args.rows.iter().filter(|&&r| r > 1 && r <= max_slots) {
        let mut next = Vec::with_capacity(rows);
        for slot in 0..rows {
            let (logits, _) = lm.prefill_in(slot, prompt(context))?;
            next.push(logits.argmax(0)?.to_scalar::<u32>()?);
        }
        let t = Instant::now();
        for _ in 0..args.decode_tokens {
            let step: Vec<(usize, u32)> = next.iter().copied().enumerate().collect();
            for (slot, logits) in lm.step_many(&step)?.iter().enumerate() {
                next[slot] = logits.argmax(0)?.to_scalar::<u32>()?;
            }
        }
        let s = t.elapsed().as_secs_f64();
        let tokens = rows * args.decode_tokens;
        batched.push(json!({
            "rows": rows,
            "context": context,
            "tokens": tokens,
            "seconds": s,
            "tok_s": tokens as f64 / s,
        }));
    }
    let article = match &args.article {
        Some(path) => {
            let text = read_document(path)?;
            let t = Instant::now();
            let mut translator =
                Translator::prompted(lm, &loaded.format, TranslateOptions::default())?;
            let stats = translator.translate_document(&text, |_| Ok::<_, anyhow::Error>(()))?;
            json!({
                "file": path.display().to_string(),
                "sentences": stats.sentences,
                "seconds": t.elapsed().as_secs_f64(),
                "prompt_tokens": stats.prompt_tokens,
                "prefilled_tokens": stats.prefilled_tokens,
                "output_tokens": stats.output_tokens,
            })
        }
        None => Value::Null,
    };
    let report = json!({
        "engine": "candle",
        "backend": if args.reference { "candle-transformers" } else { "tarjoman" },
        "version": env!("CARGO_PKG_VERSION"),
        "model": loaded.name,
        "threads": tarjoman_models::cpu_threads(),
        "kernels": if args.reference { "candle" } else { tarjoman_models::kquants::kernel_path() },
        "load_s": load_s,
        "prefill": prefill,
        "decode": decode,
        "batched_decode": batched,
        "article": article,
        "peak_rss_mib": peak_rss_mib(),
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "model {} ({} threads, {} kernels), load {load_s:.2} s",
            loaded.name,
            report["threads"],
            report["kernels"].as_str().unwrap_or("candle")
        )?;
        for p in &prefill {
            writeln!(
                out,
                "prefill {:>5} tokens: {:>7.1} tok/s",
                p["tokens"],
                p["tok_s"].as_f64().unwrap_or(0.0)
            )?;
        }
        for d in &decode {
            writeln!(
                out,
                "decode at {:>5} context: {:>6.1} tok/s",
                d["context"],
                d["tok_s"].as_f64().unwrap_or(0.0)
            )?;
        }
        for b in &batched {
            writeln!(
                out,
                "decode {} rows at {:>5} context: {:>6.1} tok/s in all",
                b["rows"],
                b["context"],
                b["tok_s"].as_f64().unwrap_or(0.0)
            )?;
        }
        if let Some(s) = report["article"]["seconds"].as_f64() {
            writeln!(out, "article: {s:.1} s")?;
        }
        if let Some(rss) = report["peak_rss_mib"].as_f64() {
            writeln!(out, "peak RSS: {rss:.0} MiB")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `n` tokens of text: TICO-19 lines, English and Persian alternating, with
/// BOS first when the model wants it. The text is built into the binary so
/// every machine benchmarks the same prompts.
fn prompt_tokens(lm: &CausalLm, n: usize) -> Result<Vec<u32>> {
    const EN: &str = include_str!("../../eval/tests/fixtures/rouge/ref.en");
    const FA: &str = include_str!("../../eval/tests/fixtures/rouge/src.fa");
    let mut ids: Vec<u32> = lm
        .info
        .bos_id
        .filter(|_| lm.info.add_bos)
        .into_iter()
        .collect();
    for (en, fa) in EN.lines().zip(FA.lines()) {
        if ids.len() >= n {
            break;
        }
        ids.extend(lm.encode(&format!("{en}\n{fa}\n"))?);
    }
    if ids.len() < n {
        bail!(
            "the benchmark text has only {} tokens, fewer than {n}",
            ids.len()
        );
    }
    ids.truncate(n);
    Ok(ids)
}

/// The process's peak resident memory (VmHWM), where Linux reports it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
