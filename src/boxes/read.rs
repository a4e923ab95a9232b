//! Readers of box jobs: Ground Truth's bounding-box consolidation request,
//! and a long table of boxes (CSV, TSV or JSON Lines) with an optional
//! table of every answer and one of image sizes.

use std::path::Path;

use serde_json::Value;

use super::rows::{for_each_row, number, text};
use super::{BoxBuilder, BoxData, Rect};
use crate::classification::read::{detect_format_of, InputFormat};
use crate::error::{Error, Location, Result};
use crate::io::ground_truth::{id_text, parse_json_strict, request_objects, worker_and_content};
use crate::io::mapped::read_file;
use crate::io::Rejects;

/// What the reader was given besides the files.
#[derive(Debug, Clone, Default)]
pub struct BoxReadOptions {
    /// `--categories`: the class list, in order; a box of another label is bad input.
    pub categories: Option<Vec<String>>,
}

/// A job read, and what the reader wants the user to know.
#[derive(Debug)]
pub struct BoxInput {
    /// The packed job.
    pub data: BoxData,
    /// Notes for the summary (how answers were counted, ...).
    pub notes: Vec<String>,
}

/// Reads `input`: a Ground Truth request (by extension or content), or a
/// table of boxes with `responses` (every answer, boxes or not) and
/// `images` (`item,width,height`).
pub fn read_boxes(
    input: &Path,
    responses: Option<&Path>,
    images: Option<&Path>,
    options: &BoxReadOptions,
    rejects: &mut Rejects,
) -> Result<BoxInput> {
    let bytes = read_file(input)?;
    match detect_format_of(input, &bytes[..bytes.len().min(4096)]) {
        InputFormat::GtRequest => {
            if responses.is_some() || images.is_some() {
                return Err(Error::Usage(
                    "a Ground Truth request lists every answer and image size itself: drop --responses and --images".into(),
                ));
            }
            let data = parse_gt_box_request(input, &bytes, options, rejects)?;
            Ok(BoxInput {
                data,
                notes: Vec::new(),
            })
        }
        InputFormat::GtEvent => Err(Error::Usage(format!(
            "{}: a Lambda event is read by the classification task only; give the request it names",
            input.display()
        ))),
        format => read_box_table(input, &bytes, format, responses, images, options, rejects),
    }
}

/// The long-table reader.
fn read_box_table(
    input: &Path,
    bytes: &[u8],
    format: InputFormat,
    responses: Option<&Path>,
    images: Option<&Path>,
    options: &BoxReadOptions,
    rejects: &mut Rejects,
) -> Result<BoxInput> {
    let mut builder = BoxBuilder::new(options.categories.as_deref());
    // Rows of these tables are rarely shorter than these many bytes: room
    // for that many spares the tables most of their growth.
    let rows = |path: Option<&Path>, bytes_per_row: u64| {
        path.and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| (m.len() / bytes_per_row) as usize)
    };
    builder.reserve(rows(images, 16), rows(responses, 12), bytes.len() / 32);
    let mut notes = Vec::new();
    // Sizes first: boxes are clipped to their image as they are added.
    if let Some(path) = images {
        let bytes = read_file(path)?;
        let format = detect_format_of(path, &bytes[..bytes.len().min(4096)]);
        let [item, width, height] = [0, 1, 2];
        let columns = &[
            text(&["item", "image"]),
            number(&["width"]),
            number(&["height"]),
        ];
        for_each_row(path, &bytes, format, columns, rejects, |row| {
            let item = row.text(item)?;
            let width = row.number(width)?;
            let height = row.number(height)?;
            let whole = |v: f64| v >= 1.0 && v.fract() == 0.0 && v <= u32::MAX as f64;
            if !whole(width) || !whole(height) {
                return Err(format!("image size {width}x{height}: width and height must be whole numbers of pixels, at least 1"));
            }
            builder.set_size(&item, width as u32, height as u32)
        })?;
    }
    // Answers next, so the images keep the order of the responses file.
    let answers_listed = responses.is_some();
    if let Some(path) = responses {
        let bytes = read_file(path)?;
        let format = detect_format_of(path, &bytes[..bytes.len().min(4096)]);
        let [item, worker] = [0, 1];
        let columns = &[text(&["item", "image"]), text(&["worker"])];
        for_each_row(path, &bytes, format, columns, rejects, |row| {
            let item = row.text(item)?;
            let worker = row.text(worker)?;
            builder.answer(&item, &worker).map(|_| ())
        })?;
    } else {
        notes.push(
            "no --responses file: only workers who drew at least one box on an image count as having answered it, so an empty answer (\"nothing here\") is not counted".into(),
        );
    }
    let responses_name = responses
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let [item, worker, label, left, top, width, height] = [0, 1, 2, 3, 4, 5, 6];
    let columns = &[
        text(&["item", "image"]),
        text(&["worker"]),
        text(&["label", "class"]),
        number(&["left"]),
        number(&["top"]),
        number(&["width"]),
        number(&["height"]),
    ];
    for_each_row(input, bytes, format, columns, rejects, |row| {
        let item = row.text(item)?;
        let worker = row.text(worker)?;
        let label = row.text(label)?;
        let v = [
            row.number(left)?,
            row.number(top)?,
            row.number(width)?,
            row.number(height)?,
        ];
        if answers_listed && builder.find_answer(&item, &worker).is_none() {
            return Err(format!(
                "worker {worker:?} has a box on image {item:?} but no answer there in {responses_name}"
            ));
        }
        let rect = Rect::checked_ltwh(v[0], v[1], v[2], v[3])?;
        builder.add_box(&item, &worker, &label, rect).map(|_| ())
    })?;
    Ok(BoxInput {
        data: builder.finish(),
        notes,
    })
}

