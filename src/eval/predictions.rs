//! Reads consolidated labels back, in every format `consolidate` writes:
//! CSV or TSV (`item,label[,confidence]`), Ground Truth's output manifest
//! (JSON Lines) and its Lambda response (a JSON array). An item given twice
//! with different labels is an error; given twice alike, it is counted.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Location, Result};

/// One item's consolidated label and, where the file has one, confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The label's name.
    pub label: String,
    /// The confidence in [0, 1], when the file gives one.
    pub confidence: Option<f64>,
}

/// The formats predictions are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionFormat {
    /// `consolidate --out-format csv` (or TSV).
    Csv,
    /// Ground Truth's output manifest (`--out-format manifest`).
    Manifest,
    /// Ground Truth's Lambda response (`--out-format gt-response`).
    GtResponse,
}

/// Predictions by item id.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// Item id → prediction.
    pub by_item: HashMap<String, Prediction>,
    /// Rows that repeated an item with the same label (accepted, counted).
    pub repeats: usize,
}

impl Predictions {
    /// Adds `item`'s prediction found at `location`; a second, different
    /// label for the same item is an error naming both.
    fn add(
        &mut self,
        path: &Path,
        location: Location,
        item: String,
        prediction: Prediction,
    ) -> Result<()> {
        if item.is_empty() {
            return Err(bad(path, location, "empty item id".into()));
        }
        match self.by_item.get(&item) {
            Some(first) if first.label == prediction.label => {
                self.repeats += 1;
                Ok(())
            }
            Some(first) => Err(bad(
                path,
                location,
                format!(
                    "item {item:?} is given again with label {:?}, earlier {:?}: predictions must give one label per item (is this the raw annotations rather than consolidate's output?)",
                    prediction.label, first.label
                ),
            )),
            None => {
                self.by_item.insert(item, prediction);
                Ok(())
            }
        }
    }
}

fn bad(path: &Path, location: Location, problem: String) -> Error {
    Error::BadInput {
        path: path.into(),
        location,
        problem,
    }
}

/// Reads `path`, detecting the format from its first non-blank byte: `[`
/// a Lambda response, `{` a manifest, else CSV (TSV when the header has
/// tabs and no commas).
pub fn read_predictions(path: &Path) -> Result<(Predictions, PredictionFormat)> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| bad(path, Location::File, format!("not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.trim_start().bytes().next() {
        Some(b'[') => Ok((read_gt_response(path, text)?, PredictionFormat::GtResponse)),
        Some(b'{') => Ok((read_manifest(path, text)?, PredictionFormat::Manifest)),
        _ => Ok((read_csv(path, text)?, PredictionFormat::Csv)),
    }
}

fn confidence_value(path: &Path, location: &Location, value: &str) -> Result<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| {
            bad(
                path,
                location.clone(),
                format!("confidence {value:?} is not a number in [0, 1]"),
            )
        })
}

fn read_csv(path: &Path, text: &str) -> Result<Predictions> {
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, e.to_string()))?
        .clone();
    let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
    let (Some(item), Some(label)) = (find(&["item", "task"]), find(&["label"])) else {
        let found: Vec<&str> = header.iter().collect();
        return Err(Error::at_line(
            path,
            1,
            format!(
                "expected a header naming item (or task) and label, as consolidate writes; found {}",
                found.join(",")
            ),
        ));
    };
    let confidence = find(&["confidence"]);
    let mut predictions = Predictions::default();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, e.to_string())
        })?;
        let location = Location::Line(record.position().map_or(0, |p| p.line()));
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let confidence = confidence
            .map(|c| confidence_value(path, &location, field(c)))
            .transpose()?;
        let prediction = Prediction {
            label: field(label).to_owned(),
            confidence,
        };
        predictions.add(path, location, field(item).to_owned(), prediction)?;
    }
    Ok(predictions)
}

/// The label attribute of a manifest line or a Lambda response's content:
/// the key `A` whose `A-metadata` sibling is an object.
fn label_attribute(object: &serde_json::Map<String, Value>) -> Option<&str> {
    object
        .keys()
        .find(|k| {
            object
                .get(&format!("{k}-metadata"))
                .is_some_and(Value::is_object)
        })
        .map(String::as_str)
}

fn id_text(value: &Value) -> Option<String> {
    crate::io::ground_truth::id_text(value)
}

fn read_manifest(path: &Path, text: &str) -> Result<Predictions> {
    let mut predictions = Predictions::default();
    for (n, line) in text.lines().enumerate() {
        let location = Location::Line(n as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| bad(path, location.clone(), format!("invalid JSON: {e}")))?;
        let object = value.as_object().ok_or_else(|| {
            bad(
                path,
                location.clone(),
                "a manifest line must be a JSON object".into(),
            )
        })?;
        let item = ["item", "source-ref", "source"]
            .iter()
            .find_map(|k| object.get(*k).and_then(id_text))
            .ok_or_else(|| {
                bad(
                    path,
                    location.clone(),
                    "no item, source-ref or source field".into(),
                )
            })?;
        let attr = label_attribute(object).ok_or_else(|| {
            bad(
                path,
                location.clone(),
                "no label attribute with its -metadata object".into(),
            )
        })?;
        let metadata = &object[&format!("{attr}-metadata")];
        let label = metadata
            .get("class-name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(
                    path,
                    location.clone(),
                    format!("{attr}-metadata has no class-name"),
                )
            })?
            .to_owned();
        let confidence = metadata.get("confidence").and_then(Value::as_f64);
        predictions.add(path, location, item, Prediction { label, confidence })?;
    }
    Ok(predictions)
}

fn read_gt_response(path: &Path, text: &str) -> Result<Predictions> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::at_line(path, e.line() as u64, format!("invalid JSON: {e}")))?;
    let entries = value.as_array().ok_or_else(|| {
        bad(
            path,
            Location::File,
            "a Lambda response is a JSON array".into(),
        )
    })?;
    let mut predictions = Predictions::default();
    for (index, entry) in entries.iter().enumerate() {
        let item = entry.get("datasetObjectId").and_then(id_text);
        let location = Location::Object {
            index,
            id: item.clone(),
        };
        let problem = |p: &str| bad(path, location.clone(), p.to_owned());
        let item = item.ok_or_else(|| problem("missing datasetObjectId"))?;
        let content = entry
            .pointer("/consolidatedAnnotation/content")
            .and_then(Value::as_object)
            .ok_or_else(|| problem("missing consolidatedAnnotation.content"))?;
        let attr = label_attribute(content)
            .ok_or_else(|| problem("no label attribute with its -metadata object"))?;
        let label = content[attr]
            .get("label")
            .and_then(Value::as_str)
            .or_else(|| {
                content[&format!("{attr}-metadata")]
                    .get("class-name")
                    .and_then(Value::as_str)
            })
            .ok_or_else(|| problem("no label or class-name"))?
            .to_owned();
        let confidence = content[attr].get("confidence").and_then(Value::as_f64);
        predictions.add(path, location, item, Prediction { label, confidence })?;
    }
    Ok(predictions)
}
