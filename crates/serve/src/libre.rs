//! LibreTranslate's API, so its clients work unchanged: `POST /translate`,
//! `GET /languages`, `POST /detect`, with its field names, answers and
//! error shape (`{"error": "..."}`, 400 for a bad request, 403 for a wrong
//! key, 500 when translation fails; 503 with `Retry-After` when busy).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};
use tarjoman_text::script::{detect as detect_script, persian_letter_ratio, Lang};

use crate::error::ApiError;
use crate::html::{split, Part};
use crate::request::{fields, string, texts};
use crate::state::AppState;
use crate::worker::Update;

/// The languages offered: Persian into English.
pub async fn languages() -> Json<Value> {
    Json(json!([
        { "code": "fa", "name": "Persian", "targets": ["en"] },
        { "code": "en", "name": "English", "targets": [] },
    ]))
}

/// `POST /translate`: `q` (a string or an array), `source` (`fa` or
/// `auto`), `target` (`en`), `format` (`text` or `html`), `api_key`.
pub async fn translate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let start = Instant::now();
    let fields = fields(&headers, body)?;
    state.authorize(string(&fields, "api_key")?, &headers)?;
    let (qs, batch) = texts(&fields, "q")?
        .ok_or_else(|| ApiError::bad_request("Invalid request: missing q parameter"))?;
    let source = string(&fields, "source")?
        .ok_or_else(|| ApiError::bad_request("Invalid request: missing source parameter"))?;
    let target = string(&fields, "target")?
        .ok_or_else(|| ApiError::bad_request("Invalid request: missing target parameter"))?;
    if source != "fa" && source != "auto" {
        return Err(ApiError::bad_request(format!("{source} is not supported")));
    }
    if target != "en" {
        return Err(ApiError::bad_request(format!("{target} is not supported")));
    }
    let html = match string(&fields, "format")?.unwrap_or("text") {
        "text" => false,
        "html" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid request: format must be text or html, not {other}"
            )))
        }
    };
    let alternatives = fields.get("alternatives").is_some();
    state.accepting()?;
    let translated = match html {
        false => translate_texts(&state, qs.clone()).await?,
        true => translate_html(&state, &qs).await?,
    };
    state.metrics.request_latency.observe(start.elapsed());
    let mut answer = serde_json::Map::new();
    if source == "auto" {
        let detected: Vec<Value> = qs.iter().map(|q| detection(q)).collect();
        answer.insert(
            "detectedLanguage".into(),
            match batch {
                true => Value::Array(detected),
                false => detected.into_iter().next().unwrap_or(Value::Null),
            },
        );
    }
    let texts: Vec<Value> = translated.into_iter().map(Value::String).collect();
    if alternatives {
        let none = || Value::Array(Vec::new());
        let alts = match batch {
            true => Value::Array(texts.iter().map(|_| none()).collect()),
            false => none(),
        };
        answer.insert("alternatives".into(), alts);
    }
    answer.insert(
        "translatedText".into(),
        match batch {
            true => Value::Array(texts),
            false => texts.into_iter().next().unwrap_or_default(),
        },
    );
    Ok(Json(Value::Object(answer)))
}

/// `POST /detect`: `[{"confidence": 0-100, "language": "fa"}]` for `q`
/// (for an array of texts, one such list per text).
pub async fn detect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let fields = fields(&headers, body)?;
    state.authorize(string(&fields, "api_key")?, &headers)?;
    let (qs, batch) = texts(&fields, "q")?
        .ok_or_else(|| ApiError::bad_request("Invalid request: missing q parameter"))?;
    let lists: Vec<Value> = qs.iter().map(|q| json!([detection(q)])).collect();
    Ok(Json(match batch {
        true => Value::Array(lists),
        false => lists.into_iter().next().unwrap_or_default(),
    }))
}

/// The language of `text` among those offered, with a confidence in
/// percent: the share of its letters in the language's script.
fn detection(text: &str) -> Value {
    let arabic = persian_letter_ratio(text) as f64;
    let round = |x: f64| (x * 1000.0).round() / 10.0;
    let (language, confidence) = match detect_script(text) {
        Lang::Persian => ("fa", round(arabic)),
        Lang::English => ("en", round(1.0 - arabic)),
        // Another language: the nearer of the two, with little confidence.
        _ if arabic >= 0.5 => ("fa", round(arabic) / 4.0),
        _ => ("en", round(1.0 - arabic) / 4.0),
    };
    json!({ "confidence": confidence, "language": language })
}

/// Translates each text whole (as one document), in order.
pub async fn translate_texts(state: &AppState, docs: Vec<String>) -> Result<Vec<String>, ApiError> {
    if docs.iter().all(|d| d.trim().is_empty()) {
        return Ok(docs);
    }
    let mut rx = state
        .engine
        .translate(docs.clone())
        .map_err(|r| state.refused(r))?;
    let mut out = vec![String::new(); docs.len()];
    loop {
        match rx.recv().await {
            Some(Update::Verbatim { doc, text }) => out[doc].push_str(&text),
            Some(Update::Record { doc, record }) => out[doc].push_str(&record.translation),
            Some(Update::Done) => return Ok(out),
            Some(Update::Failed(e)) => {
                return Err(ApiError::internal(format!("Cannot translate text: {e}")))
            }
            None => {
                return Err(ApiError::internal(
                    "Cannot translate text: the model stopped",
                ))
            }
        }
    }
}

/// Translates the text between the tags of each HTML document.
async fn translate_html(state: &AppState, docs: &[String]) -> Result<Vec<String>, ApiError> {
    let split: Vec<Vec<Part<'_>>> = docs.iter().map(|d| split(d)).collect();
    let texts: Vec<String> = split
        .iter()
        .flatten()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.to_string()),
            Part::Markup(_) => None,
        })
        .collect();
    let mut translated = translate_texts(state, texts).await?.into_iter();
    Ok(split
        .iter()
        .map(|parts| {
            parts
                .iter()
                .map(|p| match p {
                    Part::Markup(m) => m.to_string(),
                    Part::Text(_) => translated.next().unwrap_or_default(),
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_names_the_script() {
        assert_eq!(detection("این یک خبر است")["language"], "fa");
        assert_eq!(detection("این یک خبر است")["confidence"], 100.0);
        assert_eq!(detection("This is the news of the day")["language"], "en");
    }
}