/// Reads Ground Truth's bounding-box consolidation request.
pub fn read_gt_box_request(
    path: &Path,
    options: &BoxReadOptions,
    rejects: &mut Rejects,
) -> Result<BoxData> {
    let bytes = read_file(path)?;
    parse_gt_box_request(path, &bytes, options, rejects)
}

/// Parses Ground Truth's bounding-box consolidation request: an array of
/// `{datasetObjectId, dataObject, annotations: [{workerId, annotationData:
/// {content}}]}` where each `content` is the JSON text
/// `{"boundingBox": {"boundingBoxes": [{label, left, top, width, height}],
/// "inputImageProperties": {width, height}}}`.
pub fn parse_gt_box_request(
    path: &Path,
    bytes: &[u8],
    options: &BoxReadOptions,
    rejects: &mut Rejects,
) -> Result<BoxData> {
    let objects = request_objects(path, bytes)?;
    let mut builder = BoxBuilder::new(options.categories.as_deref());
    for (index, object) in objects.iter().enumerate() {
        let id = object.get("datasetObjectId").and_then(id_text);
        let at = |problem: String| Error::BadInput {
            path: path.into(),
            location: Location::Object {
                index,
                // An id can be kilobytes long; the message quotes its start.
                id: id
                    .as_deref()
                    .map(|i| crate::error::clip(i, 100).into_owned()),
            },
            problem,
        };
        let record = object.to_string();
        let Some(image) = id.clone() else {
            rejects.bad(
                at("missing datasetObjectId (a string or an integer)".into()),
                record.as_bytes(),
            )?;
            continue;
        };
        if builder.knows_image(&image) {
            rejects.bad(
                at(format!("datasetObjectId {image:?} appears twice")),
                record.as_bytes(),
            )?;
            continue;
        }
        builder.image(&image);
        if let Some(data_object) = object.get("dataObject") {
            builder.set_data_object(&image, data_object.clone());
        }
        let Some(annotations) = object.get("annotations").and_then(Value::as_array) else {
            rejects.bad(at("missing annotations array".into()), record.as_bytes())?;
            continue;
        };
        for (a, annotation) in annotations.iter().enumerate() {
            if let Err(problem) = read_gt_annotation(&mut builder, &image, annotation, rejects, &at)
            {
                let record = annotation.to_string();
                rejects.bad(at(format!("annotation {a}: {problem}")), record.as_bytes())?;
            }
        }
    }
    Ok(builder.finish())
}

/// One annotation: the answer, the image size, then each box (a bad box
/// is its own reject; the answer stays).
fn read_gt_annotation(
    builder: &mut BoxBuilder,
    image: &str,
    annotation: &Value,
    rejects: &mut Rejects,
    at: &dyn Fn(String) -> Error,
) -> std::result::Result<(), String> {
    let (worker, content) = worker_and_content(annotation)?;
    let content =
        parse_json_strict(content).map_err(|e| format!("content is not valid JSON: {e}"))?;
    let bounding = content
        .get("boundingBox")
        .ok_or("content has no boundingBox (is this a bounding-box job?)")?;
    let list = bounding
        .get("boundingBoxes")
        .and_then(Value::as_array)
        .ok_or("boundingBox has no boundingBoxes array")?;
    if let Some(props) = bounding.get("inputImageProperties") {
        let dim = |name: &str| {
            props
                .get(name)
                .and_then(Value::as_u64)
                .filter(|&v| v >= 1 && v <= u32::MAX as u64)
                .ok_or(format!(
                    "inputImageProperties.{name} must be a whole number of pixels, at least 1"
                ))
        };
        let (w, h) = (dim("width")?, dim("height")?);
        builder.set_size(image, w as u32, h as u32)?;
    }
    builder.answer(image, &worker)?;
    for (b, entry) in list.iter().enumerate() {
        let parsed = (|| {
            let label = match entry.get("label") {
                None => return Err("missing label".to_string()),
                Some(Value::String(s)) if !s.is_empty() => s.as_str(),
                Some(other) => {
                    return Err(format!("label must be a non-empty string, not {other}"))
                }
            };
            let mut v = [0.0f64; 4];
            for (slot, name) in v.iter_mut().zip(["left", "top", "width", "height"]) {
                *slot = entry
                    .get(name)
                    .and_then(Value::as_f64)
                    .ok_or(format!("{name} must be a number"))?;
            }
            let rect = Rect::checked_ltwh(v[0], v[1], v[2], v[3])?;
            builder.add_box(image, &worker, label, rect).map(|_| ())
        })();
        if let Err(problem) = parsed {
            let problem = format!("worker {worker:?}, box {b}: {problem}");
            if !rejects.skips() {
                // The caller names the object and the annotation.
                return Err(problem);
            }
            rejects
                .bad(at(problem), entry.to_string().as_bytes())
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
