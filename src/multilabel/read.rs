//! Multi-label readers: a Ground Truth multi-select request, or a long
//! table of selections (`item,worker,label`, one row per ticked label) with
//! an optional table of responses (`item,worker`, one row per answer).

use std::path::Path;

use serde_json::Value;

use super::answers::{quoted, Answers, AnswersBuilder, ResponseKind};
use crate::classification::read::trim_field;
use crate::error::{Error, Location, Result};
use crate::io::ground_truth::{id_text, request_objects, worker_and_content};
use crate::io::{Reject, Rejects};

/// Input format of the annotations file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum MultiFormat {
    /// A CSV table `item,worker,label` of ticked labels (`task` accepted for
    /// `item`).
    Csv,
    /// A Ground Truth consolidation request whose contents are
    /// `{"<task>": {"labels": [...]}}`.
    GtRequest,
}

/// How to read.
#[derive(Debug, Clone, Default)]
pub struct MultiReadOptions {
    /// The format, else detected (`.json` or a leading `[`: a request).
    pub format: Option<MultiFormat>,
    /// The label set in order; a label outside it is bad input.
    pub categories: Option<Vec<String>>,
    /// The responses table (`item,worker`): every answer, so a worker who
    /// answered and ticked nothing counts as a "no" to every label. Only
    /// with a selections table.
    pub responses: Option<std::path::PathBuf>,
    /// Skip bad records into the rejects list instead of stopping.
    pub skip_invalid: bool,
}

/// What the readers return.
#[derive(Debug)]
pub struct MultiInput {
    /// The answers.
    pub answers: Answers,
    /// Records skipped under `skip_invalid`.
    pub rejects: Vec<Reject>,
}

/// Reads `path` (and `options.responses`) into answers.
pub fn read(path: &Path, options: &MultiReadOptions) -> Result<MultiInput> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let format = options.format.unwrap_or_else(|| {
        let json_ext = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let first = bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&bytes)
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        if json_ext || first == Some(&b'[') {
            MultiFormat::GtRequest
        } else {
            MultiFormat::Csv
        }
    });
    let builder = match &options.categories {
        Some(c) => AnswersBuilder::with_categories(c)?,
        None => AnswersBuilder::new(),
    };
    let mut rejects = Rejects::new(options.skip_invalid);
    let answers = match format {
        MultiFormat::GtRequest => {
            if let Some(r) = &options.responses {
                return Err(Error::Usage(format!(
                    "{} is a Ground Truth request, which lists every answer itself: drop `responses` ({})",
                    path.display(),
                    r.display()
                )));
            }
            read_request(path, &bytes, builder, &mut rejects)?
        }
        MultiFormat::Csv => {
            let mut builder = builder;
            if let Some(r) = &options.responses {
                let text = std::fs::read(r).map_err(|e| Error::read(r, e))?;
                read_responses(r, &text, &mut builder, &mut rejects)?;
            }
            read_selections(
                path,
                &bytes,
                &mut builder,
                options.responses.is_none(),
                &mut rejects,
            )?;
            builder.finish()?
        }
    };
    Ok(MultiInput {
        answers,
        rejects: rejects.records,
    })
}

/// Refuses inputs that are plainly not CSV (a tab-separated header, JSON
/// Lines), which would otherwise fail as a header without the columns.
fn refuse_other_formats(path: &Path, text: &[u8]) -> Result<()> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let Some((n, first)) = text
        .split(|&b| b == b'\n')
        .enumerate()
        .find(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
    else {
        return Ok(());
    };
    let looks_like = if first.trim_ascii_start().starts_with(b"{") {
        "JSON Lines (its first line starts with `{`)"
    } else if first.contains(&b'\t') && !first.contains(&b',') {
        "TSV (its header is tab-separated)"
    } else {
        return Ok(());
    };
    Err(Error::at_line(
        path,
        n as u64 + 1,
        format!(
            "multi-label reads CSV (or a Ground Truth request, a JSON array); {} looks like {looks_like}",
            path.display()
        ),
    ))
}

