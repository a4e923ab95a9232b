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
use crate::io::atomic::{AtomicFile, PendingGuard};
use crate::io::write_atomic;
use crate::segmentation::methods::SegConsolidation;
use crate::segmentation::passes::{BatchConsensus, SegSink};

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
pub fn output_colours(class_names: &[String], colours: Option<&ColourMap>) -> ColourMap {
    colours.cloned().unwrap_or_else(|| ColourMap {
        classes: class_names
            .iter()
            .cloned()
            .zip(default_colours(class_names.len()))
            .collect(),
    })
}

/// Writes `DIR/masks/*.png`, optionally `DIR/confidence/*.png`,
/// `DIR/output.manifest` (Ground Truth JSON Lines) and `DIR/images.csv`
/// (image, mask, confidence, width, height, masks) for a batch consolidated
/// in one piece. Returns the manifest's path. See [`SegWriter`].
pub fn write_segmentation(
    dir: &Path,
    batch: &MaskBatch,
    colours: Option<&ColourMap>,
    fit: &SegConsolidation,
    options: &SegWriteOptions,
) -> Result<PathBuf> {
    let mut writer = SegWriter::create(dir, &batch.class_names, colours, options)?;
    writer.write_batch(batch, &fit.labels, &fit.confidence, &fit.image_confidence)?;
    writer.finish()
}

/// Writes a consolidated run batch by batch (a [`SegSink`]): each batch's
/// masks as it comes, the manifest and `images.csv` lines into temporaries,
/// all committed by [`SegWriter::finish`].
///
/// A new `DIR` is built under a temporary name beside it and renamed into
/// place at the end, so an error or an interrupt leaves no partial folder.
/// An existing `DIR` is written in place, each mask atomically and the
/// manifest and `images.csv` after every mask.
pub struct SegWriter {
    dir: PathBuf,
    /// Where the files go: a temporary folder beside `dir`, or `dir`.
    work: PathBuf,
    /// The temporary folder, while it is not renamed into place.
    fresh: Option<PendingGuard>,
    map: ColourMap,
    options: SegWriteOptions,
    /// The manifest and `images.csv` temporaries (taken by `finish`).
    tables: Option<(AtomicFile, AtomicFile)>,
    /// Images written so far: the next mask file's number.
    written: usize,
}

impl std::fmt::Debug for SegWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegWriter")
            .field("dir", &self.dir)
            .field("written", &self.written)
            .finish()
    }
}

impl SegWriter {
    /// Starts writing `dir` for masks of `class_names`, in `colours` (the
    /// input's; [`default_colours`] when `None`).
    pub fn create(
        dir: &Path,
        class_names: &[String],
        colours: Option<&ColourMap>,
        options: &SegWriteOptions,
    ) -> Result<SegWriter> {
        let (work, fresh) = if dir.exists() {
            (dir.to_path_buf(), None)
        } else {
            let name = dir
                .file_name()
                .map_or("out".into(), |n| n.to_string_lossy());
            let tmp = dir.with_file_name(format!(".{name}.accord-{}.tmp", std::process::id()));
            (tmp.clone(), Some(PendingGuard::new(&tmp)))
        };
        let create = |d: &Path| {
            std::fs::create_dir_all(d).map_err(|source| Error::Write {
                path: d.into(),
                source,
            })
        };
        let made = create(&work.join("masks")).and_then(|()| {
            if options.confidence_maps {
                create(&work.join("confidence"))?;
            }
            let (manifest, images_csv) = Self::tables(&work)?;
            Ok((manifest, images_csv))
        });
        let (manifest, images_csv) = match made {
            Ok(files) => files,
            Err(e) => {
                if fresh.is_some() {
                    let _ = std::fs::remove_dir_all(&work);
                }
                return Err(e);
            }
        };
        Ok(SegWriter {
            dir: dir.into(),
            work,
            fresh,
            map: output_colours(class_names, colours),
            options: options.clone(),
            tables: Some((manifest, images_csv)),
            written: 0,
        })
    }

    /// The manifest and `images.csv`, opened as temporaries.
    fn tables(work: &Path) -> Result<(AtomicFile, AtomicFile)> {
        let manifest = AtomicFile::create(&work.join("output.manifest"))?;
        let csv_path = work.join("images.csv");
        let mut images_csv = AtomicFile::create(&csv_path)?;
        writeln!(
            images_csv.writer(),
            "image,mask,confidence,width,height,masks"
        )
        .map_err(|source| Error::Write {
            path: csv_path,
            source,
        })?;
        Ok((manifest, images_csv))
    }

