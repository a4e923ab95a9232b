//! Scores consolidated segmentation masks against gold masks: reads
//! `consolidate --task segmentation`'s output manifest (masks and their
//! `internal-color-map`) and a gold manifest of index PNGs
//! (`{"image", "mask"}` per line), and pools IoU and pixel accuracy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
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
    evaluate_segmentation_with(pred_manifest, gold_manifest, max_pixels, &mut |_, _| {})
}

/// Gold images scored at a time, in parallel: each gives only its counts,
/// so memory holds a mask pair per thread whatever the number of images.
const IMAGES_PER_ROUND: usize = 256;

/// [`evaluate_segmentation`], reporting `(images done, gold images)` to
/// `progress` as it goes. Both manifests are read line by line and each
/// prediction keeps only its line, path and colour map (maps shared when
/// equal); mask pairs are decoded a round at a time, so memory does not
/// grow with the masks.
pub fn evaluate_segmentation_with(
    pred_manifest: &Path,
    gold_manifest: &Path,
    max_pixels: u64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SegEvaluation> {
    let folder = |manifest: &Path| manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let (pred_dir, gold_dir) = (folder(pred_manifest), folder(gold_manifest));
    // Predictions by image: line, mask path and colour map.
    let mut predicted: HashMap<String, (usize, String, usize)> = HashMap::new();
    let mut maps: Vec<ColourMap> = Vec::new();
    for_each_line(pred_manifest, |n, line| {
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
        if maps
            .first()
            .is_some_and(|first| first.names() != map.names())
        {
            return Err(bad(
                pred_manifest,
                n,
                "this line's classes differ from the first line's",
            ));
        }
        let id = match maps.iter().position(|m| *m == map) {
            Some(id) => id,
            None => {
                maps.push(map);
                maps.len() - 1
            }
        };
        let mask = mask.as_str().expect("string").to_string();
        predicted.insert(image, (n, mask, id));
        Ok(())
    })?;
    let classes = maps
        .first()
        .cloned()
        .ok_or_else(|| Error::Usage(format!("{} holds no prediction", pred_manifest.display())))?;
    let k = classes.classes.len();
    let mut gold: Vec<(usize, String, String)> = Vec::new();
    for_each_line(gold_manifest, |n, line| {
        let image = line
            .get("image")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(gold_manifest, n, "missing image"))?;
        let mask = line
            .get("mask")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(gold_manifest, n, "missing mask"))?;
        gold.push((n, image.to_string(), mask.to_string()));
        Ok(())
    })?;
    let total = gold.len();
    let mut scorer = SegScorer::new(k);
    let (mut images, mut missing) = (0usize, Vec::new());
    progress(0, total);
    for (round, lines) in gold.chunks(IMAGES_PER_ROUND).enumerate() {
        let scored: Vec<Option<Result<SegScorer>>> = lines
            .par_iter()
            .map(|(n, image, mask)| {
                let (pn, pred_mask, map) = predicted.get(image)?;
                let pred = (*pn, pred_dir.join(pred_mask), &maps[*map]);
                let gold = (*n, gold_dir.join(mask));
                Some(score_pair(
                    (pred_manifest, gold_manifest),
                    image,
                    pred,
                    gold,
                    max_pixels,
                    k,
                ))
            })
            .collect();
        for ((_, image, _), one) in lines.iter().zip(scored) {
            match one {
                None => missing.push(image.clone()),
                Some(one) => {
                    scorer.merge(&one?);
                    images += 1;
                }
            }
        }
        progress((round * IMAGES_PER_ROUND + lines.len()).min(total), total);
    }
    Ok(SegEvaluation {
        scores: scorer.scores(),
        classes: classes.names(),
        images,
        missing,
    })
}

/// The counts of one image: its prediction `(line, path, colour map)`
/// against its gold `(line, path)`.
fn score_pair(
    (pred_manifest, gold_manifest): (&Path, &Path),
    image: &str,
    (pn, pred_path, map): (usize, PathBuf, &ColourMap),
    (n, gold_path): (usize, PathBuf),
    max_pixels: u64,
    k: usize,
) -> Result<SegScorer> {
    let gold =
        decode_mask(&read_png(&gold_path, gold_manifest, n)?, None, max_pixels).map_err(|p| {
            bad(
                gold_manifest,
                n,
                format!("mask {}: {p}", gold_path.display()),
            )
        })?;
    let pred = decode_mask(
        &read_png(&pred_path, pred_manifest, pn)?,
        Some(map),
        max_pixels,
    )
    .map_err(|p| {
        bad(
            pred_manifest,
            pn,
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
    if let Some(&c) = gold.pixels.iter().find(|&&c| c as usize >= k) {
        return Err(bad(
            gold_manifest,
            n,
            format!("gold class id {c} is beyond the prediction's {k} classes"),
        ));
    }
    let mut scorer = SegScorer::new(k);
    scorer.add(&pred.pixels, &gold.pixels);
    Ok(scorer)
}

fn bad(path: &Path, line: usize, problem: impl Into<String>) -> Error {
    Error::at_line(path, line as u64 + 1, problem)
}

/// Calls `each(0-based line, JSON)` for every non-blank line of `path`,
/// reading it line by line.
fn for_each_line(path: &Path, mut each: impl FnMut(usize, Value) -> Result<()>) -> Result<()> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::Read {
            path: path.into(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let value =
            serde_json::from_str(&line).map_err(|e| bad(path, n, format!("invalid JSON: {e}")))?;
        each(n, value)?;
    }
    Ok(())
}

fn read_png(path: &Path, manifest: &Path, line: usize) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| bad(manifest, line, format!("mask {}: {e}", path.display())))
}
