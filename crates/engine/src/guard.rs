//! Guards against the translation failures readers notice first, and the
//! user's glossary.
//!
//! [`diagnose`] looks at one translated sentence next to its source and names
//! what went wrong: Persian script left in the output, the source copied,
//! runaway repetition, an output far longer or shorter than the source, a
//! number, Latin-script name or glossary term of the source missing, the
//! prompt note's instructions echoed. The translator retries a failing
//! sentence with a fallback (a prompt note listing what must appear, and a
//! repetition penalty; several attempts side by side, one greedy and the
//! others sampled) and keeps whichever attempt fails least; what still
//! fails becomes the sentence's warnings.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use tarjoman_text::normalize::{normalize, NormalizeOptions};
use tarjoman_text::numbers::{extract_numbers, latin_tokens};
use tarjoman_text::script::has_arabic_script;

use crate::generate::StopReason;

/// English output shorter than this fraction of the source's characters is
/// suspicious (Persian news translated to English is typically 0.9-1.4x).
const MIN_LENGTH_RATIO: f32 = 0.3;
/// ... and longer than this multiple.
const MAX_LENGTH_RATIO: f32 = 3.0;
/// Sources shorter than this (characters) are not judged on length.
const MIN_CHARS_FOR_LENGTH: usize = 20;

/// One thing wrong with a translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Empty,
    /// Persian/Arabic letters in the English output.
    WrongScript,
    /// Most of the source's words came back untranslated.
    CopiedSource,
    /// A phrase repeated over and over (`phrase`).
    Repetition(String),
    TooShort,
    TooLong,
    /// Generation stopped at the length cap.
    Cut,
    MissingNumber(String),
    MissingName(String),
    /// The output repeats the instructions of a prompt note
    /// ([`retry_note`], [`glossary_note`]) instead of only translating.
    EchoedNote,
    /// A glossary entry or a place name of the built-in gazetteer found
    /// in the source whose English is not in the output.
    MissingTerm {
        source: String,
        target: String,
        origin: TermOrigin,
    },
}

impl Failure {
    /// A short machine-readable name of the failure kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Empty => "empty",
            Failure::WrongScript => "wrong_script",
            Failure::CopiedSource => "copied_source",
            Failure::Repetition(_) => "repetition",
            Failure::TooShort => "too_short",
            Failure::TooLong => "too_long",
            Failure::Cut => "cut",
            Failure::MissingNumber(_) => "missing_number",
            Failure::MissingName(_) => "missing_name",
            Failure::EchoedNote => "echoed_note",
            Failure::MissingTerm { .. } => "missing_term",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Empty => write!(f, "empty translation"),
            Failure::WrongScript => write!(f, "translation contains Persian/Arabic script"),
            Failure::CopiedSource => write!(f, "translation copies the Persian source"),
            Failure::Repetition(p) => write!(f, "translation repeats {p:?} over and over"),
            Failure::TooShort => write!(f, "translation is far shorter than the source"),
            Failure::TooLong => write!(f, "translation is far longer than the source"),
            Failure::Cut => write!(f, "translation was cut at the length limit"),
            Failure::MissingNumber(n) => write!(f, "number {n} of the source is missing"),
            Failure::MissingName(n) => write!(f, "name {n} of the source is missing"),
            Failure::EchoedNote => write!(f, "translation repeats the prompt's instructions"),
            Failure::MissingTerm {
                source,
                target,
                origin: TermOrigin::Glossary,
            } => write!(
                f,
                "glossary term {source} = {target} is not in the translation"
            ),
            Failure::MissingTerm {
                source,
                target,
                origin: TermOrigin::Gazetteer,
            } => write!(
                f,
                "place name {source} = {target} is not in the translation"
            ),
            Failure::MissingTerm {
                source,
                target,
                origin: TermOrigin::Romanized | TermOrigin::Compound,
            } => write!(
                f,
                "possible name {source} = {target} is not in the translation"
            ),
        }
    }
}

