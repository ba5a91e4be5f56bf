//! The HTML report for two systems: charts, right-to-left source cells,
//! escaping, and nothing fetched from the network.

use std::path::Path;

use tarjoman_eval::report::{Report, ReportOptions, SystemOutput};
use tarjoman_eval::Error;

fn lines(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rouge")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

const HOSTILE: &str = r#"<script>alert("x")</script> & <img src=x onerror=1>"#;

fn two_systems() -> (Report, Vec<String>) {
    let refs = lines("ref.en");
    let source = lines("src.fa");
    let mut first = lines("hyp.dropped");
    // Nothing in common with the reference: the worst line of the first
    // system, so it must show up (escaped) in the worst-lines table.
    first[7] = HOSTILE.to_string();
    let systems = vec![
        SystemOutput {
            name: "dropped <b>&</b>".to_string(),
            hyps: first,
        },
        SystemOutput {
            name: "shuffled".to_string(),
            hyps: lines("hyp.shuffled"),
        },
    ];
    let options = ReportOptions {
        reference_label: "ref.en".to_string(),
        source_label: Some("src.fa".to_string()),
        ..ReportOptions::default()
    };
    let report = Report::build(&systems, &[refs], Some(&source), &options).expect("report");
    (report, source)
}

#[test]
fn html_has_plots_rtl_source_and_escaped_text() {
    let (report, source) = two_systems();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("report.html");
    std::fs::write(&path, report.html()).expect("write");
    let html = std::fs::read_to_string(&path).expect("read back");

    // One bar chart per metric plus the histogram, all inline SVG.
    assert_eq!(html.matches("<svg").count(), report.metrics.len() + 1);
    assert_eq!(report.metrics.len(), 5);
    assert!(html.contains("aria-label=\"Histogram of sentence-level chrF2 per system\""));
    for metric in ["BLEU", "chrF2", "chrF2++", "TER", "ROUGE-L"] {
        assert!(
            html.contains(&format!("aria-label=\"{metric} per system\"")),
            "{metric}"
        );
    }
    // Whiskers: one per system per metric.
    assert_eq!(html.matches("<g class=\"whisker\">").count(), 2 * 5);

    // Worst lines, source right to left.
    assert_eq!(report.worst.len(), 20);
    assert_eq!(report.worst[0].line, 7);
    let rtl_cells = html
        .matches("<td class=\"src\" dir=\"rtl\" lang=\"fa\">")
        .count();
    assert_eq!(rtl_cells, 20);
    let persian = &source[report.worst[1].line];
    assert!(!persian.is_empty());
    assert!(
        html.contains(persian.as_str()),
        "source line {persian:?} missing"
    );

    // Escaped text, never raw markup from the input.
    assert!(!html.contains("<script"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>&</b>"));
    assert!(html.contains(
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=1&gt;"
    ));
    assert!(html.contains("dropped &lt;b&gt;&amp;&lt;/b&gt;"));

    // Self-contained: `http` only in SVG namespace declarations, no
    // external resource of any kind.
    let without_xmlns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !without_xmlns.contains("http"),
        "external URL in the report"
    );
    for needle in ["<link", "<script", "url(", "@import", "src=\"", "href=\""] {
        assert!(!without_xmlns.contains(needle), "found {needle:?}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn markdown_table_has_ci_and_p_values() {
    let (report, _) = two_systems();
    let md = report.markdown();
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 3, "{md}");
    assert!(
        rows[0].contains("| BLEU | chrF2 | chrF2++ | TER ↓ | ROUGE-L |"),
        "{md}"
    );
    assert!(
        rows[1].starts_with("| dropped \\<b\\>&\\</b\\> (baseline) |"),
        "{md}"
    );
    assert!(!rows[1].contains("p = "));
    assert_eq!(rows[2].matches("p = ").count(), 5, "{md}");
    assert!(rows[2].contains('±'));
    assert!(md.contains("nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp"));
    // The numbers in the table are the report's.
    let bleu = &report.metrics[0].estimates[1];
    assert!(rows[2].contains(&format!(
        "{:.2} ({:.2} ± {:.2})",
        bleu.score, bleu.mean, bleu.ci
    )));
}

#[test]
fn misaligned_inputs_are_errors() {
    let refs = lines("ref.en");
    let mut short = lines("hyp.dropped");
    short.pop();
    let systems = vec![SystemOutput {
        name: "short".to_string(),
        hyps: short,
    }];
    let err = Report::build(
        &systems,
        std::slice::from_ref(&refs),
        None,
        &ReportOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LineCountMismatch {
                expected: 300,
                found: 299,
                ..
            }
        ),
        "{err}"
    );

    let systems = vec![SystemOutput {
        name: "ok".to_string(),
        hyps: refs.clone(),
    }];
    let source = vec!["یک".to_string()];
    let err =
        Report::build(&systems, &[refs], Some(&source), &ReportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("source"), "{err}");
    let err = Report::build(
        &[],
        &[vec!["a".to_string()]],
        None,
        &ReportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::EmptyCorpus), "{err}");
}

#[test]
fn summaries_add_stemmed_rouge_1_2_and_lsum_with_tab_separated_sentences() {
    use tarjoman_eval::rouge::{Rouge, RougeType};
    let refs = vec![
        "The talks ended.\tBoth sides left Istanbul.".to_string(),
        "Soldiers were killed near the border.".to_string(),
    ];
    let hyps = vec![
        "Both sides left Istanbul.\tThe talks ended.".to_string(),
        "Soldiers died at the border.".to_string(),
    ];
    let systems = vec![SystemOutput {
        name: "s".to_string(),
        hyps: hyps.clone(),
    }];
    let options = ReportOptions {
        summaries: true,
        ..ReportOptions::default()
    };
    let report =
        Report::build(&systems, std::slice::from_ref(&refs), None, &options).expect("report");
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.ends_with(&["ROUGE-L", "ROUGE-1", "ROUGE-2", "ROUGE-Lsum"]),
        "{names:?}"
    );
    let stemmed = Rouge::new(true);
    let split = |v: &[String]| -> Vec<String> { v.iter().map(|l| l.replace('\t', "\n")).collect() };
    let corpus = stemmed.corpus(&split(&hyps), &[split(&refs)]).unwrap();
    for (name, rouge_type) in [
        ("ROUGE-2", RougeType::Rouge2),
        ("ROUGE-Lsum", RougeType::RougeLsum),
    ] {
        let m = report.metrics.iter().find(|m| m.name == name).unwrap();
        let f1 = corpus.sentence_f1(rouge_type);
        let expected = 100.0 * f1.iter().sum::<f64>() / f1.len() as f64;
        assert!((m.estimates[0].score - expected).abs() < 1e-9, "{name}");
    }
    // Sentence order matters to ROUGE-Lsum only through its sentences, so the
    // swapped first summary still matches its reference fully there.
    let lsum = corpus.sentence_f1(RougeType::RougeLsum)[0];
    assert!((lsum - 1.0).abs() < 1e-9, "{lsum}");
}

