//! Persian names in Latin letters, spelled the way English-language news
//! spells Persian, Dari and Pashto names: a hint for a model that meets a
//! name it does not know, never a check (romanization is a guess: Persian
//! script leaves most short vowels unwritten).
//!
//! [`romanize`] works in three steps:
//!
//! 1. Spelling variants are unified (Arabic `ي`/`ك`/`ة`, hamza forms) and
//!    diacritics dropped; words split at spaces, hyphens and zero-width
//!    non-joiners (the parts of one word are joined again without a space:
//!    `اسلام‌آباد` → `Islamabad`).
//! 2. Name elements with a settled English spelling are looked up
//!    ([`ELEMENTS`]: common given names and the parts compound names are
//!    built from), along with the Arabic compounds news writes as one word
//!    or two: `عبدال…` → `Abdul …`, `…الله` → `…ullah`, `…الدین` →
//!    `…uddin`.
//! 3. Anything else goes letter by letter. `ا`, `آ`, `و` and `ی` are read
//!    as vowels or consonants by position (`و` is `v` at the start of a
//!    word or after a vowel, `o` after a consonant; `ی` is `y` at the start
//!    or before a vowel, `i` otherwise), final `ه` after a consonant is `a`,
//!    and the unwritten short vowels are restored as `a` so that no
//!    syllable has more consonants than Persian allows: one vowel after the
//!    first of a word's leading consonants and after every second one of a
//!    longer run, none in a two-consonant run between vowels, and none in a
//!    final pair that English spells as a cluster (`-rd`, `-st`, `-kh`).
//!
//! Its accuracy on 106 real name pairs (place names from Unicode CLDR and
//! people's names from news reports) is measured by the unit tests and
//! reported in QUALITY.md.

/// Name elements with their usual English news spelling. Common given
/// names and the parts of compound names; Iranian spellings where Iranian
/// and Afghan usage differ (`Hossein`, not `Hussain`), since the product
/// reads Persian news.
pub const ELEMENTS: &[(&str, &str)] = &[
    ("محمد", "Mohammad"),
    ("عبد", "Abd"),
    ("احمد", "Ahmad"),
    ("محمود", "Mahmoud"),
    ("مصطفی", "Mostafa"),
    ("علی", "Ali"),
    ("حسن", "Hassan"),
    ("حسین", "Hossein"),
    ("رضا", "Reza"),
    ("مهدی", "Mehdi"),
    ("جواد", "Javad"),
    ("عباس", "Abbas"),
    ("کریم", "Karim"),
    ("رحیم", "Rahim"),
    ("رحمان", "Rahman"),
    ("رحمن", "Rahman"),
    ("امیر", "Amir"),
    ("خان", "Khan"),
    ("گل", "Gul"),
    ("جان", "Jan"),
    ("شاه", "Shah"),
    ("نور", "Nur"),
    ("اکبر", "Akbar"),
    ("اصغر", "Asghar"),
    ("فاطمه", "Fatemeh"),
    ("زینب", "Zeinab"),
    ("مریم", "Maryam"),
    ("ابراهیم", "Ebrahim"),
    ("اسماعیل", "Esmaeil"),
    ("یوسف", "Yousef"),
    ("یونس", "Younes"),
    ("موسی", "Mousa"),
    ("عیسی", "Isa"),
    ("داوود", "Davoud"),
    ("داود", "Davoud"),
    ("سلیمان", "Soleiman"),
    ("عمر", "Omar"),
    ("عثمان", "Osman"),
    ("خالد", "Khaled"),
    ("طارق", "Tariq"),
    ("حامد", "Hamed"),
    ("حمید", "Hamid"),
    ("مجید", "Majid"),
    ("سعید", "Saeed"),
    ("وحید", "Vahid"),
    ("جعفر", "Jafar"),
    ("صادق", "Sadegh"),
    ("باقر", "Bagher"),
    ("قاسم", "Qasem"),
    ("کاظم", "Kazem"),
    ("ناصر", "Naser"),
    ("منصور", "Mansour"),
    ("مسعود", "Masoud"),
    ("اسلام", "Islam"),
    ("شریف", "Sharif"),
    ("عزیز", "Aziz"),
    ("حبیب", "Habib"),
    ("نجیب", "Najib"),
    ("قادر", "Qader"),
    ("اشرف", "Ashraf"),
    ("نعمت", "Nemat"),
    ("عزت", "Ezzat"),
    ("سید", "Seyed"),
    ("شیخ", "Sheikh"),
    ("ملا", "Mullah"),
    ("حاجی", "Haji"),
    ("میر", "Mir"),
    ("زاده", "zadeh"),
    ("آباد", "abad"),
    ("ستان", "stan"),
    ("شهر", "shahr"),
    ("پور", "pour"),
    ("زی", "zai"),
];

