//! Error handling, file reading and invariants; the numbers for empty lines,
//! Persian, emoji and long lines are checked against sacreBLEU in golden.rs.

use std::path::Path;

use tarjoman_eval::{
    check_aligned, corpus_bleu, corpus_chrf, corpus_chrf_pp, corpus_ter, read_lines, sentence_bleu,
    sentence_chrf, sentence_chrf_pp, sentence_ter, sum, BleuConfig, ChrfConfig, CorpusMetric,
    Error, Metric, TerConfig,
};

fn tico_lines(n: usize) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/tico19/test.en");
    let mut lines = read_lines(&path).unwrap_or_else(|e| panic!("{e}"));
    lines.truncate(n);
    lines
}

#[test]
fn empty_corpus_is_an_error() {
    let hyps: Vec<String> = Vec::new();
    let refs: Vec<Vec<String>> = vec![Vec::new()];
    for result in [
        corpus_bleu(&hyps, &refs),
        corpus_chrf(&hyps, &refs),
        corpus_chrf_pp(&hyps, &refs),
        corpus_ter(&hyps, &refs),
    ] {
        assert!(matches!(result, Err(Error::EmptyCorpus)), "{result:?}");
    }
}

#[test]
fn missing_references_are_an_error() {
    let none: Vec<Vec<&str>> = Vec::new();
    assert!(matches!(
        corpus_bleu(&["a"], &none),
        Err(Error::NoReferences)
    ));
    assert!(matches!(
        corpus_ter(&["a"], &none),
        Err(Error::NoReferences)
    ));
    let no_refs: [&str; 0] = [];
    assert!(matches!(
        sentence_bleu("a", &no_refs),
        Err(Error::NoReferences)
    ));
    assert!(matches!(
        sentence_chrf("a", &no_refs),
        Err(Error::NoReferences)
    ));
    assert!(matches!(
        sentence_ter("a", &no_refs),
        Err(Error::NoReferences)
    ));
}

#[test]
fn misaligned_reference_set_names_it() {
    let hyps = ["a", "b", "c"];
    let refs = vec![vec!["a", "b", "c"], vec!["a", "b"]];
    let err = corpus_chrf(&hyps, &refs).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LineCountMismatch {
                expected: 3,
                found: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "reference set 2 has 2 lines, expected 3 (one per hypothesis)"
    );
}

#[test]
fn misaligned_files_name_both_files_and_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hyp = dir.path().join("hyp.txt");
    let reference = dir.path().join("ref.txt");
    std::fs::write(&hyp, "one\ntwo\n").expect("write");
    std::fs::write(&reference, "one\ntwo\nthree").expect("write");
    let (h, r) = (
        read_lines(&hyp).expect("hyp"),
        read_lines(&reference).expect("ref"),
    );
    let err = check_aligned(&hyp, h.len(), &reference, r.len()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&hyp.display().to_string()), "{msg}");
    assert!(msg.contains(&reference.display().to_string()), "{msg}");
    assert!(
        msg.contains("has 2 lines") && msg.contains("has 3"),
        "{msg}"
    );
}

#[test]
fn crlf_and_final_newline_do_not_change_scores() {
    let lines = tico_lines(40);
    let dir = tempfile::tempdir().expect("temp dir");
    let lf = dir.path().join("lf.txt");
    let crlf = dir.path().join("crlf.txt");
    let bare = dir.path().join("no_final_newline.txt");
    std::fs::write(&lf, lines.join("\n") + "\n").expect("write");
    std::fs::write(&crlf, "\u{feff}".to_string() + &lines.join("\r\n") + "\r\n").expect("write");
    std::fs::write(&bare, lines.join("\n")).expect("write");
    let refs = vec![tico_lines(40).into_iter().rev().collect::<Vec<_>>()];
    let expected: Vec<f64> = {
        let hyps = read_lines(&lf).expect("lf");
        assert_eq!(hyps, lines);
        vec![
            corpus_bleu(&hyps, &refs).expect("bleu").score,
            corpus_chrf_pp(&hyps, &refs).expect("chrf++").score,
            corpus_ter(&hyps, &refs).expect("ter").score,
        ]
    };
    for path in [&crlf, &bare] {
        let hyps = read_lines(path).expect("read");
        assert_eq!(hyps.len(), 40, "{}", path.display());
        let got = vec![
            corpus_bleu(&hyps, &refs).expect("bleu").score,
            corpus_chrf_pp(&hyps, &refs).expect("chrf++").score,
            corpus_ter(&hyps, &refs).expect("ter").score,
        ];
        assert_eq!(got, expected, "{}", path.display());
    }
}