/// The positions of `wanted` columns in a header of trimmed names (`item`
/// may be spelt `task`); a field claimed by two columns is refused.
fn columns(path: &Path, names: &[&str], wanted: &[&str]) -> Result<Vec<usize>> {
    let claims = |name: &str, h: &str| h == name || (name == "item" && h == "task");
    wanted
        .iter()
        .map(|&name| {
            let mut at = names.iter().enumerate().filter(|(_, h)| claims(name, h));
            let Some((first, _)) = at.next() else {
                return Err(Error::at_line(
                    path,
                    1,
                    format!(
                        "the header has no {name:?} column (expected {}; found {:?})",
                        wanted.join(","),
                        names
                    ),
                ));
            };
            if let Some((_, &again)) = at.next() {
                let twice = if again == names[first] {
                    format!("{again:?} twice")
                } else {
                    format!(
                        "the {name:?} column twice ({:?} and {again:?})",
                        names[first]
                    )
                };
                return Err(Error::at_line(
                    path,
                    1,
                    format!("the header names {twice}: which column holds it?"),
                ));
            }
            Ok(first)
        })
        .collect()
}

/// Calls `row(line, fields, record, rejects)` for each record after the
/// header: `fields` the `wanted` columns, trimmed of ASCII whitespace as
/// the classification reader trims them; `record` the whole row, for the
/// rejects file. A row with more or fewer fields than the header is bad.
fn each_row(
    path: &Path,
    text: &[u8],
    wanted: &[&str],
    rejects: &mut Rejects,
    mut row: impl FnMut(u64, &[&str], &str, &mut Rejects) -> Result<()>,
) -> Result<()> {
    refuse_other_formats(path, text)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, format!("unreadable header: {e}")))?
        .clone();
    let names: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            };
            trim_field(h)
        })
        .collect();
    let at = columns(path, &names, wanted)?;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                let whole = record.iter().collect::<Vec<_>>().join(",");
                if record.len() != names.len() {
                    let e = Error::at_line(
                        path,
                        line,
                        format!(
                            "{} fields where the header has {}",
                            record.len(),
                            names.len()
                        ),
                    );
                    rejects.bad(e, whole.as_bytes())?;
                    continue;
                }
                let fields: Vec<&str> = at.iter().map(|&c| trim_field(&record[c])).collect();
                row(line, &fields, &whole, rejects)?;
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(Error::at_line(path, line, format!("unreadable CSV: {e}")));
            }
        }
    }
}

/// The responses table: one row per answer, `item,worker`.
fn read_responses(
    path: &Path,
    text: &[u8],
    builder: &mut AnswersBuilder,
    rejects: &mut Rejects,
) -> Result<()> {
    each_row(
        path,
        text,
        &["item", "worker"],
        rejects,
        |line, f, whole, rejects| {
            match builder.response(f[0], f[1], true) {
                Ok((_, ResponseKind::New)) => {}
                Ok((_, ResponseKind::Existing)) => builder.count_repeated_response(),
                Err(p) => rejects.bad(Error::at_line(path, line, p), whole.as_bytes())?,
            }
            Ok(())
        },
    )
}

/// The selections table: one row per ticked label, `item,worker,label`.
/// With `create`, each (item, worker) seen is a response; without, it must
/// be one of the responses read before.
fn read_selections(
    path: &Path,
    text: &[u8],
    builder: &mut AnswersBuilder,
    create: bool,
    rejects: &mut Rejects,
) -> Result<()> {
    each_row(
        path,
        text,
        &["item", "worker", "label"],
        rejects,
        |line, f, whole, rejects| {
            // The label first: a bad row must not leave an empty response.
            let ticked = builder
                .check_label(f[2])
                .and_then(|()| builder.response(f[0], f[1], create))
                .and_then(|(r, _)| builder.tick(r, f[2]));
            if let Err(p) = ticked {
                rejects.bad(Error::at_line(path, line, p), whole.as_bytes())?;
            }
            Ok(())
        },
    )
}

fn bad(path: &Path, index: usize, id: Option<&str>, problem: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.into(),
        location: Location::Object {
            index,
            // An id may be MAX_ID_BYTES long (or longer, when that is
            // the problem): the location quotes its start.
            id: id.map(quoted),
        },
        problem: problem.into(),
    }
}

