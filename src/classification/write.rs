//! Writers of consolidated labels and worker reports.

#[cfg(feature = "arrow")]
pub mod parquet;

use std::io::Write;

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use crate::classification::known::KnownTally;
use crate::classification::spammer::spammer_scores;
use crate::classification::Consolidation;
use crate::engine::pack::Packed;

/// Output formats of `accord consolidate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// `item,label,confidence` (and `p_<class>` columns with `--posteriors`).
    #[default]
    Csv,
    /// Ground Truth's output manifest: one JSON line per item.
    Manifest,
    /// Ground Truth's annotation-consolidation Lambda response (a JSON array).
    GtResponse,
    /// Parquet: the CSV's columns, ids in the input's column types (feature
    /// `arrow`; see [`parquet::write_labels`]).
    Parquet,
}

impl OutputFormat {
    /// The format a file name asks for by its extension (`.parquet`, `.pq`),
    /// if any.
    pub fn from_extension(path: &std::path::Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        matches!(ext.as_str(), "parquet" | "pq").then_some(OutputFormat::Parquet)
    }
}

/// Which Ground Truth task type the labels are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DataType {
    /// Image classification (`groundtruth/image-classification`).
    #[default]
    Image,
    /// Text classification (`groundtruth/text-classification`).
    Text,
}

impl DataType {
    fn gt_type(self) -> &'static str {
        match self {
            DataType::Image => "groundtruth/image-classification",
            DataType::Text => "groundtruth/text-classification",
        }
    }
}

/// Options of the label writers.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The format to write.
    pub format: OutputFormat,
    /// Add one `p_<class>` column per class (CSV).
    pub posteriors: bool,
    /// Ground Truth's label attribute name.
    pub label_attribute: String,
    /// Task type, written as the metadata's `type`.
    pub data_type: DataType,
    /// Labelling job name, written as the metadata's `job-name`.
    pub job_name: String,
    /// ISO 8601 timestamp written as `creation-date`.
    pub creation_date: String,
    /// The input's id column types (columnar inputs), which Parquet output
    /// gives items and labels back in; `None`: utf8.
    pub column_types: Option<crate::classification::read::ColumnTypes>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            format: OutputFormat::Csv,
            posteriors: false,
            label_attribute: "label".into(),
            data_type: DataType::Image,
            job_name: "accord".into(),
            creation_date: now_iso8601(),
            column_types: None,
        }
    }
}

/// The current UTC time as Ground Truth writes it: `2026-11-23T11:07:00.123456`.
pub fn now_iso8601() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// A probability rounded to 6 decimals, so f32 noise stays out of outputs.
pub(crate) fn round6(p: f32) -> f64 {
    (p as f64 * 1e6).round() / 1e6
}

fn prob(p: f32) -> Value {
    json!(round6(p))
}

fn prob_text(p: f32) -> String {
    format!("{}", round6(p))
}

