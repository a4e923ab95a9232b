//! The segmentation section of the HTML report: what a batched fit's
//! consensus shows, gathered batch by batch by [`SegReportSink`] (so the
//! page of a run larger than memory is made in bounded memory): the class
//! shares of the consensus pixels, the workers' agreement with it, the
//! least settled images and, with gold masks, the IoU.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::eval::SegScorer;
use crate::report::HtmlPage;
use crate::segmentation::png_mask::decode_mask;
use crate::segmentation::{BatchConsensus, SegRun, SegSink};

/// Gold masks by image: index PNGs in the consensus's class order.
#[derive(Debug)]
pub struct SegGold {
    manifest: PathBuf,
    /// Per image: the gold manifest's 0-based line and the mask's path.
    masks: HashMap<String, (usize, PathBuf)>,
    max_pixels: u64,
}

impl SegGold {
    /// Reads a gold manifest (`{"image", "mask"}` per line, mask paths
    /// relative to it); the masks are decoded when their image comes.
    pub fn read(manifest: &Path, max_pixels: u64) -> Result<SegGold> {
        use std::io::BufRead;
        let folder = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        let file = std::fs::File::open(manifest).map_err(|e| Error::read(manifest, e))?;
        let mut masks = HashMap::new();
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| Error::read(manifest, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |p: &str| Error::at_line(manifest, n as u64 + 1, p);
            let value: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
            let text = |k: &str| value.get(k).and_then(serde_json::Value::as_str);
            let image = text("image").ok_or_else(|| bad("missing image"))?;
            let mask = text("mask").ok_or_else(|| bad("missing mask"))?;
            masks.insert(image.to_string(), (n, folder.join(mask)));
        }
        Ok(SegGold {
            manifest: manifest.into(),
            masks,
            max_pixels,
        })
    }
}

/// Gathers the report's figures from a batched fit's consensus.
#[derive(Debug)]
pub struct SegReportSink {
    class_pixels: Vec<u64>,
    worker_masks: Vec<u64>,
    /// The least settled images: (mean confidence, name), at most `keep`.
    lowest: Vec<(f64, String)>,
    keep: usize,
    gold: Option<(SegGold, SegScorer, usize)>,
}

impl SegReportSink {
    /// For `k` classes, listing the `review_count` least settled images,
    /// scoring against `gold` when given.
    pub fn new(k: usize, review_count: usize, gold: Option<SegGold>) -> Self {
        SegReportSink {
            class_pixels: vec![0; k],
            worker_masks: Vec::new(),
            lowest: Vec::new(),
            keep: review_count,
            gold: gold.map(|g| (g, SegScorer::new(k), 0)),
        }
    }
}

impl SegSink for SegReportSink {
    fn batch(&mut self, c: BatchConsensus<'_>) -> Result<()> {
        for &l in &c.labels {
            self.class_pixels[l as usize] += 1;
        }
        self.worker_masks.resize(c.batch.n_workers(), 0);
        for &w in &c.batch.mask_worker {
            self.worker_masks[w as usize] += 1;
        }
        let base = c.batch.images.first().map_or(0, |s| s.output_start) as usize;
        for (i, slot) in c.batch.images.iter().enumerate() {
            let name = c.batch.image_names.get(i);
            self.lowest.push((c.image_confidence[i], name.to_string()));
            let Some((gold, scorer, scored)) = &mut self.gold else {
                continue;
            };
            let Some((n, path)) = gold.masks.get(name) else {
                continue;
            };
            let bad = |p: String| Error::at_line(&gold.manifest, *n as u64 + 1, p);
            let bytes =
                std::fs::read(path).map_err(|e| bad(format!("mask {}: {e}", path.display())))?;
            let mask = decode_mask(&bytes, None, gold.max_pixels)
                .map_err(|p| bad(format!("mask {}: {p}", path.display())))?;
            if (mask.width, mask.height) != (slot.width, slot.height) {
                return Err(bad(format!(
                    "gold mask of {name:?} is {}×{}, the consensus {}×{}",
                    mask.width, mask.height, slot.width, slot.height
                )));
            }
            let k = self.class_pixels.len();
            if let Some(&g) = mask.pixels.iter().find(|&&g| g as usize >= k) {
                return Err(bad(format!("gold class id {g} is beyond the {k} classes")));
            }
            let start = slot.output_start as usize - base;
            scorer.add(&c.labels[start..start + slot.pixels()], &mask.pixels);
            *scored += 1;
        }
        // Keep only the least settled.
        self.lowest
            .sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        self.lowest.truncate(self.keep);
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        self.class_pixels.iter_mut().for_each(|c| *c = 0);
        self.worker_masks.clear();
        self.lowest.clear();
        if let Some((_, scorer, scored)) = &mut self.gold {
            *scorer = SegScorer::new(self.class_pixels.len());
            *scored = 0;
        }
        Ok(())
    }
}

