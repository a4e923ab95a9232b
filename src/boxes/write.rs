//! Writers of consolidated boxes: Ground Truth's object-detection output
//! manifest, the consolidation Lambda response, a CSV of boxes and the
//! worker report.

use std::io::Write;

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::{BoxData, BoxLabels, FusedBox};
use crate::io::decimal;

/// Output formats of the box task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum BoxOutputFormat {
    /// `item,class,left,top,width,height,confidence,support`, one row per
    /// box; an image with none has one row with the box fields empty.
    #[default]
    Csv,
    /// Ground Truth's output manifest (`groundtruth/object-detection`).
    Manifest,
    /// Ground Truth's annotation-consolidation Lambda response.
    GtResponse,
}

/// Options of the box writers.
#[derive(Debug, Clone)]
pub struct BoxWriteOptions {
    /// The format.
    pub format: BoxOutputFormat,
    /// Ground Truth's label attribute name.
    pub label_attribute: String,
    /// Written as the metadata's `job-name`.
    pub job_name: String,
    /// Written as `creation-date`.
    pub creation_date: String,
    /// `image_size.depth` (Ground Truth writes 3 for RGB images).
    pub depth: u32,
}

impl Default for BoxWriteOptions {
    fn default() -> Self {
        BoxWriteOptions {
            format: BoxOutputFormat::Csv,
            label_attribute: "bounding-box".into(),
            job_name: "accord".into(),
            creation_date: crate::classification::write::now_iso8601(),
            depth: 3,
        }
    }
}

/// Coordinates as Ground Truth writes them: whole pixels.
fn pixel(v: f64) -> i64 {
    v.round() as i64
}

/// `left, top, width, height` in whole pixels, each box at least 1x1.
fn ltwh(b: &FusedBox) -> [i64; 4] {
    let (l, t) = (pixel(b.rect.x1 as f64), pixel(b.rect.y1 as f64));
    let (r, bottom) = (pixel(b.rect.x2 as f64), pixel(b.rect.y2 as f64));
    [l, t, (r - l).max(1), (bottom - t).max(1)]
}

/// A value to a millionth (of a pixel, or of the image for normalised
/// 0–1 coordinates): more than f32 holds, without its noise.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// The value of `<attr>` and of `<attr>-metadata` for one image.
fn attribute_and_metadata(
    data: &BoxData,
    labels: &BoxLabels,
    options: &BoxWriteOptions,
    image: usize,
) -> (Value, Value) {
    let boxes = &labels.objects[image];
    let annotations: Vec<Value> = boxes
        .iter()
        .map(|b| {
            let [left, top, width, height] = ltwh(b);
            json!({"class_id": b.class, "left": left, "top": top, "width": width, "height": height})
        })
        .collect();
    let mut attribute = Map::new();
    if let Some((w, h)) = data.image_sizes[image] {
        attribute.insert(
            "image_size".into(),
            json!([{"width": w, "height": h, "depth": options.depth}]),
        );
    }
    attribute.insert("annotations".into(), Value::Array(annotations));
    let class_map: Map<String, Value> = data
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| (i.to_string(), json!(c)))
        .collect();
    let metadata = json!({
        "objects": boxes.iter().map(|b| json!({"confidence": round6(b.confidence)})).collect::<Vec<_>>(),
        "class-map": class_map,
        "type": "groundtruth/object-detection",
        "human-annotated": if data.answers(image).is_empty() { "no" } else { "yes" },
        "creation-date": options.creation_date,
        "job-name": options.job_name,
    });
    (Value::Object(attribute), metadata)
}

/// The CSV rows of `images` into `out`.
fn csv_rows(
    data: &BoxData,
    labels: &BoxLabels,
    images: std::ops::Range<usize>,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    // Fields written in place: at millions of boxes, a `String` per field
    // costs more than the rest of the output.
    let mut number = Vec::new();
    for image in images {
        let boxes = &labels.objects[image];
        // An image with no box is a row too, with the box fields empty:
        // every image read is in the output.
        if boxes.is_empty() {
            csv.write_record([data.images[image].as_str(), "", "", "", "", "", "", "0"])?;
        }
        for b in boxes {
            csv.write_field(data.images[image].as_bytes())?;
            csv.write_field(data.classes[b.class as usize].as_bytes())?;
            let fields = [
                b.rect.x1 as f64,
                b.rect.y1 as f64,
                b.rect.width(),
                b.rect.height(),
                b.confidence,
            ];
            for v in fields {
                number.clear();
                decimal::push_decimal(&mut number, round6(v));
                csv.write_field(&number)?;
            }
            csv.write_field(itoa::Buffer::new().format(b.support))?;
            csv.write_record(None::<&[u8]>)?;
        }
    }
    csv.flush()
}