/// Writes one label per item in `options.format`.
pub fn write_labels(
    out: &mut dyn Write,
    data: &Packed,
    fit: &Consolidation,
    data_objects: &[Option<Value>],
    options: &WriteOptions,
) -> std::io::Result<()> {
    match options.format {
        OutputFormat::Csv => write_csv(out, data, fit, options.posteriors),
        OutputFormat::Manifest => {
            for item in 0..data.n_items() {
                let line = manifest_line(data, fit, data_objects, options, item);
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        OutputFormat::Parquet => {
            #[cfg(feature = "arrow")]
            return parquet::write_labels(
                out,
                data,
                fit,
                options.posteriors,
                options.column_types.map(|t| t.item),
                options.column_types.map(|t| t.label),
            );
            #[cfg(not(feature = "arrow"))]
            return Err(std::io::Error::other(
                "Parquet output needs accord built with the `arrow` feature",
            ));
        }
        OutputFormat::GtResponse => {
            let response: Vec<Value> = (0..data.n_items())
                .map(|item| gt_response_entry(data, fit, options, item))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &response)?;
            out.write_all(b"\n")
        }
    }
}

/// Rows formatted per parallel task; a batch of tasks is written before the
/// next is formatted, so memory stays bounded at any size.
const CSV_ROWS_PER_TASK: usize = 16_384;

fn write_csv(
    out: &mut dyn Write,
    data: &Packed,
    fit: &Consolidation,
    posteriors: bool,
) -> std::io::Result<()> {
    let mut header = csv::Writer::from_writer(Vec::new());
    let mut names = vec!["item".to_string(), "label".into(), "confidence".into()];
    if posteriors {
        names.extend(data.class_names.iter().map(|c| format!("p_{c}")));
    }
    header.write_record(&names)?;
    out.write_all(&header.into_inner().map_err(|e| e.into_error())?)?;
    // Each task formats its rows with its own csv writer (quoting included);
    // the byte buffers are written in order.
    let format_rows = |rows: std::ops::Range<usize>| -> std::io::Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 32));
        let mut row: Vec<String> = Vec::new();
        for item in rows {
            row.clear();
            row.push(data.item_names[item].to_string());
            if data.item_range(item).is_empty() {
                // Nobody annotated it: no label (the posteriors, if asked
                // for, are the class priors).
                row.push(String::new());
                row.push(String::new());
            } else {
                row.push(data.class_names[fit.labels[item] as usize].clone());
                row.push(prob_text(fit.confidence[item]));
            }
            if posteriors {
                row.extend(fit.posteriors.row(item).iter().map(|&p| prob_text(p)));
            }
            w.write_record(&row)?;
        }
        w.into_inner().map_err(|e| e.into_error())
    };
    let batch = CSV_ROWS_PER_TASK * rayon::current_num_threads().max(1) * 2;
    for start in (0..data.n_items()).step_by(batch) {
        let end = (start + batch).min(data.n_items());
        let buffers: Vec<std::io::Result<Vec<u8>>> = (start..end)
            .step_by(CSV_ROWS_PER_TASK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| format_rows(s..(s + CSV_ROWS_PER_TASK).min(end)))
            .collect();
        for buffer in buffers {
            out.write_all(&buffer?)?;
        }
    }
    Ok(())
}

fn metadata(data: &Packed, fit: &Consolidation, options: &WriteOptions, item: usize) -> Value {
    json!({
        "class-name": data.class_names[fit.labels[item] as usize],
        "confidence": prob(fit.confidence[item]),
        "type": options.data_type.gt_type(),
        "job-name": options.job_name,
        // Ground Truth's "no" marks a label no person gave: here the class
        // prior's, for an object nobody annotated.
        "human-annotated": if data.item_range(item).is_empty() { "no" } else { "yes" },
        "creation-date": options.creation_date,
    })
}

/// One output-manifest line. A Ground Truth request's `dataObject` becomes
/// `source-ref` (from `s3Uri`) or `source` (from `content`); other inputs
/// give the item id as `item`.
fn manifest_line(
    data: &Packed,
    fit: &Consolidation,
    data_objects: &[Option<Value>],
    options: &WriteOptions,
    item: usize,
) -> Value {
    let mut line = Map::new();
    match data_objects.get(item).and_then(Option::as_ref) {
        Some(object) => {
            if let Some(uri) = object.get("s3Uri") {
                line.insert("source-ref".into(), uri.clone());
            }
            if let Some(content) = object.get("content") {
                line.insert("source".into(), content.clone());
            }
        }
        None => {
            line.insert("item".into(), json!(data.item_names[item]));
        }
    }
    let attr = &options.label_attribute;
    line.insert(attr.clone(), json!(fit.labels[item]));
    line.insert(
        format!("{attr}-metadata"),
        metadata(data, fit, options, item),
    );
    Value::Object(line)
}

fn gt_response_entry(
    data: &Packed,
    fit: &Consolidation,
    options: &WriteOptions,
    item: usize,
) -> Value {
    let attr = &options.label_attribute;
    let mut content = Map::new();
    content.insert(
        attr.clone(),
        json!({
            "label": data.class_names[fit.labels[item] as usize],
            "class-id": fit.labels[item],
            "confidence": prob(fit.confidence[item]),
        }),
    );
    content.insert(
        format!("{attr}-metadata"),
        metadata(data, fit, options, item),
    );
    json!({
        "datasetObjectId": data.item_names[item],
        "consolidatedAnnotation": { "content": Value::Object(content) },
    })
}

