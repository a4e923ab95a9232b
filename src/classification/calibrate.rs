//! Calibrated confidence without gold: each label's probability shifted
//! until it matches how often labels like it are right, by the answers the
//! fit did not see.
//!
//! Why: an EM method's posterior multiplies every answer's likelihood ratio
//! as if workers erred independently and every item were as easy as the
//! average. Real items are not: on every shared set the gold accuracy of a
//! label rises steeply with the share of the item's answers that gave it,
//! while the posterior says ~1.0 for a 6-to-4 split as for a unanimous
//! item. So:
//!
//! 1. The method is fitted once per fold with a fold of the annotations
//!    hidden (5 folds over all of them: [`chooser::held_out_all`]).
//! 2. The hidden answers are grouped by the share of their item's visible
//!    answers that gave the fold fit's label `ŷ` (equal-count bins). In each
//!    bin, `κ`, the probability that `ŷ` is right, is the one that best
//!    predicts the hidden answers: answer `l` of worker `w` has likelihood
//!    `κ·P_w[ŷ][l] + (1 − κ)·Σ_{t≠ŷ} q̃(t)·P_w[t][l]` (`P_w` the worker's
//!    predictive table, `q̃` the posterior of the other classes,
//!    renormalised), a concave problem in `κ`. Pool-adjacent-violators
//!    makes `κ` rise with the share.
//! 3. With control tasks, the known items' fold labels join their bins as
//!    direct observations (likelihood `κ` when `ŷ` is the known class).
//! 4. Each bin's temperature `T` divides the label's log-odds so that the
//!    mean label probability of its fold posteriors becomes `κ`. Where the
//!    model is right, `T` comes out near 1 and the posterior is kept; where
//!    split items are overconfident, their bins get a large `T`. Tempering
//!    the final posterior (fitted on all answers) rather than replacing it
//!    by `κ` keeps what the model knows from the item's answer count and
//!    from which workers gave them.
//! 5. An item's label probability becomes `σ(logit q(ŷ) / T)`, with `ln T`
//!    interpolated at the share of all its answers; the other classes share
//!    the rest in the posterior's proportions. The label never changes.
//!
//! [`chooser::held_out_all`]: super::chooser::held_out_all

use serde::Serialize;

use super::chooser::{self, HeldOut};
use super::{Consolidation, Method, Params};
use crate::engine::backend::cpu::CpuBackend;
use crate::engine::backend::PROB_FLOOR;
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::Result;

/// What a consolidation reports as each item's confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Confidence {
    /// Calibrated on held-out answers (and known items when given); the
    /// default. Methods whose confidence is a vote share or score keep it.
    #[default]
    Calibrated,
    /// The method's own posterior.
    Raw,
}

impl Confidence {
    /// The name the CLI uses.
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Calibrated => "calibrated",
            Confidence::Raw => "raw",
        }
    }

    /// The variant named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Confidence::Calibrated, Confidence::Raw]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// Held-out answers per agreement bin, at least (fewer bins when there are
/// fewer answers).
pub const ANSWERS_PER_BIN: usize = 500;

/// Most agreement bins.
pub const MAX_BINS: usize = 10;

/// Fewest held-out answers worth calibrating on.
pub const MIN_ANSWERS: usize = 50;

/// Log-odds a probability is clipped to (`PROB_FLOOR` is 1e-30: ~69).
const MAX_LOG_ODDS: f64 = 69.0;

/// One agreement bin of a [`Calibration`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementBin {
    /// The largest share of an item's answers agreeing with its label that
    /// falls in this bin.
    pub upper: f64,
    /// The mean share of the bin's held-out answers.
    pub share: f64,
    /// The probability that a fold fit's label in this bin is right, by the
    /// held-out answers (non-decreasing over the bins).
    pub accuracy: f64,
    /// The mean label probability of the bin's fold posteriors.
    pub posterior: f64,
    /// The temperature dividing the label's log-odds that turns the second
    /// into the first (1 keeps the posterior).
    pub temperature: f64,
    /// A log-odds shift added after dividing, 0 unless even an infinite
    /// temperature leaves the mean above `accuracy` (below 1/2, for K > 2).
    pub shift: f64,
    /// Held-out answers in the bin.
    pub answers: usize,
    /// Known-item rows in the bin.
    pub known: usize,
}

