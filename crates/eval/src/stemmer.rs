//! The Porter stemmer exactly as NLTK's `PorterStemmer()` runs it in its
//! default `NLTK_EXTENSIONS` mode, which is what Google's `rouge-score` uses
//! for `use_stemmer=True`.
//!
//! Written by hand because no crate reproduces that mode: `rust-stemmers`
//! implements Snowball's Porter2 ("english"), a different algorithm
//! (`coronavirus` stays `coronavirus` there but is `coronaviru` here; 134 of
//! the 5,821 longer words of the TICO-19 test set stem differently), and the
//! crates that implement the 1980 paper miss NLTK's extensions (irregular
//! forms such as `dying` -> `die`, `ies`/`ied` on four-letter words, the
//! `alli` and `logi` rules, the two-letter `*o` condition, the
//! `(*c and not c) Y -> I` rule).
//! ROUGE scores with stemming only match `rouge-score` if every stem does.
//!
//! Algorithm: M.F. Porter, "An algorithm for suffix stripping", Program 14(3),
//! 1980, <https://tartarus.org/martin/PorterStemmer/>; the extensions follow
//! `nltk/stem/porter.py` (NLTK 3.x) rule by rule, in the same order, because
//! the first rule whose suffix matches decides even when its condition fails.
//! `tests/rouge_stemmer.rs` checks every word of the TICO-19 test set against
//! NLTK.

/// Stems one word. The word is lowercased first, as NLTK does.
///
/// ```
/// use tarjoman_eval::stemmer::stem;
/// assert_eq!(stem("caresses"), "caress");
/// assert_eq!(stem("dying"), "die");
/// assert_eq!(stem("generalizations"), "gener");
/// ```
pub fn stem(word: &str) -> String {
    let lower = word.to_lowercase();
    if let Some(irregular) = irregular_form(&lower) {
        return irregular.to_string();
    }
    let mut w: Vec<char> = lower.chars().collect();
    // NLTK (like Martin Porter's own implementations) leaves words of one or
    // two letters alone. It counts the length of the word as given.
    if word.chars().count() <= 2 {
        return lower;
    }
    w = step1a(w);
    w = step1b(w);
    w = step1c(w);
    w = step2(w);
    w = step3(w);
    w = step4(w);
    w = step5a(w);
    w = step5b(w);
    w.into_iter().collect()
}

/// NLTK's table of irregular forms ("errors drawn to Martin Porter's
/// attention over a 20 year period").
fn irregular_form(word: &str) -> Option<&'static str> {
    Some(match word {
        "sky" | "skies" => "sky",
        "dying" => "die",
        "lying" => "lie",
        "tying" => "tie",
        "news" => "news",
        "innings" | "inning" => "inning",
        "outings" | "outing" => "outing",
        "cannings" | "canning" => "canning",
        "howe" => "howe",
        "proceed" => "proceed",
        "exceed" => "exceed",
        "succeed" => "succeed",
        _ => return None,
    })
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// A letter other than a, e, i, o, u, and other than a `y` preceded by a
/// consonant. Resolved iteratively over runs of `y`, as NLTK does.
fn is_consonant(w: &[char], mut i: usize) -> bool {
    if is_vowel(w[i]) {
        return false;
    }
    if w[i] != 'y' {
        return true;
    }
    let mut negate = false;
    while i > 0 && w[i] == 'y' {
        negate = !negate;
        i -= 1;
    }
    // A consonant at the end of the run makes the `y` after it a vowel, and
    // so on, alternating.
    is_vowel(w[i]) == negate
}

/// Consonant flags for every position in one left-to-right pass.
fn consonant_flags(w: &[char]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(w.len());
    for (i, &c) in w.iter().enumerate() {
        let flag = if is_vowel(c) {
            false
        } else if c == 'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(flag);
    }
    flags
}

/// Porter's `m`: the number of vowel-consonant transitions.
fn measure(stem: &[char]) -> usize {
    consonant_flags(stem)
        .windows(2)
        .filter(|pair| !pair[0] && pair[1])
        .count()
}

fn contains_vowel(stem: &[char]) -> bool {
    consonant_flags(stem).iter().any(|&c| !c)
}

