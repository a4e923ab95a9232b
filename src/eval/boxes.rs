//! Scores of consolidated boxes against gold boxes: precision, recall and
//! F1 at IoU 0.5 and 0.75, the mean IoU of matched boxes, COCO's AP over
//! IoU 0.5:0.95 from the confidences, per class, and images without objects.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::boxes::{iou, Rect};
use crate::error::{Error, Result};

/// One box of a prediction or of gold.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredBox {
    /// Class name.
    pub class: String,
    /// The box.
    pub rect: Rect,
    /// Confidence (1 for gold).
    pub confidence: f64,
}

/// Boxes per image id.
pub type BoxesByImage = HashMap<String, Vec<ScoredBox>>;

/// Reads boxes from CSV: `item` (or `image`), `label` (or `class`), `left`,
/// `top`, `width`, `height`, and optionally `confidence` (default 1).
pub fn read_box_csv(path: &Path) -> Result<BoxesByImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header.iter().position(|h| h == n))
    };
    let need = |names: &[&str]| {
        col(names).ok_or_else(|| {
            Error::at_line(path, 1, format!("the header has no {} column", names[0]))
        })
    };
    let (item, class) = (need(&["item", "image"])?, need(&["label", "class"])?);
    let coords = [
        need(&["left"])?,
        need(&["top"])?,
        need(&["width"])?,
        need(&["height"])?,
    ];
    let confidence = col(&["confidence"]);
    let mut out = BoxesByImage::new();
    for (row, record) in reader.records().enumerate() {
        let line = row as u64 + 2;
        let record = record.map_err(|e| Error::at_line(path, line, e.to_string()))?;
        let number = |i: usize, name: &str| -> Result<f64> {
            let text = record.get(i).unwrap_or("").trim();
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Error::at_line(
                        path,
                        line,
                        format!("{name} {text:?} is not a finite number"),
                    )
                })
        };
        let v = [
            number(coords[0], "left")?,
            number(coords[1], "top")?,
            number(coords[2], "width")?,
            number(coords[3], "height")?,
        ];
        if v[2] <= 0.0 || v[3] <= 0.0 {
            return Err(Error::at_line(
                path,
                line,
                "width and height must be positive",
            ));
        }
        let conf = match confidence {
            Some(i) => number(i, "confidence")?,
            None => 1.0,
        };
        out.entry(record.get(item).unwrap_or("").trim().to_owned())
            .or_default()
            .push(ScoredBox {
                class: record.get(class).unwrap_or("").trim().to_owned(),
                rect: Rect::from_ltwh(v[0], v[1], v[2], v[3]),
                confidence: conf,
            });
    }
    Ok(out)
}

/// Reads the list of gold images (first column `item` or `image`), so that
/// images where the expert found nothing are scored too.
pub fn read_image_list(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let item = header
        .iter()
        .position(|h| h == "item" || h == "image")
        .ok_or_else(|| Error::at_line(path, 1, "the header has no item column"))?;
    let mut out = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::at_line(path, row as u64 + 2, e.to_string()))?;
        out.push(record.get(item).unwrap_or("").trim().to_owned());
    }
    Ok(out)
}

/// Precision, recall, F1 and match counts at one IoU threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct DetectionCounts {
    /// Predicted boxes matched to a gold box.
    pub true_positives: u64,
    /// Predicted boxes matched to none.
    pub false_positives: u64,
    /// Gold boxes matched by none.
    pub false_negatives: u64,
    /// TP / (TP + FP); 1 when nothing was predicted.
    pub precision: f64,
    /// TP / (TP + FN); 1 when there is no gold box.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl DetectionCounts {
    fn finish(mut self) -> Self {
        let (tp, fp, fn_) = (
            self.true_positives as f64,
            self.false_positives as f64,
            self.false_negatives as f64,
        );
        self.precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 };
        self.recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 1.0 };
        self.f1 = if self.precision + self.recall > 0.0 {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        } else {
            0.0
        };
        self
    }
}

/// The scores of a prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BoxScores {
    /// Gold images scored.
    pub images: usize,
    /// Gold boxes.
    pub gold_boxes: usize,
    /// At IoU 0.5.
    pub at_50: DetectionCounts,
    /// At IoU 0.75.
    pub at_75: DetectionCounts,
    /// Mean IoU of the boxes matched at 0.5.
    pub mean_iou: f64,
    /// COCO's AP averaged over IoU 0.50, 0.55, ..., 0.95 and the classes,
    /// from the predictions ranked by confidence (101-point interpolation).
    pub ap: f64,
    /// AP at IoU 0.5 alone.
    pub ap_50: f64,
    /// Gold images with no gold box.
    pub empty_images: usize,
    /// Of those, the ones predicted empty too.
    pub empty_images_predicted_empty: usize,
    /// Per class: the scores at IoU 0.5 and the AP.
    pub per_class: BTreeMap<String, ClassScores>,
}