/// The run's facts for the page.
#[derive(Debug, Clone, Copy)]
pub struct SegFacts<'a> {
    /// Class names, by id.
    pub classes: &'a [String],
    /// Worker names, by id.
    pub workers: &'a crate::engine::pack::Names,
    /// The method's name.
    pub method: &'a str,
}

/// Writes the segmentation section: summary, class shares, workers, the
/// gold scores when given, and the least settled images.
pub fn segmentation_section(
    page: &mut HtmlPage,
    run: &SegRun,
    gathered: &SegReportSink,
    facts: SegFacts,
) {
    let s = &run.summary;
    let images = s.image_confidence.len();
    let mean = s.image_confidence.iter().sum::<f64>() / images.max(1) as f64;
    page.heading("Summary");
    page.table(
        &["", ""],
        &[
            vec!["images".into(), images.to_string()],
            vec![
                "masks".into(),
                gathered.worker_masks.iter().sum::<u64>().to_string(),
            ],
            vec!["workers".into(), facts.workers.len().to_string()],
            vec!["classes".into(), facts.classes.len().to_string()],
            vec!["method".into(), facts.method.to_string()],
            vec!["backend".into(), run.backend.clone()],
            vec![
                "rounds".into(),
                format!(
                    "{}{}",
                    s.iterations,
                    if s.converged { "" } else { " (not settled)" }
                ),
            ],
            vec![
                "batches, passes over the masks".into(),
                format!("{}, {}", s.batches, s.passes),
            ],
            vec!["mean image confidence".into(), format!("{mean:.4}")],
        ],
    );
    page.heading("Classes of the consensus");
    let total = gathered.class_pixels.iter().sum::<u64>().max(1) as f64;
    let rows: Vec<Vec<String>> = facts
        .classes
        .iter()
        .zip(&gathered.class_pixels)
        .map(|(name, &n)| {
            vec![
                name.clone(),
                n.to_string(),
                format!("{:.2}%", 100.0 * n as f64 / total),
            ]
        })
        .collect();
    page.table(&["class", "pixels", "share"], &rows);
    page.heading("Workers");
    page.paragraph(
        "Agreement: the share of the worker's pixels that carry the consensus class. Weight: the vote weight used last (weighted), or the share of pixels the worker's confusion table expects right (staple); 1 otherwise.",
    );
    let mut order: Vec<usize> = (0..facts.workers.len()).collect();
    order.sort_by(|&a, &b| s.worker_agreement[a].total_cmp(&s.worker_agreement[b]));
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&w| {
            vec![
                facts.workers.get(w).to_string(),
                gathered
                    .worker_masks
                    .get(w)
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
                format!("{:.4}", s.worker_agreement[w]),
                format!("{:.4}", s.worker_weight[w]),
            ]
        })
        .collect();
    page.table(&["worker", "masks", "agreement", "weight"], &rows);
    if let Some((_, scorer, scored)) = &gathered.gold {
        page.heading("Against gold");
        let scores = scorer.scores();
        page.paragraph(&format!(
            "{scored} images with a gold mask: mean IoU {:.4}, pixel accuracy {:.4}.",
            scores.mean_iou, scores.pixel_accuracy
        ));
        let rows: Vec<Vec<String>> = facts
            .classes
            .iter()
            .zip(&scores.per_class_iou)
            .map(|(name, iou)| vec![name.clone(), iou.map_or("—".into(), |v| format!("{v:.4}"))])
            .collect();
        page.table(&["class", "IoU"], &rows);
    }
    page.heading("Least settled images");
    let rows: Vec<Vec<String>> = gathered
        .lowest
        .iter()
        .map(|(c, name)| vec![name.clone(), format!("{c:.4}")])
        .collect();
    page.table(&["image", "mean confidence"], &rows);
}