/// The ticked labels of a multi-select content: the `labels` array of the
/// one task-type key (`crowd-image-classifier-multi-select`,
/// `crowd-classifier-multi-select`, ...).
fn content_labels(content: &str) -> std::result::Result<Vec<String>, String> {
    let value: Value = crate::io::ground_truth::parse_json_strict(content)
        .map_err(|e| format!("content is not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("content must be a JSON object".into());
    };
    for (key, inner) in &obj {
        if let Some(labels) = inner.get("labels") {
            let Value::Array(labels) = labels else {
                return Err(format!(
                    "content {key:?}.labels must be an array of label names, not {labels}"
                ));
            };
            return labels
                .iter()
                .map(|l| {
                    id_text(l).ok_or_else(|| {
                        format!("content {key:?}.labels holds {l}, not a label name")
                    })
                })
                .collect();
        }
        if inner.get("label").is_some() {
            return Err(format!(
                "content {key:?} holds a single-label answer (\"label\"): drop `task` multilabel"
            ));
        }
    }
    Err(format!(
        "content has no multi-label answer (expected e.g. {{\"crowd-image-classifier-multi-select\": {{\"labels\": [\"owl\"]}}}}), found keys {:?}",
        obj.keys().collect::<Vec<_>>()
    ))
}

/// A Ground Truth request: each annotation is one response; a worker's
/// second annotation of an object is counted and dropped (the first kept).
fn read_request(
    path: &Path,
    text: &[u8],
    mut builder: AnswersBuilder,
    rejects: &mut Rejects,
) -> Result<Answers> {
    let objects = request_objects(path, text)?;
    let as_bytes = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    for (index, object) in objects.iter().enumerate() {
        let Some(id) = object.get("datasetObjectId").and_then(id_text) else {
            let e = bad(
                path,
                index,
                None,
                "missing datasetObjectId (a string or an integer)",
            );
            rejects.bad(e, &as_bytes(object))?;
            continue;
        };
        let Some(Value::Array(annotations)) = object.get("annotations") else {
            let e = bad(path, index, Some(&id), "missing \"annotations\" array");
            rejects.bad(e, &as_bytes(object))?;
            continue;
        };
        if builder.has_item(&id) {
            let e = bad(
                path,
                index,
                Some(&id),
                "datasetObjectId repeats an earlier object",
            );
            rejects.bad(e, &as_bytes(object))?;
            continue;
        }
        if let Err(p) = builder.declare_item(&id, object.get("dataObject").cloned()) {
            rejects.bad(bad(path, index, Some(&id), p), &as_bytes(object))?;
            continue;
        }
        for (n, annotation) in annotations.iter().enumerate() {
            let mut add = || -> Result<()> {
                let (worker, content) = worker_and_content(annotation)
                    .map_err(|p| bad(path, index, Some(&id), format!("annotation {n}: {p}")))?;
                let labels = content_labels(content).map_err(|p| {
                    bad(
                        path,
                        index,
                        Some(&id),
                        format!("annotation {n} (worker {}): {p}", quoted(&worker)),
                    )
                })?;
                // Every label is checked before the response exists, so a
                // skipped annotation leaves no trace.
                for label in &labels {
                    builder.check_label(label).map_err(|p| {
                        bad(
                            path,
                            index,
                            Some(&id),
                            format!("annotation {n} (worker {}): {p}", quoted(&worker)),
                        )
                    })?;
                }
                let (r, kind) = builder
                    .response(&id, &worker, true)
                    .map_err(|p| bad(path, index, Some(&id), format!("annotation {n}: {p}")))?;
                if kind == ResponseKind::Existing {
                    builder.count_repeated_response();
                    return Ok(());
                }
                for label in &labels {
                    builder.tick(r, label).map_err(|p| {
                        bad(
                            path,
                            index,
                            Some(&id),
                            format!("annotation {n} (worker {}): {p}", quoted(&worker)),
                        )
                    })?;
                }
                Ok(())
            };
            if let Err(e) = add() {
                rejects.bad(e, &as_bytes(annotation))?;
            }
        }
    }
    builder.finish()
}
