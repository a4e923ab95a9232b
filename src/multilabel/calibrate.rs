//! Calibrating the EM methods' confidences without gold.
//!
//! Dawid-Skene treats the workers of an item as independent, so fifteen
//! workers who agree give odds like 5¹⁵: most posteriors come out exactly
//! 0 or 1, which says nothing about which items are doubtful and ties
//! them in every ranking. Workers who share an item share its ambiguity;
//! the usual remedy is to temper the evidence, `logit p = logit π + τ·Σ
//! s_w` with `s_w` each worker's log-likelihood ratio and `τ ≤ 1`. Here
//! `τ` is chosen per label by the data: the value in a fixed grid that best
//! predicts each worker's own answer from the other workers' tempered
//! evidence (leave-one-worker-out log-likelihood). `τ = 1` is the plain
//! posterior, so the grid can always keep it. The ranking within a label
//! does not change; the confidences spread out.

use rayon::prelude::*;

use super::answers::Answers;
use super::methods::MultiFit;

/// Temperatures tried, largest first (ties keep the larger, i.e. the
/// plainer model): a geometric grid from 1 down to 1/32.
pub const TEMPERATURES: [f32; 11] = [
    1.0, 0.707, 0.5, 0.354, 0.25, 0.177, 0.125, 0.088, 0.0625, 0.044, 0.03125,
];

/// Most answers per label that the choice of `τ` reads: beyond this the
/// items are sampled with a fixed stride (the choice is one number, and
/// the leave-one-out sum costs a log and an exp per answer and grid point).
pub const MAX_CALIBRATION_ANSWERS: usize = 1 << 16;

/// Rates are kept inside [RATE_FLOOR, 1 − RATE_FLOOR] before taking logs.
const RATE_FLOOR: f64 = 1e-6;

fn logit(p: f64) -> f64 {
    let p = p.clamp(RATE_FLOOR, 1.0 - RATE_FLOOR);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Replaces `fit.confidence` by the tempered posteriors and returns each
/// label's `τ`.
pub fn temper(answers: &Answers, fit: &mut MultiFit) -> Vec<f32> {
    let (n, l) = (answers.n_items(), answers.n_labels());
    // Responses grouped by item.
    let mut offsets = vec![0usize; n + 1];
    for &i in &answers.response_item {
        offsets[i as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut cursor = offsets.clone();
    let mut by_item = vec![0usize; answers.n_responses()];
    for (r, &i) in answers.response_item.iter().enumerate() {
        by_item[cursor[i as usize]] = r;
        cursor[i as usize] += 1;
    }
    let total = answers.n_responses();
    let stride = total.div_ceil(MAX_CALIBRATION_ANSWERS).max(1);
    let results: Vec<(f32, Vec<f32>)> = (0..l)
        .into_par_iter()
        .map(|label| {
            // Per worker: (P(tick | present), P(tick | absent)) and the
            // log-likelihood ratios of a tick and of no tick, once.
            let table: Vec<(f64, f64, f64, f64)> = (0..answers.n_workers())
                .map(|w| {
                    let at = w * l + label;
                    let se = (fit.sensitivity[at] as f64).clamp(RATE_FLOOR, 1.0 - RATE_FLOOR);
                    let sp = (fit.specificity[at] as f64).clamp(RATE_FLOOR, 1.0 - RATE_FLOOR);
                    let fp = 1.0 - sp;
                    (se, fp, (se / fp).ln(), ((1.0 - se) / sp).ln())
                })
                .collect();
            // A worker's answer: (P(answer | present), P(answer | absent), its log ratio).
            let likelihoods = |r: usize| {
                let (se, fp, tick, no_tick) = table[answers.response_worker[r] as usize];
                if answers.has(r, label) {
                    (se, fp, tick)
                } else {
                    (1.0 - se, 1.0 - fp, no_tick)
                }
            };
            let evidence: Vec<f64> = (0..n)
                .map(|i| {
                    by_item[offsets[i]..offsets[i + 1]]
                        .iter()
                        .map(|&r| likelihoods(r).2)
                        .sum()
                })
                .collect();
            let prior = logit(fit.label_priors[label] as f64);
            let loo = |tau: f64| -> f64 {
                let mut ll = 0.0;
                for i in (0..n).step_by(stride) {
                    for &r in &by_item[offsets[i]..offsets[i + 1]] {
                        let (p, q, ratio) = likelihoods(r);
                        let others = evidence[i] - ratio;
                        let present = sigmoid(prior + tau * others);
                        ll += (present * p + (1.0 - present) * q).max(1e-300).ln();
                    }
                }
                ll
            };
            let mut best = (f64::NEG_INFINITY, 1.0f32);
            for &tau in &TEMPERATURES {
                let ll = loo(tau as f64);
                if ll > best.0 {
                    best = (ll, tau);
                }
            }
            let tau = best.1 as f64;
            let confidence: Vec<f32> = (0..n)
                .map(|i| {
                    if offsets[i] == offsets[i + 1] {
                        fit.confidence[i * l + label]
                    } else {
                        sigmoid(prior + tau * evidence[i]) as f32
                    }
                })
                .collect();
            (best.1, confidence)
        })
        .collect();
    let mut temperatures = Vec::with_capacity(l);
    for (label, (tau, confidence)) in results.into_iter().enumerate() {
        temperatures.push(tau);
        for (i, c) in confidence.into_iter().enumerate() {
            fit.confidence[i * l + label] = c;
        }
    }
    temperatures
}