/// Condition `*d`: the word ends with a double consonant.
fn ends_double_consonant(w: &[char]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// Condition `*o`: the stem ends consonant-vowel-consonant, the last not w, x
/// or y; NLTK also accepts a two-letter vowel-consonant word.
fn ends_cvc(w: &[char]) -> bool {
    let n = w.len();
    (n >= 3
        && is_consonant(w, n - 3)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 1)
        && !matches!(w[n - 1], 'w' | 'x' | 'y'))
        || (n == 2 && !is_consonant(w, 0) && is_consonant(w, 1))
}

fn ends_with(w: &[char], suffix: &str) -> bool {
    let n = suffix.chars().count();
    n <= w.len() && w[w.len() - n..].iter().copied().eq(suffix.chars())
}

/// `w` without its last `suffix.len()` letters, then `replacement`.
fn replace_suffix(w: &[char], suffix: &str, replacement: &str) -> Vec<char> {
    let mut out = w[..w.len() - suffix.chars().count()].to_vec();
    out.extend(replacement.chars());
    out
}

type Condition<'a> = &'a dyn Fn(&[char]) -> bool;

/// Applies the first rule whose suffix matches; if its condition fails the
/// word is returned unchanged and no later rule is tried.
fn apply_rules(w: Vec<char>, rules: &[(&str, &str, Condition<'_>)]) -> Vec<char> {
    for &(suffix, replacement, condition) in rules {
        if ends_with(&w, suffix) {
            let stem = &w[..w.len() - suffix.chars().count()];
            return if condition(stem) {
                let mut out = stem.to_vec();
                out.extend(replacement.chars());
                out
            } else {
                w
            };
        }
    }
    w
}

fn positive_measure(stem: &[char]) -> bool {
    measure(stem) > 0
}

fn measure_gt_1(stem: &[char]) -> bool {
    measure(stem) > 1
}

fn always(_: &[char]) -> bool {
    true
}

/// SSES -> SS, IES -> I, SS -> SS, S -> ; NLTK: four-letter `ies` -> `ie`.
fn step1a(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ies") && w.len() == 4 {
        return replace_suffix(&w, "ies", "ie");
    }
    apply_rules(
        w,
        &[
            ("sses", "ss", &always),
            ("ies", "i", &always),
            ("ss", "ss", &always),
            ("s", "", &always),
        ],
    )
}

/// (m>0) EED -> EE, (*v*) ED -> , (*v*) ING -> , then the tidying rules.
fn step1b(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ied") {
        let replacement = if w.len() == 4 { "ie" } else { "i" };
        return replace_suffix(&w, "ied", replacement);
    }
    if ends_with(&w, "eed") {
        let stem = &w[..w.len() - 3];
        return if measure(stem) > 0 {
            replace_suffix(&w, "eed", "ee")
        } else {
            w
        };
    }
    let mut intermediate = None;
    for suffix in ["ed", "ing"] {
        if ends_with(&w, suffix) {
            let stem = &w[..w.len() - suffix.len()];
            if contains_vowel(stem) {
                intermediate = Some(stem.to_vec());
                break;
            }
        }
    }
    let Some(stem) = intermediate else {
        return w;
    };
    if ends_with(&stem, "at") || ends_with(&stem, "bl") || ends_with(&stem, "iz") {
        // AT -> ATE, BL -> BLE, IZ -> IZE
        let mut out = stem;
        out.push('e');
        return out;
    }
    if ends_double_consonant(&stem) {
        // (*d and not (*L or *S or *Z)) -> single letter
        let last = stem[stem.len() - 1];
        return if matches!(last, 'l' | 's' | 'z') {
            stem
        } else {
            stem[..stem.len() - 1].to_vec()
        };
    }
    // (m=1 and *o) -> E
    if measure(&stem) == 1 && ends_cvc(&stem) {
        let mut out = stem;
        out.push('e');
        return out;
    }
    stem
}

/// NLTK's `(*c and not c) Y -> I`: `happy` -> `happi`, `enjoy` stays.
fn step1c(w: Vec<char>) -> Vec<char> {
    apply_rules(
        w,
        &[("y", "i", &|stem: &[char]| {
            stem.len() > 1 && is_consonant(stem, stem.len() - 1)
        })],
    )
}