/// A per-dataset map from an item's agreement (the share of its answers
/// that gave its label) to the log-odds shift of its label's probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// The bins, by increasing share.
    pub bins: Vec<AgreementBin>,
    /// Hidden answers it was learnt from.
    pub answers: usize,
    /// Known-item rows it was also learnt from (0 without known items).
    pub known: usize,
    /// Folds of the fits it was learnt from.
    pub folds: usize,
}

impl Calibration {
    /// Learns the map from candidate `c`'s held-out rows for `k` classes;
    /// `None` with fewer than [`MIN_ANSWERS`] hidden answers.
    pub fn learn(held: &HeldOut, c: usize, k: usize) -> Option<Self> {
        let terms = &held.terms[c];
        let shares = &held.shares[c];
        let n = shares.len();
        if n < MIN_ANSWERS || terms.len() != n * 2 * k || k < 2 {
            return None;
        }
        let n_bins = (n / ANSWERS_PER_BIN).clamp(2, MAX_BINS);
        let uppers = equal_count_uppers(shares, n_bins);
        let bin_of = |s: f32| {
            uppers
                .partition_point(|&u| u < s as f64)
                .min(uppers.len() - 1)
        };
        let mut answer_rows: Vec<Vec<f32>> = vec![Vec::new(); uppers.len()];
        let mut share_sum = vec![0.0; uppers.len()];
        for (row, &s) in terms.chunks(2 * k).zip(shares) {
            let b = bin_of(s);
            answer_rows[b].extend_from_slice(row);
            share_sum[b] += s as f64;
        }
        let known = &held.known[c];
        let mut known_rows: Vec<(Vec<f32>, Vec<u32>)> =
            vec![(Vec::new(), Vec::new()); uppers.len()];
        for ((row, &s), &class) in known.log_q.chunks(k).zip(&known.shares).zip(&known.class) {
            let b = bin_of(s);
            known_rows[b].0.extend_from_slice(row);
            known_rows[b].1.push(class);
        }
        let floor = 1.0 / k as f64;
        let mut accuracy: Vec<(f64, f64)> = answer_rows
            .iter()
            .zip(&known_rows)
            .map(|(answers, (known_q, known_class))| {
                let rows = AgreementRows::new(answers, known_q, known_class, k);
                (rows.best(floor), rows.0.len().max(1) as f64)
            })
            .collect();
        pool_adjacent_violators(&mut accuracy);
        let bins = uppers
            .iter()
            .enumerate()
            .map(|(b, &upper)| {
                let answers = answer_rows[b].len() / (2 * k);
                let (known_q, known_class) = &known_rows[b];
                let log_odds: Vec<f64> = answer_rows[b]
                    .chunks(2 * k)
                    .map(|row| &row[..k])
                    .chain(known_q.chunks(k))
                    .map(top_log_odds)
                    .collect();
                let target = accuracy[b].0.clamp(floor, 1.0);
                let (temperature, shift) = matching_map(&log_odds, target);
                AgreementBin {
                    upper,
                    share: if answers == 0 {
                        upper
                    } else {
                        share_sum[b] / answers as f64
                    },
                    accuracy: target,
                    posterior: mean_sigmoid(&log_odds, 1.0, 0.0),
                    temperature,
                    shift,
                    answers,
                    known: known_class.len(),
                }
            })
            .collect();
        Some(Calibration {
            bins,
            answers: n,
            known: known.class.len(),
            folds: held.folds,
        })
    }

