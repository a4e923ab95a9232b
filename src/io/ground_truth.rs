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
    let value: Value = parse_json_strict_slice(text)
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

/// Parses JSON text into a [`Value`], refusing an object that names a key
/// twice at any depth (`serde_json` would keep the last silently, so an
/// item could change id). The error is serde_json's, with line and column.
pub fn parse_json_strict(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str::<StrictValue>(text).map(|v| v.0)
}

/// [`parse_json_strict`] for bytes.
pub fn parse_json_strict_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice::<StrictValue>(bytes).map(|v| v.0)
}

/// A JSON value whose objects have unique keys.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        assert!(parse_json_strict(r#"{"item": "a", "item": "b"}"#).is_err());
        assert!(parse_json_strict(r#"[{"x": {"k": 1, "k": 2}}]"#).is_err());
        let v = parse_json_strict(r#"{"a": [1, 2.5, null, true, "s", {"b": 1}]}"#).unwrap();
        assert_eq!(v["a"][5]["b"], 1);
    }
}