#[test]
fn a_systems_confidence_shades_its_lines_and_is_scored_against_sentence_chrf() {
    let (mut report, _) = two_systems();
    let plain = report.html();
    assert!(!plain.contains("<h2>Confidence</h2>"));
    // A confidence that is the sentence chrF itself ranks lines perfectly.
    let conf: Vec<f64> = report.sentence_chrf[0].iter().map(|c| c / 100.0).collect();
    let short = conf[..conf.len() - 1].to_vec();
    assert!(matches!(
        report.set_confidence(0, short),
        Err(Error::LineCountMismatch { .. })
    ));
    report
        .set_confidence(0, conf.clone())
        .expect("one per line");
    let agreement = report.confidence_agreement();
    let [rho, r, low, rest] = agreement[0].expect("system 0 has a confidence");
    assert!(
        (rho - 1.0).abs() < 1e-9 && (r - 1.0).abs() < 1e-9,
        "{rho} {r}"
    );
    assert!(low < rest);
    assert!(agreement[1].is_none());
    let html = report.html();
    assert!(html.contains("<h2>Confidence</h2>"));
    let worst = &report.worst[0];
    let shade = format!("hsl({}, 70%, 90%)", (conf[worst.line] * 120.0).round());
    assert!(html.contains(&shade), "the worst line is shaded {shade}");
    assert!(html.contains(&format!("confidence {:.2}", conf[worst.line])));
    assert!(report.markdown().contains("| confidence: Spearman |"));
}
