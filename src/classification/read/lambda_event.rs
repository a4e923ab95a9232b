//! Ground Truth's annotation-consolidation Lambda event: the JSON object a
//! labelling job sends its consolidation function,
//! `{"version": "2018-10-16", "labelingJobArn", "labelCategories",
//! "labelAttributeName", "payload": {"s3Uri"}, ...}`. The payload (the
//! request itself) must be local: a path, relative to the event's folder,
//! or a `file://` URI. The event's categories give the class order and its
//! attribute name the output's label attribute.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Location, Result};

/// What a consolidation event says.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaEvent {
    /// The labelling job's ARN, when given.
    pub job_arn: Option<String>,
    /// The job's categories, in the job's order (the class indices of its
    /// output manifest).
    pub categories: Option<Vec<String>>,
    /// The job's label attribute name.
    pub label_attribute: Option<String>,
    /// The request to consolidate.
    pub payload: PathBuf,
}

impl LambdaEvent {
    /// The job's name: the last part of its ARN (`.../labeling-job/NAME`).
    pub fn job_name(&self) -> Option<&str> {
        self.job_arn.as_deref()?.rsplit('/').next()
    }
}

/// True when `head` (the first bytes of a file) looks like an event: an
/// object naming a payload and a version or job.
pub fn looks_like_event(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{')
        && text.contains("\"payload\"")
        && (text.contains("\"labelingJobArn\"") || text.contains("\"version\""))
}

/// Parses the event at `path` (its text `text`).
pub fn parse_event(path: &Path, text: &str) -> Result<LambdaEvent> {
    let bad = |problem: String| Error::BadInput {
        path: path.into(),
        location: Location::File,
        problem,
    };
    let value: Value =
        crate::io::ground_truth::parse_json_strict(text.trim_start_matches('\u{feff}'))
            .map_err(|e| Error::at_line(path, e.line() as u64, format!("invalid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("a Ground Truth Lambda event is a JSON object".into()))?;
    let text_field = |key: &str| -> Result<Option<String>> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!("{key} must be a string, not {other}"))),
        }
    };
    let categories = match object.get("labelCategories") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|c| match c {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(bad(format!(
                        "labelCategories must hold strings, not {other}"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(other) => {
            return Err(bad(format!(
                "labelCategories must be an array, not {other}"
            )))
        }
    };
    let uri = object
        .get("payload")
        .and_then(|p| p.get("s3Uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("missing payload.s3Uri, the request to consolidate".into()))?;
    Ok(LambdaEvent {
        job_arn: text_field("labelingJobArn")?,
        categories,
        label_attribute: text_field("labelAttributeName")?,
        payload: local_payload(path, uri).map_err(bad)?,
    })
}

/// The payload's local path: `file://` URIs and paths (relative to the
/// event's folder); `s3://` is refused with what to do instead.
fn local_payload(event: &Path, uri: &str) -> std::result::Result<PathBuf, String> {
    if let Some(rest) = uri.strip_prefix("file://") {
        return Ok(PathBuf::from(rest));
    }
    if uri.contains("://") {
        return Err(format!(
            "payload.s3Uri {uri:?} is not local: accord reads the request from disk; copy it (aws s3 cp {uri} request.json) and give its path or a file:// URI"
        ));
    }
    let path = Path::new(uri);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        event.parent().unwrap_or(Path::new("")).join(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_event_and_resolves_its_payload() {
        let text = r#"{"version": "2018-10-16",
            "labelingJobArn": "arn:aws:sagemaker:us-west-2:111122223333:labeling-job/birds",
            "labelCategories": ["owl", "falcon"], "labelAttributeName": "species",
            "roleArn": "arn:aws:iam::111122223333:role/x",
            "payload": {"s3Uri": "request.json"}}"#;
        assert!(looks_like_event(text.as_bytes()));
        let e = parse_event(Path::new("jobs/event.json"), text).unwrap();
        assert_eq!(e.payload, Path::new("jobs/request.json"));
        assert_eq!(e.categories.unwrap(), ["owl", "falcon"]);
        assert_eq!(e.label_attribute.as_deref(), Some("species"));
        let e = parse_event(
            Path::new("e.json"),
            &text.replace("request.json", "file:///tmp/r.json"),
        )
        .unwrap();
        assert_eq!(e.payload, Path::new("/tmp/r.json"));
        assert_eq!(e.job_name(), None.or(Some("birds")));
        let err = parse_event(
            Path::new("e.json"),
            &text.replace("request.json", "s3://b/r.json"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("not local") && err.contains("aws s3 cp"),
            "{err}"
        );
    }
}