    /// The (temperature, shift) for a label given by `share` of its item's
    /// answers: `ln T` and the shift linear between the bins' mean shares,
    /// flat beyond the first and last.
    pub fn map_at(&self, share: f64) -> (f64, f64) {
        let bins = &self.bins;
        let at = |b: &AgreementBin| (b.temperature, b.shift);
        let after = bins.partition_point(|b| b.share < share);
        if after == 0 {
            return at(&bins[0]);
        }
        if after == bins.len() {
            return at(&bins[after - 1]);
        }
        let (a, b) = (&bins[after - 1], &bins[after]);
        let span = b.share - a.share;
        if span <= 0.0 {
            return at(b);
        }
        let f = (share - a.share) / span;
        let ln_t = a.temperature.ln() + (b.temperature.ln() - a.temperature.ln()) * f;
        (ln_t.exp(), a.shift + (b.shift - a.shift) * f)
    }

    /// Replaces `fit`'s confidences and posteriors with calibrated ones, the
    /// labels unchanged. Items without answers and `known` items (which
    /// carry their known label) are left as they are.
    pub fn apply(&self, data: &Packed, fit: &mut Consolidation, known: &KnownClasses) {
        let k = data.n_classes();
        let q = fit.posteriors.as_slice_mut().expect("standard layout");
        for i in 0..data.n_items() {
            let range = data.item_range(i);
            if range.is_empty() || known.item.binary_search(&(i as u32)).is_ok() {
                continue;
            }
            let label = fit.labels[i] as usize;
            let agreeing = data.item_label[range.clone()]
                .iter()
                .filter(|&&l| l as usize == label)
                .count();
            let share = agreeing as f64 / range.len() as f64;
            let row = &mut q[i * k..(i + 1) * k];
            let floor = PROB_FLOOR as f64;
            let p = (row[label] as f64).clamp(floor, 1.0 - floor);
            let z = (p / (1.0 - p)).ln().clamp(-MAX_LOG_ODDS, MAX_LOG_ODDS);
            let (temperature, shift) = self.map_at(share);
            let target = sigmoid(z / temperature + shift);
            fit.confidence[i] = recalibrate_row(row, label, target);
        }
    }
}