/// Writes every image's boxes in `options.format`.
pub fn write_boxes(
    out: &mut dyn Write,
    data: &BoxData,
    labels: &BoxLabels,
    options: &BoxWriteOptions,
) -> std::io::Result<()> {
    let attr = &options.label_attribute;
    match options.format {
        BoxOutputFormat::Csv => {
            let mut header = csv::Writer::from_writer(&mut *out);
            header.write_record([
                "item",
                "class",
                "left",
                "top",
                "width",
                "height",
                "confidence",
                "support",
            ])?;
            header.flush()?;
            drop(header);
            // Chunks of images formatted in parallel and written in order;
            // each buffer is reused from window to window.
            const IMAGES_PER_CHUNK: usize = 8192;
            let chunks: Vec<std::ops::Range<usize>> = (0..data.n_images())
                .step_by(IMAGES_PER_CHUNK)
                .map(|start| start..(start + IMAGES_PER_CHUNK).min(data.n_images()))
                .collect();
            let mut buffers = vec![Vec::new(); rayon::current_num_threads() * 2];
            for window in chunks.chunks(buffers.len()) {
                buffers
                    .par_iter_mut()
                    .zip(window)
                    .try_for_each(|(buffer, images)| {
                        buffer.clear();
                        csv_rows(data, labels, images.clone(), buffer)
                    })?;
                for buffer in &buffers[..window.len()] {
                    out.write_all(buffer)?;
                }
            }
            out.flush()
        }
        BoxOutputFormat::Manifest => {
            for image in 0..data.n_images() {
                let mut line = Map::new();
                match data.data_objects[image].as_ref() {
                    Some(object) => {
                        if let Some(uri) = object.get("s3Uri") {
                            line.insert("source-ref".into(), uri.clone());
                        }
                        if let Some(content) = object.get("content") {
                            line.insert("source".into(), content.clone());
                        }
                    }
                    None => {
                        line.insert("item".into(), json!(data.images[image]));
                    }
                }
                let (value, metadata) = attribute_and_metadata(data, labels, options, image);
                line.insert(attr.clone(), value);
                line.insert(format!("{attr}-metadata"), metadata);
                serde_json::to_writer(&mut *out, &Value::Object(line))?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        BoxOutputFormat::GtResponse => {
            let entries: Vec<Value> = (0..data.n_images())
                .map(|image| {
                    let (value, metadata) = attribute_and_metadata(data, labels, options, image);
                    let mut content = Map::new();
                    content.insert(attr.clone(), value);
                    content.insert(format!("{attr}-metadata"), metadata);
                    json!({
                        "datasetObjectId": data.images[image],
                        "consolidatedAnnotation": {"content": Value::Object(content)},
                    })
                })
                .collect();
            serde_json::to_writer(&mut *out, &entries)?;
            out.write_all(b"\n")
        }
    }
}

/// Writes the worker report: CSV `worker,answers,boxes,recall,precision,localisation_error`,
/// or JSON when `json`.
pub fn write_box_workers(
    out: &mut dyn Write,
    data: &BoxData,
    labels: &BoxLabels,
    json: bool,
) -> std::io::Result<()> {
    let number = |v: f64| {
        if v.is_finite() {
            json!(round6(v))
        } else {
            Value::Null
        }
    };
    if json {
        let rows: Vec<Value> = data
            .workers
            .iter()
            .zip(&labels.workers)
            .map(|(name, w)| {
                json!({
                    "worker": name,
                    "answers": w.answers,
                    "boxes": w.boxes,
                    "recall": number(w.recall),
                    "precision": number(w.precision),
                    "localisation_error": number(w.localisation_error),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        return out.write_all(b"\n");
    }
    let text = |v: f64| {
        if v.is_finite() {
            format!("{}", round6(v))
        } else {
            String::new()
        }
    };
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "worker",
        "answers",
        "boxes",
        "recall",
        "precision",
        "localisation_error",
    ])?;
    for (name, w) in data.workers.iter().zip(&labels.workers) {
        csv.write_record([
            name.clone(),
            w.answers.to_string(),
            w.boxes.to_string(),
            text(w.recall),
            text(w.precision),
            text(w.localisation_error),
        ])?;
    }
    csv.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boxes::{BoxConsolidator, BoxMethod};
    use crate::synth::boxes::{generate_boxes, BoxSpec};

    #[test]
    fn the_csv_written_in_parallel_chunks_is_the_csv_of_one_pass() {
        // More images than one chunk holds, so that several chunks and
        // windows are joined.
        let spec = BoxSpec {
            images: 20_000,
            seed: 3,
            ..BoxSpec::default()
        };
        let data = generate_boxes(&spec)
            .unwrap()
            .to_data(spec.width, spec.height);
        let labels = BoxConsolidator::new(BoxMethod::IouMean).fit(&data).unwrap();
        let mut chunked = Vec::new();
        write_boxes(&mut chunked, &data, &labels, &BoxWriteOptions::default()).unwrap();
        let mut whole = b"item,class,left,top,width,height,confidence,support\n".to_vec();
        csv_rows(&data, &labels, 0..data.n_images(), &mut whole).unwrap();
        assert_eq!(
            String::from_utf8(chunked).unwrap(),
            String::from_utf8(whole).unwrap()
        );
    }
}
