//! Scoring multi-label output against gold that may be partial: gold is
//! `item,label,present` rows, only for the (item, label) pairs judged.
//! Every score counts only judged pairs.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One label's scores over its judged pairs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelScores {
    /// The label.
    pub label: String,
    /// Judged pairs with a prediction.
    pub judged: usize,
    /// Of those, gold-present.
    pub positives: usize,
    /// Selected and present.
    pub true_positives: usize,
    /// Selected and absent.
    pub false_positives: usize,
    /// Not selected and present.
    pub false_negatives: usize,
    /// TP / (TP + FP); `None` when nothing was selected.
    pub precision: Option<f64>,
    /// TP / (TP + FN); `None` without positives.
    pub recall: Option<f64>,
    /// 2·TP / (2·TP + FP + FN); `None` when that is 0/0.
    pub f1: Option<f64>,
    /// ROC AUC of the confidences (ties count half); `None` without both
    /// classes.
    pub roc_auc: Option<f64>,
    /// Expected calibration error over 10 equal-width confidence bins.
    pub ece: f64,
    /// Per bin `[lower edge, pairs, mean confidence, share present]`.
    pub calibration: Vec<[f64; 4]>,
}

/// The scores of a multi-label prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MultiScores {
    /// Per gold label, in first-seen order of the gold file.
    pub per_label: Vec<LabelScores>,
    /// F1 of the TP, FP and FN summed over labels.
    pub micro_f1: Option<f64>,
    /// Mean of the labels' F1 (labels whose F1 is defined).
    pub macro_f1: Option<f64>,
    /// Share of gold items whose every judged label was decided right.
    pub subset_accuracy: f64,
    /// Share of judged pairs decided wrong.
    pub hamming_loss: f64,
    /// Gold items scored.
    pub items: usize,
    /// Judged pairs scored.
    pub pairs: usize,
    /// Judged pairs with no prediction (item or label absent from the
    /// prediction, or an item nobody answered).
    pub missing: usize,
}

/// Reads `path` as CSV with the named columns; calls `row(line, fields)`.
fn read_table(
    path: &Path,
    wanted: &[&str],
    mut row: impl FnMut(u64, &[&str]) -> Result<()>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::read(path, io),
            other => Error::at_line(path, 1, format!("{other:?}")),
        })?;
    let header = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, format!("unreadable header: {e}")))?
        .clone();
    let at: Vec<usize> = wanted
        .iter()
        .map(|&name| {
            header
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
                .ok_or_else(|| {
                    Error::at_line(
                        path,
                        1,
                        format!(
                            "the header has no {name:?} column (expected {})",
                            wanted.join(",")
                        ),
                    )
                })
        })
        .collect::<Result<_>>()?;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let fields: Option<Vec<&str>> = at.iter().map(|&c| record.get(c)).collect();
                let fields = fields.ok_or_else(|| {
                    Error::at_line(path, line, format!("{} fields, too few", record.len()))
                })?;
                row(line, &fields)?;
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::at_line(path, line, format!("unreadable CSV: {e}")));
            }
        }
    }
}

fn flag(path: &Path, line: u64, what: &str, text: &str) -> Result<bool> {
    match text.trim() {
        "1" | "true" | "True" | "TRUE" => Ok(true),
        "0" | "false" | "False" | "FALSE" => Ok(false),
        other => Err(Error::at_line(
            path,
            line,
            format!("{what} must be 1 or 0 (or true/false), not {other:?}"),
        )),
    }
}

