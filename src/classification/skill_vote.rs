//! Votes weighted by worker skill, as crowd-kit defines them: Wawa (one
//! round: skill = agreement with majority vote) and ZeroBasedSkill (skills
//! learnt by damped fixed-point steps from near zero). Both need only vote
//! sums over annotations, so they run on the host for either backend.

use ndarray::{Array2, Array3};

use crate::engine::backend::ModelParams;
use crate::engine::pack::{KnownClasses, Packed};

/// `[item][class]` sums of `skill[worker]` over the item's annotations.
fn weighted_scores(data: &Packed, skill: &[f64]) -> Array2<f64> {
    let mut scores = Array2::zeros((data.n_items(), data.n_classes()));
    for i in 0..data.n_items() {
        let range = data.item_range(i);
        for (&w, &l) in data.item_worker[range.clone()]
            .iter()
            .zip(&data.item_label[range])
        {
            scores[[i, l as usize]] += skill[w as usize];
        }
    }
    scores
}

/// Each item's best-scored class (the first in class order on a tie, as
/// pandas' `idxmax`) and its share of the item's total score.
fn decide(scores: &Array2<f64>) -> (Vec<u32>, Vec<f32>) {
    scores
        .rows()
        .into_iter()
        .map(|row| {
            let (best, top) =
                row.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |(b, m), (c, &s)| if s > m { (c, s) } else { (b, m) },
                    );
            let total: f64 = row.sum();
            (
                best as u32,
                if total > 0.0 {
                    (top / total) as f32
                } else {
                    0.0
                },
            )
        })
        .unzip()
}

/// Per worker: the share of their annotations equal to `labels` (crowd-kit's
/// `get_accuracy`); 0 for a worker without annotations.
pub fn accuracy_against(data: &Packed, labels: &[u32]) -> Vec<f64> {
    (0..data.n_workers())
        .map(|w| {
            let range = data.worker_range(w);
            let n = range.len();
            let right = data.worker_item[range.clone()]
                .iter()
                .zip(&data.worker_label[range])
                .filter(|&(&i, &l)| labels[i as usize] == u32::from(l))
                .count();
            if n > 0 {
                right as f64 / n as f64
            } else {
                0.0
            }
        })
        .collect()
}

/// The result of a skill-weighted vote.
pub struct SkillVote {
    /// Each item's chosen class.
    pub labels: Vec<u32>,
    /// Each item's chosen class's share of its score (0 where it has none).
    pub confidence: Vec<f32>,
    /// `[item][class]` normalised scores (uniform where an item has none).
    pub posteriors: Array2<f32>,
    /// Each worker's skill, the weight of their votes.
    pub skills: Vec<f64>,
    /// Class priors and `[worker][true][given]` confusion tables from one
    /// M-step on `posteriors`.
    pub model: ModelParams,
}

fn finish(data: &Packed, skills: Vec<f64>) -> SkillVote {
    let scores = weighted_scores(data, &skills);
    let (labels, confidence) = decide(&scores);
    let k = data.n_classes();
    let mut posteriors = Array2::from_elem((data.n_items(), k), 1.0 / k as f32);
    for (i, row) in scores.rows().into_iter().enumerate() {
        let total: f64 = row.sum();
        if total > 0.0 {
            for (c, &s) in row.iter().enumerate() {
                posteriors[[i, c]] = (s / total) as f32;
            }
        }
    }
    with_model(data, labels, confidence, posteriors, skills)
}

/// The result, with the worker tables one M-step from `posteriors` gives.
fn with_model(
    data: &Packed,
    labels: Vec<u32>,
    confidence: Vec<f32>,
    posteriors: Array2<f32>,
    skills: Vec<f64>,
) -> SkillVote {
    let model = soft_model(data, &posteriors);
    SkillVote {
        labels,
        confidence,
        posteriors,
        skills,
        model,
    }
}

/// Class priors and confusion tables from soft labels: one M-step, as
/// majority vote reports its worker tables.
fn soft_model(data: &Packed, posteriors: &Array2<f32>) -> ModelParams {
    let k = data.n_classes();
    let mut confusion = Array3::<f32>::zeros((data.n_workers(), k, k));
    for w in 0..data.n_workers() {
        let range = data.worker_range(w);
        for (&i, &l) in data.worker_item[range.clone()]
            .iter()
            .zip(&data.worker_label[range])
        {
            for t in 0..k {
                confusion[[w, t, l as usize]] += posteriors[[i as usize, t]];
            }
        }
        for t in 0..k {
            let total: f32 = (0..k).map(|l| confusion[[w, t, l]]).sum();
            for l in 0..k {
                confusion[[w, t, l]] = if total > 0.0 {
                    confusion[[w, t, l]] / total
                } else {
                    1.0 / k as f32
                };
            }
        }
    }
    let n = data.n_items().max(1) as f32;
    let class_priors = (0..k).map(|c| posteriors.column(c).sum() / n).collect();
    ModelParams {
        class_priors,
        confusion,
    }
}

