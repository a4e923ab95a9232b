//! Twin of `shaders/confusion_normalise.wgsl`: soft counts to log-confusion
//! tables under a [`ConfusionRule`], and each worker's `trace(C)/n`.

use rayon::prelude::*;

use crate::engine::backend::{ConfusionRule, COUNT_FLOOR, PROB_FLOOR};
use crate::maths::{digamma, fixed_sum_i64, fixed_to_f32, COUNT_FRAC_BITS};

/// The log of the symmetric confusion table `M(a)` in `[given][true]` order.
pub fn symmetric_log_table(accuracy: f32, k: usize) -> Vec<f32> {
    let off = (1.0 - accuracy) / (k.max(2) - 1) as f32;
    let mut table = vec![off.max(PROB_FLOOR).ln(); k * k];
    for c in 0..k {
        table[c * k + c] = accuracy.max(PROB_FLOOR).ln();
    }
    table
}

/// Twin of `confusion_normalise.wgsl`: turns soft counts `[worker][true][given]`
/// into log-confusion `[worker][given][true]` under `rule`, and returns each
/// worker's `trace(C)/n` too, with `n` the worker's answers (`worker_n`:
/// their annotations, plus any [`WorkerPrior`](crate::engine::backend::WorkerPrior)'s past answers). Under the hierarchical rule each block of
/// `workers_per_group` consecutive workers (0: all of them) is drawn toward
/// its own population table, the sum of that block's counts.
pub fn confusion_normalise(
    counts: &[f32],
    worker_n: &[f32],
    k: usize,
    rule: ConfusionRule,
    workers_per_group: usize,
) -> (Vec<f32>, Vec<f32>) {
    let n_workers = worker_n.len();
    let mut log_confusion = vec![0f32; n_workers * k * k];
    let mut accuracy = vec![0f32; n_workers];
    let block = if workers_per_group == 0 {
        n_workers.max(1)
    } else {
        workers_per_group
    };
    let population = matches!(rule, ConfusionRule::Hierarchical { .. }).then(|| {
        counts
            .chunks(block * k * k)
            .map(|c| population_confusion(c, k))
            .collect::<Vec<_>>()
    });
    log_confusion
        .par_chunks_mut(k * k)
        .zip(accuracy.par_iter_mut())
        .enumerate()
        .for_each(|(w, (out, acc_out))| {
            let c = &counts[w * k * k..(w + 1) * k * k];
            let n = worker_n[w];
            let trace: f32 = (0..k).map(|t| c[t * k + t]).sum();
            let acc = if n > 0.0 { trace / n } else { 0.0 };
            *acc_out = acc;
            let mut table = vec![0f32; k * k]; // [true][given] probabilities
            let off_share = 1.0 / (k.max(2) - 1) as f32;
            if let (
                ConfusionRule::Hierarchical {
                    strength,
                    prior_correct,
                },
                Some(pop),
            ) = (rule, &population)
            {
                hierarchical_log_table(c, &pop[w / block], k, strength, prior_correct, out);
                return;
            }
            match rule {
                ConfusionRule::Full {
                    smoothing,
                    prior_correct,
                } => {
                    for t in 0..k {
                        for l in 0..k {
                            let prior = if t == l { prior_correct } else { 0.0 };
                            table[t * k + l] = c[t * k + l].max(COUNT_FLOOR) + smoothing + prior;
                        }
                    }
                }
                ConfusionRule::OneCoin { smoothing } => {
                    let a = (trace + smoothing) / (n + k as f32 * smoothing).max(COUNT_FLOOR);
                    let a = a.clamp(0.0, 1.0);
                    for t in 0..k {
                        for l in 0..k {
                            table[t * k + l] = if t == l { a } else { (1.0 - a) * off_share };
                        }
                    }
                }
                ConfusionRule::Hierarchical { .. } => unreachable!("handled above"),
                ConfusionRule::Modified { prior_accuracy } => {
                    let p = prior_accuracy;
                    for t in 0..k {
                        for l in 0..k {
                            let own = if t == l { acc } else { (1.0 - acc) * off_share };
                            let pop = if t == l { p } else { (1.0 - p) * off_share };
                            table[t * k + l] =
                                c[t * k + l].max(COUNT_FLOOR) + n * own + 0.5 * n * pop;
                        }
                    }
                }
            }
            for t in 0..k {
                let row_sum: f32 = table[t * k..(t + 1) * k].iter().sum();
                for l in 0..k {
                    let p = if row_sum > 0.0 {
                        table[t * k + l] / row_sum
                    } else {
                        1.0 / k as f32
                    };
                    out[l * k + t] = p.max(PROB_FLOOR).ln();
                }
            }
        });
    (log_confusion, accuracy)
}

