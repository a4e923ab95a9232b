//! Pieces of Ground Truth's consolidation request that every task reads
//! alike: the array of objects, each annotation's `workerId` and content
//! string, and ids given as strings or integers.

use serde_json::Value;
use std::path::Path;

use crate::error::{Error, Location, Result};

/// An id as text: strings as they are, integers in decimal.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// A request's objects: the file parsed as a JSON array (a BOM allowed).
pub fn request_objects(path: &Path, text: &[u8]) -> Result<Vec<Value>> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let value: Value = serde_json::from_slice(text)
        .map_err(|e| Error::at_line(path, e.line() as u64, format!("invalid JSON: {e}")))?;
    match value {
        Value::Array(objects) => Ok(objects),
        _ => Err(Error::BadInput {
            path: path.into(),
            location: Location::File,
            problem: "a Ground Truth request must be a JSON array of objects".into(),
        }),
    }
}

/// One annotation's `workerId` and `annotationData.content` string.
pub fn worker_and_content(annotation: &Value) -> std::result::Result<(String, &str), String> {
    let worker = annotation
        .get("workerId")
        .and_then(id_text)
        .ok_or("missing workerId")?;
    let content = annotation
        .get("annotationData")
        .and_then(|d| d.get("content"))
        .and_then(Value::as_str)
        .ok_or("missing annotationData.content string")?;
    Ok((worker, content))
}
