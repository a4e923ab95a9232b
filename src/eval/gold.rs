//! Scoring consolidated labels against gold labels.

use std::collections::HashMap;
use std::path::Path;

use crate::engine::pack::Packed;
use crate::error::{Error, Result};

/// Reads a gold file: CSV with a header `item,label` (or `task,label`).
/// Returns item → label. An item repeated with the same label is accepted;
/// with another label it is an error naming the line and the item.
pub fn read_gold(path: &Path) -> Result<HashMap<String, String>> {
    read_gold_counted(path).map(|(gold, _)| gold)
}

/// [`read_gold`], with the number of rows that repeated an item alike.
pub fn read_gold_counted(path: &Path) -> Result<(HashMap<String, String>, usize)> {
    let file = std::fs::File::open(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    read_gold_from(path, std::io::BufReader::new(file))
}

/// [`read_gold_counted`] from any reader; `path` names it in messages.
pub fn read_gold_from(
    path: &Path,
    input: impl std::io::Read,
) -> Result<(HashMap<String, String>, usize)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(input);
    let mut gold = HashMap::new();
    let mut repeats = 0;
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        _ => return Err(Error::at_line(path, 1, "expected a header item,label")),
    };
    let names: Vec<String> = header
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let col = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let (Some(item_col), Some(label_col)) = (col(&["item", "task"]), col(&["label", "true_label"]))
    else {
        return Err(Error::at_line(
            path,
            1,
            format!("expected a header item,label; found {names:?}"),
        ));
    };
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let (Some(item), Some(label)) = (record.get(item_col), record.get(label_col)) else {
            return Err(Error::at_line(
                path,
                line,
                "missing the item or label field",
            ));
        };
        let (item, label) = (item.trim(), label.trim());
        match gold.get(item) {
            Some(first) if first == label => repeats += 1,
            Some(first) => {
                return Err(Error::at_line(
                    path,
                    line,
                    format!("item {item:?} is given again with label {label:?}, earlier {first:?}: gold must give one label per item"),
                ))
            }
            None => {
                gold.insert(item.to_string(), label.to_string());
            }
        }
    }
    Ok((gold, repeats))
}

/// Accuracy of `labels` on the items that have a gold label: (correct, scored).
pub fn gold_accuracy(
    data: &Packed,
    labels: &[u32],
    gold: &HashMap<String, String>,
) -> (usize, usize) {
    let mut correct = 0;
    let mut scored = 0;
    for (item, name) in data.item_names.iter().enumerate() {
        if let Some(truth) = gold.get(name) {
            scored += 1;
            if data.class_names[labels[item] as usize] == *truth {
                correct += 1;
            }
        }
    }
    (correct, scored)
}

/// Agreement of predicted and gold segmentation masks, pooled over images.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SegScores {
    /// Mean of the per-class IoU over classes present in the gold or the
    /// prediction.
    pub mean_iou: f64,
    /// Share of pixels whose predicted class equals the gold one.
    pub pixel_accuracy: f64,
    /// IoU per class; `None` for a class in neither.
    pub per_class_iou: Vec<Option<f64>>,
}

/// Accumulates pixel counts of predicted/gold pairs of masks.
#[derive(Debug, Clone)]
pub struct SegScorer {
    intersection: Vec<u64>,
    union: Vec<u64>,
    correct: u64,
    pixels: u64,
}

impl SegScorer {
    /// An empty scorer for class ids `0..classes`.
    pub fn new(classes: usize) -> Self {
        SegScorer {
            intersection: vec![0; classes],
            union: vec![0; classes],
            correct: 0,
            pixels: 0,
        }
    }

    /// Adds one image (class ids, the same length, below `classes`).
    pub fn add(&mut self, predicted: &[u8], gold: &[u8]) {
        let k = self.union.len();
        let mut predicted_count = vec![0u64; k];
        let mut gold_count = vec![0u64; k];
        for (&p, &g) in predicted.iter().zip(gold) {
            predicted_count[p as usize] += 1;
            gold_count[g as usize] += 1;
            if p == g {
                self.intersection[p as usize] += 1;
                self.correct += 1;
            }
        }
        for c in 0..k {
            self.union[c] += predicted_count[c] + gold_count[c];
        }
        self.pixels += predicted.len().min(gold.len()) as u64;
    }

    /// The scores of the images added so far.
    pub fn scores(&self) -> SegScores {
        let per_class_iou: Vec<Option<f64>> = self
            .intersection
            .iter()
            .zip(&self.union)
            .map(|(&i, &u)| {
                let union = u - i; // |P| + |G| − |P ∩ G|
                (union > 0).then(|| i as f64 / union as f64)
            })
            .collect();
        let present: Vec<f64> = per_class_iou.iter().flatten().copied().collect();
        SegScores {
            mean_iou: present.iter().sum::<f64>() / present.len().max(1) as f64,
            pixel_accuracy: self.correct as f64 / self.pixels.max(1) as f64,
            per_class_iou,
        }
    }
}
