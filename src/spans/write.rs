//! Span writers: CSV, Ground Truth's output manifest for
//! `groundtruth/text-span`, the consolidation Lambda's response, and the
//! worker report. Offsets are written in the input's unit.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::read::OffsetMap;
use super::SpanLabels;

/// Output formats of `accord consolidate --task spans`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum SpanOutputFormat {
    /// `item,start,end,label,confidence,support,answered,text`: one row per span.
    #[default]
    Csv,
    /// Ground Truth's output manifest: one JSON line per text.
    Manifest,
    /// Ground Truth's annotation-consolidation Lambda response (a JSON array).
    GtResponse,
}

/// Options of [`write_spans`].
#[derive(Debug, Clone)]
pub struct SpanWriteOptions {
    /// The format.
    pub format: SpanOutputFormat,
    /// Ground Truth's label attribute name.
    pub label_attribute: String,
    /// Written as the metadata's `job-name`.
    pub job_name: String,
    /// Written as the metadata's `creation-date`.
    pub creation_date: String,
}

fn round6(p: f32) -> f64 {
    (p as f64 * 1e6).round() / 1e6
}

/// The code-point slice `start..end` of `text`.
fn slice(text: &str, start: u32, end: u32) -> &str {
    let mut at = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()));
    let a = at.nth(start as usize).unwrap_or(text.len());
    let b = if end > start {
        at.nth((end - start - 1) as usize).unwrap_or(text.len())
    } else {
        a
    };
    &text[a..b]
}

