//! Scores of classification labels against gold: accuracy, per-class
//! precision / recall / F1, the confusion matrix, calibration of the
//! confidence; and Krippendorff's alpha, agreement without gold.

use serde::Serialize;

use crate::engine::pack::Packed;
use crate::eval::gold::{Gold, PackedGold};
use crate::eval::predictions::Predictions;

/// One class's row of the scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// The class name.
    pub class: String,
    /// Share of items predicted as this class that are gold this class (0
    /// when none is predicted).
    pub precision: f64,
    /// Share of gold items of this class predicted as it (0 without support).
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Gold items of this class.
    pub support: u64,
}

/// One confidence bin of the reliability table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Lower edge of the bin's confidences (inclusive).
    pub low: f64,
    /// Upper edge (exclusive, except that the last bin holds 1).
    pub high: f64,
    /// Scored pairs whose confidence falls in the bin.
    pub count: u64,
    /// Mean confidence of those pairs (0 for an empty bin).
    pub mean_confidence: f64,
    /// Share of those pairs that are correct (0 for an empty bin).
    pub accuracy: f64,
}

/// Labels scored against gold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Scored pairs (items with a gold label, or annotations of them).
    pub scored: u64,
    /// Share of scored pairs whose prediction equals the gold label.
    pub accuracy: f64,
    /// Per-class scores, in the order of `classes`.
    pub per_class: Vec<ClassScore>,
    /// The classes of the matrices, in order.
    pub classes: Vec<String>,
    /// `[gold][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Rows of `confusion` divided by their sums (0 for empty rows).
    pub confusion_normalised: Vec<Vec<f64>>,
    /// Reliability table over [`CALIBRATION_BINS`] equal-width bins; empty
    /// when there are no confidences.
    pub calibration: Vec<CalibrationBin>,
    /// Expected calibration error: `Σ_b (n_b / n) |accuracy_b − confidence_b|`;
    /// `None` without confidences.
    pub ece: Option<f64>,
}

/// Bins of the reliability table.
pub const CALIBRATION_BINS: usize = 10;

/// Class names in a stable order: numerically when all are integers, else
/// as text.
pub fn sorted_classes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut classes: Vec<String> = names.into_iter().map(str::to_owned).collect();
    classes.sort();
    classes.dedup();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().expect("integers"));
    }
    classes
}

/// Scores `(gold, predicted, confidence)` triples given as names.
pub fn score<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str, Option<f64>)>) -> Scores {
    let mut ids: hashbrown::HashMap<&str, u32> = hashbrown::HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut id = |name: &'a str| {
        *ids.entry(name).or_insert_with(|| {
            names.push(name);
            (names.len() - 1) as u32
        })
    };
    let coded: Vec<(u32, u32, Option<f64>)> = pairs
        .into_iter()
        .map(|(g, p, c)| (id(g), id(p), c))
        .collect();
    score_ids(&names, coded)
}