/// Romanizes a Persian name (one or more words); Latin letters and digits
/// pass through, anything else is dropped. Each word starts with a capital.
pub fn romanize(name: &str) -> String {
    let clean: String = name.chars().filter_map(unify).collect();
    let mut words = Vec::new();
    for word in clean.split(|c: char| c.is_whitespace() || c == '-') {
        let parts: Vec<String> = word
            .split('\u{200C}')
            .filter(|p| !p.is_empty())
            .enumerate()
            .map(|(i, part)| match (i, part) {
                // The second half of a compound written apart.
                (1.., "الله") => "ullah".into(),
                (1.., "الدین") => "uddin".into(),
                _ => romanize_part(part),
            })
            .collect();
        let joined = parts.concat();
        if !joined.is_empty() {
            words.push(capitalize(joined.trim()));
        }
    }
    words.join(" ")
}

/// One spelling per letter: Arabic yeh, kaf, teh marbuta and the hamza
/// seats become the Persian letters; diacritics and tatweel go.
fn unify(c: char) -> Option<char> {
    Some(match c {
        'ي' | 'ى' => 'ی',
        'ك' => 'ک',
        'ة' | 'ۀ' => 'ه',
        'أ' | 'إ' | 'ٱ' => 'ا',
        'ؤ' => 'و',
        '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' => return None,
        c => c,
    })
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn element(part: &str) -> Option<&'static str> {
    ELEMENTS
        .iter()
        .find(|(fa, _)| *fa == part)
        .map(|(_, en)| *en)
}

/// A part of a word (between zero-width non-joiners), lower case except
/// where an element gives its own capital.
fn romanize_part(part: &str) -> String {
    if let Some(en) = element(part) {
        return en.to_string();
    }
    // Arabic compounds: `…الله` (…ullah), `…الدین` (…uddin), `عبدال…`
    // (Abdul …), each part romanized on its own; the suffixes first, so
    // that `عبدالله` is `Abdullah`.
    for (suffix, en) in [("الله", "ullah"), ("الدین", "uddin")] {
        if let Some(stem) = part.strip_suffix(suffix).filter(|s| s.chars().count() >= 2) {
            return format!("{}{en}", romanize_part(stem));
        }
    }
    if let Some(rest) = part
        .strip_prefix("عبدال")
        .filter(|r| r.chars().count() >= 2)
    {
        return format!("Abdul {}", capitalize(&romanize_part(rest)));
    }
    if part == "الله" {
        return "Allah".into();
    }
    // Compound place names: a known element glued to the end.
    for (fa, en) in ELEMENTS {
        if en.starts_with(char::is_lowercase) {
            if let Some(stem) = part.strip_suffix(fa).filter(|s| s.chars().count() >= 2) {
                return format!("{}{en}", romanize_part(stem));
            }
        }
    }
    letters(part)
}

/// A sound unit of a word: a consonant or a vowel, with its spelling.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    C(&'static str),
    V(&'static str),
}

fn consonant(c: char) -> Option<&'static str> {
    Some(match c {
        'ب' => "b",
        'پ' => "p",
        'ت' | 'ط' => "t",
        'ث' | 'س' | 'ص' => "s",
        'ج' => "j",
        'چ' => "ch",
        'ح' | 'ه' => "h",
        'خ' => "kh",
        'د' => "d",
        'ذ' | 'ز' | 'ض' | 'ظ' => "z",
        'ر' => "r",
        'ژ' => "zh",
        'ش' => "sh",
        'غ' => "gh",
        'ف' => "f",
        'ق' => "q",
        'ک' => "k",
        'گ' => "g",
        'ل' => "l",
        'م' => "m",
        'ن' => "n",
        _ => return None,
    })
}

