//! Reads consolidated labels back, in every format `consolidate` writes:
//! CSV or TSV (`item,label[,confidence]`), Ground Truth's output manifest
//! (JSON Lines) and its Lambda response (a JSON array). An item given twice
//! with different labels is an error; given twice alike, it is counted.

use std::path::Path;

use serde_json::Value;

use crate::engine::pack::{Interner, Names};
use crate::error::{Error, Location, Result};
use crate::eval::table::{for_each_record, NeedsGeneralReader};

/// One item's consolidated label and, where the file has one, confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction<'a> {
    /// The label's name.
    pub label: &'a str,
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

/// Predictions by item: item and label names interned, one label id and
/// confidence per item (no string per item beyond its name, stored once).
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    items: Interner,
    labels: Interner,
    /// Each item's label id, by item id.
    label_of: Vec<u32>,
    /// Each item's confidence, NaN where the file gives none.
    confidence: Vec<f64>,
    /// Rows that repeated an item with the same label (accepted, counted).
    pub repeats: usize,
}

impl Predictions {
    /// The number of items predicted.
    pub fn len(&self) -> usize {
        self.label_of.len()
    }

    /// Whether no item is predicted.
    pub fn is_empty(&self) -> bool {
        self.label_of.is_empty()
    }

    /// The id of `item` (its rank in first-seen order), if it is predicted.
    pub fn id(&self, item: &str) -> Option<usize> {
        self.items.get(item).map(|id| id as usize)
    }

    /// The prediction of item `id`.
    pub fn by_id(&self, id: usize) -> Prediction<'_> {
        let confidence = self.confidence[id];
        Prediction {
            label: self.labels.names().get(self.label_of[id] as usize),
            confidence: (!confidence.is_nan()).then_some(confidence),
        }
    }

    /// The prediction of `item`, if there is one.
    pub fn get(&self, item: &str) -> Option<Prediction<'_>> {
        self.id(item).map(|id| self.by_id(id))
    }

    /// The label id (into [`Predictions::label_names`]) of item `id`.
    pub fn label_id(&self, id: usize) -> u32 {
        self.label_of[id]
    }

    /// The confidence of item `id`, when the file gives one.
    pub fn confidence(&self, id: usize) -> Option<f64> {
        let c = self.confidence[id];
        (!c.is_nan()).then_some(c)
    }

    /// The distinct labels predicted, in first-seen order.
    pub fn label_names(&self) -> &Names {
        self.labels.names()
    }

    /// The items predicted, in first-seen order.
    pub fn item_names(&self) -> &Names {
        self.items.names()
    }

    /// `(item, prediction)` in first-seen order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Prediction<'_>)> + '_ {
        (0..self.len()).map(|id| (self.items.names().get(id), self.by_id(id)))
    }

    /// Adds `item`'s prediction found at `location`; a second, different
    /// label for the same item is an error naming both.
    fn add(
        &mut self,
        path: &Path,
        location: Location,
        item: &str,
        label: &str,
        confidence: Option<f64>,
    ) -> Result<()> {
        if item.is_empty() {
            return Err(bad(path, location, "empty item id".into()));
        }
        let known = self.items.len();
        let id = self.items.intern(item) as usize;
        if id < known {
            let first = self.labels.names().get(self.label_of[id] as usize);
            if first == label {
                self.repeats += 1;
                return Ok(());
            }
            return Err(bad(
                path,
                location,
                format!(
                    "item {item:?} is given again with label {label:?}, earlier {first:?}: predictions must give one label per item (is this the raw annotations rather than consolidate's output?)"
                ),
            ));
        }
        // Few labels: comparing with each beats hashing.
        let names = self.labels.names();
        let known = (names.len() <= 16)
            .then(|| names.iter().position(|l| l == label))
            .flatten();
        let id = match known {
            Some(id) => id as u32,
            None => self.labels.intern(label),
        };
        self.label_of.push(id);
        self.confidence.push(confidence.unwrap_or(f64::NAN));
        Ok(())
    }

    /// Room for `items` more items of `bytes` bytes of names in all.
    fn reserve(&mut self, items: usize, bytes: usize) {
        self.items.reserve(items, bytes);
        self.label_of.reserve(items);
        self.confidence.reserve(items);
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
    if path.is_dir() {
        return Err(bad(
            path,
            Location::File,
            "is a folder, not a file of predictions".into(),
        ));
    }
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

/// The columns of item, label and confidence in a header, or the error
/// naming it.
fn csv_columns<'a>(
    path: &Path,
    header: impl Iterator<Item = &'a str> + Clone,
) -> Result<(usize, usize, Option<usize>)> {
    let find = |names: &[&str]| header.clone().position(|h| names.contains(&h.trim()));
    let (Some(item), Some(label)) = (find(&["item", "task"]), find(&["label"])) else {
        let found: Vec<&str> = header.collect();
        return Err(Error::at_line(
            path,
            1,
            format!(
                "expected a header naming item (or task) and label, as consolidate writes; found {}",
                found.join(",")
            ),
        ));
    };
    Ok((item, label, find(&["confidence"])))
}