    /// Writes one batch's masks and its lines of the manifest and
    /// `images.csv`: `labels` and `confidence` per output pixel of
    /// `batch`, `image_confidence` per image.
    pub fn write_batch(
        &mut self,
        batch: &MaskBatch,
        labels: &[u8],
        confidence: &[f32],
        image_confidence: &[f64],
    ) -> Result<()> {
        let dir = &self.work;
        let (map, options) = (&self.map, &self.options);
        let base = batch.images.first().map_or(0, |s| s.output_start) as usize;
        let names: Vec<String> = (0..batch.images.len())
            .map(|i| mask_file_name(self.written + i, batch.image_names.get(i)))
            .collect();
        let range_of = |slot: &crate::engine::pack::masks::ImageSlot| {
            let start = slot.output_start as usize - base;
            start..start + slot.pixels()
        };
        batch
            .images
            .par_iter()
            .enumerate()
            .try_for_each(|(i, slot)| -> Result<()> {
                let range = range_of(slot);
                let mask_path = dir.join("masks").join(&names[i]);
                let png = encode_indexed_mask(slot.width, slot.height, &labels[range.clone()], map)
                    .map_err(|e| encode_error(&mask_path, e))?;
                write_atomic(&mask_path, |w| w.write_all(&png))?;
                if options.confidence_maps {
                    let map_path = dir.join("confidence").join(&names[i]);
                    let png = encode_confidence(slot.width, slot.height, &confidence[range])
                        .map_err(|e| encode_error(&map_path, e))?;
                    write_atomic(&map_path, |w| w.write_all(&png))?;
                }
                Ok(())
            })?;
        let attr = &options.label_attribute;
        let manifest_err = |source| Error::Write {
            path: self.dir.join("output.manifest"),
            source,
        };
        let (manifest, images_csv) = self.tables.as_mut().expect("open until finish");
        let w = manifest.writer();
        for (i, slot) in batch.images.iter().enumerate() {
            let range = range_of(slot);
            let class_confidence = per_class_confidence(
                &labels[range.clone()],
                &confidence[range],
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
            writeln!(w, "{line}").map_err(manifest_err)?;
        }
        let csv_err = |source| Error::Write {
            path: self.dir.join("images.csv"),
            source,
        };
        let mut csv = csv::Writer::from_writer(images_csv.writer());
        for (i, slot) in batch.images.iter().enumerate() {
            csv.write_record([
                batch.image_names.get(i),
                &format!("masks/{}", names[i]),
                &round6(image_confidence[i]).to_string(),
                &slot.width.to_string(),
                &slot.height.to_string(),
                &slot.n_masks.to_string(),
            ])
            .map_err(|e| csv_err(e.into()))?;
        }
        csv.flush().map_err(csv_err)?;
        self.written += batch.images.len();
        Ok(())
    }

    /// Commits the manifest and `images.csv` together, then (for a new
    /// folder) renames the folder into place. Returns the manifest's path.
    pub fn finish(mut self) -> Result<PathBuf> {
        let (dir, work) = (self.dir.clone(), self.work.clone());
        let (manifest, images_csv) = self.tables.take().expect("open until finish");
        let committed = crate::io::atomic::commit_all(vec![manifest, images_csv]);
        let Some(pending) = self.fresh.take() else {
            return committed.map(|()| dir.join("output.manifest"));
        };
        let renamed = committed.and_then(|()| {
            std::fs::rename(&work, &dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })
        });
        if renamed.is_err() {
            let _ = std::fs::remove_dir_all(&work);
        }
        drop(pending);
        renamed.map(|()| dir.join("output.manifest"))
    }
}

impl Drop for SegWriter {
    fn drop(&mut self) {
        // Not finished: a new folder is removed (`finish` takes `fresh`).
        if self.fresh.is_some() {
            let _ = std::fs::remove_dir_all(&self.work);
        }
    }
}

impl SegSink for SegWriter {
    fn batch(&mut self, c: BatchConsensus<'_>) -> Result<()> {
        self.write_batch(c.batch, &c.labels, &c.confidence, c.image_confidence)
    }

    fn restart(&mut self) -> Result<()> {
        if self.written > 0 {
            self.tables = Some(Self::tables(&self.work)?);
            self.written = 0;
        }
        Ok(())
    }
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