/// `ln q(top) − ln Σ_{t≠top} q(t)` of a row of `ln q`, clipped.
fn top_log_odds(log_q: &[f32]) -> f64 {
    let top = (0..log_q.len()).fold(0, |b, t| if log_q[t] > log_q[b] { t } else { b });
    let rest: f64 = (0..log_q.len())
        .filter(|&t| t != top)
        .map(|t| (log_q[t] as f64).exp())
        .sum();
    (log_q[top] as f64 - rest.max(f64::MIN_POSITIVE).ln()).clamp(-MAX_LOG_ODDS, MAX_LOG_ODDS)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Mean of `σ(z / T + shift)` over `log_odds` (0.5 when empty).
fn mean_sigmoid(log_odds: &[f64], temperature: f64, shift: f64) -> f64 {
    if log_odds.is_empty() {
        return 0.5;
    }
    log_odds
        .iter()
        .map(|&z| sigmoid(z / temperature + shift))
        .sum::<f64>()
        / log_odds.len() as f64
}

/// Temperatures searched, `ln T`: from sharpening 20-fold to flattening a
/// saturated log-odds (~69) to ~0.007.
const LN_T_RANGE: (f64, f64) = (-2.995_732_273_553_991, 9.210_340_371_976_184);

/// The `(T, shift)` with `mean σ(z / T + shift) = target`: the temperature
/// alone (the mean falls as `T` rises, toward 1/2 for positive log-odds:
/// bisection on `ln T`), else, when even the largest leaves the mean above
/// the target, that temperature and the shift that reaches it. `(1, 0)` for
/// an empty bin.
fn matching_map(log_odds: &[f64], target: f64) -> (f64, f64) {
    if log_odds.is_empty() {
        return (1.0, 0.0);
    }
    let (mut lo, mut hi) = LN_T_RANGE;
    if mean_sigmoid(log_odds, lo.exp(), 0.0) <= target {
        return (lo.exp(), 0.0);
    }
    if mean_sigmoid(log_odds, hi.exp(), 0.0) > target {
        let t = hi.exp();
        let (mut a, mut b) = (-2.0 * MAX_LOG_ODDS, 2.0 * MAX_LOG_ODDS);
        for _ in 0..100 {
            let mid = 0.5 * (a + b);
            if mean_sigmoid(log_odds, t, mid) < target {
                a = mid;
            } else {
                b = mid;
            }
        }
        return (t, 0.5 * (a + b));
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mean_sigmoid(log_odds, mid.exp(), 0.0) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    ((0.5 * (lo + hi)).exp(), 0.0)
}

/// A bin's rows for the agreement map, each the likelihood `κ·a + (1 − κ)·b`
/// of an observation given `κ`, the probability that the fold fit's label
/// `ŷ` is right. A hidden answer `l` of worker `w`: `a = P_w[ŷ][l]`,
/// `b = Σ_{t≠ŷ} q̃(t)·P_w[t][l]` (`q̃` the other classes renormalised). A
/// known item: `a = 1, b = 0` when `ŷ` is its class, else `a = 0,
/// b = q̃(class)`.
struct AgreementRows(Vec<(f64, f64)>);

impl AgreementRows {
    fn new(answer_terms: &[f32], known_q: &[f32], known_class: &[u32], k: usize) -> Self {
        let others = |log_q: &[f32], top: usize, weight: &dyn Fn(usize) -> f64| -> f64 {
            let (mut sum, mut mass) = (0.0, 0.0);
            for t in (0..k).filter(|&t| t != top) {
                let q = (log_q[t] as f64).exp();
                sum += q * weight(t);
                mass += q;
            }
            if mass > 0.0 {
                sum / mass
            } else {
                (0..k).filter(|&t| t != top).map(weight).sum::<f64>() / (k - 1) as f64
            }
        };
        let top_of = |log_q: &[f32]| (0..k).fold(0, |b, t| if log_q[t] > log_q[b] { t } else { b });
        let mut rows = Vec::new();
        for row in answer_terms.chunks(2 * k) {
            let (log_q, p) = row.split_at(k);
            let top = top_of(log_q);
            rows.push((p[top] as f64, others(log_q, top, &|t| p[t] as f64)));
        }
        for (log_q, &class) in known_q.chunks(k).zip(known_class) {
            let top = top_of(log_q);
            let class = class as usize;
            rows.push(if top == class {
                (1.0, 0.0)
            } else {
                (0.0, others(log_q, top, &|t| (t == class) as u8 as f64))
            });
        }
        AgreementRows(rows)
    }

    /// The `κ ∈ [floor, 1]` maximising the rows' log-likelihood
    /// `Σ ln(κ·a + (1 − κ)·b)`, which is concave in `κ`: bisection on its
    /// slope. No rows: `floor`.
    fn best(&self, floor: f64) -> f64 {
        if self.0.is_empty() {
            return floor;
        }
        let slope = |kappa: f64| -> f64 {
            self.0
                .iter()
                .map(|&(a, b)| (a - b) / (kappa * a + (1.0 - kappa) * b).max(f64::MIN_POSITIVE))
                .sum()
        };
        if slope(1.0) >= 0.0 {
            return 1.0;
        }
        if slope(floor) <= 0.0 {
            return floor;
        }
        let (mut lo, mut hi) = (floor, 1.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if slope(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// Sets `row[label]` to `target` (raised where needed so that no other
/// class overtakes it) and scales the other classes to share the rest in
/// their proportions (evenly when they are all zero). Returns the label's
/// new probability.
fn recalibrate_row(row: &mut [f32], label: usize, target: f64) -> f32 {
    let k = row.len();
    let rest: f64 = (0..k).filter(|&t| t != label).map(|t| row[t] as f64).sum();
    let runner_up = (0..k)
        .filter(|&t| t != label)
        .map(|t| row[t] as f64)
        .fold(0.0, f64::max);
    // Others get (1 − c)·row[t] / rest: the runner-up stays at most c when
    // c ≥ runner_up / (rest + runner_up); spread evenly, when c ≥ 1/K.
    let floor = if rest > 0.0 {
        runner_up / (rest + runner_up)
    } else {
        1.0 / k as f64
    };
    let c = target.max(floor).min(1.0);
    for t in (0..k).filter(|&t| t != label) {
        row[t] = if rest > 0.0 {
            ((1.0 - c) * row[t] as f64 / rest) as f32
        } else {
            ((1.0 - c) / (k - 1) as f64) as f32
        };
    }
    row[label] = c as f32;
    c as f32
}

/// Makes the `(value, weight)` values non-decreasing by pooling adjacent
/// violators into their weighted mean (isotonic regression).
fn pool_adjacent_violators(values: &mut [(f64, f64)]) {
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(values.len());
    for &(v, w) in values.iter() {
        blocks.push((v, w, 1));
        while blocks.len() > 1 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
            let (v2, w2, n2) = blocks.pop().expect("two blocks");
            let (v1, w1, n1) = blocks.pop().expect("two blocks");
            blocks.push(((v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2));
        }
    }
    let mut i = 0;
    for (v, _, n) in blocks {
        for slot in &mut values[i..i + n] {
            slot.0 = v;
        }
        i += n;
    }
}

/// Methods whose posterior is a model's, so calibrating it makes sense; the
/// others' confidence is a vote share or a score, kept as documented.
pub fn is_calibrated(method: Method) -> bool {
    matches!(
        method,
        Method::Ds | Method::Hds | Method::Mds | Method::OneCoin | Method::Glad | Method::Mace
    )
}

/// Calibrates `fit`, which `params` fitted on `data`, unless
/// `params.confidence` is [`Confidence::Raw`] or the method (for `auto`,
/// the chosen one) keeps a vote share ([`is_calibrated`]). The method is
/// refitted once per fold on the CPU (as `auto` chooses there), on every
/// annotation in [`chooser::FOLDS`] folds; `params.known` items are scored. Sets
/// [`Consolidation::calibration`]; leaves `fit` as it is when there are too
/// few answers to learn from.
pub fn calibrate_fit(data: &Packed, params: &Params, fit: &mut Consolidation) -> Result<()> {
    if params.confidence == Confidence::Raw {
        return Ok(());
    }
    let candidate = match &fit.choice {
        Some(choice) => {
            match chooser::candidate_named(choice.chosen, params.seed, &params.resume) {
                Some(c) => c,
                None => return Ok(()),
            }
        }
        None => chooser::Candidate {
            name: params.method.info().name,
            params: params.clone(),
        },
    };
    if !is_calibrated(candidate.params.method) {
        return Ok(());
    }
    // Every annotation, in 5 folds: a map learnt on a sample (as `auto`
    // chooses on) or with half the answers hidden describes fits on sparser
    // data than the final one, and over-corrects it (on 1M generated
    // Dawid-Skene annotations: ECE 0.023 raw, 0.20 calibrated from the
    // 300k sample).
    let held = chooser::held_out_all(
        data,
        std::slice::from_ref(&candidate),
        &CpuBackend,
        params.seed,
        &params.known,
        chooser::FOLDS,
        &mut |_, _| {},
    )?;
    if let Some(calibration) = Calibration::learn(&held, 0, data.n_classes()) {
        calibration.apply(data, fit, &params.known);
        fit.calibration = Some(calibration);
    }
    Ok(())
}

/// Upper edges of at most `n_bins` bins holding about equal numbers of
/// `values` (fewer when values repeat); the last edge is the largest value.
fn equal_count_uppers(values: &[f32], n_bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f32> = values.to_vec();
    sorted.sort_unstable_by(f32::total_cmp);
    let mut uppers: Vec<f64> = (1..=n_bins)
        .map(|b| sorted[(b * sorted.len()).div_ceil(n_bins) - 1] as f64)
        .collect();
    uppers.dedup();
    uppers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_makes_values_rise_and_keeps_the_weighted_mean() {
        let mut v = vec![(0.5, 1.0), (0.9, 1.0), (0.7, 3.0), (0.95, 1.0)];
        pool_adjacent_violators(&mut v);
        assert_eq!(v[0].0, 0.5);
        assert!((v[1].0 - 0.75).abs() < 1e-12 && (v[2].0 - 0.75).abs() < 1e-12);
        assert_eq!(v[3].0, 0.95);
    }

    #[test]
    fn kappa_recovers_the_rate_that_generated_the_answers() {
        // A worker right 80% of the time, wrong answers on one other class.
        // If ŷ is right 70% of the time, a hidden answer agrees with it with
        // probability 0.7·0.8 + 0.3·0.2 = 0.62.
        let terms = |agree: bool| -> Vec<f32> {
            // ln q = (ln 0.9, ln 0.1): ŷ = class 0; then P_w[t][l], t = 0, 1.
            let (a, b) = if agree { (0.8, 0.2) } else { (0.2, 0.8) };
            vec![0.9f32.ln(), 0.1f32.ln(), a, b]
        };
        let mut rows: Vec<f32> = (0..62).flat_map(|_| terms(true)).collect();
        rows.extend((0..38).flat_map(|_| terms(false)));
        let kappa = AgreementRows::new(&rows, &[], &[], 2).best(0.5);
        assert!((kappa - 0.7).abs() < 1e-6, "{kappa}");
        let agreeing: Vec<f32> = (0..10).flat_map(|_| terms(true)).collect();
        assert_eq!(AgreementRows::new(&agreeing, &[], &[], 2).best(0.5), 1.0);
        // Known items: 3 right of 4 gives 0.75.
        let known_q = [0.9f32.ln(), 0.1f32.ln()].repeat(4);
        let kappa = AgreementRows::new(&[], &known_q, &[0, 0, 0, 1], 2).best(0.5);
        assert!((kappa - 0.75).abs() < 1e-6, "{kappa}");
    }

    #[test]
    fn the_map_matches_the_mean_and_keeps_a_calibrated_bin() {
        let z = [0.5, 1.0, 2.0, 3.0];
        let mean = mean_sigmoid(&z, 1.0, 0.0);
        let (t, d) = matching_map(&z, mean);
        assert!((t - 1.0).abs() < 1e-9 && d == 0.0, "{t} {d}");
        let (t, d) = matching_map(&z, 0.6);
        assert!(t > 1.0 && d == 0.0 && (mean_sigmoid(&z, t, 0.0) - 0.6).abs() < 1e-9);
        // Saturated posteriors: the temperature brings them to the target.
        let (t, _) = matching_map(&[MAX_LOG_ODDS; 3], 0.7);
        assert!((sigmoid(MAX_LOG_ODDS / t) - 0.7).abs() < 1e-9);
        // Below 1/2 (K > 2), a shift after the largest temperature.
        let (t, d) = matching_map(&z, 0.3);
        assert!(d < 0.0 && (mean_sigmoid(&z, t, d) - 0.3).abs() < 1e-9);
    }

    #[test]
    fn a_recalibrated_row_keeps_its_label_and_sums_to_one() {
        let mut row = [0.97f32, 0.02, 0.01];
        let c = recalibrate_row(&mut row, 0, 0.6);
        assert!((c - 0.6).abs() < 1e-6);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((row[1] - 0.4 * 2.0 / 3.0).abs() < 1e-6);
        // A target below the runner-up's is raised to a tie at most.
        let mut close = [0.5f32, 0.49, 0.01];
        let c = recalibrate_row(&mut close, 0, 0.34);
        assert!(c >= close[1] && c >= close[2], "{close:?}");
        // A one-hot row spreads the rest evenly.
        let mut hot = [0f32, 1.0, 0.0];
        recalibrate_row(&mut hot, 1, 0.8);
        assert!((hot[0] - 0.1).abs() < 1e-6 && (hot[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn equal_count_bins_merge_repeated_values() {
        let v = [0.5f32, 0.5, 0.5, 0.5, 1.0, 1.0];
        assert_eq!(equal_count_uppers(&v, 3), vec![0.5, 1.0]);
        let w: Vec<f32> = (0..10).map(|x| x as f32).collect();
        assert_eq!(equal_count_uppers(&w, 2), vec![4.0, 9.0]);
    }
}
