//! The checkable facts of an English sentence: its numbers (dates
//! included) and its names (capitalized words), and which of them an
//! article does not contain.
//!
//! A name is a capitalized word that is not the first of its sentence, or
//! a first word that the article never writes in lower case and that is not
//! a common sentence opener ("The", "According"). A name is supported when
//! the article has it, or a capitalized word it extends or that extends it
//! by a suffix ("Iranian" for "Iran", "Afghan" for "Afghanistan"), so that
//! demonyms do not count as inventions; a different name does not match.

use std::collections::HashSet;

use tarjoman_text::numbers::extract_numbers;

/// Words that open English sentences without being names.
const OPENERS: &[&str] = &[
    "A",
    "About",
    "According",
    "After",
    "Also",
    "An",
    "And",
    "As",
    "At",
    "Before",
    "Both",
    "But",
    "By",
    "During",
    "Each",
    "Earlier",
    "For",
    "From",
    "He",
    "Her",
    "His",
    "However",
    "If",
    "In",
    "It",
    "Its",
    "Later",
    "Meanwhile",
    "More",
    "Most",
    "No",
    "Of",
    "On",
    "One",
    "Other",
    "Over",
    "She",
    "Since",
    "Some",
    "Such",
    "That",
    "The",
    "Their",
    "There",
    "These",
    "They",
    "This",
    "Those",
    "Thus",
    "To",
    "Two",
    "Under",
    "Until",
    "We",
    "When",
    "While",
    "With",
    "Without",
    "Yet",
];

/// The shortest shared stem for a demonym to count as the same name.
const MIN_STEM: usize = 4;

/// The words of `sentence` with their position, split at anything but
/// letters, digits, apostrophes and hyphens; possessive `'s` removed.
fn words(sentence: &str) -> Vec<&str> {
    sentence
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'))
        .flat_map(|w| w.split('-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '’'))
        .map(|w| {
            w.strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w)
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn capitalized(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// What an article contains, for checking sentences against it.
#[derive(Debug, Default)]
pub struct FactIndex {
    numbers: HashSet<String>,
    capitalized: Vec<String>,
    lower: HashSet<String>,
}

impl FactIndex {
    pub fn new(article: &str) -> Self {
        let mut index = FactIndex {
            numbers: extract_numbers(article)
                .into_iter()
                .map(canonical)
                .collect(),
            ..Default::default()
        };
        let mut seen = HashSet::new();
        for w in words(article) {
            if capitalized(w) {
                if seen.insert(w.to_string()) {
                    index.capitalized.push(w.to_string());
                }
            } else {
                index.lower.insert(w.to_lowercase());
            }
        }
        index
    }

    /// The names of `sentence` (see the module docs).
    pub fn names<'s>(&self, sentence: &'s str) -> Vec<&'s str> {
        let mut out = Vec::new();
        for (i, w) in words(sentence).into_iter().enumerate() {
            if !capitalized(w) || w.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let opener = i == 0 && (OPENERS.contains(&w) || self.lower.contains(&w.to_lowercase()));
            if !opener && w != "I" {
                out.push(w);
            }
        }
        out
    }

    fn has_name(&self, name: &str) -> bool {
        self.capitalized.iter().any(|known| {
            known == name
                || (known.len() >= MIN_STEM && name.starts_with(known.as_str()))
                || (name.len() >= MIN_STEM && known.starts_with(name))
        })
    }

    /// The numbers and names of `sentence` that the article lacks, each
    /// once, in order.
    pub fn unsupported(&self, sentence: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in extract_numbers(sentence).into_iter().map(canonical) {
            if !self.numbers.contains(&n) && !out.contains(&n) {
                out.push(n);
            }
        }
        for name in self.names(sentence) {
            if !self.has_name(name) && !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        }
        out
    }
}

/// Numbers compared without leading zeros (`08` is `8`) or a trailing `.0`.
fn canonical(n: String) -> String {
    let n = n.strip_suffix(".0").map(str::to_string).unwrap_or(n);
    let trimmed = n.trim_start_matches('0');
    match trimmed {
        "" => "0".to_string(),
        t if t.starts_with('.') => format!("0{t}"),
        t => t.to_string(),
    }
}

/// The numbers and names of `sentence`, for position-independent checks
/// (citations must hold a summary sentence's numbers).
pub fn numbers(sentence: &str) -> Vec<String> {
    extract_numbers(sentence)
        .into_iter()
        .map(canonical)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTICLE: &str = "Pakistan said on Sunday that 23 soldiers were killed near Spin Boldak. \
        Talks in Istanbul between Afghanistan and Pakistan ended without agreement on 2,600 km of border. \
        the talks were mediated by Qatar and Turkey.";

    #[test]
    fn supported_numbers_and_names_pass() {
        let f = FactIndex::new(ARTICLE);
        for s in [
            "Pakistan said 23 soldiers were killed.",
            "Afghan and Pakistani talks in Istanbul failed over the 2600 km border.",
            "The talks, mediated by Qatar and Turkey, ended without agreement.",
            "Talks ended on Sunday.",
        ] {
            assert_eq!(f.unsupported(s), Vec::<String>::new(), "{s}");
        }
    }

    #[test]
    fn invented_numbers_and_names_are_caught() {
        let f = FactIndex::new(ARTICLE);
        assert_eq!(
            f.unsupported("The Supreme Court of Pakistan said 24 soldiers died."),
            vec!["24", "Supreme", "Court"]
        );
        assert_eq!(
            f.unsupported("Merzabulok was attacked in 2024."),
            vec!["2024", "Merzabulok"]
        );
        // A sentence-initial word the article writes in lower case is no name.
        assert!(f.unsupported("Talks failed.").is_empty());
    }

    #[test]
    fn numbers_are_canonical() {
        assert_eq!(
            numbers("On 08 November, 2,600 and 1.0 and 0.5"),
            vec!["8", "2600", "1", "0.5"]
        );
    }
}
