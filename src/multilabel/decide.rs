//! Turning per-label confidences into selected labels.

use crate::error::{Error, Result};

/// How a label's confidence becomes "selected".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Selected when the confidence is at least this.
    Threshold(f32),
    /// Per label, the set of items that maximises the expected F1 score
    /// under the confidences (taken as independent probabilities): the `k`
    /// most confident items, `k` maximising `2·Σtop-k p / (k + Σp)`, the
    /// ratio of the expected true positives to the expected sizes.
    ExpectedF1,
}

impl Default for Decision {
    fn default() -> Self {
        Decision::Threshold(0.5)
    }
}

impl Decision {
    /// Checks the threshold lies in [0, 1].
    pub fn validate(self) -> Result<()> {
        match self {
            Decision::Threshold(t) if !(0.0..=1.0).contains(&t) => Err(Error::invalid_param(
                "threshold",
                format!("must lie in [0, 1], not {t}"),
            )),
            _ => Ok(()),
        }
    }

    /// `[item][label]` selected flags from `confidence` (`[item][label]`,
    /// `n_labels` per item). Items with `answered[i] == 0` are never
    /// selected: no person gave them a label.
    pub fn select(self, confidence: &[f32], n_labels: usize, answered: &[u32]) -> Vec<bool> {
        let mut selected = vec![false; confidence.len()];
        match self {
            Decision::Threshold(t) => {
                for (at, s) in selected.iter_mut().enumerate() {
                    *s = answered[at / n_labels] > 0 && confidence[at] >= t;
                }
            }
            Decision::ExpectedF1 => {
                for label in 0..n_labels {
                    let mut items: Vec<(usize, f32)> = (0..answered.len())
                        .filter(|&i| answered[i] > 0)
                        .map(|i| (i, confidence[i * n_labels + label]))
                        .collect();
                    // Most confident first; ties by item, so the choice
                    // does not depend on the sort.
                    items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    let total: f64 = items.iter().map(|&(_, p)| p as f64).sum();
                    let (mut best_k, mut best, mut top) = (0usize, 0f64, 0f64);
                    for (k, &(_, p)) in items.iter().enumerate() {
                        top += p as f64;
                        let f1 = 2.0 * top / ((k + 1) as f64 + total);
                        if f1 > best {
                            best = f1;
                            best_k = k + 1;
                        }
                    }
                    for &(i, _) in &items[..best_k] {
                        selected[i * n_labels + label] = true;
                    }
                }
            }
        }
        selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_f1_takes_the_confident_items_and_stops_where_f1_falls() {
        // One label over five items.
        let p = [0.9, 0.8, 0.3, 0.05, 0.02];
        let answered = [1; 5];
        let s = Decision::ExpectedF1.select(&p, 1, &answered);
        // E[F1] for k = 1, 2, 3: 1.8/3.07, 3.4/4.07, 4.0/5.07: k = 2 best.
        assert_eq!(s, [true, true, false, false, false]);
        let s = Decision::Threshold(0.3).select(&p, 1, &[1, 1, 1, 1, 0]);
        assert_eq!(s, [true, true, true, false, false]);
    }
}
