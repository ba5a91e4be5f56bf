//! Which language an article is in, with whatlang (trigram profiles of 69
//! languages): Persian is translated, English summarized as it is, anything
//! else is refused.

/// How much of a long text the detector reads: the start of an article says
/// its language, and trigram counting over megabytes is wasted time.
const SAMPLE_BYTES: usize = 16 * 1024;

/// What an article is written in, as far as the batch cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    /// Persian: translate, then summarize.
    Persian,
    /// English: summarize directly.
    English,
    /// Anything else (its English name), or `None` when the text gives
    /// too little to tell.
    Other(Option<String>),
}

impl Language {
    /// The name written to the manifest.
    pub fn name(&self) -> String {
        match self {
            Language::Persian => "persian".to_string(),
            Language::English => "english".to_string(),
            Language::Other(Some(name)) => name.to_lowercase(),
            Language::Other(None) => "unknown".to_string(),
        }
    }
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Detects the language of `text`.
pub fn detect(text: &str) -> Language {
    match whatlang::detect(head(text, SAMPLE_BYTES)) {
        Some(info) => match info.lang() {
            whatlang::Lang::Pes => Language::Persian,
            whatlang::Lang::Eng => Language::English,
            other => Language::Other(Some(other.eng_name().to_string())),
        },
        None => Language::Other(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persian_english_and_others() {
        assert_eq!(
            detect("مذاکرات هسته‌ای ایران و آمریکا پس از چند ماه وقفه دوباره در مسقط آغاز شد."),
            Language::Persian
        );
        assert_eq!(
            detect("The talks resumed in Muscat after a pause of several months, officials said."),
            Language::English
        );
        let french = detect("Les négociations ont repris à Mascate après une pause de plusieurs mois, selon les responsables.");
        assert_eq!(french, Language::Other(Some("French".to_string())));
        assert_eq!(french.name(), "french");
        assert_eq!(detect("1234 5678"), Language::Other(None));
    }

    #[test]
    fn head_never_splits_a_character() {
        let s = "آب".repeat(10);
        for max in 0..s.len() + 2 {
            assert!(s.starts_with(head(&s, max)));
        }
    }
}
