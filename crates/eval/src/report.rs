//! A comparison report of several systems on one test set: corpus metrics
//! with paired-bootstrap confidence intervals and p-values against the first
//! system (sacreBLEU's `--paired-bs`, see [`crate::bootstrap`]), the
//! distribution of sentence-level chrF, and the lines where the first system
//! does worst, side by side with the source and the reference.
//!
//! [`Report::build`] computes; [`Report::markdown`] and [`Report::html`]
//! render. The HTML is one self-contained file: inline CSS, inline SVG charts
//! drawn here, no script and no external resource, so it opens offline and
//! can be mailed around. Every piece of input text is HTML-escaped.

use std::fmt::Write as _;

use crate::bootstrap::{
    paired_bootstrap, BootstrapConfig, Estimate, MeanOf, MetricResample, Resample,
};
use crate::rouge::{Rouge, RougeType};
use crate::{BleuConfig, ChrfConfig, CorpusMetric, Error, Result, TerConfig};

mod html;

pub use html::esc;

/// Significance threshold for the `*` marks, as sacreBLEU's table.
pub const SIGNIFICANCE: f64 = 0.05;

/// What to compute and how to label it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub title: String,
    /// Shown in the header, e.g. the reference file's name.
    pub reference_label: String,
    /// Shown in the header when a source is given.
    pub source_label: Option<String>,
    pub bootstrap: BootstrapConfig,
    /// How many lines to list, worst first by the first system's sentence
    /// chrF.
    pub worst_lines: usize,
    /// Each line is a summary: also score ROUGE-1, ROUGE-2 and ROUGE-Lsum
    /// with Porter stemming (rouge-score's `use_stemmer=True`), a tab
    /// inside a line separating its sentences (ROUGE-Lsum's unit; a tab is
    /// whitespace to the other ROUGE types).
    pub summaries: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: "Evaluation report".to_string(),
            reference_label: "reference".to_string(),
            source_label: None,
            bootstrap: BootstrapConfig::default(),
            worst_lines: 20,
            summaries: false,
        }
    }
}

/// One system's output: its name and one hypothesis per line.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemOutput {
    pub name: String,
    pub hyps: Vec<String>,
}

/// One metric over all systems.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// As sacreBLEU names it (`BLEU`, `chrF2`, `chrF2++`, `TER`), or
    /// `ROUGE-L`.
    pub name: String,
    /// The signature, with the bootstrap's `bs:` and `seed:`.
    pub signature: String,
    /// TER counts edits: lower is better.
    pub lower_is_better: bool,
    /// One per system, in the order given.
    pub estimates: Vec<Estimate>,
}

/// One line of the test set, as listed in the worst-lines table.
#[derive(Debug, Clone, PartialEq)]
pub struct LineExample {
    /// 0-based line index.
    pub line: usize,
    pub source: Option<String>,
    pub reference: String,
    /// One per system.
    pub hyps: Vec<String>,
    /// Sentence chrF of each system.
    pub chrf: Vec<f64>,
}

/// The computed report; render it with [`Report::markdown`] or
/// [`Report::html`].
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub title: String,
    pub reference_label: String,
    pub source_label: Option<String>,
    /// Number of lines in the test set.
    pub lines: usize,
    /// System names; the first is the baseline of the p-values.
    pub systems: Vec<String>,
    pub bootstrap: BootstrapConfig,
    pub metrics: Vec<MetricResult>,
    /// `sentence_chrf[s][i]`: chrF2 of system `s` on line `i`, 0-100.
    pub sentence_chrf: Vec<Vec<f64>>,
    /// The lines where the first system's sentence chrF is lowest, worst
    /// first.
    pub worst: Vec<LineExample>,
    /// Per system, the translator's own confidence in each line (0-1),
    /// where its run recorded one ([`Report::set_confidence`]).
    pub confidence: Vec<Option<Vec<f64>>>,
}