/// Each worker's annotation count as the confusion rules' `n`.
pub fn annotation_counts(worker_offsets: &[u32]) -> Vec<f32> {
    worker_offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as f32)
        .collect()
}

/// The population confusion `[true][given]`: the soft counts of all workers
/// summed per cell (the exact fixed-point sum `reduce_rows.wgsl` computes,
/// turned back to f32 as `confusion_normalise.wgsl` does), rows normalised.
pub fn population_confusion(counts: &[f32], k: usize) -> Vec<f32> {
    let n_workers = counts.len() / (k * k).max(1);
    let mut cell = vec![0f32; n_workers];
    let sums: Vec<f32> = (0..k * k)
        .map(|at| {
            for (w, v) in cell.iter_mut().enumerate() {
                *v = counts[w * k * k + at];
            }
            let total = fixed_sum_i64(&cell, COUNT_FRAC_BITS);
            let (lo, hi) = (total as u32, (total >> 32) as u32);
            fixed_to_f32(lo, hi, COUNT_FRAC_BITS)
        })
        .collect();
    let mut population = vec![0f32; k * k];
    for t in 0..k {
        let row = &sums[t * k..(t + 1) * k];
        let total: f32 = row.iter().sum();
        for l in 0..k {
            population[t * k + l] = if total > 0.0 {
                row[l] / total
            } else {
                1.0 / k as f32
            };
        }
    }
    population
}

/// One worker's `E[log θ]` table under the hierarchical rule, written as
/// `out[given][true]` (see [`ConfusionRule::Hierarchical`]).
fn hierarchical_log_table(
    counts: &[f32],
    population: &[f32],
    k: usize,
    strength: f32,
    prior_correct: f32,
    out: &mut [f32],
) {
    for t in 0..k {
        let mut row_sum = 0f32;
        for l in 0..k {
            let correct = if t == l { prior_correct } else { 0.0 };
            row_sum +=
                counts[t * k + l].max(COUNT_FLOOR) + strength * population[t * k + l] + correct;
        }
        let digamma_sum = digamma(row_sum as f64);
        for l in 0..k {
            let correct = if t == l { prior_correct } else { 0.0 };
            let alpha =
                counts[t * k + l].max(COUNT_FLOOR) + strength * population[t * k + l] + correct;
            out[l * k + t] = (digamma(alpha as f64) - digamma_sum) as f32;
        }
    }
}

/// The mean of `trace(C)/n` over workers with at least one annotation.
pub fn mean_worker_accuracy(accuracy: &[f32], worker_offsets: &[u32]) -> f32 {
    let (sum, n) = accuracy
        .iter()
        .enumerate()
        .filter(|(w, _)| worker_offsets[w + 1] > worker_offsets[*w])
        .fold((0f64, 0usize), |(s, n), (_, &a)| (s + a as f64, n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// ln of `f64::EPSILON`, where crowd-kit clips its probabilities.
pub const LN_EPS: f32 = -36.043_655;

/// Twin of `fit_term` in `confusion_normalise.wgsl`: per worker and true
/// class t (`[worker][true]`), `Σ_l C[t][l]·(max(ln θ[t][l], LN_EPS) +
/// max(ln p(t), LN_EPS))` from the soft counts `C` (`[worker][true][given]`)
/// and the tables and log priors fitted from them: summed, crowd-kit's
/// expected log joint `Σ_annotations Σ_t q(t)·(ln θ[t][given] + ln p(t))`.
pub fn fit_terms(counts: &[f32], log_confusion: &[f32], log_priors: &[f32], k: usize) -> Vec<f32> {
    let n_workers = counts.len() / (k * k).max(1);
    let mut out = vec![0f32; n_workers * k];
    out.par_chunks_mut(k.max(1))
        .enumerate()
        .for_each(|(w, row)| {
            let base = w * k * k;
            for (t, f_out) in row.iter_mut().enumerate() {
                let prior = log_priors[t].max(LN_EPS);
                let mut f = 0f32;
                for l in 0..k {
                    f += counts[base + t * k + l]
                        * (log_confusion[base + l * k + t].max(LN_EPS) + prior);
                }
                *f_out = f;
            }
        });
    out
}
