//! Span readers.
//!
//! - Ground Truth's consolidation request for named-entity recognition: a
//!   JSON array of `{"datasetObjectId", "dataObject": {"content": TEXT},
//!   "annotations": [{"workerId", "annotationData": {"content": STRING}}]}`
//!   where each content string is `{"crowd-entity-annotation": {"entities":
//!   [{"startOffset", "endOffset", "label"}]}}`; an empty `entities` list is
//!   a real answer (the worker found no entity).
//! - Three tables: `spans.csv` (`item,worker,start,end,label`, one row per
//!   span), `responses.csv` (`item,worker`, one row per answer, empty ones
//!   included; other columns ignored) and `texts.jsonl` (`{"item", "text"}`
//!   per line). A span implies that its worker answered the text.
//!
//! Offsets are Unicode code points by default, end exclusive; with
//! [`OffsetUnit::Utf16`] they count UTF-16 code units, as browsers do, and
//! an offset inside a surrogate pair is an error. A span must satisfy
//! `0 ≤ start < end ≤ length of the text`.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::engine::pack::spans::{SpanBatch, SpanBuilder};
use crate::error::{Error, Location, Result};
use crate::io::ground_truth::{id_text, parse_json_strict, request_objects, worker_and_content};
use crate::io::{Reject, Rejects};

/// What offsets count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum OffsetUnit {
    /// Unicode code points (Python's `str` indices).
    #[default]
    CodePoints,
    /// UTF-16 code units (JavaScript's string indices).
    Utf16,
}

/// Options of the span readers.
#[derive(Debug, Clone, Default)]
pub struct SpanReadOptions {
    /// The label set, in order; any other label is an error.
    pub categories: Option<Vec<String>>,
    /// What the input's offsets count.
    pub offsets: OffsetUnit,
    /// Send bad records to the rejects list instead of stopping.
    pub skip_invalid: bool,
}

/// What a reader returns.
#[derive(Debug)]
pub struct SpanInput {
    /// The texts, answers and spans.
    pub batch: SpanBatch,
    /// A Ground Truth request's `dataObject` per item (for the output
    /// manifest's `source`); empty for the tables.
    pub data_objects: Vec<Option<Value>>,
    /// The records skipped under `skip_invalid`.
    pub rejects: Vec<Reject>,
    /// Converts the batch's code points back to the input's unit.
    pub offsets: OffsetMap,
}

/// Code points ↔ UTF-16 units, per text. Texts of the Basic Multilingual
/// Plane only (nearly all) need no table.
#[derive(Debug, Clone, Default)]
pub struct OffsetMap {
    unit: OffsetUnit,
    /// Per item: the UTF-16 offset of each code point (and of the end),
    /// for texts with characters beyond U+FFFF.
    tables: Vec<Option<Vec<u32>>>,
}

impl OffsetMap {
    /// No conversion: offsets are code points.
    pub fn code_points() -> Self {
        Self::default()
    }

    /// The unit outputs are written in.
    pub fn unit(&self) -> OffsetUnit {
        self.unit
    }

    fn push_text(&mut self, text: &str) {
        if self.unit == OffsetUnit::CodePoints {
            return;
        }
        let astral = text.chars().any(|c| c.len_utf16() == 2);
        self.tables.push(astral.then(|| {
            let mut at = 0u32;
            let mut table = Vec::with_capacity(text.len() + 1);
            for c in text.chars() {
                table.push(at);
                at += c.len_utf16() as u32;
            }
            table.push(at);
            table
        }));
    }

    /// An input offset of item `item` in code points.
    fn to_code_points(
        &self,
        item: u32,
        offset: u64,
        text: &str,
    ) -> std::result::Result<u64, String> {
        let Some(Some(table)) = self.tables.get(item as usize) else {
            return Ok(offset);
        };
        match table.binary_search(&(offset.min(u32::MAX as u64) as u32)) {
            Ok(cp) => Ok(cp as u64),
            Err(_) if offset > *table.last().unwrap_or(&0) as u64 => Err(format!(
                "offset {offset} is beyond the text, which has {} UTF-16 units",
                table.last().unwrap_or(&0)
            )),
            Err(cp) => {
                let c = text.chars().nth(cp - 1).unwrap_or('\u{FFFD}');
                Err(format!(
                    "UTF-16 offset {offset} falls inside the surrogate pair of {c:?} (U+{:04X}, units {}..{})",
                    c as u32,
                    table[cp - 1],
                    table[cp]
                ))
            }
        }
    }