/// Everything wrong with `translation` of `source`. `terms` are the
/// glossary entries found in the source.
pub fn diagnose(
    source: &str,
    translation: &str,
    stop: StopReason,
    terms: &[&GlossaryEntry],
) -> Vec<Failure> {
    let mut failures = Vec::new();
    if translation.trim().is_empty() {
        failures.push(Failure::Empty);
    }
    if has_arabic_script(translation) {
        if copies_source(source, translation) {
            failures.push(Failure::CopiedSource);
        } else {
            failures.push(Failure::WrongScript);
        }
    }
    if let Some(phrase) = repetition(translation) {
        failures.push(Failure::Repetition(phrase));
    }
    let lower = translation.to_lowercase();
    if NOTE_PHRASES
        .iter()
        .any(|p| lower.contains(&p.to_lowercase()))
    {
        failures.push(Failure::EchoedNote);
    }
    let source_chars = source.chars().filter(|c| !c.is_whitespace()).count();
    let output_chars = translation.chars().filter(|c| !c.is_whitespace()).count();
    if source_chars >= MIN_CHARS_FOR_LENGTH && output_chars > 0 {
        let ratio = output_chars as f32 / source_chars as f32;
        if ratio < MIN_LENGTH_RATIO {
            failures.push(Failure::TooShort);
        } else if ratio > MAX_LENGTH_RATIO {
            failures.push(Failure::TooLong);
        }
    }
    if matches!(stop, StopReason::LengthCap | StopReason::MaxTokens) {
        failures.push(Failure::Cut);
    }
    let found = extract_numbers(translation);
    for number in extract_numbers(source) {
        if !found.contains(&number) && !failures.contains(&Failure::MissingNumber(number.clone())) {
            failures.push(Failure::MissingNumber(number));
        }
    }
    for name in latin_tokens(source) {
        let is_word = name.chars().any(|c| c.is_alphabetic());
        if is_word && !lower.contains(&name.to_lowercase()) {
            failures.push(Failure::MissingName(name.to_string()));
        }
    }
    for term in terms {
        if !term.appears_in(translation) {
            failures.push(Failure::MissingTerm {
                source: term.source.clone(),
                target: term.target.clone(),
                origin: term.origin,
            });
        }
    }
    failures
}

/// At least half of the source's Persian words appear in the output.
fn copies_source(source: &str, translation: &str) -> bool {
    let words: Vec<&str> = source
        .split_whitespace()
        .filter(|w| has_arabic_script(w))
        .collect();
    if words.is_empty() {
        return false;
    }
    let copied = words.iter().filter(|w| translation.contains(**w)).count();
    copied * 2 >= words.len()
}

/// A word n-gram (n = 1..=4) repeated back to back at least 4 times (for a
/// single word) or 3 times (longer phrases).
fn repetition(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    for n in 1..=4usize {
        let needed = if n == 1 { 4 } else { 3 };
        if words.len() < n * needed {
            continue;
        }
        for start in 0..=words.len() - n * needed {
            let first = &words[start..start + n];
            let repeats = (1..needed).all(|k| &words[start + k * n..start + (k + 1) * n] == first);
            if repeats {
                return Some(first.join(" "));
            }
        }
    }
    None
}

/// The fixed phrases of the prompt notes. No news sentence contains them,
/// so a translation that does has copied the note (small models do, as a
/// parenthesis after the translation).
const NOTE_PHRASES: [&str; 5] = [
    "Answer in English only",
    "Keep these numbers:",
    "Keep these names:",
    "Use these translations:",
    "Possible names, spelling guessed:",
];

/// The note added to a retry's prompt: what the translation must contain.
pub fn retry_note(source: &str, terms: &[&GlossaryEntry], hints: &[GlossaryEntry]) -> String {
    let mut parts = vec![format!("{}.", NOTE_PHRASES[0])];
    let numbers = extract_numbers(source);
    if !numbers.is_empty() {
        parts.push(format!("{} {}.", NOTE_PHRASES[1], numbers.join(", ")));
    }
    let names: Vec<&str> = latin_tokens(source)
        .into_iter()
        .filter(|t| t.chars().any(|c| c.is_alphabetic()))
        .collect();
    if !names.is_empty() {
        parts.push(format!("{} {}.", NOTE_PHRASES[2], names.join(", ")));
    }
    if let Some(note) = glossary_note(terms) {
        parts.push(note);
    }
    if !hints.is_empty() {
        let pairs: Vec<String> = hints
            .iter()
            .map(|h| format!("{} = {}", h.source, h.target))
            .collect();
        parts.push(format!("{} {}.", NOTE_PHRASES[4], pairs.join("; ")));
    }
    parts.join(" ")
}