impl Report {
    /// Scores every system with BLEU, chrF2, chrF2++, TER and ROUGE-L (mean
    /// F1 x 100, no stemming), runs the paired bootstrap against the first
    /// system, and picks the worst lines.
    ///
    /// `refs` holds reference streams (`refs[k][i]`); the first is the one
    /// shown. Errors: no system or no line ([`Error::EmptyCorpus`]), no
    /// reference, or a system, reference stream or source whose line count
    /// differs from the first reference stream's
    /// ([`Error::LineCountMismatch`]).
    pub fn build(
        systems: &[SystemOutput],
        refs: &[Vec<String>],
        source: Option<&[String]>,
        options: &ReportOptions,
    ) -> Result<Report> {
        let Some(first_ref) = refs.first() else {
            return Err(Error::NoReferences);
        };
        let n = first_ref.len();
        if systems.is_empty() || n == 0 {
            return Err(Error::EmptyCorpus);
        }
        let mismatch = |what: String, found: usize| Error::LineCountMismatch {
            what,
            expected: n,
            found,
        };
        for system in systems {
            if system.hyps.len() != n {
                return Err(mismatch(
                    format!("system {:?}", system.name),
                    system.hyps.len(),
                ));
            }
        }
        if let Some(source) = source {
            if source.len() != n {
                return Err(mismatch("the source".to_string(), source.len()));
            }
        }
        let nrefs = refs.len();
        let cfg = &options.bootstrap;

        let bleu = BleuConfig::default();
        let chrf = ChrfConfig::default();
        let chrf_pp = ChrfConfig::plus_plus();
        let ter = TerConfig::default();

        let chrf_stats: Vec<_> = systems
            .iter()
            .map(|s| chrf.segment_stats(&s.hyps, refs))
            .collect::<Result<_>>()?;
        let sentence_chrf: Vec<Vec<f64>> = chrf_stats
            .iter()
            .map(|stats| {
                stats
                    .iter()
                    .map(|line| chrf.score_from_stats(line, nrefs).score)
                    .collect()
            })
            .collect();

        let mut metrics = Vec::new();
        metrics.push(MetricResult {
            name: "BLEU".to_string(),
            signature: bleu
                .signature(nrefs)
                .with_bootstrap(cfg.samples, cfg.seed)
                .to_string(),
            lower_is_better: false,
            estimates: resample_metric(&bleu, systems, refs, cfg)?,
        });
        let chrf_systems: Vec<MetricResample<ChrfConfig>> = chrf_stats
            .into_iter()
            .map(|stats| MetricResample::new(chrf, stats, nrefs))
            .collect();
        metrics.push(MetricResult {
            name: chrf.name(),
            signature: chrf
                .signature(nrefs)
                .with_bootstrap(cfg.samples, cfg.seed)
                .to_string(),
            lower_is_better: false,
            estimates: run_bootstrap(&chrf_systems, cfg)?,
        });
        metrics.push(MetricResult {
            name: chrf_pp.name(),
            signature: chrf_pp
                .signature(nrefs)
                .with_bootstrap(cfg.samples, cfg.seed)
                .to_string(),
            lower_is_better: false,
            estimates: resample_metric(&chrf_pp, systems, refs, cfg)?,
        });
        metrics.push(MetricResult {
            name: "TER".to_string(),
            signature: ter
                .signature(nrefs)
                .with_bootstrap(cfg.samples, cfg.seed)
                .to_string(),
            lower_is_better: true,
            estimates: resample_metric(&ter, systems, refs, cfg)?,
        });
        let rouge = Rouge::new(false);
        let rouge_systems: Vec<MeanOf> = systems
            .iter()
            .map(|s| {
                let corpus = rouge.corpus(&s.hyps, refs)?;
                Ok(MeanOf::new(corpus.sentence_f1(RougeType::RougeL), 100.0))
            })
            .collect::<Result<_>>()?;
        metrics.push(MetricResult {
            name: "ROUGE-L".to_string(),
            signature: rouge.bootstrap_signature(RougeType::RougeL, nrefs, cfg),
            lower_is_better: false,
            estimates: run_bootstrap(&rouge_systems, cfg)?,
        });
        if options.summaries {
            let stemmed = Rouge::new(true);
            let lines =
                |v: &[String]| -> Vec<String> { v.iter().map(|l| l.replace('\t', "\n")).collect() };
            let split_refs: Vec<Vec<String>> = refs.iter().map(|r| lines(r)).collect();
            let corpora = systems
                .iter()
                .map(|s| stemmed.corpus(&lines(&s.hyps), &split_refs))
                .collect::<Result<Vec<_>>>()?;
            for (rouge_type, name) in [
                (RougeType::Rouge1, "ROUGE-1"),
                (RougeType::Rouge2, "ROUGE-2"),
                (RougeType::RougeLsum, "ROUGE-Lsum"),
            ] {
                let means: Vec<MeanOf> = corpora
                    .iter()
                    .map(|c| MeanOf::new(c.sentence_f1(rouge_type), 100.0))
                    .collect();
                metrics.push(MetricResult {
                    name: name.to_string(),
                    signature: stemmed.bootstrap_signature(rouge_type, nrefs, cfg),
                    lower_is_better: false,
                    estimates: run_bootstrap(&means, cfg)?,
                });
            }
        }

        let mut order: Vec<usize> = (0..n).collect();
        // Worst first; ties keep file order. Sentence chrF is never NaN.
        order.sort_by(|&a, &b| sentence_chrf[0][a].total_cmp(&sentence_chrf[0][b]));
        let worst = order
            .into_iter()
            .take(options.worst_lines)
            .map(|i| LineExample {
                line: i,
                source: source.map(|s| s[i].clone()),
                reference: first_ref[i].clone(),
                hyps: systems.iter().map(|s| s.hyps[i].clone()).collect(),
                chrf: sentence_chrf.iter().map(|s| s[i]).collect(),
            })
            .collect();

        Ok(Report {
            title: options.title.clone(),
            reference_label: options.reference_label.clone(),
            source_label: options.source_label.clone(),
            lines: n,
            systems: systems.iter().map(|s| s.name.clone()).collect(),
            bootstrap: *cfg,
            metrics,
            sentence_chrf,
            worst,
            confidence: vec![None; systems.len()],
        })
    }

