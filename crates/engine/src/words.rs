//! The built-in Persian word list, and the words of a sentence it does
//! not know: possible names, each with a romanized spelling
//! ([`tarjoman_text::romanize`]) to offer a model as a hint.

use std::collections::HashSet;

/// Why the word list cannot be used: not UTF-8, no word count, cut short.
#[derive(Debug, thiserror::Error)]
#[error("word list {file} {why}")]
pub struct WordsError {
    pub file: String,
    pub why: String,
}

/// A Persian word list: the words of a hunspell dictionary (Lilak, npm
/// `dictionary-fa`, `index.dic`: a line with the word count, then one word
/// per line with its affix flags after `/`). A word of a sentence that is
/// not in it, even without a common affix, may be a name
/// ([`name_candidates`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordList {
    words: HashSet<String>,
}

/// Affixes that leave a word a dictionary word: plural, ezafe and
/// indefinite `ی`, possessive, comparative and adverb endings, the
/// negating `غیر` and the verb prefixes (Lilak lists stems, and hunspell's affix rules are not
/// applied here).
const SUFFIXES: [&str; 17] = [
    "هایشان",
    "هایش",
    "هایی",
    "های",
    "ها",
    "ترین",
    "تر",
    "شان",
    "مان",
    "تان",
    "یان",
    "انه",
    "ان",
    "ای",
    "اش",
    "ی",
    "ش",
];
const PREFIXES: [&str; 6] = ["غیر", "نمی", "می", "بی", "ب", "ن"];

/// A word as the word list is matched: Arabic yeh and kaf as Persian,
/// without zero-width non-joiners, hamza marks or diacritics.
fn word_key(word: &str) -> String {
    word.chars()
        .filter_map(|c| match c {
            'ي' | 'ى' => Some('ی'),
            'ك' => Some('ک'),
            'ۀ' | 'ة' => Some('ه'),
            '\u{200c}' | '\u{654}' | '\u{064B}'..='\u{0652}' | '\u{0670}' => None,
            c => Some(c),
        })
        .collect()
}

impl WordList {
    /// Reads a hunspell `.dic` file (`name` for errors). A file whose
    /// words fall short of half its stated count is taken as cut short.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self, WordsError> {
        let error = |why: &str| WordsError {
            file: name.to_string(),
            why: why.to_string(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| error("is not UTF-8 text"))?;
        let mut lines = text.lines();
        let count: usize = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| {
                error("does not start with its word count (not a hunspell .dic file)")
            })?;
        let words: HashSet<String> = lines
            .filter_map(|l| l.split('/').next())
            .map(|w| word_key(w.trim()))
            .filter(|w| !w.is_empty())
            .collect();
        if words.len() * 2 < count {
            return Err(error(&format!(
                "holds {} words of the {count} it announces (truncated?)",
                words.len()
            )));
        }
        Ok(Self { words })
    }

    /// Words in the list.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether `word` (Persian letters) is an ordinary word: in the list
    /// as it is, without one of the common affixes, or (written with
    /// zero-width non-joiners) made of parts that are.
    pub fn knows(&self, word: &str) -> bool {
        let key = word_key(word);
        if self.known_key(&key) {
            return true;
        }
        let parts: Vec<&str> = word.split('\u{200c}').filter(|p| !p.is_empty()).collect();
        parts.len() > 1
            && parts
                .iter()
                .all(|p| SUFFIXES.contains(p) || self.known_key(&word_key(p)))
    }

    fn known_key(&self, key: &str) -> bool {
        let known = |w: &str| w.chars().count() >= 2 && self.words.contains(w);
        known(key)
            || SUFFIXES
                .iter()
                .any(|s| key.strip_suffix(s).is_some_and(&known))
            || PREFIXES
                .iter()
                .any(|p| key.strip_prefix(p).is_some_and(&known))
    }
}

/// The shortest word (in letters) taken as a possible name: shorter ones
/// are mostly particles and abbreviations.
const MIN_NAME_LETTERS: usize = 3;

/// A possible name found in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCandidate {
    /// The Persian, as the sentence writes it.
    pub source: String,
    /// Its romanized spelling ([`tarjoman_text::romanize`]).
    pub latin: String,
    /// Whether one of its words has the form of a name ([`name_form`]),
    /// rather than only being unknown to the word list.
    pub by_form: bool,
}

/// Word endings and beginnings that make a Persian word a name even when
/// the word list knows it (Lilak lists many common given names and
/// cities): places in `…آباد` (-abad, "settlement": Islamabad,
/// Jalalabad, Khorramabad) and the Arabic compound given names `…الله`
/// (-ullah), `…الدین` (-uddin) and `عبدال…` (Abdul-). English news
/// spells these compounds one settled way, which [`tarjoman_text::romanize`]
/// follows.
const NAME_ENDINGS: [&str; 3] = ["آباد", "الله", "الدین"];
const NAME_BEGINNINGS: [&str; 1] = ["عبدال"];

/// First halves of `…الله` words that are titles, organizations or
/// everyday phrases, not given names (`آیت‌الله`, `حزب‌الله`,
/// `ان‌شاءالله`, `بسم‌الله`).
const NOT_GIVEN_NAMES: [&str; 10] = [
    "آیت",
    "حزب",
    "انشا",
    "انشاء",
    "ماشا",
    "ماشاء",
    "بسم",
    "الحمد",
    "سبحان",
    "بحمد",
];