fn step2(w: Vec<char>) -> Vec<char> {
    // NLTK applies ALLI -> AL first and, if it fires, runs step 2 again.
    if ends_with(&w, "alli") && positive_measure(&w[..w.len() - 4]) {
        return step2(replace_suffix(&w, "alli", "al"));
    }
    // The `l` of `logi` -> `log` stays with the stem for the measure, so
    // that short stems like `geo` work like `archaeo`.
    let word = w.clone();
    let logi = move |_: &[char]| word.len() >= 3 && positive_measure(&word[..word.len() - 3]);
    apply_rules(
        w,
        &[
            ("ational", "ate", &positive_measure),
            ("tional", "tion", &positive_measure),
            ("enci", "ence", &positive_measure),
            ("anci", "ance", &positive_measure),
            ("izer", "ize", &positive_measure),
            ("bli", "ble", &positive_measure),
            ("alli", "al", &positive_measure),
            ("entli", "ent", &positive_measure),
            ("eli", "e", &positive_measure),
            ("ousli", "ous", &positive_measure),
            ("ization", "ize", &positive_measure),
            ("ation", "ate", &positive_measure),
            ("ator", "ate", &positive_measure),
            ("alism", "al", &positive_measure),
            ("iveness", "ive", &positive_measure),
            ("fulness", "ful", &positive_measure),
            ("ousness", "ous", &positive_measure),
            ("aliti", "al", &positive_measure),
            ("iviti", "ive", &positive_measure),
            ("biliti", "ble", &positive_measure),
            ("fulli", "ful", &positive_measure),
            ("logi", "log", &logi),
        ],
    )
}

fn step3(w: Vec<char>) -> Vec<char> {
    apply_rules(
        w,
        &[
            ("icate", "ic", &positive_measure),
            ("ative", "", &positive_measure),
            ("alize", "al", &positive_measure),
            ("iciti", "ic", &positive_measure),
            ("ical", "ic", &positive_measure),
            ("ful", "", &positive_measure),
            ("ness", "", &positive_measure),
        ],
    )
}

fn step4(w: Vec<char>) -> Vec<char> {
    let ion = |stem: &[char]| measure(stem) > 1 && matches!(stem.last(), Some('s' | 't'));
    apply_rules(
        w,
        &[
            ("al", "", &measure_gt_1),
            ("ance", "", &measure_gt_1),
            ("ence", "", &measure_gt_1),
            ("er", "", &measure_gt_1),
            ("ic", "", &measure_gt_1),
            ("able", "", &measure_gt_1),
            ("ible", "", &measure_gt_1),
            ("ant", "", &measure_gt_1),
            ("ement", "", &measure_gt_1),
            ("ment", "", &measure_gt_1),
            ("ent", "", &measure_gt_1),
            ("ion", "", &ion),
            ("ou", "", &measure_gt_1),
            ("ism", "", &measure_gt_1),
            ("ate", "", &measure_gt_1),
            ("iti", "", &measure_gt_1),
            ("ous", "", &measure_gt_1),
            ("ive", "", &measure_gt_1),
            ("ize", "", &measure_gt_1),
        ],
    )
}

/// (m>1) E -> ; (m=1 and not *o) E -> . Both conditions are tried, unlike
/// the other rule lists.
fn step5a(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    w
}

/// (m>1 and *d and *L) -> single letter; the measure is taken on the word
/// minus one `l`, as NLTK does.
fn step5b(w: Vec<char>) -> Vec<char> {
    if ends_with(&w, "ll") && measure(&w[..w.len() - 1]) > 1 {
        return w[..w.len() - 1].to_vec();
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Examples from Porter's paper, with NLTK's results where its
    /// extensions change them.
    #[test]
    fn paper_examples() {
        let cases = [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"), // NLTK: four-letter `ies` -> `ie`
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("sing", "sing"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("enjoy", "enjoy"),
            ("relational", "relat"),
            ("generalizations", "gener"),
            ("triplicate", "triplic"),
            ("hopeful", "hope"),
            ("adoption", "adopt"),
            ("controll", "control"),
            ("roll", "roll"),
            ("dying", "die"),
            ("spied", "spi"),
            ("died", "die"),
            ("geology", "geolog"),
            ("yyyy", "yyyi"),
        ];
        for (word, want) in cases {
            assert_eq!(stem(word), want, "stem({word:?})");
        }
    }

    #[test]
    fn short_and_non_ascii_words_do_not_panic() {
        assert_eq!(stem("a"), "a");
        assert_eq!(stem("Is"), "is");
        assert_eq!(stem(""), "");
        assert_eq!(stem("ééé"), "ééé");
        assert_eq!(stem("yyy"), "yyy");
    }
}