/// ROC AUC by midranks (Mann-Whitney U); `None` without both classes.
pub fn roc_auc(scored: &[(f32, bool)]) -> Option<f64> {
    let pos = scored.iter().filter(|s| s.1).count();
    let neg = scored.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut sorted: Vec<(f32, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0f64;
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start;
        while end < sorted.len() && sorted[end].0 == sorted[start].0 {
            end += 1;
        }
        let midrank = (start + end + 1) as f64 / 2.0;
        rank_sum += midrank * sorted[start..end].iter().filter(|s| s.1).count() as f64;
        start = end;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos as f64 * neg as f64))
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Scores consolidate's multi-label CSV (`item,label,confidence,selected`)
/// at `pred` against `gold` (`item,label,present`).
pub fn evaluate_multilabel(pred: &Path, gold: &Path) -> Result<MultiScores> {
    let mut predictions: HashMap<(String, String), (f32, bool)> = HashMap::new();
    read_table(
        pred,
        &["item", "label", "confidence", "selected"],
        |line, f| {
            if f[2].trim().is_empty() {
                return Ok(()); // an item nobody answered: no prediction
            }
            let confidence: f32 = f[2].trim().parse().map_err(|_| {
                Error::at_line(pred, line, format!("confidence {:?} is not a number", f[2]))
            })?;
            if !(0.0..=1.0).contains(&confidence) {
                return Err(Error::at_line(
                    pred,
                    line,
                    format!("confidence {confidence} lies outside [0, 1]"),
                ));
            }
            let selected = flag(pred, line, "selected", f[3])?;
            if predictions
                .insert((f[0].to_string(), f[1].to_string()), (confidence, selected))
                .is_some()
            {
                return Err(Error::at_line(
                    pred,
                    line,
                    format!("item {:?} label {:?} is predicted twice", f[0], f[1]),
                ));
            }
            Ok(())
        },
    )?;
    let mut labels: Vec<String> = Vec::new();
    let mut label_index: HashMap<String, usize> = HashMap::new();
    let mut per_label: Vec<Vec<(f32, bool, bool)>> = Vec::new(); // (confidence, selected, present)
    let mut items: HashMap<String, bool> = HashMap::new(); // item → all right so far
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    let (mut missing, mut wrong, mut pairs) = (0usize, 0usize, 0usize);
    read_table(gold, &["item", "label", "present"], |line, f| {
        let present = flag(gold, line, "present", f[2])?;
        let key = (f[0].to_string(), f[1].to_string());
        if let Some(first) = seen.insert(key.clone(), line) {
            return Err(Error::at_line(
                gold,
                line,
                format!(
                    "item {:?} label {:?} is judged twice (first on line {first})",
                    f[0], f[1]
                ),
            ));
        }
        let l = *label_index.entry(key.1.clone()).or_insert_with(|| {
            labels.push(key.1.clone());
            per_label.push(Vec::new());
            labels.len() - 1
        });
        match predictions.get(&key) {
            None => missing += 1,
            Some(&(confidence, selected)) => {
                pairs += 1;
                per_label[l].push((confidence, selected, present));
                let right = selected == present;
                wrong += !right as usize;
                let all = items.entry(key.0).or_insert(true);
                *all &= right;
            }
        }
        Ok(())
    })?;
    if labels.is_empty() {
        return Err(Error::at_line(gold, 1, "the gold file judges no pair"));
    }
    let scores: Vec<LabelScores> = labels
        .iter()
        .zip(&per_label)
        .map(|(label, rows)| {
            let count =
                |f: &dyn Fn(&(f32, bool, bool)) -> bool| rows.iter().filter(|r| f(r)).count();
            let (tp, fp, fneg) = (
                count(&|r| r.1 && r.2),
                count(&|r| r.1 && !r.2),
                count(&|r| !r.1 && r.2),
            );
            let mut bins = vec![(0usize, 0f64, 0usize); 10];
            for r in rows {
                let b = ((r.0 * 10.0) as usize).min(9);
                bins[b].0 += 1;
                bins[b].1 += r.0 as f64;
                bins[b].2 += r.2 as usize;
            }
            let n = rows.len().max(1) as f64;
            let ece = bins
                .iter()
                .map(|&(_, s, p)| (s - p as f64).abs())
                .sum::<f64>()
                / n;
            let calibration = bins
                .iter()
                .enumerate()
                .map(|(b, &(c, s, p))| {
                    let mean = if c > 0 { s / c as f64 } else { f64::NAN };
                    let share = if c > 0 { p as f64 / c as f64 } else { f64::NAN };
                    [b as f64 / 10.0, c as f64, mean, share]
                })
                .collect();
            let scored: Vec<(f32, bool)> = rows.iter().map(|r| (r.0, r.2)).collect();
            LabelScores {
                label: label.clone(),
                judged: rows.len(),
                positives: count(&|r| r.2),
                true_positives: tp,
                false_positives: fp,
                false_negatives: fneg,
                precision: ratio(tp, tp + fp),
                recall: ratio(tp, tp + fneg),
                f1: ratio(2 * tp, 2 * tp + fp + fneg),
                roc_auc: roc_auc(&scored),
                ece,
                calibration,
            }
        })
        .collect();
    let (tp, fp, fneg) = scores.iter().fold((0, 0, 0), |(a, b, c), s| {
        (
            a + s.true_positives,
            b + s.false_positives,
            c + s.false_negatives,
        )
    });
    let f1s: Vec<f64> = scores.iter().filter_map(|s| s.f1).collect();
    Ok(MultiScores {
        micro_f1: ratio(2 * tp, 2 * tp + fp + fneg),
        macro_f1: (!f1s.is_empty()).then(|| f1s.iter().sum::<f64>() / f1s.len() as f64),
        subset_accuracy: ratio(items.values().filter(|&&r| r).count(), items.len())
            .unwrap_or(f64::NAN),
        hamming_loss: ratio(wrong, pairs).unwrap_or(f64::NAN),
        items: items.len(),
        pairs,
        missing,
        per_label: scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_half() {
        assert_eq!(roc_auc(&[(0.9, true), (0.1, false)]), Some(1.0));
        assert_eq!(roc_auc(&[(0.5, true), (0.5, false)]), Some(0.5));
        assert_eq!(
            roc_auc(&[(0.8, true), (0.3, true), (0.5, false), (0.1, false)]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[(0.8, true)]), None);
    }
}