/// A vote weighted by `skills`, which may be negative (M-MSR's), decided
/// as crowd-kit's `MajorityVote(skills=...)` decides: each item's scores
/// are divided by their sum before the most probable is taken, so where
/// the sum is negative the most negative score wins. The posteriors are
/// those shares (uniform where they are not finite).
pub fn weighted(data: &Packed, skills: Vec<f64>) -> SkillVote {
    let scores = weighted_scores(data, &skills);
    let k = data.n_classes();
    let mut shares = Array2::<f64>::zeros((data.n_items(), k));
    for (i, row) in scores.rows().into_iter().enumerate() {
        let total: f64 = row.sum();
        for (c, &s) in row.iter().enumerate() {
            shares[[i, c]] = s / total;
        }
    }
    // pandas' idxmax skips NaN (0/0); a row of NaN has no label: class 0.
    let labels: Vec<u32> = shares
        .rows()
        .into_iter()
        .map(|row| {
            let mut best: Option<(usize, f64)> = None;
            for (c, &p) in row.iter().enumerate() {
                if !p.is_nan() && best.is_none_or(|(_, b)| p > b) {
                    best = Some((c, p));
                }
            }
            best.map_or(0, |(c, _)| c as u32)
        })
        .collect();
    let posteriors = Array2::from_shape_fn((data.n_items(), k), |(i, c)| {
        let row = shares.row(i);
        if row.iter().all(|p| p.is_finite() && *p >= 0.0) {
            row[c] as f32
        } else {
            1.0 / k as f32
        }
    });
    let confidence = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| posteriors[[i, l as usize]])
        .collect();
    with_model(data, labels, confidence, posteriors, skills)
}

/// A fit given as posteriors `[item][class]` (row-major, rows summing to
/// 1): labels are each row's first most probable class.
pub fn from_posteriors(data: &Packed, posteriors: &[f64]) -> SkillVote {
    let k = data.n_classes();
    let scores = Array2::from_shape_vec((data.n_items(), k), posteriors.to_vec())
        .expect("posteriors are [item][class]");
    let (labels, confidence) = decide(&scores);
    let posteriors = scores.mapv(|p| p as f32);
    with_model(data, labels, confidence, posteriors, Vec::new())
}

/// Majority-vote labels, ties to the first class (pandas' `idxmax`).
pub fn majority_labels(data: &Packed) -> Vec<u32> {
    let ones = vec![1.0; data.n_workers()];
    decide(&weighted_scores(data, &ones)).0
}

/// Wawa: majority vote, then each worker weighted by their agreement with it.
pub fn wawa(data: &Packed) -> SkillVote {
    wawa_known(data, &KnownClasses::default())
}

/// [`wawa`], with the `known` items' majority labels replaced by their
/// known class before the agreement is measured.
pub fn wawa_known(data: &Packed, known: &KnownClasses) -> SkillVote {
    let mut mv = majority_labels(data);
    set_known(&mut mv, known);
    finish(data, accuracy_against(data, &mv))
}

/// Labels := the known class on the known items.
fn set_known(labels: &mut [u32], known: &KnownClasses) {
    for (&i, &c) in known.item.iter().zip(&known.class) {
        labels[i as usize] = c;
    }
}

/// ZeroBasedSkill: skills start just above chance (1/K + 1e-5); each of
/// `steps` steps votes with them and moves them toward each worker's
/// agreement with that vote, at a rate starting at 1 and halved every 20
/// steps (crowd-kit's defaults).
pub fn zero_based_skill(data: &Packed, steps: usize) -> SkillVote {
    zero_based_skill_known(data, steps, &KnownClasses::default())
}

/// [`zero_based_skill`], each step's agreement measured with the `known`
/// items' labels set to their known class.
pub fn zero_based_skill_known(data: &Packed, steps: usize, known: &KnownClasses) -> SkillVote {
    let k = data.class_names.len() as f64;
    let mut skills = vec![1.0 / k + 1e-5; data.n_workers()];
    let mut rate = 1.0;
    for step in 1..=steps {
        if step % 20 == 0 {
            rate *= 0.5;
        }
        let (mut labels, _) = decide(&weighted_scores(data, &skills));
        set_known(&mut labels, known);
        let accuracy = accuracy_against(data, &labels);
        for (s, a) in skills.iter_mut().zip(accuracy) {
            *s += rate * (a - *s);
        }
    }
    finish(data, skills)
}

/// A host-side method's votes as a consolidation, marked as run on the host.
pub(crate) fn host_consolidation(
    data: &Packed,
    params: &super::Params,
    v: SkillVote,
    run: super::result::Run,
) -> super::Consolidation {
    let mut c = super::Consolidation::new(
        data,
        params.method,
        v.labels,
        v.confidence,
        v.posteriors,
        v.model,
        run,
    );
    // Fits given as posteriors (`from_posteriors`) weigh no votes: no skill.
    c.worker_skill = (!v.skills.is_empty()).then_some(v.skills);
    c.ran_on = "host".into();
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::pack_triples;

    #[test]
    fn wawa_lets_the_reliable_worker_break_the_tie() {
        // w1 agrees with the majority everywhere, w2 nowhere but on "t".
        let data = pack_triples(
            &[
                ("a", "w1", "x"),
                ("a", "w3", "x"),
                ("a", "w2", "y"),
                ("b", "w1", "y"),
                ("b", "w3", "y"),
                ("b", "w2", "x"),
                ("t", "w1", "y"),
                ("t", "w2", "x"),
            ],
            None,
        )
        .unwrap();
        let v = wawa(&data);
        // Plain majority vote would pick x at "t" (a tie, lowest class).
        assert_eq!(v.labels[2], 1);
        let w2 = data.worker_names.iter().position(|n| n == "w2").unwrap();
        assert!((v.skills[w2] - 1.0 / 3.0).abs() < 1e-12, "{:?}", v.skills);
        let z = zero_based_skill(&data, 100);
        assert_eq!(z.labels[2], 1);
    }
}
