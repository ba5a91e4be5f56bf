//! Reading a request's fields from a JSON object or a urlencoded form,
//! as LibreTranslate accepts both.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The fields of a request body: a JSON object, or a urlencoded form
/// (a repeated field becomes an array).
pub fn fields(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = content_type.starts_with("application/json")
        || (content_type.is_empty() && body.trim_ascii_start().starts_with(b"{"));
    if json {
        return match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::bad_request(
                "Invalid request: the body must be a JSON object",
            )),
            Err(e) => Err(ApiError::bad_request(format!(
                "Invalid request: malformed JSON: {e}"
            ))),
        };
    }
    if content_type.starts_with("multipart/") {
        return Err(ApiError::bad_request(
            "Invalid request: multipart bodies are not supported; send JSON or a urlencoded form",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("Invalid request: the form is not UTF-8"))?;
    let mut map = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(key)?, Value::String(decode(value)?));
        match map.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                map.insert(key, value);
            }
        }
    }
    Ok(map)
}

/// Decodes one urlencoded component (`+` is a space, `%XX` a byte).
fn decode(s: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("Invalid request: malformed form encoding");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A field that must be a string if present.
pub fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!(
            "Invalid request: {name} must be a string"
        ))),
    }
}

/// `q`: a string, or an array of strings (a batch); `None` if missing or
/// empty.
pub fn texts(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<(Vec<String>, bool)>, ApiError> {
    let wrong = || {
        ApiError::bad_request(format!(
            "Invalid request: {name} must be a string or an array of strings"
        ))
    };
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some((vec![s.clone()], false))),
        Some(Value::Array(items)) if items.is_empty() => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some((v, true))),
        Some(_) => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Map<String, Value> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        fields(&headers, Ok(Bytes::from(body.to_string()))).unwrap()
    }

    #[test]
    fn forms_decode_and_repeat() {
        let f = form("q=%D8%B3%D9%84%D8%A7%D9%85+x&q=b&source=fa&flag");
        assert_eq!(f["q"], serde_json::json!(["سلام x", "b"]));
        assert_eq!(f["source"], "fa");
        assert_eq!(f["flag"], "");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(fields(&headers, Ok(Bytes::from_static(b"q=%zz"))).is_err());
    }

    #[test]
    fn json_must_be_an_object() {
        let headers = HeaderMap::new();
        assert!(fields(&headers, Ok(Bytes::from_static(b"{\"q\": 1}"))).is_ok());
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(fields(&json, Ok(Bytes::from_static(b"[1]"))).is_err());
        assert!(fields(&json, Ok(Bytes::from_static(b"{"))).is_err());
    }

    #[test]
    fn q_is_text_or_texts() {
        let f: Map<String, Value> =
            serde_json::from_str(r#"{"a": "x", "b": ["x", "y"], "c": 3, "d": ["x", 1], "e": " "}"#)
                .unwrap();
        assert_eq!(texts(&f, "a").unwrap(), Some((vec!["x".into()], false)));
        assert!(texts(&f, "b").unwrap().unwrap().1);
        assert!(texts(&f, "c").is_err());
        assert!(texts(&f, "d").is_err());
        assert_eq!(texts(&f, "e").unwrap(), None);
        assert_eq!(texts(&f, "z").unwrap(), None);
    }
}