/// Writes the CSV worker report: id, annotation count, estimated accuracy,
/// confusion matrix flattened into `c_<true>_<given>` columns (`[true][given]`)
/// and spammer score (see [`spammer`](super::spammer)). The JSON report is
/// the job's worker model ([`write_job_model`]).
pub fn write_workers(
    out: &mut dyn Write,
    data: &Packed,
    fit: &Consolidation,
) -> std::io::Result<()> {
    write_workers_with(out, data, fit, &WorkerExtras::default())
}

/// Writes the JSON worker report: the job's worker model (see
/// [`job_model`](super::job_model)), whose first workers are the data's in
/// worker-id order, with `extras`' fields added to theirs.
pub fn write_job_model(
    out: &mut dyn Write,
    model: &super::JobModel,
    extras: &WorkerExtras<'_>,
) -> std::io::Result<()> {
    let mut report = serde_json::to_value(model)?;
    if let Some(workers) = report["workers"].as_array_mut() {
        for (w, row) in workers.iter_mut().enumerate() {
            if let Some(dropped) = extras.dropped.and_then(|d| d.get(w)) {
                row["dropped"] = json!(dropped);
            }
            if let Some(&t) = extras.known.and_then(|k| k.get(w)) {
                row["known_answered"] = json!(t.answered);
                row["known_correct"] = json!(t.correct);
                row["known_accuracy"] = t
                    .accuracy()
                    .map_or(Value::Null, |a| json!(round6(a as f32)));
            }
        }
    }
    serde_json::to_writer(&mut *out, &report)?;
    out.write_all(b"\n")
}

/// Worker-report columns beyond the model's own.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerExtras<'a> {
    /// Per worker, whether `drop_spammers` dropped them: a `dropped`
    /// column (`yes`/`no`; JSON `true`/`false`).
    pub dropped: Option<&'a [bool]>,
    /// Per worker, their answers on the known items: `known_answered`,
    /// `known_correct` and `known_accuracy` columns (empty accuracy, JSON
    /// `null`, for a worker who answered none).
    pub known: Option<&'a [KnownTally]>,
}

/// [`write_workers`] with the columns of `extras` after `spammer_score`.
pub fn write_workers_with(
    out: &mut dyn Write,
    data: &Packed,
    fit: &Consolidation,
    extras: &WorkerExtras<'_>,
) -> std::io::Result<()> {
    let k = data.n_classes();
    let scores = spammer_scores(fit);
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec![
        "worker".to_string(),
        "annotations".into(),
        "accuracy".into(),
    ];
    for t in &data.class_names {
        for l in &data.class_names {
            header.push(format!("c_{t}_{l}"));
        }
    }
    header.push("spammer_score".into());
    if extras.dropped.is_some() {
        header.push("dropped".into());
    }
    if extras.known.is_some() {
        header.extend([
            "known_answered".into(),
            "known_correct".into(),
            "known_accuracy".into(),
        ]);
    }
    w.write_record(&header)?;
    for worker in 0..data.n_workers() {
        let mut row = vec![
            data.worker_names[worker].to_string(),
            data.worker_range(worker).len().to_string(),
            prob_text(fit.worker_accuracy[worker]),
        ];
        for t in 0..k {
            for l in 0..k {
                row.push(prob_text(fit.confusion[[worker, t, l]]));
            }
        }
        row.push(prob_text(scores[worker]));
        if let Some(dropped) = extras.dropped {
            row.push(if dropped[worker] { "yes" } else { "no" }.into());
        }
        if let Some(known) = extras.known {
            let t = known[worker];
            row.push(t.answered.to_string());
            row.push(t.correct.to_string());
            row.push(t.accuracy().map_or(String::new(), |a| prob_text(a as f32)));
        }
        w.write_record(&row)?;
    }
    w.flush()
}