    /// A code-point offset of item `item` in the input's unit.
    pub fn from_code_points(&self, item: usize, offset: u32) -> u32 {
        match self.tables.get(item) {
            Some(Some(table)) => table[offset as usize],
            _ => offset,
        }
    }
}

/// Reads a Ground Truth named-entity consolidation request.
pub fn read_gt_request(path: &Path, options: &SpanReadOptions) -> Result<SpanInput> {
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(|e| Error::read(path, e))?;
    let objects = request_objects(path, &text)?;
    let mut rejects = Rejects::new(options.skip_invalid);
    let mut b = builder(options)?;
    let mut offsets = OffsetMap {
        unit: options.offsets,
        tables: Vec::new(),
    };
    let mut data_objects = Vec::with_capacity(objects.len());
    let as_bytes = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    for (index, object) in objects.iter().enumerate() {
        let id = object.get("datasetObjectId").and_then(id_text);
        let bad = |id: Option<&str>, problem: String| Error::BadInput {
            path: path.into(),
            location: Location::Object {
                index,
                id: id.map(str::to_owned),
            },
            problem,
        };
        let Some(id) = id else {
            let e = bad(
                None,
                "missing datasetObjectId (a string or an integer)".into(),
            );
            rejects.bad(e, &as_bytes(object))?;
            continue;
        };
        let content = object
            .get("dataObject")
            .and_then(|d| d.get("content"))
            .and_then(Value::as_str);
        let Some(content) = content else {
            let e = bad(
                Some(&id),
                "missing dataObject.content: the text must be inline (accord does not fetch source-ref)".into(),
            );
            rejects.bad(e, &as_bytes(object))?;
            continue;
        };
        let Some(Value::Array(annotations)) = object.get("annotations") else {
            let e = bad(Some(&id), "missing \"annotations\" array".into());
            rejects.bad(e, &as_bytes(object))?;
            continue;
        };
        let item = match b.text(&id, content) {
            Ok(item) => item,
            Err(p) => {
                let p = if b.item(&id).is_some() {
                    "datasetObjectId repeats an earlier object".to_string()
                } else {
                    p
                };
                rejects.bad(bad(Some(&id), p), &as_bytes(object))?;
                continue;
            }
        };
        offsets.push_text(content);
        data_objects.push(object.get("dataObject").cloned());
        for (n, annotation) in annotations.iter().enumerate() {
            let add = |b: &mut SpanBuilder| -> std::result::Result<(), String> {
                let (worker, content) =
                    worker_and_content(annotation).map_err(|p| format!("annotation {n}: {p}"))?;
                let entities = content_entities(content)
                    .map_err(|p| format!("annotation {n} (worker {worker}): {p}"))?;
                if b.has_response(item, &worker) {
                    return Err(format!(
                        "annotation {n}: worker {worker} answers this object twice"
                    ));
                }
                let mut checked = Vec::with_capacity(entities.len());
                for (e, (start, end, label)) in entities.into_iter().enumerate() {
                    let at =
                        |p: String| format!("annotation {n} (worker {worker}), entity {e}: {p}");
                    let (s, t) = convert(b, &offsets, item, start, end).map_err(at)?;
                    let l = b.label(&label).map_err(at)?;
                    checked.push((s, t, l));
                }
                let r = b.response(item, &worker)?;
                for (s, t, l) in checked {
                    b.span(r, s, t, l);
                }
                Ok(())
            };
            if let Err(p) = add(&mut b) {
                rejects.bad(bad(Some(&id), p), &as_bytes(annotation))?;
            }
        }
    }
    Ok(SpanInput {
        batch: b.finish(),
        data_objects,
        rejects: rejects.records,
        offsets,
    })
}