/// Adds one CSV row's prediction: the confidence checked first, then the
/// item.
fn add_csv_row<'f>(
    predictions: &mut Predictions,
    path: &Path,
    line: u64,
    (item, label, confidence): (usize, usize, Option<usize>),
    field: impl Fn(usize) -> &'f str,
) -> Result<()> {
    let location = Location::Line(line);
    let confidence = confidence
        .map(|c| confidence_value(path, &location, field(c)))
        .transpose()?;
    predictions.add(path, location, field(item), field(label), confidence)
}

fn read_csv(path: &Path, text: &str) -> Result<Predictions> {
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.contains('\t') && !first_line.contains(',') {
        b'\t'
    } else {
        b','
    };
    match read_csv_fast(path, text, delimiter)? {
        Ok(predictions) => Ok(predictions),
        Err(NeedsGeneralReader) => read_csv_general(path, text, delimiter),
    }
}

/// The fast path: plain lines, no quotes (see [`crate::eval::table`]).
fn read_csv_fast(
    path: &Path,
    text: &str,
    delimiter: u8,
) -> Result<std::result::Result<Predictions, NeedsGeneralReader>> {
    if text.is_empty() {
        return Ok(Err(NeedsGeneralReader));
    }
    let mut predictions = Predictions::default();
    let mut columns = None;
    let done = for_each_record(text, delimiter, |line, fields| {
        let Some(columns) = columns else {
            columns = Some(csv_columns(path, fields.iter().copied())?);
            // Room for every line, so the tables never regrow (pages that
            // are reserved but never written cost no memory).
            let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
            predictions.reserve(lines, text.len());
            return Ok(());
        };
        add_csv_row(&mut predictions, path, line, columns, |i| fields[i].trim())
    })?;
    Ok(done.map(|()| predictions))
}

/// The general path, through the `csv` crate (quotes, odd line ends).
fn read_csv_general(path: &Path, text: &str, delimiter: u8) -> Result<Predictions> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, e.to_string()))?
        .clone();
    let columns = csv_columns(path, header.iter())?;
    let mut predictions = Predictions::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::at_line(path, line, e.to_string()));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        add_csv_row(&mut predictions, path, line, columns, |i| {
            record.get(i).map(str::trim).unwrap_or("")
        })?;
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
            })?;
        let confidence = metadata.get("confidence").and_then(Value::as_f64);
        predictions.add(path, location, &item, label, confidence)?;
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
            .ok_or_else(|| problem("no label or class-name"))?;
        let confidence = content[attr].get("confidence").and_then(Value::as_f64);
        predictions.add(path, location, &item, label, confidence)?;
    }
    Ok(predictions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> Result<Predictions> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        read_predictions(&path).map(|(p, _)| p)
    }

    fn listed(p: &Predictions) -> Vec<(String, String, Option<f64>)> {
        p.iter()
            .map(|(i, p)| (i.to_owned(), p.label.to_owned(), p.confidence))
            .collect()
    }

    #[test]
    fn the_fast_path_reads_what_the_csv_crate_reads() {
        let plain = "item,label,confidence\na,x,0.5\nb,y,1\na,x,0.5\n";
        let quoted = "item,label,confidence\n\"a\",x,0.5\nb,y,1\na,x,0.5\n";
        let (fast, general) = (
            read("p.csv", plain).unwrap(),
            read("q.csv", quoted).unwrap(),
        );
        assert_eq!(listed(&fast), listed(&general));
        assert_eq!((fast.repeats, general.repeats), (1, 1));
        assert_eq!(fast.get("b").unwrap().confidence, Some(1.0));
        let tsv = read("p.tsv", "item\tlabel\na\tx\n").unwrap();
        assert_eq!(
            tsv.get("a").unwrap(),
            Prediction {
                label: "x",
                confidence: None
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_csv_crate_on_any_text(
            body in "[ab,\t 01.\r\n\"]{0,40}",
            header in proptest::sample::select(vec![
                "item,label\n",
                "label,confidence,task\n",
                "item\tlabel\n",
                "",
            ]),
        ) {
            let text = format!("{header}{body}");
            let path = Path::new("p.csv");
            let listed = |p: Result<Predictions>| p.map(|p| (listed(&p), p.repeats)).map_err(|e| e.to_string());
            let first_line = text.lines().next().unwrap_or("");
            let delimiter = if first_line.contains('\t') && !first_line.contains(',') { b'\t' } else { b',' };
            proptest::prop_assert_eq!(
                listed(read_csv(path, &text)),
                listed(read_csv_general(path, &text, delimiter)),
                "{:?}", text
            );
        }
    }

    #[test]
    fn both_paths_give_the_same_errors() {
        for (plain, quoted, wanted) in [
            (
                "item,label\na,x\nb,y\na,z\n",
                "item,label\na,x\nb,y\na,z\n\"c\",x\n",
                "line 4: item \"a\" is given again with label \"z\", earlier \"x\"",
            ),
            (
                "item,label,confidence\na,x,2\n",
                "item,label,confidence\n\"a\",x,2\n",
                "line 2: confidence \"2\" is not a number in [0, 1]",
            ),
            (
                "item,label\n,x\n",
                "item,label\n\"\",x\n",
                "line 2: empty item id",
            ),
        ] {
            for text in [plain, quoted] {
                let err = read("p.csv", text).unwrap_err().to_string();
                assert!(err.contains(wanted), "{text:?}: {err}");
            }
        }
    }
}