/// The prompt note that enforces glossary entries found in a sentence.
pub fn glossary_note(terms: &[&GlossaryEntry]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    let pairs: Vec<String> = terms
        .iter()
        .map(|t| format!("{} = {}", t.source, t.target))
        .collect();
    Some(format!("{} {}.", NOTE_PHRASES[3], pairs.join("; ")))
}

/// The note of a sentence's first prompt: the user's own terms among
/// `terms`. Place names and possible names go to the model only with a
/// retry, when the first translation dropped a place name or failed
/// another check.
///
/// Place names in every first prompt were tried (2026-12-07, Intel Xeon):
/// the seed article took 1.01x the time without names instead of
/// 1.27-1.30x (2 sentences retried instead of 5), but on TICO-19 lines
/// 1401-1600 chrF++ fell from 38.76 to 37.94 (paired bootstrap p = 0.014)
/// and name recall from 54.2% to 51.0% (QUALITY.md). Earlier turns of the
/// conversation keep their notes ([`crate::prompt::with_note`]), so that a
/// prompt after a note still starts with the cached one.
pub fn first_note(terms: &[&GlossaryEntry]) -> Option<String> {
    let mine: Vec<&GlossaryEntry> = terms.iter().copied().filter(|t| t.is_users()).collect();
    glossary_note(&mine)
}

/// Text as glossary matching sees it: normalized (yeh, kaf, digits) and
/// without zero-width non-joiners, which writers use inconsistently.
fn match_key(text: &str) -> String {
    normalize(text, &NormalizeOptions::default()).replace('\u{200c}', "")
}

/// Where a term comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TermOrigin {
    /// The user's `--glossary` file.
    Glossary,
    /// The built-in gazetteer of place names ([`crate::names`]).
    Gazetteer,
    /// A word the built-in word list does not know, with its romanized
    /// spelling ([`crate::words::name_candidates`]): a hint, offered when a
    /// sentence is retried, never checked.
    Romanized,
    /// A word with the form of a name (`…آباد`, `…الله`, `عبدال…`:
    /// [`crate::words::name_form`]), even one the word list knows, with its
    /// romanized spelling: a hint like [`TermOrigin::Romanized`], offered
    /// when a sentence is retried, never checked.
    Compound,
}

/// One term: a Persian name or phrase and the English wanted for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlossaryEntry {
    pub source: String,
    /// The English given to the model.
    pub target: String,
    /// Other English forms that also count as the term being translated
    /// (`Turkey` beside `Türkiye`).
    pub also: Vec<String>,
    pub origin: TermOrigin,
    /// `source` as the translator normalizes sentences, for matching: the
    /// whole key for the user's terms (found anywhere in a sentence), its
    /// words joined by one space for the gazetteer's (found as whole
    /// words only, so `چاد` (Chad) is not found inside `ایجاد`).
    matcher: String,
}

impl GlossaryEntry {
    /// A place name of the built-in gazetteer, or `None` when the Persian
    /// has no letters.
    pub fn place(source: &str, target: &str, also: Vec<String>) -> Option<Self> {
        let words = name_words(source);
        if words.is_empty() {
            return None;
        }
        Some(Self {
            source: source.to_string(),
            target: target.to_string(),
            also,
            origin: TermOrigin::Gazetteer,
            matcher: words.join(" "),
        })
    }

    /// The Persian as matching sees it.
    pub(crate) fn matcher(&self) -> &str {
        &self.matcher
    }

    /// Whether the translation holds the term's English, or one of its
    /// other forms (case-insensitive). A place name also counts when the translation has a word made from
    /// it ([`derived_form`]: `Afghan soil` for `خاک افغانستان`).
    pub fn appears_in(&self, translation: &str) -> bool {
        let lower = translation.to_lowercase();
        let mut forms = std::iter::once(&self.target).chain(&self.also);
        forms.any(|t| {
            lower.contains(&t.to_lowercase())
                || (self.origin == TermOrigin::Gazetteer && derived_form(&lower, t))
        })
    }

