//! Readers of segmentation annotations: a JSON Lines manifest of PNG masks
//! (one line per image × worker) and Ground Truth's segmentation request
//! (masks inline as base64 PNG). Both give a [`MaskBatch`] whose classes are
//! unified by name across the colour maps of all masks.

use std::path::{Path, PathBuf};

use base64::Engine;
use rayon::prelude::*;
use serde_json::Value;

use super::png_mask::{decode_mask, ColourMap, DecodedMask};
use crate::engine::pack::masks::{Mask, MaskBatch, MaskBuilder, MAX_SEGMENTATION_CLASSES};
use crate::error::{Error, Location, Result};
use crate::io::ground_truth::{id_text, request_objects, worker_and_content};
use crate::io::Rejects;

/// Masks read from a file, their class names and colours.
#[derive(Debug)]
pub struct SegInput {
    /// The masks, laid out by image.
    pub batch: MaskBatch,
    /// Class colours when the masks came with colour maps (used to write
    /// the consolidated masks in the same colours).
    pub colours: Option<ColourMap>,
    /// Images listed with no mask (Ground Truth objects nobody answered):
    /// reported, as they cannot be consolidated.
    pub without_masks: Vec<String>,
}

/// One decoded mask before its classes are unified.
struct RawMask {
    image: String,
    worker: String,
    mask: DecodedMask,
    colours: Option<ColourMap>,
    location: Location,
}

pub(super) fn bad(path: &Path, location: &Location, problem: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.into(),
        location: location.clone(),
        problem: problem.into(),
    }
}

/// The first of `keys` present in `object`.
pub(super) fn field<'a>(object: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| object.get(*k))
}

/// A colour map given with a mask, if any.
pub(super) fn colour_map(object: &Value) -> std::result::Result<Option<ColourMap>, String> {
    if let Some(m) = field(object, &["label-mappings", "labelMappings"]) {
        return ColourMap::from_label_mappings(m).map(Some);
    }
    if let Some(m) = object.get("internal-color-map") {
        return ColourMap::from_internal(m).map(Some);
    }
    Ok(None)
}

/// Where a manifest may name mask files, and how large they may be.
#[derive(Debug, Clone, Default)]
pub struct MaskPaths {
    /// Folders, beside the manifest's own, that mask paths may lie in. A
    /// manifest from an untrusted source could otherwise make accord read
    /// any file (`../../etc/passwd`, absolute paths).
    pub allowed_outside: Vec<PathBuf>,
    /// The run's output folder, if known: a mask inside it is refused, as
    /// writing the consensus would replace it.
    pub output_folder: Option<PathBuf>,
}

/// Reads a JSON Lines manifest: per line `image` (or `image-id`,
/// `source-ref`), `worker` (or `worker-id`), `mask` (a PNG path, relative
/// to the manifest's folder) and optionally `label-mappings` or
/// `internal-color-map`. Mask files must lie in the manifest's folder or
/// below (see [`read_mask_manifest_with`] for more folders) and be regular
/// files. Masks are decoded in parallel, once their total size is known to
/// fit in memory. Bad lines go to `rejects`.
pub fn read_mask_manifest(
    path: &Path,
    categories: Option<&[String]>,
    max_pixels: u64,
    rejects: &mut Rejects,
) -> Result<SegInput> {
    read_mask_manifest_with(path, categories, max_pixels, &MaskPaths::default(), rejects)
}

/// [`read_mask_manifest`], with mask files allowed in `paths`' folders too.
pub fn read_mask_manifest_with(
    path: &Path,
    categories: Option<&[String]>,
    max_pixels: u64,
    paths: &MaskPaths,
    rejects: &mut Rejects,
) -> Result<SegInput> {
    let available = crate::engine::memory::available_bytes();
    let manifest = super::manifest::MaskManifest::open(
        path,
        categories,
        max_pixels,
        paths,
        available.unwrap_or(u64::MAX),
        rejects,
    )?;
    if !manifest.is_resident() {
        crate::engine::memory::check_fits(
            // The decoded masks, and the consensus beside them.
            2 * manifest.mask_bytes(),
            available,
            &format!(
                "the decoded masks of {} ({} pixels in all)",
                path.display(),
                manifest.mask_bytes()
            ),
            "consolidate them in batches (`SegConsolidator::fit_source`) or split the manifest",
        )?;
    }
    manifest.into_input()
}

