//! Multi-label writers: a CSV row per (item, label), Ground Truth's
//! multi-label output manifest and Lambda response, and the worker report
//! (a sensitivity and a specificity per worker and label).

use std::io::Write;

use serde_json::{json, Map, Value};

use super::consolidator::MultiLabels;
pub use crate::classification::write::{now_iso8601, DataType, OutputFormat};

/// How to write.
#[derive(Debug, Clone)]
pub struct MultiWriteOptions {
    /// CSV, manifest or Lambda response.
    pub format: OutputFormat,
    /// The label attribute of Ground Truth output.
    pub label_attribute: String,
    /// Image or text: the metadata's `type`.
    pub data_type: DataType,
    /// The metadata's `job-name`.
    pub job_name: String,
    /// The metadata's `creation-date`.
    pub creation_date: String,
}

/// Probabilities rounded to 6 decimals.
fn round6(p: f32) -> f64 {
    (p as f64 * 1e6).round() / 1e6
}

/// Ground Truth's type string for the data type.
fn gt_type(data_type: DataType) -> &'static str {
    match data_type {
        DataType::Image => "groundtruth/image-classification-multilabel",
        DataType::Text => "groundtruth/text-classification-multilabel",
    }
}

/// Writes the labels in `options.format`.
pub fn write_labels(
    out: &mut dyn Write,
    result: &MultiLabels,
    options: &MultiWriteOptions,
) -> std::io::Result<()> {
    let a = &result.answers;
    match options.format {
        OutputFormat::Csv => write_csv(out, result),
        OutputFormat::Manifest => {
            for item in 0..a.n_items() {
                serde_json::to_writer(&mut *out, &manifest_line(result, options, item))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        OutputFormat::Parquet => Err(std::io::Error::other(
            "Parquet output is written for classification only",
        )),
        OutputFormat::GtResponse => {
            let response: Vec<Value> = (0..a.n_items())
                .map(|item| {
                    json!({
                        "datasetObjectId": a.items[item],
                        "consolidatedAnnotation": {"content": content(result, options, item)},
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &response)?;
            out.write_all(b"\n")
        }
    }
}

/// `item,label,confidence,selected`: one row per item and label, items in
/// first-seen order, labels in label order; an item nobody answered has
/// empty confidence and selected fields.
fn write_csv(out: &mut dyn Write, result: &MultiLabels) -> std::io::Result<()> {
    let a = &result.answers;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["item", "label", "confidence", "selected"])?;
    for item in 0..a.n_items() {
        for (label, name) in a.labels.iter().enumerate() {
            if result.answered[item] == 0 {
                w.write_record([&a.items[item], name.as_str(), "", ""])?;
            } else {
                let confidence = round6(result.confidence(item, label)).to_string();
                let selected = if result.is_selected(item, label) {
                    "1"
                } else {
                    "0"
                };
                w.write_record([&a.items[item], name.as_str(), &confidence, selected])?;
            }
        }
    }
    w.flush()
}

/// The label attribute and its metadata: the class ids every label at
/// least one worker ticked, with their names and confidences.
fn content(result: &MultiLabels, options: &MultiWriteOptions, item: usize) -> Value {
    let a = &result.answers;
    let ids: Vec<usize> = (0..a.n_labels())
        .filter(|&l| result.ticked(item, l) > 0)
        .collect();
    let class_map: Map<String, Value> = ids
        .iter()
        .map(|&l| (l.to_string(), json!(a.labels[l])))
        .collect();
    let confidence_map: Map<String, Value> = ids
        .iter()
        .map(|&l| (l.to_string(), json!(round6(result.confidence(item, l)))))
        .collect();
    let attr = &options.label_attribute;
    let mut content = Map::new();
    content.insert(attr.clone(), json!(ids));
    content.insert(
        format!("{attr}-metadata"),
        json!({
            "class-map": class_map,
            "confidence-map": confidence_map,
            "type": gt_type(options.data_type),
            "human-annotated": if result.answered[item] > 0 { "yes" } else { "no" },
            "creation-date": options.creation_date,
            "job-name": options.job_name,
        }),
    );
    Value::Object(content)
}

/// One manifest line: the request's `source`/`source-ref`, else `item`,
/// then the label attribute and its metadata.
fn manifest_line(result: &MultiLabels, options: &MultiWriteOptions, item: usize) -> Value {
    let a = &result.answers;
    let mut line = Map::new();
    match a.data_objects.get(item).and_then(Option::as_ref) {
        Some(object) => {
            if let Some(uri) = object.get("s3Uri") {
                line.insert("source-ref".into(), uri.clone());
            }
            if let Some(c) = object.get("content") {
                line.insert("source".into(), c.clone());
            }
        }
        None => {
            line.insert("item".into(), json!(a.items[item]));
        }
    }
    if let Value::Object(c) = content(result, options, item) {
        line.extend(c);
    }
    Value::Object(line)
}

/// The worker report: per worker and label, the answers, ticks, and the
/// model's sensitivity and specificity (empty for `mv`). JSON: one object
/// per worker with a `labels` map.
pub fn write_workers(out: &mut dyn Write, result: &MultiLabels, json: bool) -> std::io::Result<()> {
    let a = &result.answers;
    let l = a.n_labels();
    let mut answers = vec![0usize; a.n_workers()];
    let mut ticks = vec![0usize; a.n_workers() * l];
    for r in 0..a.n_responses() {
        let w = a.response_worker[r] as usize;
        answers[w] += 1;
        for label in 0..l {
            ticks[w * l + label] += a.has(r, label) as usize;
        }
    }
    let rate = |v: f32| (!v.is_nan()).then(|| round6(v));
    if json {
        let workers: Vec<Value> = (0..a.n_workers())
            .map(|w| {
                let labels: Map<String, Value> = a
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(label, name)| {
                        let at = w * l + label;
                        (
                            name.clone(),
                            json!({
                                "ticked": ticks[at],
                                "sensitivity": rate(result.fit.sensitivity[at]),
                                "specificity": rate(result.fit.specificity[at]),
                            }),
                        )
                    })
                    .collect();
                json!({"worker": a.workers[w], "answers": answers[w], "labels": labels})
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &workers)?;
        return out.write_all(b"\n");
    }
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "worker",
        "label",
        "answers",
        "ticked",
        "sensitivity",
        "specificity",
    ])?;
    let text = |v: f32| rate(v).map_or(String::new(), |x| x.to_string());
    for (w, worker_answers) in answers.iter().enumerate() {
        for (label, name) in a.labels.iter().enumerate() {
            let at = w * l + label;
            csv.write_record([
                &a.workers[w],
                name.as_str(),
                &worker_answers.to_string(),
                &ticks[at].to_string(),
                &text(result.fit.sensitivity[at]),
                &text(result.fit.specificity[at]),
            ])?;
        }
    }
    csv.flush()
}