/// One class's scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClassScores {
    /// At IoU 0.5.
    pub at_50: DetectionCounts,
    /// AP over IoU 0.5:0.95.
    pub ap: f64,
}

/// One-to-one matching of `pred` to `gold` of the same class at IoU ≥
/// `threshold`, greedily by falling IoU. Returns the IoUs of the matches
/// and the counts.
fn match_image(pred: &[ScoredBox], gold: &[ScoredBox], threshold: f64) -> (Vec<f64>, u64) {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, p) in pred.iter().enumerate() {
        for (j, g) in gold.iter().enumerate() {
            if p.class == g.class {
                let v = iou(&p.rect, &g.rect);
                if v >= threshold {
                    pairs.push((v, i, j));
                }
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut used_p, mut used_g) = (vec![false; pred.len()], vec![false; gold.len()]);
    let mut ious = Vec::new();
    for (v, i, j) in pairs {
        if !used_p[i] && !used_g[j] {
            used_p[i] = true;
            used_g[j] = true;
            ious.push(v);
        }
    }
    let n = ious.len() as u64;
    (ious, n)
}

fn counts(
    pred: &BoxesByImage,
    gold: &BoxesByImage,
    images: &[String],
    threshold: f64,
    class: Option<&str>,
) -> (DetectionCounts, Vec<f64>) {
    let mut c = DetectionCounts::default();
    let mut all = Vec::new();
    let empty = Vec::new();
    for image in images {
        let filter = |v: &Vec<ScoredBox>| -> Vec<ScoredBox> {
            v.iter()
                .filter(|b| class.is_none_or(|c| b.class == c))
                .cloned()
                .collect()
        };
        let p = filter(pred.get(image).unwrap_or(&empty));
        let g = filter(gold.get(image).unwrap_or(&empty));
        let (ious, tp) = match_image(&p, &g, threshold);
        c.true_positives += tp;
        c.false_positives += p.len() as u64 - tp;
        c.false_negatives += g.len() as u64 - tp;
        all.extend(ious);
    }
    (c.finish(), all)
}

/// COCO's average precision of one class at one threshold: predictions in
/// falling confidence, each matched to the unmatched gold box it overlaps
/// most; precision made monotone and read at 101 recall points.
fn average_precision(
    pred: &BoxesByImage,
    gold: &BoxesByImage,
    images: &[String],
    threshold: f64,
    class: &str,
) -> f64 {
    let mut ranked: Vec<(f64, &str, &ScoredBox)> = Vec::new();
    let mut n_gold = 0usize;
    for image in images {
        if let Some(p) = pred.get(image) {
            ranked.extend(
                p.iter()
                    .filter(|b| b.class == class)
                    .map(|b| (b.confidence, image.as_str(), b)),
            );
        }
        n_gold += gold
            .get(image)
            .map_or(0, |g| g.iter().filter(|b| b.class == class).count());
    }
    if n_gold == 0 {
        return f64::NAN;
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut used: HashMap<&str, Vec<bool>> = HashMap::new();
    let mut tp = 0usize;
    let mut curve: Vec<(f64, f64)> = Vec::with_capacity(ranked.len());
    for (k, (_, image, p)) in ranked.iter().enumerate() {
        let g = gold.get(*image).map(Vec::as_slice).unwrap_or(&[]);
        let flags = used.entry(image).or_insert_with(|| vec![false; g.len()]);
        let mut best: Option<usize> = None;
        let mut best_iou = threshold;
        for (j, gb) in g.iter().enumerate() {
            if flags[j] || gb.class != class {
                continue;
            }
            let v = iou(&p.rect, &gb.rect);
            if v >= best_iou {
                best = Some(j);
                best_iou = v;
            }
        }
        if let Some(j) = best {
            flags[j] = true;
            tp += 1;
        }
        curve.push((tp as f64 / n_gold as f64, tp as f64 / (k + 1) as f64));
    }
    // Monotone precision envelope, read at recall 0, 0.01, ..., 1.
    for i in (0..curve.len().saturating_sub(1)).rev() {
        curve[i].1 = curve[i].1.max(curve[i + 1].1);
    }
    let mut sum = 0.0;
    for r in 0..=100 {
        let target = r as f64 / 100.0;
        let at = curve.partition_point(|c| c.0 < target - 1e-12);
        sum += curve.get(at).map_or(0.0, |c| c.1);
    }
    sum / 101.0
}

/// Scores `pred` against `gold` on `images` (every gold image, including
/// those with no gold box). Predictions on other images are not scored.
pub fn score_boxes(pred: &BoxesByImage, gold: &BoxesByImage, images: &[String]) -> BoxScores {
    let (at_50, ious) = counts(pred, gold, images, 0.5, None);
    let (at_75, _) = counts(pred, gold, images, 0.75, None);
    let mut classes: Vec<String> = images
        .iter()
        .flat_map(|i| {
            gold.get(i)
                .into_iter()
                .flatten()
                .chain(pred.get(i).into_iter().flatten())
        })
        .map(|b| b.class.clone())
        .collect();
    classes.sort();
    classes.dedup();
    let thresholds: Vec<f64> = (0..10).map(|t| 0.5 + 0.05 * t as f64).collect();
    let mut per_class = BTreeMap::new();
    let (mut ap_sum, mut ap50_sum, mut ap_n) = (0.0, 0.0, 0usize);
    for class in &classes {
        let aps: Vec<f64> = thresholds
            .iter()
            .map(|&t| average_precision(pred, gold, images, t, class))
            .collect();
        let ap = aps.iter().sum::<f64>() / aps.len() as f64;
        if ap.is_finite() {
            ap_sum += ap;
            ap50_sum += aps[0];
            ap_n += 1;
        }
        per_class.insert(
            class.clone(),
            ClassScores {
                at_50: counts(pred, gold, images, 0.5, Some(class)).0,
                ap,
            },
        );
    }
    let empty: Vec<&String> = images
        .iter()
        .filter(|i| gold.get(*i).is_none_or(Vec::is_empty))
        .collect();
    BoxScores {
        images: images.len(),
        gold_boxes: images.iter().map(|i| gold.get(i).map_or(0, Vec::len)).sum(),
        at_50,
        at_75,
        mean_iou: if ious.is_empty() {
            f64::NAN
        } else {
            ious.iter().sum::<f64>() / ious.len() as f64
        },
        ap: if ap_n > 0 {
            ap_sum / ap_n as f64
        } else {
            f64::NAN
        },
        ap_50: if ap_n > 0 {
            ap50_sum / ap_n as f64
        } else {
            f64::NAN
        },
        empty_images: empty.len(),
        empty_images_predicted_empty: empty
            .iter()
            .filter(|i| pred.get(**i).is_none_or(Vec::is_empty))
            .count(),
        per_class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(class: &str, l: f64, t: f64, w: f64, h: f64, c: f64) -> ScoredBox {
        ScoredBox {
            class: class.into(),
            rect: Rect::from_ltwh(l, t, w, h),
            confidence: c,
        }
    }

    #[test]
    fn perfect_and_shifted_predictions() {
        let gold: BoxesByImage = [
            ("a".to_string(), vec![b("p", 0.0, 0.0, 10.0, 10.0, 1.0)]),
            ("e".to_string(), vec![]),
        ]
        .into();
        let images = vec!["a".to_string(), "e".to_string()];
        let s = score_boxes(&gold, &gold, &images);
        assert_eq!((s.at_50.f1, s.at_75.f1, s.mean_iou), (1.0, 1.0, 1.0));
        assert!((s.ap - 1.0).abs() < 1e-12);
        assert_eq!((s.empty_images, s.empty_images_predicted_empty), (1, 1));
        // Shifted by 2 px: IoU 80/120 = 0.667, a match at 0.5 but not at 0.75;
        // a box on the empty image is a false positive.
        let pred: BoxesByImage = [
            ("a".to_string(), vec![b("p", 2.0, 0.0, 10.0, 10.0, 0.9)]),
            ("e".to_string(), vec![b("p", 0.0, 0.0, 5.0, 5.0, 0.1)]),
        ]
        .into();
        let s = score_boxes(&pred, &gold, &images);
        assert_eq!((s.at_50.true_positives, s.at_50.false_positives), (1, 1));
        assert_eq!(s.at_75.true_positives, 0);
        assert!((s.mean_iou - 80.0 / 120.0).abs() < 1e-6);
        assert_eq!(s.empty_images_predicted_empty, 0);
        // Ranked first, the true box gives AP 1 at IoU 0.5..0.65 and 0 above.
        assert!((s.ap_50 - 1.0).abs() < 1e-12);
        assert!((s.ap - 0.4).abs() < 1e-9);
    }
}