    /// Attaches system `system`'s per-line confidence (0-1): the HTML page
    /// then colors its lines by it and shows how well it ranks the lines'
    /// sentence chrF2. Errors if the count differs from the test set's.
    pub fn set_confidence(&mut self, system: usize, values: Vec<f64>) -> Result<()> {
        if values.len() != self.lines {
            return Err(Error::LineCountMismatch {
                what: format!(
                    "the confidence of {}",
                    self.systems.get(system).map_or("?", |s| s)
                ),
                expected: self.lines,
                found: values.len(),
            });
        }
        if let Some(slot) = self.confidence.get_mut(system) {
            *slot = Some(values);
        }
        Ok(())
    }

    /// Per system with a confidence: Spearman's and Pearson's correlation
    /// of confidence with sentence chrF2, and the mean sentence chrF2 of
    /// the least confident fifth of lines against the rest.
    pub fn confidence_agreement(&self) -> Vec<Option<[f64; 4]>> {
        use crate::correlation::{lowest_fraction_gap, pearson, spearman};
        self.confidence
            .iter()
            .zip(&self.sentence_chrf)
            .map(|(conf, chrf)| {
                let conf = conf.as_ref()?;
                let (low, rest) = lowest_fraction_gap(conf, chrf, 0.2)?;
                Some([spearman(conf, chrf)?, pearson(conf, chrf)?, low, rest])
            })
            .collect()
    }

