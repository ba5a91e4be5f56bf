//! The built-in gazetteer: Persian and English names of countries,
//! territories and cities from the Unicode Common Locale Data Repository
//! (CLDR), which the product fetches like a model (npm packages
//! `cldr-localenames-full` and `cldr-dates-full`, pinned by SHA-256 in
//! `models/manifest.toml`).
//!
//! [`gazetteer`] reads CLDR's JSON for Persian (`fa`) and English (`en`):
//! territory names (`localeDisplayNames.territories`, with their short and
//! variant forms: `Türkiye` or `Turkey`, `United Kingdom` or `UK`) and the
//! time-zone exemplar cities (`dates.timeZoneNames.zone`; English falls back
//! to the zone id, `Asia/Kabul` → `Kabul`, as CLDR itself does). The
//! translator finds them in each sentence as whole words and checks that
//! the translation has them ([`crate::guard`]); a translation that drops
//! one is retried with the names in the prompt, like the user's glossary
//! terms.

use std::collections::HashMap;

use serde_json::Value;

use crate::guard::GlossaryEntry;

/// CLDR names that are also everyday Persian words, so that a sentence
/// holding the word would be told a place is in it: `مالی` (Mali;
/// "financial"), `چک` (Czechia; "cheque"), `پرت` (Perth; "thrown",
/// "remote"), `ماهه` (Mahé; "-month", as in `سه ماهه`). Left out.
const COMMON_WORDS: [&str; 4] = ["مالی", "چک", "پرت", "ماهه"];

/// Territory codes that are not places: unknown region, outlying Oceania.
const NOT_PLACES: [&str; 2] = ["ZZ", "QO"];

/// One CLDR JSON file, named for errors.
#[derive(Debug, Clone, Copy)]
pub struct CldrFile<'a> {
    /// Where it was read from (for error messages).
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// The four CLDR files the gazetteer is made of.
#[derive(Debug, Clone, Copy)]
pub struct CldrFiles<'a> {
    pub territories_fa: CldrFile<'a>,
    pub territories_en: CldrFile<'a>,
    pub zones_fa: CldrFile<'a>,
    pub zones_en: CldrFile<'a>,
}

/// Why the gazetteer cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    /// Not JSON: truncated or corrupt.
    #[error("CLDR file {file} is not valid JSON (truncated or corrupt?)")]
    Json {
        file: String,
        #[source]
        source: serde_json::Error,
    },
    /// JSON, but not the CLDR data expected.
    #[error("CLDR file {file} has no {what}")]
    Shape { file: String, what: String },
}