/// The manifest's folder and the extra ones, resolved.
pub(super) fn allowed_roots(folder: &Path, extra: &[PathBuf]) -> Vec<PathBuf> {
    let here = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    std::iter::once(here)
        .chain(extra.iter().map(PathBuf::as_path))
        .filter_map(|p| p.canonicalize().ok())
        .collect()
}

/// Refuses a mask path outside every allowed folder (links resolved).
pub(super) fn confine(mask: &Path, roots: &[PathBuf]) -> std::result::Result<(), String> {
    // A file that does not exist is reported when read; judge its folder.
    let resolved = mask
        .canonicalize()
        .or_else(|_| {
            let name = mask.file_name().ok_or(std::io::ErrorKind::NotFound)?;
            mask.parent()
                .unwrap_or(Path::new("."))
                .canonicalize()
                .map(|p| p.join(name))
        })
        .map_err(|e| format!("mask {}: {e}", mask.display()))?;
    if roots.iter().any(|r| resolved.starts_with(r)) {
        Ok(())
    } else {
        Err(format!(
            "mask {} lies outside the manifest's folder; name its folder with `allow_paths_outside` to read it",
            mask.display()
        ))
    }
}

/// Width and height from a PNG's header (`IHDR`), without decoding.
pub(super) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let header = bytes.get(..24)?;
    if &header[..8] != b"\x89PNG\r\n\x1a\n" || &header[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    Some((word(16), word(20)))
}

/// The decoded masks; the failures to `rejects` with their records.
fn keep_good(raws: Vec<(Result<RawMask>, String)>, rejects: &mut Rejects) -> Result<Vec<RawMask>> {
    let mut good = Vec::with_capacity(raws.len());
    for (raw, record) in raws {
        match raw {
            Ok(raw) => good.push(raw),
            Err(e) => rejects.bad(e, record.as_bytes())?,
        }
    }
    Ok(good)
}

/// Reads Ground Truth's consolidation request for semantic segmentation: a
/// JSON array of `{"datasetObjectId", "annotations": [{"workerId",
/// "annotationData": {"content": "{\"crowd-semantic-segmentation\":
/// {\"inputImageProperties\": {\"height\", \"width\"}, \"labelMappings\":
/// {...}, \"labeledImage\": {\"pngImageData\": \"<base64>\"}}}"}}]}`.
/// Bad objects and annotations go to `rejects`.
pub fn read_gt_segmentation_request(
    path: &Path,
    categories: Option<&[String]>,
    max_pixels: u64,
    rejects: &mut Rejects,
) -> Result<SegInput> {
    let text = std::fs::read(path).map_err(|e| crate::error::Error::read(path, e))?;
    parse_gt_segmentation_request(path, &text, categories, max_pixels, rejects)
}