/// Whether `word` has the form of a name ([`NAME_ENDINGS`],
/// [`NAME_BEGINNINGS`]), whatever the word list says: at least two letters
/// besides the ending or beginning.
pub fn name_form(word: &str) -> bool {
    let key = word_key(word);
    let long = |rest: &str| rest.chars().count() >= 2;
    NAME_ENDINGS.iter().any(|e| {
        key.strip_suffix(e)
            .is_some_and(|stem| long(stem) && !NOT_GIVEN_NAMES.contains(&stem))
    }) || NAME_BEGINNINGS
        .iter()
        .any(|b| key.strip_prefix(b).is_some_and(long))
}

/// Words of `sentence` (normalized Persian) that may be names: words of
/// Persian letters, at least [`MIN_NAME_LETTERS`] long, that `words` does
/// not know ([`WordList::knows`]) or that have the form of a name
/// ([`name_form`]); neighbours separated by nothing but spaces form one
/// name. Each comes with its romanized spelling, a guess to offer the
/// model, never a check.
pub fn name_candidates(sentence: &str, words: &WordList) -> Vec<NameCandidate> {
    let mut names: Vec<(Vec<&str>, bool)> = Vec::new();
    let mut open = false;
    for piece in sentence.split_inclusive(|c: char| !is_word_char(c)) {
        let word = piece.trim_end_matches(|c: char| !is_word_char(c));
        let ends_run = word.len() != piece.len() && !piece.ends_with(char::is_whitespace);
        let letters = word.chars().filter(|c| *c != '\u{200c}').count();
        let shaped = letters >= MIN_NAME_LETTERS && word.chars().all(is_persian_letter_or_zwnj);
        let by_form = shaped && name_form(word);
        let candidate = shaped && (by_form || !words.knows(word));
        match (candidate, open) {
            (true, true) => {
                let name = names.last_mut().expect("a name is open");
                name.0.push(word);
                name.1 |= by_form;
            }
            (true, false) => names.push((vec![word], by_form)),
            _ => {}
        }
        open = candidate && !ends_run;
    }
    names
        .into_iter()
        .map(|(parts, by_form)| {
            let source = parts.join(" ");
            let latin = tarjoman_text::romanize(&source);
            NameCandidate {
                source,
                latin,
                by_form,
            }
        })
        .filter(|n| !n.latin.is_empty())
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\u{200c}' || ('\u{064B}'..='\u{0670}').contains(&c)
}

/// Of the characters of a word ([`is_word_char`]): Arabic-script letters
/// and diacritics (not digits) and the zero-width non-joiner.
fn is_persian_letter_or_zwnj(c: char) -> bool {
    c == '\u{200c}' || (('\u{0620}'..='\u{06FF}').contains(&c) && !c.is_numeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hunspell word list of a few words, with flags as Lilak writes them.
    fn words() -> WordList {
        let dic =
            "7\nمجاهد/pasasosdsesfslsj\nکشور/pasasosgshsislsjsdsesf\nگفت\nاو\nشهر\nدر\nنزدیک\n";
        WordList::parse("index.dic", dic.as_bytes()).expect("parses")
    }

    #[test]
    fn word_lists_know_words_with_their_affixes() {
        let w = words();
        assert_eq!(w.len(), 7);
        assert!(w.knows("مجاهد") && w.knows("كشور") && w.knows("کشورها"));
        assert!(w.knows("کشور\u{200c}های\u{200c}شان") && w.knows("شهری"));
        assert!(!w.knows("بولدک") && !w.knows("سپین"));
    }

    /// The candidates of `sentence` as (Persian, romanized, by form).
    fn found_in(sentence: &str, w: &WordList) -> Vec<(String, String, bool)> {
        name_candidates(sentence, w)
            .into_iter()
            .map(|n| (n.source, n.latin, n.by_form))
            .collect()
    }

    #[test]
    fn unknown_neighbouring_words_make_one_romanized_name() {
        let w = words();
        let found = found_in("او در شهر سپین بولدک، نزدیک وثیق گفت.", &w);
        assert_eq!(
            found,
            [
                ("سپین بولدک".into(), "Sapin Boldak".into(), false),
                ("وثیق".into(), "Vasiq".into(), false)
            ]
        );
        // Digits, Latin words and short words are not names.
        assert!(name_candidates("در ۲۰۲۵ NATO گفت یک", &w).is_empty());
        assert!(name_candidates("", &w).is_empty());
    }

    #[test]
    fn compound_names_are_names_even_when_the_word_list_knows_them() {
        let dic = "7\nاسلام‌آباد\nذبیح‌الله\nآیت‌الله\nآباد\nمجاهد\nگفت\nاست\n";
        let w = WordList::parse("index.dic", dic.as_bytes()).expect("parses");
        // Written with and without the zero-width non-joiner.
        let found = found_in(
            "ذبیحالله مجاهد در اسلام\u{200c}آباد گفت که آیت\u{200c}الله آباد است.",
            &w,
        );
        assert_eq!(
            found,
            [
                ("ذبیحالله".into(), "Zabihullah".into(), true),
                ("اسلام\u{200c}آباد".into(), "Islamabad".into(), true),
            ]
        );
        assert!(name_form("جلالآباد") && name_form("عبدالحکیم") && name_form("صلاحالدین"));
        assert!(!name_form("آباد") && !name_form("الله") && !name_form("حزبالله"));
        assert!(!name_form("ان\u{200c}شاءالله") && !name_form("کتاب"));
    }

    #[test]
    fn broken_word_lists_are_named() {
        for (bytes, why) in [
            (&b"\xff\xfe"[..], "not UTF-8"),
            (&b"words\n"[..], "word count"),
            (&b"100\nword\n"[..], "truncated"),
        ] {
            let e = WordList::parse("models/x/index.dic", bytes)
                .unwrap_err()
                .to_string();
            assert!(e.contains("models/x/index.dic") && e.contains(why), "{e}");
        }
    }
}
