//! `format=html`: the text between tags is translated, the markup kept.

/// A part of an HTML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    /// Tags, comments, script and style contents, and text with nothing
    /// to translate: kept as they are.
    Markup(&'a str),
    /// Text to translate.
    Text(&'a str),
}

/// Cuts `html` into markup and text; joining the parts gives it back.
pub fn split(html: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            parts.push(text(rest));
            break;
        };
        if open > 0 {
            parts.push(text(&rest[..open]));
        }
        let tag = &rest[open..];
        let end = markup_end(tag);
        parts.push(Part::Markup(&tag[..end]));
        rest = &tag[end..];
    }
    parts
}

/// Text with Persian (or any Arabic-script) letters is translated; the
/// rest (whitespace, numbers, entities) is kept.
fn text(s: &str) -> Part<'_> {
    match tarjoman_text::has_arabic_script(s) {
        true => Part::Text(s),
        false => Part::Markup(s),
    }
}

/// Where the markup starting at `tag` (which starts with `<`) ends: after
/// a comment, after a `<script>` or `<style>` element's closing tag, or
/// after the tag's `>`.
fn markup_end(tag: &str) -> usize {
    if tag.starts_with("<!--") {
        return tag.find("-->").map_or(tag.len(), |i| i + 3);
    }
    let close = tag.find('>').map_or(tag.len(), |i| i + 1);
    let name: String = tag[1..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if name == "script" || name == "style" {
        let lower = tag.to_ascii_lowercase();
        let closing = format!("</{name}");
        if let Some(i) = lower[close..].find(&closing) {
            let after = close + i;
            return tag[after..].find('>').map_or(tag.len(), |j| after + j + 1);
        }
        return tag.len();
    }
    close
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_markup_and_finds_text() {
        let html =
            "<p class=\"a\">سلام <b>دنیا</b></p>\n<!-- یادداشت --><script>var x = '<p>';</script>12";
        let parts = split(html);
        let joined: String = parts
            .iter()
            .map(|p| match p {
                Part::Markup(s) | Part::Text(s) => *s,
            })
            .collect();
        assert_eq!(joined, html);
        let texts: Vec<&str> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(s) => Some(*s),
                Part::Markup(_) => None,
            })
            .collect();
        assert_eq!(texts, ["سلام ", "دنیا"]);
    }

    #[test]
    fn unclosed_tags_end_the_document() {
        assert_eq!(split("متن <b"), [Part::Text("متن "), Part::Markup("<b")]);
        assert!(split("").is_empty());
    }
}