/// [`read_gt_segmentation_request`] of a request already in memory; `path`
/// names it in messages.
pub fn parse_gt_segmentation_request(
    path: &Path,
    text: &[u8],
    categories: Option<&[String]>,
    max_pixels: u64,
    rejects: &mut Rejects,
) -> Result<SegInput> {
    let objects = request_objects(path, text)?;
    let mut jobs = Vec::new();
    let mut without_masks = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        let id = object.get("datasetObjectId").and_then(id_text);
        let location = Location::Object {
            index,
            id: id.clone(),
        };
        let record = || serde_json::to_vec(object).unwrap_or_default();
        let Some(id) = id else {
            let e = bad(
                path,
                &location,
                "missing datasetObjectId (a string or an integer)",
            );
            rejects.bad(e, &record())?;
            continue;
        };
        let Some(Value::Array(annotations)) = object.get("annotations") else {
            let e = bad(path, &location, "missing \"annotations\" array");
            rejects.bad(e, &record())?;
            continue;
        };
        if annotations.is_empty() {
            without_masks.push(id.clone());
        }
        for (n, annotation) in annotations.iter().enumerate() {
            match worker_and_content(annotation) {
                Ok((worker, content)) => {
                    jobs.push((location.clone(), id.clone(), n, worker, content.to_string()))
                }
                Err(p) => {
                    let e = bad(path, &location, format!("annotation {n}: {p}"));
                    rejects.bad(e, &serde_json::to_vec(annotation).unwrap_or_default())?;
                }
            }
        }
    }
    // Each mask's size is read from its PNG header before it is decoded,
    // and taken from this budget: a request of many PNG bombs stops with a
    // limit error instead of exhausting memory.
    let budget = std::sync::atomic::AtomicU64::new(
        crate::engine::memory::available_bytes().map_or(u64::MAX, |b| b / 2),
    );
    let over_budget = std::sync::atomic::AtomicBool::new(false);
    let raws: Vec<(Result<RawMask>, String)> = jobs
        .into_par_iter()
        .map(|(location, image, n, worker, content)| {
            let record = format!("annotation {n} of {image} by {worker}");
            let fail = |p: String| {
                bad(
                    path,
                    &location,
                    format!("annotation {n} (worker {worker}): {p}"),
                )
            };
            let raw = segmentation_content(&content, max_pixels, &budget, &over_budget)
                .map_err(fail)
                .map(|(mask, colours)| RawMask {
                    image,
                    worker,
                    mask,
                    colours: Some(colours),
                    location,
                });
            (raw, record)
        })
        .collect();
    if over_budget.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Limit(format!(
            "{}: the decoded masks need more than half the memory available: split the request",
            path.display()
        )));
    }
    let raws = keep_good(raws, rejects)?;
    unify(path, raws, categories, without_masks, rejects)
}

/// Decodes one worker's `crowd-semantic-segmentation` answer, taking its
/// decoded size from `budget` first (`over_budget` is set, and nothing
/// decoded, when it runs out).
fn segmentation_content(
    content: &str,
    max_pixels: u64,
    budget: &std::sync::atomic::AtomicU64,
    over_budget: &std::sync::atomic::AtomicBool,
) -> std::result::Result<(DecodedMask, ColourMap), String> {
    let value: Value = crate::io::ground_truth::parse_json_strict(content)
        .map_err(|e| format!("content is not valid JSON: {e}"))?;
    let answer = value
        .as_object()
        .and_then(|o| o.values().find(|v| v.get("labeledImage").is_some()))
        .ok_or("content has no segmentation answer (expected {\"crowd-semantic-segmentation\": {\"labeledImage\": ...}})")?;
    let colours = ColourMap::from_label_mappings(
        answer
            .get("labelMappings")
            .unwrap_or(&Value::Object(Default::default())),
    )?;
    let data = answer
        .get("labeledImage")
        .and_then(|l| l.get("pngImageData"))
        .and_then(Value::as_str)
        .ok_or("missing labeledImage.pngImageData (a base64 PNG)")?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("labeledImage.pngImageData is not valid base64: {e}"))?;
    if let Some((w, h)) = png_size(&png) {
        use std::sync::atomic::Ordering;
        let need = (w as u64 * h as u64).min(max_pixels);
        let taken = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(need)
        });
        if taken.is_err() {
            over_budget.store(true, Ordering::Relaxed);
            return Err("not decoded: the memory budget is spent".into());
        }
    }
    let mask = decode_mask(&png, Some(&colours), max_pixels)?;
    if let Some(props) = answer.get("inputImageProperties") {
        let dim = |k: &str| match props.get(k) {
            None => Ok(None),
            Some(v) => v.as_u64().filter(|&d| d > 0).map(Some).ok_or_else(|| {
                format!("inputImageProperties.{k} must be a positive integer, not {v}")
            }),
        };
        if let (Some(w), Some(h)) = (dim("width")?, dim("height")?) {
            if (w, h) != (mask.width as u64, mask.height as u64) {
                return Err(format!(
                    "the mask is {}×{} but inputImageProperties says {w}×{h}",
                    mask.width, mask.height
                ));
            }
        }
    }
    Ok((mask, colours))
}

