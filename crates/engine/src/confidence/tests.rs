use super::*;

fn signals(source: &str, translation: &str, logprobs: &[f32]) -> Signals {
    Signals::new(source, translation, logprobs, 0, 0, 0, false)
}

#[test]
fn signals_count_numbers_kept_missing_and_added() {
    let s = signals(
        "۲۳ سرباز و ۵ غیرنظامی کشته شدند.",
        "23 soldiers and 7 civilians were killed.",
        &[-0.5, -1.5, -0.1],
    );
    assert_eq!((s.numbers, s.numbers_missing, s.numbers_added), (2, 1, 1));
    assert_eq!(s.tokens, 3);
    assert!((s.mean_logprob().unwrap() + 0.7).abs() < 1e-6);
    assert!((s.logprob_min + 1.5).abs() < 1e-6);
}

#[test]
fn pooled_signals_add_up_and_keep_the_lowest_probability() {
    let a = signals("یک.", "One.", &[-0.2, -3.0]);
    let b = Signals::new("دو.", "Two.", &[-0.4], 2, 1, 1, true);
    let p = Signals::pool([&a, &b]).unwrap();
    assert_eq!(p.tokens, 3);
    assert_eq!(p.sentences, 2);
    assert_eq!(
        (p.names, p.names_missing, p.failures, p.retried),
        (2, 1, 1, 1)
    );
    assert!((p.logprob_min + 3.0).abs() < 1e-6);
    assert!(Signals::pool(std::iter::empty()).is_none());
    // A sentence without token probabilities (beam search) does not set
    // the lowest one.
    let none = signals("سه.", "Three.", &[]);
    assert!((Signals::pool([&none, &a]).unwrap().logprob_min + 3.0).abs() < 1e-6);
}

#[test]
fn the_builtin_calibration_reads_and_weighs_this_builds_features() {
    let c = Calibration::builtin().expect("calibration.json is valid");
    assert_eq!(c.features, FEATURES);
    assert!(c.threshold > 0.0 && c.threshold < 100.0);
    let bad = CALIBRATION.replace("\"retried\"", "\"retries\"");
    assert!(Calibration::parse(&bad).unwrap_err().contains("weighs"));
}

/// Confidence of a sentence that is like the fitted data's typical one,
/// with `change` applied to its signals.
fn confidence_with(change: impl Fn(&mut Signals)) -> f64 {
    let mut s = signals(
        "این یک جمله‌ی معمولی خبری است که ترجمه شده است.",
        "This is an ordinary news sentence that has been translated.",
        &[-0.6; 12],
    );
    change(&mut s);
    Calibration::builtin().unwrap().confidence(&s)
}

/// Sets one signal of a sentence to a value.
type Setter = dyn Fn(&mut Signals, f64);

#[test]
fn the_calibration_is_monotone_in_every_signal_with_a_direction() {
    let base = confidence_with(|_| {});
    assert!((0.0..=1.0).contains(&base));
    // Step each signal through a range: the confidence moves one way only.
    let sweeps: [(&str, Box<Setter>, bool); 7] = [
        (
            "mean log-probability",
            Box::new(|s, v| s.logprob_sum = v * s.tokens as f64),
            true,
        ),
        (
            "lowest log-probability",
            Box::new(|s, v| s.logprob_min = v),
            true,
        ),
        (
            "missing numbers",
            Box::new(|s, v| s.numbers_missing = v as usize),
            false,
        ),
        (
            "added numbers",
            Box::new(|s, v| s.numbers_added = v as usize),
            false,
        ),
        (
            "missing names",
            Box::new(|s, v| s.names_missing = v as usize),
            false,
        ),
        (
            "failed checks",
            Box::new(|s, v| s.failures = v as usize),
            false,
        ),
        ("retries", Box::new(|s, v| s.retried = v as usize), false),
    ];
    for (name, set, rising) in &sweeps {
        let values: Vec<f64> = match *rising {
            true => (0..=20).map(|i| -10.0 + i as f64 * 0.5).collect(),
            false => (0..=5).map(f64::from).collect(),
        };
        let seen: Vec<f64> = values
            .iter()
            .map(|&v| confidence_with(|s| set(s, v)))
            .collect();
        for w in seen.windows(2) {
            match rising {
                true => assert!(w[1] >= w[0], "{name}: {seen:?}"),
                false => assert!(w[1] <= w[0], "{name}: {seen:?}"),
            }
        }
    }
}

#[test]
fn without_token_probabilities_the_fitted_mean_stands_in() {
    let c = Calibration::builtin().unwrap();
    let s = signals("یک.", "One.", &[]);
    assert_eq!(s.features()[0], None);
    let conf = c.confidence(&s);
    assert!(conf.is_finite() && (0.0..=1.0).contains(&conf));
}
