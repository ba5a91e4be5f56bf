//! Choosing among a sentence's translations: the retry attempt that fails
//! fewest checks, the minimum Bayes risk candidate, and cleaning a
//! model's raw answer.

use crate::guard::Failure;

/// The retry attempt to keep, given each attempt's [`retry_key`] and
/// confidence: the one whose checks fail least; among those, the one with
/// the fewest numbers that are not in the source (an invented number is a
/// sign of invented content, but not a failure on its own: dates and
/// numbers in words legitimately come out as other digits); then the most
/// confident; then the earliest, which is the greedy attempt.
pub(crate) fn retry_choice(keys: &[((usize, usize), Option<f64>)]) -> usize {
    (0..keys.len())
        .min_by(|&a, &b| {
            let (ka, ca) = keys[a];
            let (kb, cb) = keys[b];
            ka.cmp(&kb)
                .then(cb.partial_cmp(&ca).unwrap_or(std::cmp::Ordering::Equal))
        })
        .unwrap_or(0)
}

/// What [`retry_choice`] minimizes: the failures' severity, then the
/// count of numbers in `text` that are not in `source`. `(0, 0)` cannot be
/// beaten.
pub(crate) fn retry_key(source: &str, text: &str, failures: &[Failure]) -> (usize, usize) {
    let known = tarjoman_text::numbers::extract_numbers(source);
    let invented = tarjoman_text::numbers::extract_numbers(text)
        .into_iter()
        .filter(|n| !known.contains(n))
        .count();
    (severity(failures), invented)
}

/// The candidate with the highest mean chrF against the others (minimum
/// Bayes risk); the first on ties, so greedy wins when all agree.
pub(crate) fn mbr_choice(candidates: &[&str]) -> usize {
    if candidates.len() < 2 {
        return 0;
    }
    let mut best = (0, f64::NEG_INFINITY);
    for (i, hyp) in candidates.iter().enumerate() {
        let utility: f64 = candidates
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, other)| {
                tarjoman_eval::chrf::sentence_chrf(hyp, &[*other]).map_or(0.0, |s| s.score)
            })
            .sum();
        if utility > best.1 {
            best = (i, utility);
        }
    }
    best.0
}

/// How bad a set of failures is, for choosing between attempts: output in
/// the wrong language or looping outweighs a missing detail.
pub(crate) fn severity(failures: &[Failure]) -> usize {
    failures
        .iter()
        .map(|f| match f {
            Failure::Empty | Failure::CopiedSource | Failure::Repetition(_) => 10,
            Failure::WrongScript | Failure::TooLong | Failure::TooShort | Failure::EchoedNote => 5,
            Failure::Cut => 3,
            Failure::MissingNumber(_) | Failure::MissingName(_) | Failure::MissingTerm { .. } => 2,
        })
        .sum()
}

/// Makes the model's answer one clean line: drops a leading `English:`-style
/// label a prompted model may echo (`label`: the prompt's), and joins
/// lines.
pub(crate) fn clean_output(raw: &str, label: Option<&str>) -> String {
    let mut text = raw.trim();
    if let Some(label) = label {
        for prefix in [label, "Translation", "English translation"] {
            if let Some(rest) = text.strip_prefix(prefix) {
                if let Some(rest) = rest.trim_start().strip_prefix(':') {
                    text = rest.trim_start();
                }
            }
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::StopReason;
    use crate::guard::diagnose;

    #[test]
    fn retries_keep_the_attempt_that_fails_least_then_invents_least() {
        let source = "مجاهد روز شنبه ۱۷ آبان گفت ۵۰ نفر کشته شدند.";
        let texts = [
            "Mujahid said on Saturday that 50 people were killed.",
            "Mujahid said on 17 October 1993 that 50 people were killed.",
            "Mujahid said on Saturday 17 Aban that 50 people were killed.",
            "Mujahid said on the 17th that 50 people died.",
        ];
        let failures: Vec<Vec<Failure>> = texts
            .iter()
            .map(|t| diagnose(source, t, StopReason::Eos, &[]))
            .collect();
        assert_eq!(failures[0], [Failure::MissingNumber("17".into())]);
        let failures: Vec<&[Failure]> = failures.iter().map(|f| &f[..]).collect();
        // 2 passes every check and adds no number: nothing after it can
        // be chosen over it, so the attempts after it are stopped.
        assert_eq!(retry_key(source, texts[2], failures[2]), (0, 0));
        assert_ne!(retry_key(source, texts[1], failures[1]), (0, 0));
        // 1, 2 and 3 keep every number; 1 adds 1993, 2 and 3 add nothing.
        // With equal confidence, 2 comes first; a more confident 3 wins.
        let keys = |conf: [Option<f64>; 4]| -> Vec<_> {
            (0..4)
                .map(|i| (retry_key(source, texts[i], failures[i]), conf[i]))
                .collect()
        };
        let same = keys([Some(0.5); 4]);
        assert_eq!(retry_choice(&same), 2);
        assert_eq!(retry_choice(&same[..2]), 1);
        assert_eq!(retry_choice(&same[..1]), 0);
        assert_eq!(retry_choice(&keys([None; 4])), 2);
        let surer = keys([Some(0.9), Some(0.9), Some(0.3), Some(0.6)]);
        assert_eq!(retry_choice(&surer), 3);
        // Confidence never outweighs a failed check.
        assert_eq!(retry_choice(&surer[..2]), 1);
    }

    #[test]
    fn mbr_keeps_the_consensus_and_prefers_the_first_on_ties() {
        let c = [
            "The talks ended.",
            "The talks in Istanbul ended without agreement.",
            "Talks in Istanbul ended without an agreement.",
            "The talks in Istanbul ended with no agreement.",
        ];
        assert_eq!(mbr_choice(&c), 1);
        assert_eq!(mbr_choice(&["same", "same", "same"]), 0);
        assert_eq!(mbr_choice(&["only"]), 0);
    }

    #[test]
    fn clean_output_strips_labels_and_joins_lines() {
        assert_eq!(
            clean_output(" English: Hello\n world ", Some("English")),
            "Hello world"
        );
        assert_eq!(clean_output("Translation: Hi", Some("English")), "Hi");
        assert_eq!(
            clean_output("Englishmen came.", Some("English")),
            "Englishmen came."
        );
        // An encoder-decoder model's output has no label to drop.
        assert_eq!(clean_output("Translation: Hi\n", None), "Translation: Hi");
    }
}