/// Gives every mask global class ids: by name through the colour maps when
/// masks have them, else the pixel values themselves.
fn unify(
    path: &Path,
    raws: Vec<RawMask>,
    categories: Option<&[String]>,
    without_masks: Vec<String>,
    rejects: &mut Rejects,
) -> Result<SegInput> {
    if raws.is_empty() {
        return Err(bad(path, &Location::File, "the input holds no mask"));
    }
    let with_maps = raws.iter().filter(|r| r.colours.is_some()).count();
    if with_maps > 0 && with_maps < raws.len() {
        let odd = raws
            .iter()
            .find(|r| r.colours.is_none())
            .expect("one without");
        return Err(bad(
            path,
            &odd.location,
            "this mask has no colour map but others have: give every mask one, or none",
        ));
    }
    let (names, colours): (Vec<String>, Option<ColourMap>) = if with_maps > 0 {
        let mut classes: Vec<(String, [u8; 3])> = Vec::new();
        if let Some(c) = categories {
            // The user's order; colours come from the masks' maps.
            for name in c {
                let colour = raws
                    .iter()
                    .flat_map(|r| &r.colours.as_ref().expect("maps").classes)
                    .find(|(n, _)| n == name)
                    .map_or([0, 0, 0], |(_, col)| *col);
                classes.push((name.clone(), colour));
            }
        }
        for raw in &raws {
            for (name, colour) in &raw.colours.as_ref().expect("maps").classes {
                if !classes.iter().any(|(n, _)| n == name) {
                    if categories.is_some() {
                        return Err(bad(
                            path,
                            &raw.location,
                            format!("class {name:?} is not one of `categories`"),
                        ));
                    }
                    classes.push((name.clone(), *colour));
                }
            }
        }
        if classes.len() > MAX_SEGMENTATION_CLASSES {
            return Err(Error::Limit(format!(
                "{} classes across the colour maps; at most {MAX_SEGMENTATION_CLASSES} are accepted",
                classes.len()
            )));
        }
        let names = classes.iter().map(|(n, _)| n.clone()).collect();
        (names, Some(ColourMap { classes }))
    } else {
        let top = raws
            .iter()
            .flat_map(|r| r.mask.pixels.iter().copied())
            .max()
            .unwrap_or(0) as usize;
        let names = match categories {
            Some(c) => c.to_vec(),
            None => (0..=top).map(|c| c.to_string()).collect(),
        };
        (names, None)
    };
    let mut builder = MaskBuilder::new(names.clone())?;
    for raw in &raws {
        let remapped;
        let pixels = match (&raw.colours, &colours) {
            (Some(local), Some(global)) => {
                let map: Vec<u8> = local
                    .classes
                    .iter()
                    .map(|(n, _)| {
                        global
                            .classes
                            .iter()
                            .position(|(g, _)| g == n)
                            .expect("unified") as u8
                    })
                    .collect();
                remapped = raw
                    .mask
                    .pixels
                    .iter()
                    .map(|&c| map[c as usize])
                    .collect::<Vec<u8>>();
                &remapped
            }
            _ => &raw.mask.pixels,
        };
        let pushed = builder.push(Mask {
            image: &raw.image,
            worker: &raw.worker,
            width: raw.mask.width,
            height: raw.mask.height,
            pixels,
        });
        if let Err(p) = pushed {
            let record = format!("mask of {} by {}", raw.image, raw.worker);
            rejects.bad(bad(path, &raw.location, p), record.as_bytes())?;
        }
    }
    Ok(SegInput {
        batch: builder.finish(),
        colours,
        without_masks,
    })
}
