//! The hand-written Porter stemmer against NLTK's `PorterStemmer()` on every
//! word of the TICO-19 test set (`tests/fixtures/rouge/stems.tsv`, made by
//! `scripts/rouge_golden.py`; its header names the NLTK version).

use tarjoman_eval::stemmer::stem;

#[test]
fn every_tico19_word_stems_like_nltk() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rouge/stems.tsv"
    );
    let text = std::fs::read_to_string(path).expect("stems.tsv");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (word, want) = line.split_once('\t').expect("word<TAB>stem");
        let got = stem(word);
        if got != want {
            wrong.push(format!("{word}: ours {got}, nltk {want}"));
        }
        checked += 1;
    }
    assert!(checked > 5000, "only {checked} words in {path}");
    assert!(
        wrong.is_empty(),
        "{} of {checked} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