fn builder(options: &SpanReadOptions) -> Result<SpanBuilder> {
    match &options.categories {
        Some(c) => SpanBuilder::with_categories(c),
        None => Ok(SpanBuilder::new()),
    }
}

/// Input offsets to checked code points.
fn convert(
    b: &SpanBuilder,
    offsets: &OffsetMap,
    item: u32,
    start: u64,
    end: u64,
) -> std::result::Result<(u32, u32), String> {
    let text = b.text_of(item);
    let s = offsets.to_code_points(item, start, text)?;
    let e = offsets.to_code_points(item, end, text)?;
    if offsets.unit == OffsetUnit::Utf16 && start >= end {
        return Err(format!(
            "start {start} is not before end {end} (end is exclusive; a span holds at least one character)"
        ));
    }
    b.check_offsets(item, s, e)?;
    Ok((s as u32, e as u32))
}

/// The entities of one annotation's content string.
fn content_entities(content: &str) -> std::result::Result<Vec<(u64, u64, String)>, String> {
    let value =
        parse_json_strict(content).map_err(|e| format!("content is not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("content must be a JSON object".into());
    };
    let entities = obj
        .iter()
        .find_map(|(_, inner)| inner.get("entities"))
        .ok_or_else(|| {
            format!(
                "content has no named-entity answer (expected {{\"crowd-entity-annotation\": {{\"entities\": [...]}}}}), found keys {:?}",
                obj.keys().collect::<Vec<_>>()
            )
        })?;
    let Value::Array(list) = entities else {
        return Err(format!("\"entities\" must be an array, not {entities}"));
    };
    list.iter()
        .enumerate()
        .map(|(e, entity)| {
            let field = |name: &str| -> std::result::Result<u64, String> {
                entity.get(name).and_then(Value::as_u64).ok_or_else(|| {
                    format!(
                        "entity {e}: {name} must be an integer ≥ 0, found {}",
                        entity.get(name).map_or("nothing".into(), |v| v.to_string())
                    )
                })
            };
            let label = entity
                .get("label")
                .and_then(id_text)
                .ok_or_else(|| format!("entity {e}: label must be a string"))?;
            Ok((field("startOffset")?, field("endOffset")?, label))
        })
        .collect()
}

/// Reads `texts.jsonl`, then `responses.csv` (if given), then `spans.csv`.
pub fn read_tables(
    spans: &Path,
    responses: Option<&Path>,
    texts: &Path,
    options: &SpanReadOptions,
) -> Result<SpanInput> {
    let mut rejects = Rejects::new(options.skip_invalid);
    let mut b = builder(options)?;
    let mut offsets = OffsetMap {
        unit: options.offsets,
        tables: Vec::new(),
    };
    read_texts(texts, &mut b, &mut offsets, &mut rejects)?;
    if let Some(path) = responses {
        read_csv(path, &["item", "worker"], &mut rejects, |row, line| {
            let item = item_of(&b, row[0], texts)?;
            b.response(item, row[1])?;
            let _ = line;
            Ok(())
        })?;
    }
    read_csv(
        spans,
        &["item", "worker", "start", "end", "label"],
        &mut rejects,
        |row, _| {
            let item = item_of(&b, row[0], texts)?;
            let int = |name: &str, v: &str| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{name} {v:?} is not an integer ≥ 0"))
            };
            let (start, end) = (int("start", row[2])?, int("end", row[3])?);
            let (s, e) = convert(&b, &offsets, item, start, end)?;
            let l = b.label(row[4])?;
            let r = b.response(item, row[1])?;
            b.span(r, s, e, l);
            Ok(())
        },
    )?;
    Ok(SpanInput {
        batch: b.finish(),
        data_objects: Vec::new(),
        rejects: rejects.records,
        offsets,
    })
}

fn item_of(b: &SpanBuilder, item: &str, texts: &Path) -> std::result::Result<u32, String> {
    if item.is_empty() {
        return Err("empty item id".into());
    }
    b.item(item)
        .ok_or_else(|| format!("item {item:?} has no text in {}", texts.display()))
}