/// Scores `(gold, predicted, confidence)` triples given as ids into
/// `names` (distinct names: equal ids are a correct answer). The classes
/// of the result are the names that occur in a pair, ordered by
/// [`sorted_classes`]; confidences are binned in the order of the pairs.
pub fn score_ids<S: AsRef<str>>(
    names: &[S],
    pairs: impl IntoIterator<Item = (u32, u32, Option<f64>)>,
) -> Scores {
    // Counted over the classes that occur, in first-seen order (`slot`),
    // so that a long list of names costs no K² table.
    let mut slot = vec![u32::MAX; names.len()];
    let mut seen: Vec<u32> = Vec::new();
    let mut counts: Vec<Vec<u64>> = Vec::new();
    let mut slot_of = |id: u32, counts: &mut Vec<Vec<u64>>| -> usize {
        let s = &mut slot[id as usize];
        if *s == u32::MAX {
            *s = seen.len() as u32;
            seen.push(id);
            for row in counts.iter_mut() {
                row.push(0);
            }
            counts.push(vec![0; seen.len()]);
        }
        *s as usize
    };
    let mut bins = vec![(0u64, 0f64, 0u64); CALIBRATION_BINS];
    let mut with_confidence = 0u64;
    let mut scored = 0u64;
    for (gold, predicted, confidence) in pairs {
        let g = slot_of(gold, &mut counts);
        let p = slot_of(predicted, &mut counts);
        counts[g][p] += 1;
        scored += 1;
        if let Some(c) = confidence {
            let b = ((c * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
            bins[b].0 += 1;
            bins[b].1 += c;
            bins[b].2 += (gold == predicted) as u64;
            with_confidence += 1;
        }
    }
    let classes = sorted_classes(seen.iter().map(|&id| names[id as usize].as_ref()));
    // The slot of each class, in the classes' order.
    let slot_of_name: hashbrown::HashMap<&str, usize> = seen
        .iter()
        .enumerate()
        .map(|(s, &id)| (names[id as usize].as_ref(), s))
        .collect();
    let order: Vec<usize> = classes.iter().map(|c| slot_of_name[c.as_str()]).collect();
    let confusion: Vec<Vec<u64>> = order
        .iter()
        .map(|&g| order.iter().map(|&p| counts[g][p]).collect())
        .collect();
    let k = classes.len();
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let per_class = classes
        .iter()
        .enumerate()
        .map(|(c, class)| {
            let predicted: u64 = (0..k).map(|g| confusion[g][c]).sum();
            let support: u64 = confusion[c].iter().sum();
            let precision = ratio(confusion[c][c], predicted);
            let recall = ratio(confusion[c][c], support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScore {
                class: class.clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let confusion_normalised = confusion
        .iter()
        .map(|row| {
            let total: u64 = row.iter().sum();
            row.iter().map(|&n| ratio(n, total)).collect()
        })
        .collect();
    let (calibration, ece) = if with_confidence == 0 {
        (Vec::new(), None)
    } else {
        let calibration: Vec<CalibrationBin> = bins
            .iter()
            .enumerate()
            .map(|(b, &(count, sum, right))| CalibrationBin {
                low: b as f64 / CALIBRATION_BINS as f64,
                high: (b + 1) as f64 / CALIBRATION_BINS as f64,
                count,
                mean_confidence: if count > 0 { sum / count as f64 } else { 0.0 },
                accuracy: ratio(right, count),
            })
            .collect();
        let ece = calibration
            .iter()
            .map(|b| {
                b.count as f64 / with_confidence as f64 * (b.accuracy - b.mean_confidence).abs()
            })
            .sum();
        (calibration, Some(ece))
    };
    Scores {
        scored,
        accuracy: ratio(correct, scored),
        per_class,
        classes,
        confusion,
        confusion_normalised,
        calibration,
        ece,
    }
}

/// Predictions scored against gold, and what could not be paired.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionScores {
    /// The scores of the items in both.
    pub scores: Scores,
    /// Gold items without a prediction.
    pub missing: u64,
    /// Predicted items without gold.
    pub unscored: u64,
}

/// Scores `predictions` against `gold`, pairing items by name; pairs are
/// taken in gold's order, so the result does not depend on hashing.
pub fn score_predictions(gold: &Gold, predictions: &Predictions) -> PredictionScores {
    // One list of names: the predicted labels, then the gold-only ones.
    let mut names: Vec<&str> = predictions.label_names().iter().collect();
    let gold_label: Vec<u32> = gold
        .label_names()
        .iter()
        .map(
            |label| match predictions.label_names().iter().position(|p| p == label) {
                Some(p) => p as u32,
                None => {
                    names.push(label);
                    (names.len() - 1) as u32
                }
            },
        )
        .collect();
    let mut missing = 0u64;
    let pairs =
        gold.item_names().iter().zip(gold.label_ids()).filter_map(
            |(item, &label)| match predictions.id(item) {
                Some(p) => Some((
                    gold_label[label as usize],
                    predictions.label_id(p),
                    predictions.confidence(p),
                )),
                None => {
                    missing += 1;
                    None
                }
            },
        );
    let scores = score_ids(&names, pairs);
    // Items are distinct on both sides: every predicted item not paired
    // lacks gold.
    let unscored = predictions.len() as u64 - scores.scored;
    PredictionScores {
        scores,
        missing,
        unscored,
    }
}

/// Every annotation of an item with a gold label scored as `(gold, given,
/// no confidence)`: how a single worker does.
pub fn annotation_scores(data: &Packed, gold: &PackedGold) -> Scores {
    let pairs = gold
        .class
        .iter()
        .enumerate()
        .filter(|&(_, &g)| g != PackedGold::NONE)
        .flat_map(|(i, &g)| {
            data.item_label[data.item_range(i)]
                .iter()
                .map(move |&l| (g, u32::from(l), None))
        });
    score_ids(&gold.class_names, pairs)
}

/// A fit's labels (class ids by item) scored against gold, with their
/// confidences when given, items in id order.
pub fn label_scores(gold: &PackedGold, labels: &[u32], confidence: Option<&[f32]>) -> Scores {
    let pairs = gold
        .class
        .iter()
        .enumerate()
        .filter(|&(_, &g)| g != PackedGold::NONE)
        .map(|(i, &g)| (g, labels[i], confidence.map(|c| c[i] as f64)));
    score_ids(&gold.class_names, pairs)
}

/// Each worker's accuracy against gold and the number of their annotations
/// of gold items; `None` for a worker who annotated no gold item.
pub fn worker_gold_accuracy(data: &Packed, gold: &PackedGold) -> Vec<Option<(f64, u64)>> {
    (0..data.n_workers())
        .map(|w| {
            let range = data.worker_range(w);
            let (mut right, mut scored) = (0u64, 0u64);
            for (&item, &given) in data.worker_item[range.clone()]
                .iter()
                .zip(&data.worker_label[range])
            {
                let truth = gold.class[item as usize];
                if truth != PackedGold::NONE {
                    scored += 1;
                    // A gold class nobody gave has an id past the data's
                    // classes: every annotation of it is wrong.
                    right += u64::from(truth == u32::from(given));
                }
            }
            (scored > 0).then(|| (right as f64 / scored as f64, scored))
        })
        .collect()
}

/// [`krippendorff_alpha_nominal`] of the annotations: each item a unit.
pub fn annotations_alpha(data: &Packed) -> Option<f64> {
    let units = (0..data.n_items()).map(|i| &data.item_label[data.item_range(i)]);
    alpha_of_units(data.n_classes(), units)
}

/// Krippendorff's alpha for nominal data: `1 − D_o / D_e` from the
/// coincidence matrix of the values given to each item (`units`: the values
/// per item, any number of coders; items with fewer than two values are
/// not pairable and left out). `None` when fewer than two pairable values,
/// or when all values are the same (no expected disagreement).
pub fn krippendorff_alpha_nominal(units: &[Vec<u32>]) -> Option<f64> {
    let k = units.iter().flatten().copied().max()? as usize + 1;
    alpha_of_units(k, units.iter().map(Vec::as_slice))
}

/// [`krippendorff_alpha_nominal`] of units of values below `k`. Classes no
/// unit gives add only zeros, so `k` may exceed the largest value.
fn alpha_of_units<'a, T: Copy + Into<u64> + 'a>(
    k: usize,
    units: impl Iterator<Item = &'a [T]>,
) -> Option<f64> {
    let mut coincidence = vec![0f64; k * k];
    for values in units.filter(|v| v.len() >= 2) {
        let m = values.len() as f64;
        for (i, &a) in values.iter().enumerate() {
            for (j, &b) in values.iter().enumerate() {
                if i != j {
                    coincidence[a.into() as usize * k + b.into() as usize] += 1.0 / (m - 1.0);
                }
            }
        }
    }
    let marginal: Vec<f64> = (0..k)
        .map(|c| coincidence[c * k..][..k].iter().sum())
        .collect();
    let n: f64 = marginal.iter().sum();
    if n < 2.0 {
        return None;
    }
    let observed: f64 = (0..k)
        .flat_map(|a| (0..k).map(move |b| (a, b)))
        .filter(|(a, b)| a != b)
        .map(|(a, b)| coincidence[a * k + b])
        .sum();
    let expected: f64 = (0..k)
        .flat_map(|a| (0..k).map(move |b| (a, b)))
        .filter(|(a, b)| a != b)
        .map(|(a, b)| marginal[a] * marginal[b])
        .sum::<f64>()
        / (n - 1.0);
    (expected > 0.0).then(|| 1.0 - observed / expected)
}

/// crowd-kit's `consistency`: the mean over items of the posterior of
/// `labels[item]` under the one-coin model with worker `skill` (a worker
/// gives the true class with probability `skill`, each other class with
/// `(1 − skill)/(K − 1)`) and a uniform prior, over the items that have
/// annotations (crowd-kit's input has no others). Computed in log space.
pub fn consistency(data: &Packed, labels: &[u32], skill: &[f64]) -> f64 {
    let k = data.n_classes();
    if data.n_items() == 0 || k < 2 {
        return f64::NAN;
    }
    let mut total = 0.0;
    let mut annotated = 0usize;
    let mut log = vec![0f64; k];
    for (i, &label) in labels.iter().enumerate() {
        let range = data.item_range(i);
        if range.is_empty() {
            continue;
        }
        annotated += 1;
        log.fill(0.0);
        for (&w, &given) in data.item_worker[range.clone()]
            .iter()
            .zip(&data.item_label[range])
        {
            let s = skill[w as usize];
            for (c, l) in log.iter_mut().enumerate() {
                *l += if c == given as usize {
                    s.ln()
                } else {
                    ((1.0 - s) / (k - 1) as f64).ln()
                };
            }
        }
        let top = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if top == f64::NEG_INFINITY {
            continue; // every class impossible: crowd-kit's zero denominator
        }
        let sum: f64 = log.iter().map(|l| (l - top).exp()).sum();
        total += (log[label as usize] - top).exp() / sum;
    }
    total / annotated.max(1) as f64
}

/// How much annotations agree, without gold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Krippendorff's alpha (nominal); `None` where undefined.
    pub alpha: Option<f64>,
    /// crowd-kit's `consistency`, skills from agreement with majority vote.
    pub consistency: f64,
    /// crowd-kit's `uncertainty`: the mean entropy of the vote shares (nats).
    pub uncertainty: f64,
    /// Items that have annotations (the others are left out of every
    /// figure).
    pub annotated_items: usize,
}

/// [`Agreement`] of `data`'s annotations.
pub fn agreement(data: &Packed) -> Agreement {
    use crate::classification::skill_vote::{accuracy_against, majority_labels};
    let mv = majority_labels(data);
    let entropy = vote_entropy(data);
    let annotated: Vec<bool> = (0..data.n_items())
        .map(|i| !data.item_range(i).is_empty())
        .collect();
    let annotated_items = annotated.iter().filter(|&&a| a).count();
    let entropy_sum: f64 = entropy
        .iter()
        .zip(&annotated)
        .filter(|(_, &a)| a)
        .map(|(e, _)| e)
        .sum();
    Agreement {
        alpha: annotations_alpha(data),
        consistency: consistency(data, &mv, &accuracy_against(data, &mv)),
        uncertainty: entropy_sum / annotated_items.max(1) as f64,
        annotated_items,
    }
}

/// Per item: the entropy (natural log) of its vote shares, crowd-kit's
/// `uncertainty` with its default skills of 1; items without annotations
/// get 0.
pub fn vote_entropy(data: &Packed) -> Vec<f64> {
    let k = data.n_classes();
    let mut counts = vec![0u32; k];
    (0..data.n_items())
        .map(|i| {
            counts.fill(0);
            for &l in &data.item_label[data.item_range(i)] {
                counts[l as usize] += 1;
            }
            let n: u32 = counts.iter().sum();
            counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = c as f64 / n as f64;
                    -p * p.ln()
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krippendorff_alpha_matches_krippendorffs_own_example() {
        // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
        // section C: 4 observers, 12 units, nominal values 1..5, missing
        // values omitted. Published: α = 0.743; exactly 113/152, which the
        // Python package `krippendorff` also gives (0.743421052631579).
        const REFERENCE: f64 = 113.0 / 152.0;
        let table: [[u32; 12]; 4] = [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
        ];
        let units: Vec<Vec<u32>> = (0..12)
            .map(|u| table.iter().map(|r| r[u]).filter(|&v| v > 0).collect())
            .collect();
        let alpha = krippendorff_alpha_nominal(&units).unwrap();
        assert!((alpha - REFERENCE).abs() < 1e-6, "{alpha}");
    }

    #[test]
    fn scores_count_the_confusion_and_calibration() {
        let pairs = [
            ("a", "a", Some(0.95)),
            ("a", "b", Some(0.65)),
            ("b", "b", Some(0.62)),
            ("b", "b", Some(0.91)),
        ];
        let s = score(pairs.iter().copied());
        assert_eq!(s.accuracy, 0.75);
        assert_eq!(s.confusion, vec![vec![1, 1], vec![0, 2]]);
        assert_eq!(s.confusion_normalised[0], vec![0.5, 0.5]);
        // b: precision 2/3, recall 1.
        assert!((s.per_class[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.per_class[1].recall, 1.0);
        assert!((s.per_class[1].f1 - 0.8).abs() < 1e-12);
        // Bin 0.6–0.7: confidence 0.635, accuracy 0.5; bin 0.9–1: 0.93, 1.
        let ece = 0.5 * (0.635f64 - 0.5).abs() + 0.5 * (0.93f64 - 1.0).abs();
        assert!((s.ece.unwrap() - ece).abs() < 1e-12, "{:?}", s.ece);
        assert_eq!(s.calibration[6].count, 2);
        assert_eq!(sorted_classes(["10", "9", "2"]), vec!["2", "9", "10"]);
    }

    /// Scores as they were computed before they moved to ids: classes from
    /// every name in the pairs, a map from name to index per pair.
    fn score_by_name(pairs: &[(&str, &str, Option<f64>)]) -> Scores {
        use std::collections::HashMap;
        let classes = sorted_classes(pairs.iter().flat_map(|&(g, p, _)| [g, p]));
        let index: HashMap<&str, usize> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let k = classes.len();
        let mut confusion = vec![vec![0u64; k]; k];
        let mut bins = vec![(0u64, 0f64, 0u64); CALIBRATION_BINS];
        for &(g, p, c) in pairs {
            let (g, p) = (index[g], index[p]);
            confusion[g][p] += 1;
            if let Some(c) = c {
                let b = ((c * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
                bins[b].0 += 1;
                bins[b].1 += c;
                bins[b].2 += (g == p) as u64;
            }
        }
        let with_ids = score(pairs.iter().copied());
        assert_eq!(with_ids.classes, classes);
        assert_eq!(with_ids.confusion, confusion);
        for (b, &(count, sum, right)) in with_ids.calibration.iter().zip(&bins) {
            assert_eq!(b.count, count);
            assert_eq!(
                b.mean_confidence,
                if count > 0 { sum / count as f64 } else { 0.0 }
            );
            assert_eq!(
                b.accuracy,
                if count > 0 {
                    right as f64 / count as f64
                } else {
                    0.0
                }
            );
        }
        with_ids
    }

    #[test]
    fn scores_by_id_equal_the_scores_by_name() {
        // Numeric and text classes, a gold class never predicted and a
        // predicted one never gold, confidences in every bin and none.
        let names = ["10", "9", "2", "cat", "dog", "x"];
        let pairs: Vec<(&str, &str, Option<f64>)> = (0..500u64)
            .map(|n| {
                let g = names[(n * 7 % 5) as usize];
                let p = names[(n * 13 % 6) as usize % 5 + usize::from(n % 11 == 0)];
                let c = (n % 3 != 0).then(|| (n * 37 % 101) as f64 / 100.0);
                (g, p, c)
            })
            .collect();
        score_by_name(&pairs);
        let numeric: Vec<(&str, &str, Option<f64>)> = pairs
            .iter()
            .copied()
            .filter(|(g, p, _)| g.parse::<i64>().is_ok() && p.parse::<i64>().is_ok())
            .collect();
        let s = score_by_name(&numeric);
        assert_eq!(s.classes, ["2", "9", "10"]);
        assert_eq!(score(std::iter::empty()).classes, Vec::<String>::new());
    }

    #[test]
    fn consistency_and_vote_entropy_by_hand() {
        use crate::engine::pack::pack_triples;
        let data = pack_triples(
            &[
                ("i", "w1", "a"),
                ("i", "w2", "a"),
                ("i", "w3", "b"),
                ("j", "w1", "b"),
            ],
            None,
        )
        .unwrap();
        // Skills 0.8, 0.6, 0.5; K = 2. Item i, label a: a ← .8·.6·.5,
        // b ← .2·.4·.5. Item j, label b: w1 alone, 0.8.
        let c = consistency(&data, &[0, 1], &[0.8, 0.6, 0.5]);
        let i = 0.24 / (0.24 + 0.04);
        assert!((c - (i + 0.8) / 2.0).abs() < 1e-12, "{c}");
        let h = vote_entropy(&data);
        let third = 1.0f64 / 3.0;
        assert!((h[0] - -(third * third.ln() + 2.0 * third * (2.0 * third).ln())).abs() < 1e-12);
        assert_eq!(h[1], 0.0);
    }

    #[test]
    fn worker_gold_accuracy_counts_gold_items_only() {
        use crate::engine::pack::pack_triples;
        let data = pack_triples(
            &[
                ("i", "w1", "a"),
                ("j", "w1", "b"),
                ("k", "w1", "b"),
                ("i", "w2", "b"),
                ("k", "w3", "a"),
            ],
            None,
        )
        .unwrap();
        let gold = Gold::from_pairs([("i", "a"), ("j", "a")]).unwrap();
        let acc = worker_gold_accuracy(&data, &gold.for_packed(&data));
        assert_eq!(acc, vec![Some((0.5, 2)), Some((0.0, 1)), None]);
    }
}