/// Letter-by-letter romanization with the short vowels restored.
fn letters(part: &str) -> String {
    let chars: Vec<char> = part.chars().collect();
    let mut units: Vec<Unit> = Vec::new();
    let mut latin = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let first = units.is_empty();
        let after_vowel = matches!(units.last(), Some(Unit::V(_)));
        let unit = match c {
            'آ' => Unit::V("a"),
            'ا' | 'ع' if first && next == Some('ی') => {
                i += 1;
                Unit::V("i")
            }
            'ا' | 'ع' if first && next == Some('و') => {
                i += 1;
                Unit::V("o")
            }
            // `عا` at the start is one vowel, as `آ` is.
            'ع' if first && matches!(next, Some('ا' | 'آ')) => {
                i += 1;
                Unit::V("a")
            }
            'ا' | 'ع' => Unit::V("a"),
            'ئ' => Unit::V("e"),
            'ء' => {
                i += 1;
                continue;
            }
            'و' if first || after_vowel => Unit::C("v"),
            'و' => Unit::V("o"),
            'ی' if first => Unit::C("y"),
            'ی' if matches!(next, Some('ا' | 'و')) => Unit::C("y"),
            'ی' => Unit::V("i"),
            'ه' if next.is_none() && !first && !after_vowel => Unit::V("a"),
            c => match consonant(c) {
                Some(s) => Unit::C(s),
                None => {
                    if c.is_ascii_alphanumeric() {
                        latin.push(c);
                    }
                    i += 1;
                    continue;
                }
            },
        };
        units.push(unit);
        i += 1;
    }
    if units.is_empty() {
        return latin;
    }
    let mut out = String::new();
    // Runs of consonants between vowels (or the word's ends) get the
    // unwritten vowels back.
    let mut k = 0;
    while k < units.len() {
        if let Unit::V(v) = units[k] {
            out.push_str(v);
            k += 1;
            continue;
        }
        let start = k;
        while k < units.len() && matches!(units[k], Unit::C(_)) {
            k += 1;
        }
        let run: Vec<&str> = units[start..k]
            .iter()
            .map(|u| match u {
                Unit::C(s) | Unit::V(s) => *s,
            })
            .collect();
        let initial = start == 0;
        let last = k == units.len();
        out.push_str(&vowelled(&run, initial, last));
    }
    out.push_str(&latin);
    out
}

/// A run of consonants with `a` put back where a Persian syllable needs a
/// vowel: `initial` when the run starts the word, `last` when it ends it.
fn vowelled(run: &[&str], initial: bool, last: bool) -> String {
    let mut out = String::new();
    let n = run.len();
    // Where a vowel goes after consonant i.
    let mut after = vec![false; n];
    if initial {
        // C a C a ...: a vowel after the first, then after every second.
        let mut i = 0;
        while i + 1 < n {
            after[i] = true;
            i += 2;
        }
    } else if last {
        // A final run: C C is a coda cluster when English spells it so;
        // longer runs keep two consonants before a vowel and the last.
        if n == 2 && !cluster(run[0], run[1]) {
            after[0] = true;
        }
        if n >= 3 {
            after[n - 2] = true;
        }
    } else {
        // Between vowels: V C.C V is fine; longer runs need a vowel after
        // every second consonant.
        let mut i = 1;
        while i + 1 < n {
            after[i] = true;
            i += 2;
        }
    }
    for (i, c) in run.iter().enumerate() {
        out.push_str(c);
        if after[i] {
            out.push('a');
        }
    }
    out
}

/// Word-final consonant pairs English spellings of Persian names keep
/// together (`Kard`, `Bakhsh`, `Rost`, `Naft`).
fn cluster(a: &str, b: &str) -> bool {
    matches!(a, "r" | "l" | "n" | "s" | "sh" | "kh" | "f" | "gh" | "z")
        && matches!(
            b,
            "d" | "t" | "k" | "q" | "g" | "b" | "p" | "sh" | "z" | "m"
        )
}

#[cfg(test)]
mod tests;