    /// The metric table as GitHub-flavored Markdown: `score (mean ± CI)`
    /// per system and metric, and `p = ...` against the first system, with
    /// `*` where p < 0.05; then the signatures.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {}\n", md_escape(&self.title));
        let _ = writeln!(out, "{}\n", md_escape(&self.summary()));
        out.push_str("| System |");
        for metric in &self.metrics {
            let _ = write!(out, " {} |", metric_heading(metric));
        }
        out.push_str("\n|---|");
        for _ in &self.metrics {
            out.push_str("---:|");
        }
        out.push('\n');
        for (s, system) in self.systems.iter().enumerate() {
            let label = if s == 0 {
                format!("{} (baseline)", md_escape(system))
            } else {
                md_escape(system)
            };
            let _ = write!(out, "| {label} |");
            for metric in &self.metrics {
                let e = &metric.estimates[s];
                let _ = write!(out, " {}", format_estimate(e));
                if let Some(p) = e.p_value {
                    let _ = write!(out, ", {}", format_p(p));
                }
                out.push_str(" |");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\nScores: corpus score (bootstrap mean ± half-width of the 95% confidence \
             interval). p: paired bootstrap against {}; * marks p < {SIGNIFICANCE}. \
             ROUGE-L is the mean line F1 x 100.\n",
            md_escape(&self.systems[0])
        );
        let agreement = self.confidence_agreement();
        if agreement.iter().any(Option::is_some) {
            out.push_str(
                "| System | confidence: Spearman | Pearson | least confident fifth | the rest |\n\
                 |---|---:|---:|---:|---:|\n",
            );
            for (s, a) in agreement.iter().enumerate() {
                if let Some([rho, r, low, rest]) = a {
                    let _ = writeln!(
                        out,
                        "| {} | {rho:.3} | {r:.3} | {low:.2} | {rest:.2} |",
                        md_escape(&self.systems[s])
                    );
                }
            }
            out.push_str(
                "\nConfidence: each system's own per-line confidence against its sentence \
                 chrF2 (correlations; mean sentence chrF2 of the least confident fifth of lines \
                 and of the rest).\n\n",
            );
        }
        out.push_str("Signatures:\n\n");
        for metric in &self.metrics {
            let _ = writeln!(out, "- {}: `{}`", metric.name, metric.signature);
        }
        out
    }

    fn summary(&self) -> String {
        let mut s = format!("{} lines; reference: {}", self.lines, self.reference_label);
        if let Some(source) = &self.source_label {
            let _ = write!(s, "; source: {source}");
        }
        let _ = write!(
            s,
            "; paired bootstrap with {} resamples (seed {}), p-values against {}.",
            self.bootstrap.samples, self.bootstrap.seed, self.systems[0]
        );
        s
    }
}

fn resample_metric<M: CorpusMetric + Clone>(
    metric: &M,
    systems: &[SystemOutput],
    refs: &[Vec<String>],
    cfg: &BootstrapConfig,
) -> Result<Vec<Estimate>> {
    let resamples: Vec<MetricResample<M>> = systems
        .iter()
        .map(|s| {
            let stats = metric.segment_stats(&s.hyps, refs)?;
            Ok(MetricResample::new(metric.clone(), stats, refs.len()))
        })
        .collect::<Result<_>>()?;
    run_bootstrap(&resamples, cfg)
}

fn run_bootstrap<R: Resample>(systems: &[R], cfg: &BootstrapConfig) -> Result<Vec<Estimate>> {
    let systems: Vec<&dyn Resample> = systems.iter().map(|s| s as &dyn Resample).collect();
    paired_bootstrap(&systems, cfg)
}

fn metric_heading(metric: &MetricResult) -> String {
    if metric.lower_is_better {
        format!("{} ↓", metric.name)
    } else {
        metric.name.clone()
    }
}

/// `score (mean ± ci)`, two decimals.
fn format_estimate(e: &Estimate) -> String {
    format!("{:.2} ({:.2} ± {:.2})", e.score, e.mean, e.ci)
}

/// `p = 0.0010*` like sacreBLEU's table.
fn format_p(p: f64) -> String {
    format!("p = {p:.4}{}", if p < SIGNIFICANCE { "*" } else { "" })
}

/// Keeps a name from breaking a Markdown table or adding markup.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '|' | '\\' | '*' | '_' | '`' | '<' | '>' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_names_cannot_break_the_table() {
        assert_eq!(md_escape("a|b_c"), "a\\|b\\_c");
    }
}
