//! Ground Truth's annotation-consolidation request: a JSON array of
//! `{"datasetObjectId", "dataObject", "annotations": [{"workerId",
//! "annotationData": {"content": "<JSON string>"}}]}`, where the content is
//! e.g. `{"crowd-image-classifier": {"label": "owl"}}`.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::{Input, Rejects};
use crate::engine::pack::AnnotationBuilder;
use crate::error::{Error, Location, Result};
use crate::io::ground_truth::{id_text, request_objects, worker_and_content};

fn bad(path: &Path, index: usize, id: Option<&str>, problem: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.into(),
        location: Location::Object {
            index,
            id: id.map(str::to_owned),
        },
        problem: problem.into(),
    }
}

/// The class label inside an annotation's content: the `label` of the one
/// task-type key (`crowd-image-classifier`, `crowd-classifier`, ...).
fn content_label(content: &str) -> std::result::Result<String, String> {
    let value: Value = crate::io::ground_truth::parse_json_strict(content)
        .map_err(|e| format!("content is not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("content must be a JSON object".into());
    };
    for (key, inner) in &obj {
        if let Some(label) = inner.get("label") {
            return id_text(label)
                .ok_or_else(|| format!("content {key:?}.label must be a string, not {label}"));
        }
        if inner.get("labels").is_some() {
            return Err(format!(
                "content {key:?} holds a multi-label answer (\"labels\"); accord consolidates single-label classification"
            ));
        }
    }
    Err(format!(
        "content has no classification label (expected e.g. {{\"crowd-image-classifier\": {{\"label\": \"owl\"}}}}), found keys {:?}",
        obj.keys().collect::<Vec<_>>()
    ))
}

/// Reads a request; bad objects (or single bad annotations of an object)
/// go to `rejects`.
pub fn read_request(
    path: &Path,
    mut reader: impl Read,
    mut builder: AnnotationBuilder,
    rejects: &mut Rejects,
) -> Result<Input> {
    let mut text = Vec::new();
    reader
        .read_to_end(&mut text)
        .map_err(|e| crate::error::Error::read(path, e))?;
    let objects = request_objects(path, &text)?;
    let mut data_objects = Vec::with_capacity(objects.len());
    let as_bytes = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    for (index, object) in objects.iter().enumerate() {
        let id = object.get("datasetObjectId").and_then(id_text);
        let Some(id) = id else {
            let e = bad(
                path,
                index,
                None,
                "missing datasetObjectId (a string or an integer)",
            );
            rejects.bad(e, &as_bytes(object))?;
            continue;
        };
        let annotations = match object.get("annotations") {
            Some(Value::Array(a)) => a,
            _ => {
                let e = bad(path, index, Some(&id), "missing \"annotations\" array");
                rejects.bad(e, &as_bytes(object))?;
                continue;
            }
        };
        match builder.declare_item(&id) {
            Ok(item) if item as usize == data_objects.len() => {}
            Ok(_) => {
                let e = bad(
                    path,
                    index,
                    Some(&id),
                    "datasetObjectId repeats an earlier object",
                );
                rejects.bad(e, &as_bytes(object))?;
                continue;
            }
            Err(p) => {
                rejects.bad(bad(path, index, Some(&id), p), &as_bytes(object))?;
                continue;
            }
        }
        data_objects.push(object.get("dataObject").cloned());
        for (n, annotation) in annotations.iter().enumerate() {
            let add = |builder: &mut AnnotationBuilder| -> Result<()> {
                let (worker, content) = worker_and_content(annotation)
                    .map_err(|p| bad(path, index, Some(&id), format!("annotation {n}: {p}")))?;
                let label = content_label(content).map_err(|p| {
                    bad(
                        path,
                        index,
                        Some(&id),
                        format!("annotation {n} (worker {worker}): {p}"),
                    )
                })?;
                builder
                    .push(&id, &worker, &label)
                    .map_err(|p| bad(path, index, Some(&id), format!("annotation {n}: {p}")))
            };
            if let Err(e) = add(&mut builder) {
                rejects.bad(e, &as_bytes(annotation))?;
            }
        }
    }
    Ok(Input {
        annotations: builder.finish(),
        data_objects,
        ..Default::default()
    })
}