/// The place names, territories first (their English wins where a city has
/// the same Persian, as `تونس`, Tunisia and Tunis), each city or territory
/// once per Persian spelling.
pub fn gazetteer(files: &CldrFiles<'_>) -> Result<Vec<GlossaryEntry>, NamesError> {
    let territories = |file: &CldrFile<'_>, locale: &str| -> Result<Vec<(String, String)>, _> {
        let json = parse(file)?;
        let names = walk(
            &json,
            file,
            &["main", locale, "localeDisplayNames", "territories"],
        )?;
        strings(names, file)
    };
    let fa = territories(&files.territories_fa, "fa")?;
    let en: HashMap<String, String> = territories(&files.territories_en, "en")?
        .into_iter()
        .collect();
    let mut places: Vec<(String, String, Vec<String>)> = Vec::new();
    for (key, persian) in &fa {
        let code = key.split("-alt-").next().unwrap_or(key);
        if code.starts_with(|c: char| c.is_ascii_digit()) || NOT_PLACES.contains(&code) {
            continue;
        }
        // The English of the same form (short for short) is given to the
        // model; the others are accepted too.
        let Some(target) = en
            .get(key.as_str())
            .or_else(|| en.get(code))
            .filter(|v| !v.contains('('))
            .cloned()
        else {
            continue;
        };
        if persian.contains('(') {
            continue;
        }
        let alt = format!("{code}-alt-");
        let mut english: Vec<String> = en
            .iter()
            .filter(|(k, v)| (k.as_str() == code || k.starts_with(&alt)) && !v.contains('('))
            .map(|(_, v)| v.clone())
            .filter(|v| v != &target)
            .collect();
        english.sort();
        places.push((persian.clone(), target, english));
    }
    // `en` has the cities whose English differs from their zone id.
    let cities_en: HashMap<String, String> = cities(&files.zones_en, "en")?.into_iter().collect();
    for (zone, persian) in cities(&files.zones_fa, "fa")? {
        if zone.starts_with("Etc/") {
            continue;
        }
        let english = cities_en
            .get(&zone)
            .cloned()
            .unwrap_or_else(|| zone.rsplit('/').next().unwrap_or(&zone).replace('_', " "));
        places.push((persian, english, Vec::new()));
    }
    // Same Persian twice: the second English becomes another accepted form
    // of the first.
    let mut entries: Vec<GlossaryEntry> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (persian, target, also) in places {
        if COMMON_WORDS.contains(&persian.as_str()) {
            continue;
        }
        let Some(entry) = GlossaryEntry::place(&persian, &target, also) else {
            continue;
        };
        let key = entry.matcher().to_string();
        match seen.get(&key) {
            Some(&i) => {
                let first = &mut entries[i];
                if first.target != entry.target && !first.also.contains(&entry.target) {
                    first.also.push(entry.target);
                }
            }
            None => {
                seen.insert(key, entries.len());
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

fn parse(file: &CldrFile<'_>) -> Result<Value, NamesError> {
    serde_json::from_slice(file.bytes).map_err(|source| NamesError::Json {
        file: file.name.to_string(),
        source,
    })
}

/// The object at `path` in `json`.
fn walk<'v>(json: &'v Value, file: &CldrFile<'_>, path: &[&str]) -> Result<&'v Value, NamesError> {
    path.iter()
        .try_fold(json, |v, key| v.get(key))
        .filter(|v| v.is_object())
        .ok_or_else(|| NamesError::Shape {
            file: file.name.to_string(),
            what: path.join("."),
        })
}

/// An object's string members as (key, value) pairs, in key order.
fn strings(object: &Value, file: &CldrFile<'_>) -> Result<Vec<(String, String)>, NamesError> {
    let mut pairs: Vec<(String, String)> = object
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if pairs.is_empty() {
        return Err(NamesError::Shape {
            file: file.name.to_string(),
            what: "names".to_string(),
        });
    }
    pairs.sort();
    Ok(pairs)
}

/// Every zone's exemplar city: (zone id, city), in zone order.
fn cities(file: &CldrFile<'_>, locale: &str) -> Result<Vec<(String, String)>, NamesError> {
    let json = parse(file)?;
    let zones = walk(
        &json,
        file,
        &["main", locale, "dates", "timeZoneNames", "zone"],
    )?;
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), zones)];
    while let Some((path, node)) = stack.pop() {
        let Some(object) = node.as_object() else {
            continue;
        };
        if let Some(city) = object.get("exemplarCity").and_then(Value::as_str) {
            out.push((path.clone(), city.trim().to_string()));
        }
        for (key, child) in object {
            if child.is_object() {
                let path = match path.is_empty() {
                    true => key.clone(),
                    false => format!("{path}/{key}"),
                };
                stack.push((path, child));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::generate::StopReason;
    use crate::guard::{diagnose, Glossary, TermOrigin};

    /// Four files in CLDR's shapes, with a few real entries each.
    fn files() -> [Vec<u8>; 4] {
        let territories = |locale: &str, names: Value| {
            json!({"main": {locale: {"localeDisplayNames": {"territories": names}}}})
                .to_string()
                .into_bytes()
        };
        let zones = |locale: &str, zone: Value| {
            json!({"main": {locale: {"dates": {"timeZoneNames": {"zone": zone}}}}})
                .to_string()
                .into_bytes()
        };
        [
            territories(
                "fa",
                json!({"001": "جهان", "TR": "ترکیه", "SA": "عربستان سعودی",
                       "SA-alt-short": "عربستان", "ML": "مالی", "TN": "تونس",
                       "AE": "امارات متحدهٔ عربی", "CD-alt-variant": "کنگو (جمهوری دموکراتیک)",
                       "ZZ": "ناحیهٔ نامشخص", "TD": "چاد"}),
            ),
            territories(
                "en",
                json!({"001": "world", "TR": "Türkiye", "TR-alt-variant": "Turkey",
                       "SA": "Saudi Arabia", "ML": "Mali", "TN": "Tunisia",
                       "AE": "United Arab Emirates", "CD": "Congo - Kinshasa",
                       "CD-alt-variant": "Congo (DRC)", "ZZ": "Unknown Region", "TD": "Chad"}),
            ),
            zones(
                "fa",
                json!({"Asia": {"Kabul": {"exemplarCity": "کابل"}},
                       "Europe": {"Istanbul": {"exemplarCity": "استانبول"},
                                  "Kiev": {"exemplarCity": "کیف"}},
                       "Africa": {"Tunis": {"exemplarCity": "تونس"}},
                       "America": {"Los_Angeles": {"exemplarCity": "لس‌آنجلس"}},
                       "Etc": {"Unknown": {"exemplarCity": "شهر نامعلوم"}}}),
            ),
            zones("en", json!({"Europe": {"Kiev": {"exemplarCity": "Kyiv"}}})),
        ]
    }

    fn build(files: &[Vec<u8>; 4]) -> Result<Vec<GlossaryEntry>, NamesError> {
        fn file<'a>(name: &'a str, bytes: &'a [u8]) -> CldrFile<'a> {
            CldrFile { name, bytes }
        }
        gazetteer(&CldrFiles {
            territories_fa: file("fa/territories.json", &files[0]),
            territories_en: file("en/territories.json", &files[1]),
            zones_fa: file("fa/timeZoneNames.json", &files[2]),
            zones_en: file("en/timeZoneNames.json", &files[3]),
        })
    }

    fn english(entries: &[GlossaryEntry], persian: &str) -> Option<(String, Vec<String>)> {
        entries
            .iter()
            .find(|e| e.source == persian)
            .map(|e| (e.target.clone(), e.also.clone()))
    }

    #[test]
    fn cldr_territories_and_cities_become_place_names() {
        let entries = build(&files()).unwrap();
        assert!(entries.iter().all(|e| e.origin == TermOrigin::Gazetteer));
        let e = |p| english(&entries, p);
        assert_eq!(e("ترکیه"), Some(("Türkiye".into(), vec!["Turkey".into()])));
        assert_eq!(e("عربستان").unwrap().0, "Saudi Arabia");
        assert_eq!(e("کابل").unwrap().0, "Kabul");
        // English from the zone id, underscores as spaces, unless CLDR's
        // English names the city otherwise.
        assert_eq!(e("لس‌آنجلس").unwrap().0, "Los Angeles");
        assert_eq!(e("کیف").unwrap().0, "Kyiv");
        // The territory's English first; the city's is accepted too.
        assert_eq!(e("تونس"), Some(("Tunisia".into(), vec!["Tunis".into()])));
        // Not places, everyday words, parenthesized forms: left out.
        for persian in ["جهان", "ناحیهٔ نامشخص", "مالی", "شهر نامعلوم"]
        {
            assert_eq!(e(persian), None, "{persian}");
        }
        assert!(entries.iter().all(|e| !e.source.contains('(')));
    }

    #[test]
    fn places_are_found_as_whole_words_longest_first() {
        let g = Glossary::default().with_places(build(&files()).unwrap());
        let found =
            |s: &str| -> Vec<String> { g.find(s).iter().map(|e| e.target.clone()).collect() };
        assert_eq!(
            found("وزیر عربستان سعودی به استانبول و کابل رفت."),
            ["Saudi Arabia", "Istanbul", "Kabul"]
        );
        // Inside another word (ایجاد, "creation"): not Chad.
        assert!(found("ایجاد یک کمیته").is_empty());
        // The ezafe hamza, Arabic yeh and a suffix after a non-joiner.
        assert_eq!(found("امارات متحده عربي"), ["United Arab Emirates"]);
        assert_eq!(found("دولت ترکیه‌ی جدید"), ["Türkiye"]);
        // A demonym is not the place.
        assert!(found("یک شهروند ترکیه‌ای و افغانی").is_empty());
        // Either English form passes the guard.
        let source = "ترکیه و قطر گفتگو کردند.";
        let terms = g.find(source);
        let ok = diagnose(
            source,
            "Turkey and Qatar held talks.",
            StopReason::Eos,
            &terms,
        );
        assert!(ok.is_empty(), "{ok:?}");
        // So does a word made from the name (an adjective, a demonym).
        let ok = diagnose(
            source,
            "Turkish and Qatari officials held talks.",
            StopReason::Eos,
            &terms,
        );
        assert!(ok.is_empty(), "{ok:?}");
        let missing = diagnose(source, "Qatar held talks.", StopReason::Eos, &terms);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].to_string().contains("place name ترکیه"),
            "{missing:?}"
        );
    }

    #[test]
    fn the_users_glossary_wins_over_the_gazetteer() {
        let user = Glossary::parse("ترکیه\tTurkey\n").unwrap();
        let g = user.with_places(build(&files()).unwrap());
        let terms = g.find("سفر به ترکیه");
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].target, "Turkey");
        assert_eq!(terms[0].origin, TermOrigin::Glossary);
    }

    #[test]
    fn corrupt_or_truncated_files_are_named_in_the_error() {
        let mut broken = files();
        let half = broken[2].len() / 2;
        broken[2].truncate(half);
        let error = build(&broken).unwrap_err().to_string();
        assert!(error.contains("fa/timeZoneNames.json"), "{error}");
        let mut wrong = files();
        wrong[1] = br#"{"main": {"en": {}}}"#.to_vec();
        let error = build(&wrong).unwrap_err().to_string();
        assert!(
            error.contains("en/territories.json") && error.contains("territories"),
            "{error}"
        );
    }

    /// A hunspell word list of a few words, with flags as Lilak writes them.
    fn words() -> crate::words::WordList {
        let dic =
            "7\nمجاهد/pasasosdsesfslsj\nکشور/pasasosgshsislsjsdsesf\nگفت\nاو\nشهر\nدر\nنزدیک\n";
        crate::words::WordList::parse("index.dic", dic.as_bytes()).expect("parses")
    }

    #[test]
    fn hints_leave_out_known_places_and_are_never_checked() {
        let w = std::sync::Arc::new(words());
        let glossary = Glossary::default()
            .with_places(vec![GlossaryEntry::place("کابل", "Kabul", vec![]).unwrap()])
            .with_words(w);
        let sentence = "او در کابل و سپین بولدک گفت.";
        let terms = glossary.find(sentence);
        assert_eq!(terms.len(), 1);
        let hints = glossary.hints(sentence, &terms);
        assert_eq!(hints.len(), 1);
        assert_eq!(hints[0].target, "Sapin Boldak");
        assert_eq!(hints[0].origin, TermOrigin::Romanized);
        // Only the gazetteer's name is checked.
        let failures = diagnose(sentence, "He spoke in Kabul.", StopReason::Eos, &terms);
        assert!(failures.is_empty(), "{failures:?}");
    }
}