#[test]
fn very_long_identical_lines_score_perfectly() {
    // ~100k characters, ~17k words: TER must not blow up on one huge segment.
    let line = tico_lines(2100)
        .join(" ")
        .chars()
        .take(100_000)
        .collect::<String>();
    let refs = [line.as_str()];
    let ter = sentence_ter(&line, &refs).expect("ter");
    assert_eq!(ter.score, 0.0);
    assert_eq!(ter.ter().expect("details").num_edits, 0);
    assert!(ter.ter().expect("details").ref_length > 15_000.0);
    assert_eq!(sentence_chrf(&line, &refs).expect("chrf").score, 100.0);
    let bleu = sentence_bleu(&line, &refs).expect("bleu");
    assert!((bleu.score - 100.0).abs() < 1e-9, "{bleu}");
}

#[test]
fn segment_statistics_add_up_to_corpus_scores() {
    // What bootstrap resampling relies on: a segment's statistics do not
    // depend on the rest of the corpus, so any sum of them is a corpus.
    let refs = vec![tico_lines(60)];
    let hyps: Vec<String> = refs[0]
        .iter()
        .map(|l| l.to_lowercase().replace("the ", ""))
        .collect();
    let (head_h, head_r) = (&hyps[..25], vec![refs[0][..25].to_vec()]);

    let bleu = BleuConfig::default();
    let stats = bleu.segment_stats(&hyps, &refs).expect("stats");
    let total = sum(&stats[..25]).expect("non-empty");
    assert_eq!(
        bleu.score_from_stats(&total, 1),
        bleu.corpus_score(head_h, &head_r).expect("bleu")
    );

    let chrf = ChrfConfig::plus_plus();
    let stats = chrf.segment_stats(&hyps, &refs).expect("stats");
    let total = sum(&stats[..25]).expect("non-empty");
    assert_eq!(
        chrf.score_from_stats(&total, 1),
        chrf.corpus_score(head_h, &head_r).expect("chrf")
    );

    let ter = TerConfig::default();
    let stats = ter.segment_stats(&hyps, &refs).expect("stats");
    let total = sum(&stats[..25]).expect("non-empty");
    assert_eq!(
        ter.score_from_stats(&total, 1),
        ter.corpus_score(head_h, &head_r).expect("ter")
    );
}

#[test]
fn convenience_functions_use_sacrebleu_defaults() {
    let hyps = ["The cat sat on the mat."];
    let refs = vec![vec!["The cat is on the mat."]];
    let sig = |s: tarjoman_eval::Score| (s.name, s.signature);
    let v = tarjoman_eval::SACREBLEU_VERSION;
    assert_eq!(
        sig(corpus_bleu(&hyps, &refs).expect("bleu")),
        (
            "BLEU".into(),
            format!("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{v}")
        )
    );
    assert_eq!(
        sig(sentence_bleu(hyps[0], &refs[0]).expect("bleu")),
        (
            "BLEU".into(),
            format!("nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:{v}")
        )
    );
    let chrf = format!("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{v}");
    let chrf_pp = format!("nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:{v}");
    assert_eq!(
        sig(corpus_chrf(&hyps, &refs).expect("chrf")),
        ("chrF2".into(), chrf.clone())
    );
    assert_eq!(
        sig(sentence_chrf(hyps[0], &refs[0]).expect("chrf")),
        ("chrF2".into(), chrf)
    );
    assert_eq!(
        sig(corpus_chrf_pp(&hyps, &refs).expect("chrf++")),
        ("chrF2++".into(), chrf_pp.clone())
    );
    assert_eq!(
        sig(sentence_chrf_pp(hyps[0], &refs[0]).expect("chrf++")),
        ("chrF2++".into(), chrf_pp)
    );
    let ter = format!("nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:{v}");
    assert_eq!(
        sig(corpus_ter(&hyps, &refs).expect("ter")),
        ("TER".into(), ter.clone())
    );
    assert_eq!(
        sig(sentence_ter(hyps[0], &refs[0]).expect("ter")),
        ("TER".into(), ter)
    );
}

#[test]
fn metric_names_parse() {
    for metric in Metric::ALL {
        assert_eq!(metric.name().parse::<Metric>().expect("parses"), metric);
    }
    assert_eq!(
        "chrF2++".parse::<Metric>().expect("parses"),
        Metric::ChrfPlusPlus
    );
    assert!(matches!(
        "meteor".parse::<Metric>(),
        Err(Error::UnknownMetric(_))
    ));
    let chrf_pp = corpus_chrf_pp(&["a"], &[vec!["a"]]).expect("chrf++");
    assert_eq!(chrf_pp.metric(), Some(Metric::ChrfPlusPlus));
}