/// One line of texts.jsonl. Typed, so that serde refuses a repeated key
/// and unknown keys cost nothing.
#[derive(serde::Deserialize)]
struct TextLine {
    item: Value,
    text: String,
}

fn read_texts(
    path: &Path,
    b: &mut SpanBuilder,
    offsets: &mut OffsetMap,
    rejects: &mut Rejects,
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = std::io::BufRead::read_until(&mut reader, b'\n', &mut line)
            .map_err(|e| Error::read(path, e))?;
        if n == 0 {
            break;
        }
        number += 1;
        let bytes = if number == 1 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&line)
        } else {
            &line[..]
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = serde_json::from_slice::<TextLine>(bytes)
            .map_err(|e| {
                // serde quotes field names in backticks, which the CLI reads as flags.
                let e = e.to_string().replace('`', "\"");
                format!("invalid text line (expected {{\"item\": ..., \"text\": \"...\"}}): {e}")
            })
            .and_then(|line| {
                let item = id_text(&line.item).ok_or_else(|| {
                    format!("\"item\" must be a string or an integer, not {}", line.item)
                })?;
                Ok((item, line.text))
            });
        let result = parsed.and_then(|(item, text)| {
            b.text(&item, &text)?;
            offsets.push_text(&text);
            Ok(())
        });
        if let Err(p) = result {
            let p = in_file(rejects, path, p);
            rejects.bad(Error::at_line(path, number, p), &line)?;
        }
    }
    Ok(())
}

/// Reads a CSV file with a header naming at least `columns`; `row` gets
/// those fields in that order and the 1-based line.
fn read_csv(
    path: &Path,
    columns: &[&str],
    rejects: &mut Rejects,
    mut row: impl FnMut(&[&str], u64) -> std::result::Result<(), String>,
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header = csv
        .byte_headers()
        .map_err(|e| Error::at_line(path, 1, format!("cannot read the header: {e}")))?
        .clone();
    let name = |i: usize| {
        let h = String::from_utf8_lossy(&header[i]).trim().to_string();
        if i == 0 {
            h.trim_start_matches('\u{feff}').to_string()
        } else {
            h
        }
    };
    let mut index = Vec::with_capacity(columns.len());
    for c in columns {
        match (0..header.len()).find(|&i| name(i) == *c) {
            Some(i) => index.push(i),
            None => {
                return Err(Error::at_line(
                    path,
                    1,
                    format!(
                        "the header has no column {c:?}: expected {} (found {})",
                        columns.join(","),
                        (0..header.len()).map(name).collect::<Vec<_>>().join(",")
                    ),
                ))
            }
        }
    }
    let mut record = csv::ByteRecord::new();
    loop {
        let line = csv.position().line() + 1;
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(line, |p| p.line());
                return Err(Error::at_line(path, at, format!("invalid CSV: {e}")));
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let raw = || {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            let _ = w.write_byte_record(&record);
            w.into_inner().unwrap_or_default()
        };
        let mut fields: Vec<&str> = Vec::with_capacity(columns.len());
        let mut problem = None;
        for &i in &index {
            match record.get(i).map(std::str::from_utf8) {
                Some(Ok(f)) => fields.push(f),
                Some(Err(_)) => {
                    problem = Some(format!(
                        "column {} is not valid UTF-8",
                        columns[fields.len()]
                    ));
                    break;
                }
                None => {
                    problem = Some(format!(
                        "{} fields, but the header has {} columns",
                        record.len(),
                        header.len()
                    ));
                    break;
                }
            }
        }
        let result = match problem {
            Some(p) => Err(p),
            None => row(&fields, line),
        };
        if let Err(p) = result {
            let p = in_file(rejects, path, p);
            rejects.bad(Error::at_line(path, line, p), &raw())?;
        }
    }
    Ok(())
}

/// A skipped record's problem names its file: the tables are three files
/// and one rejects list.
fn in_file(rejects: &Rejects, path: &Path, problem: String) -> String {
    if rejects.skips() {
        format!("{}: {problem}", path.display())
    } else {
        problem
    }
}