    /// Whether the user gave this term (not the gazetteer).
    pub fn is_users(&self) -> bool {
        self.origin == TermOrigin::Glossary
    }
}

/// Whether `lower` (lowercase English) has a word made from the one-word
/// name `name` as English makes adjectives and demonyms (Afghan from
/// Afghanistan, Turkish from Turkey, Chinese from China): a word starting
/// with the name's first half, and at least its first 4 letters.
fn derived_form(lower: &str, name: &str) -> bool {
    let letters: Vec<char> = name.to_lowercase().chars().collect();
    if letters.len() < 4 || !letters.iter().all(|c| c.is_alphabetic()) {
        return false;
    }
    let stem: String = letters[..(letters.len() / 2).max(4)].iter().collect();
    lower
        .split(|c: char| !c.is_alphabetic())
        .any(|w| w.starts_with(&stem))
}

/// Suffixes written after a zero-width non-joiner that leave a name a name:
/// the ezafe and indefinite `ی` (`ترکیه‌ی`), the plural `ها`/`های`.
const NAME_SUFFIXES: [&str; 3] = ["ی", "ها", "های"];

/// A text's words as gazetteer matching sees them: normalized, split at
/// whitespace and punctuation, zero-width non-joiners and the ezafe hamza
/// (`متحدهٔ`) removed.
fn name_words(text: &str) -> Vec<String> {
    name_tokens(&normalize(text, &NormalizeOptions::default()))
        .into_iter()
        .map(|(word, _)| word)
        .collect()
}

/// Each word of `normalized` text (as [`name_words`]), with the word
/// without its suffix when it ends in one of [`NAME_SUFFIXES`] after a
/// non-joiner.
fn name_tokens(normalized: &str) -> Vec<(String, Option<String>)> {
    normalized
        .split(|c: char| !(c.is_alphanumeric() || c == '\u{200c}' || c == '\u{654}'))
        .filter_map(|token| {
            let token = token.trim_matches('\u{200c}').replace('\u{654}', "");
            if token.is_empty() {
                return None;
            }
            let stem = token.rsplit_once('\u{200c}').and_then(|(stem, suffix)| {
                NAME_SUFFIXES
                    .contains(&suffix)
                    .then(|| stem.replace('\u{200c}', ""))
            });
            Some((token.replace('\u{200c}', ""), stem))
        })
        .collect()
}

/// A user's terminology (`--glossary FILE`, tab-separated
/// `persian<TAB>english` lines; blank lines and lines starting with `#` are
/// ignored), and the built-in place names beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Glossary {
    entries: Vec<GlossaryEntry>,
    /// The gazetteer's entries by their words joined by one space.
    places: HashMap<String, usize>,
    /// The most words in a place name.
    longest: usize,
    /// The word list that tells possible names ([`Self::hints`]).
    words: Option<std::sync::Arc<crate::words::WordList>>,
}

/// Why a glossary file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GlossaryError {
    #[error("cannot read glossary {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("glossary {}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: tarjoman_text::Error,
    },
    #[error("{}:{line}: expected `persian<TAB>english`", path.display())]
    Syntax { path: PathBuf, line: usize },
}

impl Glossary {
    /// Reads a TSV glossary (UTF-8 or UTF-16 with BOM, as any input).
    pub fn load(path: &Path) -> Result<Self, GlossaryError> {
        let bytes = std::fs::read(path).map_err(|source| GlossaryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = tarjoman_text::decode(&bytes).map_err(|source| GlossaryError::Decode {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|line| GlossaryError::Syntax {
            path: path.to_path_buf(),
            line,
        })
    }

    /// Parses TSV text; the error is the 1-based number of a bad line.
    pub fn parse(text: &str) -> Result<Self, usize> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((source, target)) = line.split_once('\t') else {
                return Err(i + 1);
            };
            let (source, target) = (source.trim(), target.trim());
            if source.is_empty() || target.is_empty() {
                return Err(i + 1);
            }
            entries.push(GlossaryEntry {
                source: source.to_string(),
                target: target.to_string(),
                also: Vec::new(),
                origin: TermOrigin::Glossary,
                matcher: match_key(source),
            });
        }
        Ok(Self {
            entries,
            ..Self::default()
        })
    }

