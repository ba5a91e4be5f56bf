//! Paired bootstrap resampling against `sacrebleu --paired-bs`.
//!
//! Goldens: `tests/fixtures/bootstrap/golden.tsv`, made by
//! `scripts/bootstrap_golden.py` with sacreBLEU 2.6.0's `PairedTest` and
//! NumPy 2.4 (the header names the exact versions). Tolerances: 0.01 on
//! score, mean and CI, 0.005 on p-values (sacreBLEU sums statistics in
//! float32; this crate in f64).

use std::path::{Path, PathBuf};

use tarjoman_eval::bootstrap::{
    paired_bootstrap, BootstrapConfig, Estimate, MeanOf, MetricResample, NumpyRng, Resample,
};
use tarjoman_eval::rouge::{Rouge, RougeType};
use tarjoman_eval::{BleuConfig, ChrfConfig, CorpusMetric, TerConfig};

const SYSTEMS: [&str; 4] = ["hyp.dropped", "hyp.shuffled", "hyp.noisy", "hyp.close"];

fn fixture(name: &str) -> PathBuf {
    let dir = if name == "hyp.close" || name == "golden.tsv" {
        "bootstrap"
    } else {
        "rouge"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name)
}

fn lines(name: &str) -> Vec<String> {
    let path = fixture(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn golden_rows(kind: &str) -> Vec<Vec<String>> {
    lines("golden.tsv")
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f[0] == kind)
        .collect()
}

/// sacreBLEU's golden `(score, mean, ci, p)` for one metric, per system.
fn golden_estimates(metric: &str) -> Vec<(f64, f64, f64, Option<f64>)> {
    let rows: Vec<_> = golden_rows("score")
        .into_iter()
        .filter(|f| f[1] == metric)
        .collect();
    assert_eq!(rows.len(), SYSTEMS.len(), "golden rows for {metric}");
    rows.iter()
        .zip(SYSTEMS)
        .map(|(f, system)| {
            assert_eq!(f[2], system);
            let v = |i: usize| f[i].parse::<f64>().expect("number");
            let p = (f[6] != "-").then(|| v(6));
            (v(3), v(4), v(5), p)
        })
        .collect()
}

#[test]
fn resample_indices_equal_numpy_default_rng_choice() {
    let rows = golden_rows("rng");
    assert_eq!(rows.len(), 5);
    for f in rows {
        let n: usize = f[1].parse().unwrap();
        let samples: usize = f[2].parse().unwrap();
        let checksum: u128 = f[3].parse().unwrap();
        let first: Vec<usize> = f[4].split(',').map(|v| v.parse().unwrap()).collect();
        let mut rng = NumpyRng::new(12345);
        let draws: Vec<usize> = (0..n * samples).map(|_| rng.below(n)).collect();
        assert_eq!(draws[..first.len()], first[..], "n = {n}");
        let ours: u128 = draws
            .iter()
            .enumerate()
            .map(|(i, &v)| v as u128 * (i as u128 + 1))
            .sum();
        assert_eq!(ours, checksum, "n = {n}");
    }
}

#[test]
fn rouge_l_mean_bootstrap_matches_sacrebleu_paired_test() {
    let refs = lines("ref.en");
    let rouge = Rouge::new(false);
    let systems: Vec<MeanOf> = SYSTEMS
        .iter()
        .map(|name| {
            let corpus = rouge
                .corpus(&lines(name), std::slice::from_ref(&refs))
                .unwrap();
            MeanOf::new(corpus.sentence_f1(RougeType::RougeL), 100.0)
        })
        .collect();
    let systems: Vec<&dyn Resample> = systems.iter().map(|s| s as &dyn Resample).collect();
    let ours = paired_bootstrap(&systems, &BootstrapConfig::default()).unwrap();
    check("rougeL", &ours, &golden_estimates("rougeL"));
}

fn sacrebleu_metric<M: CorpusMetric + Clone>(metric: M) -> Vec<Estimate> {
    let refs = vec![lines("ref.en")];
    let systems: Vec<MetricResample<M>> = SYSTEMS
        .iter()
        .map(|name| {
            let stats = metric.segment_stats(&lines(name), &refs).unwrap();
            MetricResample::new(metric.clone(), stats, refs.len())
        })
        .collect();
    let systems: Vec<&dyn Resample> = systems.iter().map(|s| s as &dyn Resample).collect();
    paired_bootstrap(&systems, &BootstrapConfig::default()).unwrap()
}

#[test]
fn bleu_matches_sacrebleu_paired_bs() {
    let ours = sacrebleu_metric(BleuConfig::default());
    check("BLEU", &ours, &golden_estimates("BLEU"));
}

#[test]
fn chrf_matches_sacrebleu_paired_bs() {
    let ours = sacrebleu_metric(ChrfConfig::default());
    check("chrF2", &ours, &golden_estimates("chrF2"));
}

#[test]
fn chrf_pp_matches_sacrebleu_paired_bs() {
    let ours = sacrebleu_metric(ChrfConfig::plus_plus());
    check("chrF2++", &ours, &golden_estimates("chrF2++"));
}

#[test]
fn ter_matches_sacrebleu_paired_bs() {
    let ours = sacrebleu_metric(TerConfig::default());
    check("TER", &ours, &golden_estimates("TER"));
}

/// Compares estimates with golden rows within the tolerances of this file.
fn check(metric: &str, ours: &[Estimate], golden: &[(f64, f64, f64, Option<f64>)]) {
    assert_eq!(ours.len(), golden.len());
    for ((est, &(score, mean, ci, p)), system) in ours.iter().zip(golden).zip(SYSTEMS) {
        let ctx =
            format!("{metric} {system}: ours {est:?}, sacreBLEU ({score}, {mean}, {ci}, {p:?})");
        assert!((est.score - score).abs() < 0.01, "score: {ctx}");
        assert!((est.mean - mean).abs() < 0.01, "mean: {ctx}");
        assert!((est.ci - ci).abs() < 0.01, "ci: {ctx}");
        match (est.p_value, p) {
            (None, None) => {}
            (Some(a), Some(b)) => assert!((a - b).abs() < 0.005, "p: {ctx}"),
            _ => panic!("p-value presence differs: {ctx}"),
        }
    }
}
