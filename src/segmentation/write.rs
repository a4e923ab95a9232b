//! Writers of consolidated segmentation: one PNG mask per image (an 8-bit
//! indexed PNG: the pixel is the class id, the palette the manifest's
//! `internal-color-map`), optional 8-bit confidence maps, Ground Truth's output manifest and a per-image summary CSV. Every
//! file is written atomically; masks are encoded in parallel.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::png_mask::{default_colours, encode_confidence, encode_indexed_mask, hex, ColourMap};
use crate::engine::pack::masks::MaskBatch;
use crate::error::{Error, Result};
use crate::io::atomic::PendingGuard;
use crate::io::write_atomic;
use crate::segmentation::methods::SegConsolidation;

/// What to write and how to label it.
#[derive(Debug, Clone)]
pub struct SegWriteOptions {
    /// Ground Truth's label attribute: the manifest holds `<attr>-ref` and
    /// `<attr>-ref-metadata`.
    pub label_attribute: String,
    /// Labelling job name, written as the metadata's `job-name`.
    pub job_name: String,
    /// ISO 8601 timestamp written as `creation-date`.
    pub creation_date: String,
    /// Also write `confidence/<n>.png` per image.
    pub confidence_maps: bool,
}

/// The file name of image `index`: its position and a readable part of its
/// id (ids are often S3 URIs, so anything outside `[A-Za-z0-9._-]` becomes
/// `_`), e.g. `000003-cat_42.png`.
pub fn mask_file_name(index: usize, image: &str) -> String {
    let stem = image.rsplit('/').next().unwrap_or(image);
    let stem = stem.strip_suffix(".png").unwrap_or(stem);
    let safe: String = stem
        .chars()
        .take(60)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{index:06}-{safe}.png")
}

/// The colour map of the output, which is also the masks' palette: the
/// input's, or [`default_colours`] when the input had none (index masks
/// hold no colours; grey levels 0, 1, 2, ... would look black).
pub fn output_colours(batch: &MaskBatch, colours: Option<&ColourMap>) -> ColourMap {
    colours.cloned().unwrap_or_else(|| ColourMap {
        classes: batch
            .class_names
            .iter()
            .cloned()
            .zip(default_colours(batch.class_names.len()))
            .collect(),
    })
}

/// Writes `DIR/masks/*.png`, optionally `DIR/confidence/*.png`,
/// `DIR/output.manifest` (Ground Truth JSON Lines) and `DIR/images.csv`
/// (image, mask, confidence, width, height, masks). Returns the manifest's
/// path.
///
/// A new `DIR` is built under a temporary name beside it and renamed into
/// place at the end, so an error or an interrupt leaves no partial folder.
/// An existing `DIR` is written in place, each file atomically and the
/// manifest after every mask.
pub fn write_segmentation(
    dir: &Path,
    batch: &MaskBatch,
    colours: Option<&ColourMap>,
    fit: &SegConsolidation,
    options: &SegWriteOptions,
) -> Result<PathBuf> {
    if dir.exists() {
        return write_into(dir, batch, colours, fit, options);
    }
    let name = dir
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let tmp = dir.with_file_name(format!(".{name}.accord-{}.tmp", std::process::id()));
    let pending = PendingGuard::new(&tmp);
    let written = write_into(&tmp, batch, colours, fit, options).and_then(|_| {
        std::fs::rename(&tmp, dir).map_err(|source| Error::Write {
            path: dir.into(),
            source,
        })
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    drop(pending);
    written.map(|()| dir.join("output.manifest"))
}

fn write_into(
    dir: &Path,
    batch: &MaskBatch,
    colours: Option<&ColourMap>,
    fit: &SegConsolidation,
    options: &SegWriteOptions,
) -> Result<PathBuf> {
    let create = |d: &Path| {
        std::fs::create_dir_all(d).map_err(|source| Error::Write {
            path: d.into(),
            source,
        })
    };
    create(&dir.join("masks"))?;
    if options.confidence_maps {
        create(&dir.join("confidence"))?;
    }
    let map = output_colours(batch, colours);
    let names: Vec<String> = (0..batch.images.len())
        .map(|i| mask_file_name(i, batch.image_names.get(i)))
        .collect();
    batch
        .images
        .par_iter()
        .enumerate()
        .try_for_each(|(i, slot)| -> Result<()> {
            let range = slot.output_start as usize..slot.output_start as usize + slot.pixels();
            let mask_path = dir.join("masks").join(&names[i]);
            let png =
                encode_indexed_mask(slot.width, slot.height, &fit.labels[range.clone()], &map)
                    .map_err(|e| encode_error(&mask_path, e))?;
            write_atomic(&mask_path, |w| w.write_all(&png))?;
            if options.confidence_maps {
                let map_path = dir.join("confidence").join(&names[i]);
                let png = encode_confidence(slot.width, slot.height, &fit.confidence[range])
                    .map_err(|e| encode_error(&map_path, e))?;
                write_atomic(&map_path, |w| w.write_all(&png))?;
            }
            Ok(())
        })?;
    let manifest = dir.join("output.manifest");
    let attr = &options.label_attribute;
    write_atomic(&manifest, |w| {
        for (i, slot) in batch.images.iter().enumerate() {
            let range = slot.output_start as usize..slot.output_start as usize + slot.pixels();
            let class_confidence = per_class_confidence(
                &fit.labels[range.clone()],
                &fit.confidence[range],
                map.classes.len(),
            );
            let mut colour_map = Map::new();
            for (c, (name, colour)) in map.classes.iter().enumerate() {
                colour_map.insert(
                    c.to_string(),
                    json!({"class-name": name, "hex-color": hex(*colour), "confidence": round6(class_confidence[c])}),
                );
            }
            let line = json!({
                "source-ref": batch.image_names.get(i),
                format!("{attr}-ref"): format!("masks/{}", names[i]),
                format!("{attr}-ref-metadata"): {
                    "internal-color-map": Value::Object(colour_map),
                    "type": "groundtruth/semantic-segmentation",
                    "human-annotated": "yes",
                    "creation-date": options.creation_date,
                    "job-name": options.job_name,
                },
            });
            writeln!(w, "{line}")?;
        }
        Ok(())
    })?;
    write_atomic(&dir.join("images.csv"), |w| {
        writeln!(w, "image,mask,confidence,width,height,masks")?;
        let mut csv = csv::Writer::from_writer(w);
        for (i, slot) in batch.images.iter().enumerate() {
            csv.write_record([
                batch.image_names.get(i),
                &format!("masks/{}", names[i]),
                &round6(fit.image_confidence[i]).to_string(),
                &slot.width.to_string(),
                &slot.height.to_string(),
                &slot.n_masks.to_string(),
            ])?;
        }
        csv.flush()
    })?;
    Ok(manifest)
}

fn encode_error(path: &Path, problem: String) -> Error {
    Error::Write {
        path: path.into(),
        source: std::io::Error::other(format!("encoding the PNG: {problem}")),
    }
}

/// Mean confidence of the pixels given each class (0 for classes not given).
fn per_class_confidence(labels: &[u8], confidence: &[f32], k: usize) -> Vec<f64> {
    let mut sum = vec![0f64; k];
    let mut count = vec![0u64; k];
    for (&l, &c) in labels.iter().zip(confidence) {
        sum[l as usize] += c as f64;
        count[l as usize] += 1;
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &n)| if n > 0 { s / n as f64 } else { 0.0 })
        .collect()
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