/// Writes the consolidated spans in `options.format`. `data_objects` are a
/// Ground Truth request's (for `source`), else empty.
pub fn write_spans(
    out: &mut dyn Write,
    labels: &SpanLabels,
    data_objects: &[Option<Value>],
    offsets: &OffsetMap,
    options: &SpanWriteOptions,
) -> std::io::Result<()> {
    let batch = &labels.batch;
    match options.format {
        SpanOutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "item",
                "start",
                "end",
                "label",
                "confidence",
                "support",
                "answered",
                "text",
            ])?;
            for i in 0..batch.n_items() {
                for s in labels.spans_of(i) {
                    w.write_record([
                        s.item,
                        &offsets.from_code_points(i, s.start).to_string(),
                        &offsets.from_code_points(i, s.end).to_string(),
                        s.label,
                        &round6(s.confidence).to_string(),
                        &s.support.to_string(),
                        &s.answered.to_string(),
                        slice(&batch.texts[i], s.start, s.end),
                    ])?;
                }
            }
            w.flush()
        }
        SpanOutputFormat::Manifest => {
            for i in 0..batch.n_items() {
                let mut line = Map::new();
                match data_objects.get(i).and_then(Option::as_ref) {
                    Some(object) => {
                        if let Some(uri) = object.get("s3Uri") {
                            line.insert("source-ref".into(), uri.clone());
                        }
                        if let Some(content) = object.get("content") {
                            line.insert("source".into(), content.clone());
                        }
                    }
                    None => {
                        line.insert("item".into(), json!(batch.item_names.get(i)));
                        line.insert("source".into(), json!(batch.texts[i]));
                    }
                }
                let (annotation, metadata) = annotation(labels, offsets, options, i);
                let attr = &options.label_attribute;
                line.insert(attr.clone(), annotation);
                line.insert(format!("{attr}-metadata"), metadata);
                serde_json::to_writer(&mut *out, &Value::Object(line))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        SpanOutputFormat::GtResponse => {
            let entries: Vec<Value> = (0..batch.n_items())
                .map(|i| {
                    let (annotation, metadata) = annotation(labels, offsets, options, i);
                    let attr = &options.label_attribute;
                    let mut content = Map::new();
                    content.insert(attr.clone(), annotation);
                    content.insert(format!("{attr}-metadata"), metadata);
                    json!({
                        "datasetObjectId": batch.item_names.get(i),
                        "consolidatedAnnotation": { "content": Value::Object(content) },
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &entries)?;
            out.write_all(b"\n")
        }
    }
}

/// Ground Truth's `<attr>` and `<attr>-metadata` of item `i`.
fn annotation(
    labels: &SpanLabels,
    offsets: &OffsetMap,
    options: &SpanWriteOptions,
    i: usize,
) -> (Value, Value) {
    let batch = &labels.batch;
    let spans: Vec<_> = labels.spans_of(i).collect();
    let entities: Vec<Value> = spans
        .iter()
        .map(|s| {
            json!({
                "label": s.label,
                "startOffset": offsets.from_code_points(i, s.start),
                "endOffset": offsets.from_code_points(i, s.end),
            })
        })
        .collect();
    let label_list: Vec<Value> = batch
        .label_names
        .iter()
        .map(|l| json!({ "label": l }))
        .collect();
    let confidences: Vec<Value> = spans
        .iter()
        .map(|s| json!({ "confidence": round6(s.confidence) }))
        .collect();
    (
        json!({ "annotations": { "labels": label_list, "entities": entities } }),
        json!({
            "entities": confidences,
            "type": "groundtruth/text-span",
            // "no": nobody answered this text, so no person made its (empty) answer.
            "human-annotated": if batch.responses(i).is_empty() { "no" } else { "yes" },
            "creation-date": options.creation_date,
            "job-name": options.job_name,
        }),
    )
}

fn number(v: f32) -> Value {
    if v.is_finite() {
        json!(round6(v))
    } else {
        Value::Null
    }
}

fn text(v: f32) -> String {
    if v.is_finite() {
        round6(v).to_string()
    } else {
        String::new()
    }
}

/// Writes the worker report: id, texts answered, spans marked, the share
/// of spans that miss a consolidated span's boundaries, and per label the
/// precision and recall (`seq`: the model's token-level estimates; the
/// other methods: exact spans against the consolidated ones). An empty
/// cell (JSON `null`) has nothing to measure. JSON when `json`, else CSV.
pub fn write_workers(out: &mut dyn Write, labels: &SpanLabels, json: bool) -> std::io::Result<()> {
    let batch = &labels.batch;
    let basis = if labels.fit.method == super::SpanMethod::Seq {
        "model: expected token-level scores under the fitted posteriors"
    } else {
        "agreement: exact spans against the consolidated spans"
    };
    if json {
        let workers: Vec<Value> = labels
            .fit
            .workers
            .iter()
            .enumerate()
            .map(|(w, s)| {
                let per_label: Map<String, Value> = batch
                    .label_names
                    .iter()
                    .enumerate()
                    .map(|(l, name)| {
                        (
                            name.clone(),
                            json!({ "precision": number(s.precision[l]), "recall": number(s.recall[l]) }),
                        )
                    })
                    .collect();
                json!({
                    "worker": batch.worker_names.get(w),
                    "responses": s.responses,
                    "spans": s.spans,
                    "boundary_error": number(s.boundary_error),
                    "labels": per_label,
                })
            })
            .collect();
        let report =
            json!({ "method": labels.fit.method.name(), "basis": basis, "workers": workers });
        serde_json::to_writer(&mut *out, &report)?;
        return out.write_all(b"\n");
    }
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec![
        "worker".to_string(),
        "responses".into(),
        "spans".into(),
        "boundary_error".into(),
    ];
    for l in &batch.label_names {
        header.push(format!("precision_{l}"));
        header.push(format!("recall_{l}"));
    }
    w.write_record(&header)?;
    for (k, s) in labels.fit.workers.iter().enumerate() {
        let mut row = vec![
            batch.worker_names.get(k).to_string(),
            s.responses.to_string(),
            s.spans.to_string(),
            text(s.boundary_error),
        ];
        for l in 0..batch.n_labels() {
            row.push(text(s.precision[l]));
            row.push(text(s.recall[l]));
        }
        w.write_record(&row)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn slices_count_code_points() {
        assert_eq!(super::slice("a😀bc", 1, 3), "😀b");
        assert_eq!(super::slice("abc", 2, 3), "c");
    }
}
