//! Scores consolidated segmentation masks against gold masks: reads
//! `consolidate --task segmentation`'s output manifest (masks and their
//! `internal-color-map`) and a gold manifest of index PNGs
//! (`{"image", "mask"}` per line), and pools IoU and pixel accuracy.

use std::path::Path;

use serde_json::Value;

use super::gold::{SegScorer, SegScores};
use crate::error::{Error, Result};
use crate::segmentation::png_mask::{decode_mask, ColourMap};

/// The scores of a prediction manifest against a gold manifest.
#[derive(Debug, Clone)]
pub struct SegEvaluation {
    /// IoU and pixel accuracy, pooled over the scored images.
    pub scores: SegScores,
    /// The prediction's classes, in class-id order.
    pub classes: Vec<String>,
    /// Images scored.
    pub images: usize,
    /// Gold images with no prediction.
    pub missing: Vec<String>,
}

/// Scores `pred_manifest` against `gold_manifest` (mask paths relative to
/// each manifest's folder), refusing masks over `max_pixels`.
pub fn evaluate_segmentation(
    pred_manifest: &Path,
    gold_manifest: &Path,
    max_pixels: u64,
) -> Result<SegEvaluation> {
    let folder = |manifest: &Path| manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let (pred_dir, gold_dir) = (folder(pred_manifest), folder(gold_manifest));
    // Predictions by image: mask path and colour map.
    let mut predicted = std::collections::HashMap::new();
    let mut classes: Option<ColourMap> = None;
    for (n, line) in lines(pred_manifest)? {
        let image = line
            .get("source-ref")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(pred_manifest, n, "missing source-ref"))?
            .to_string();
        let obj = line.as_object().expect("a JSON line is an object here");
        let (attr, mask) = obj
            .iter()
            .find(|(k, v)| k.ends_with("-ref") && *k != "source-ref" && v.is_string())
            .ok_or_else(|| bad(pred_manifest, n, "no <attr>-ref mask path"))?;
        let map = obj
            .get(&format!("{attr}-metadata"))
            .and_then(|m| m.get("internal-color-map"))
            .ok_or_else(|| {
                bad(
                    pred_manifest,
                    n,
                    format!("missing {attr}-metadata.internal-color-map"),
                )
            })?;
        let map = ColourMap::from_internal(map).map_err(|p| bad(pred_manifest, n, p))?;
        match &classes {
            None => classes = Some(map.clone()),
            Some(first) if first.names() != map.names() => {
                return Err(bad(
                    pred_manifest,
                    n,
                    "this line's classes differ from the first line's",
                ))
            }
            Some(_) => {}
        }
        predicted.insert(
            image,
            (n, pred_dir.join(mask.as_str().expect("string")), map),
        );
    }
    let classes = classes
        .ok_or_else(|| Error::Usage(format!("{} holds no prediction", pred_manifest.display())))?;
    let mut scorer = SegScorer::new(classes.classes.len());
    let (mut images, mut missing) = (0usize, Vec::new());
    for (n, line) in lines(gold_manifest)? {
        let image = line
            .get("image")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(gold_manifest, n, "missing image"))?;
        let mask = line
            .get("mask")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(gold_manifest, n, "missing mask"))?;
        let Some((pn, pred_path, map)) = predicted.get(image) else {
            missing.push(image.to_string());
            continue;
        };
        let gold_path = gold_dir.join(mask);
        let gold = decode_mask(&read_png(&gold_path, gold_manifest, n)?, None, max_pixels)
            .map_err(|p| {
                bad(
                    gold_manifest,
                    n,
                    format!("mask {}: {p}", gold_path.display()),
                )
            })?;
        let pred = decode_mask(
            &read_png(pred_path, pred_manifest, *pn)?,
            Some(map),
            max_pixels,
        )
        .map_err(|p| {
            bad(
                pred_manifest,
                *pn,
                format!("mask {}: {p}", pred_path.display()),
            )
        })?;
        if (gold.width, gold.height) != (pred.width, pred.height) {
            return Err(bad(
                gold_manifest,
                n,
                format!(
                    "gold mask of {image:?} is {}×{}, the prediction {}×{}",
                    gold.width, gold.height, pred.width, pred.height
                ),
            ));
        }
        if let Some(&c) = gold
            .pixels
            .iter()
            .find(|&&c| c as usize >= classes.classes.len())
        {
            return Err(bad(
                gold_manifest,
                n,
                format!(
                    "gold class id {c} is beyond the prediction's {} classes",
                    classes.classes.len()
                ),
            ));
        }
        scorer.add(&pred.pixels, &gold.pixels);
        images += 1;
    }
    Ok(SegEvaluation {
        scores: scorer.scores(),
        classes: classes.names(),
        images,
        missing,
    })
}

fn bad(path: &Path, line: usize, problem: impl Into<String>) -> Error {
    Error::at_line(path, line as u64 + 1, problem)
}

fn lines(path: &Path) -> Result<Vec<(usize, Value)>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .map(|v| (n, v))
                .map_err(|e| bad(path, n, format!("invalid JSON: {e}")))
        })
        .collect()
}

fn read_png(path: &Path, manifest: &Path, line: usize) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| bad(manifest, line, format!("mask {}: {e}", path.display())))
}