    /// Adds the gazetteer's place names. The user's terms win: a place
    /// whose Persian a user's term contains is left out, and so is a second
    /// place with the same Persian (the first one's English comes first).
    pub fn with_places(mut self, places: Vec<GlossaryEntry>) -> Self {
        let mine: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.is_users())
            .map(|e| e.matcher.replace(' ', ""))
            .collect();
        for place in places {
            let key = place.matcher.replace(' ', "");
            if mine.iter().any(|m| m.contains(&key)) || self.places.contains_key(&place.matcher) {
                continue;
            }
            self.longest = self.longest.max(place.matcher.split(' ').count());
            self.places
                .insert(place.matcher.clone(), self.entries.len());
            self.entries.push(place);
        }
        self
    }

    /// Adds the word list by which [`Self::hints`] tells possible names.
    pub fn with_words(mut self, words: std::sync::Arc<crate::words::WordList>) -> Self {
        self.words = Some(words);
        self
    }

    /// Possible names in `sentence` that none of `found` (its glossary
    /// terms and place names) covers, with romanized spellings
    /// ([`crate::words::name_candidates`]); none without a word list.
    pub fn hints(&self, sentence: &str, found: &[&GlossaryEntry]) -> Vec<GlossaryEntry> {
        let Some(words) = &self.words else {
            return Vec::new();
        };
        let normalized = normalize(sentence, &NormalizeOptions::default());
        crate::words::name_candidates(&normalized, words)
            .into_iter()
            .filter_map(|name| {
                let key = name_words(&name.source).join(" ");
                let covered = found
                    .iter()
                    .any(|t| t.matcher.contains(&key) || key.contains(&t.matcher));
                (!covered).then(|| GlossaryEntry {
                    source: name.source,
                    target: name.latin,
                    also: Vec::new(),
                    origin: match name.by_form {
                        true => TermOrigin::Compound,
                        false => TermOrigin::Romanized,
                    },
                    matcher: key,
                })
            })
            .collect()
    }

    /// The user's terms and the place names, in that order.
    pub fn entries(&self) -> &[GlossaryEntry] {
        &self.entries
    }

    /// The entries found in `sentence`: the user's terms anywhere in it
    /// (normalized as the translator normalizes, so spelling variants of
    /// yeh, kaf and the zero-width non-joiner still match), and place names
    /// as whole words, the longest name first where names overlap
    /// (`عربستان سعودی`, Saudi Arabia, not `عربستان` within it).
    pub fn find(&self, sentence: &str) -> Vec<&GlossaryEntry> {
        let normalized = normalize(sentence, &NormalizeOptions::default());
        let key = normalized.replace('\u{200c}', "");
        let mut found: Vec<&GlossaryEntry> = self
            .entries
            .iter()
            .filter(|e| e.is_users() && key.contains(&e.matcher))
            .collect();
        if self.places.is_empty() {
            return found;
        }
        let tokens = name_tokens(&normalized);
        let mut i = 0;
        while i < tokens.len() {
            let longest = self.longest.min(tokens.len() - i);
            let hit = (1..=longest)
                .rev()
                .find_map(|n| Some((n, self.place_at(&tokens[i..i + n])?)));
            match hit {
                Some((n, entry)) => {
                    if !found.contains(&entry) {
                        found.push(entry);
                    }
                    i += n;
                }
                None => i += 1,
            }
        }
        found
    }

    /// The place named by exactly these words (the last one with or
    /// without its suffix).
    fn place_at(&self, words: &[(String, Option<String>)]) -> Option<&GlossaryEntry> {
        let (last, head) = words.split_last()?;
        let head: Vec<&str> = head.iter().map(|(w, _)| w.as_str()).collect();
        std::iter::once(&last.0)
            .chain(&last.1)
            .find_map(|w| {
                let key = head.iter().copied().chain([w.as_str()]).collect::<Vec<_>>();
                self.places.get(&key.join(" "))
            })
            .map(|&index| &self.entries[index])
    }
}

#[cfg(test)]
mod tests;
