//! Times every metric on the TICO-19 test set (2,100 lines) and prints JSON.
//!
//! ```text
//! cargo run --release -p tarjoman-eval --example bench_metrics [HYP [REF]]
//! ```
//!
//! HYP defaults to the MT-like fixture `tests/fixtures/hyps/mtlike.txt.gz`,
//! REF to `/work/shared/data/tico19/test.en` (as a path relative to this
//! crate); either may be plain text or gzip. Each metric is timed from raw
//! strings (tokenization included), best of a few runs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tarjoman_eval::rouge::{Rouge, RougeType};
use tarjoman_eval::{lines_from_bytes, BleuConfig, ChrfConfig, CorpusMetric, Score, TerConfig};

const RUNS: usize = 3;

fn load(path: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
    } else {
        std::io::BufReader::new(file).read_to_end(&mut bytes)?;
    }
    Ok(lines_from_bytes(&bytes, path)?)
}

/// The best wall time of `RUNS` runs, and the last result.
fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        out = Some(value);
    }
    (best, out.expect("RUNS > 0"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    let hyp_path = args.next().map_or_else(
        || here.join("tests/fixtures/hyps/mtlike.txt.gz"),
        PathBuf::from,
    );
    let ref_path = args.next().map_or_else(
        || here.join("../../../shared/data/tico19/test.en"),
        PathBuf::from,
    );
    let hyps = load(&hyp_path)?;
    let refs = vec![load(&ref_path)?];
    tarjoman_eval::check_aligned(&hyp_path, hyps.len(), &ref_path, refs[0].len())?;

    let mut rows = Vec::new();
    let mut total = Duration::ZERO;
    let mut record = |name: &str, elapsed: Duration, score: Score| {
        total += elapsed;
        rows.push(serde_json::json!({
            "metric": name,
            "score": score.score,
            "signature": score.signature,
            "seconds": elapsed.as_secs_f64(),
        }));
    };
    let (t, s) = time(|| BleuConfig::default().corpus_score(&hyps, &refs));
    record("bleu", t, s?);
    let (t, s) = time(|| ChrfConfig::default().corpus_score(&hyps, &refs));
    record("chrf", t, s?);
    let (t, s) = time(|| ChrfConfig::plus_plus().corpus_score(&hyps, &refs));
    record("chrf++", t, s?);
    let (t, s) = time(|| TerConfig::default().corpus_score(&hyps, &refs));
    record("ter", t, s?);
    // All four ROUGE types come out of one pass.
    let (t, rouge) = time(|| Rouge::new(true).corpus(&hyps, &refs));
    record(
        "rouge (all types, stemmed)",
        t,
        rouge?.score(RougeType::RougeL),
    );

    let report = serde_json::json!({
        "lines": hyps.len(),
        "hyp": hyp_path.display().to_string(),
        "ref": ref_path.display().to_string(),
        "runs": RUNS,
        "metrics": rows,
        "total_seconds": total.as_secs_f64(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
