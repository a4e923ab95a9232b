//! MACE (Hovy et al. 2013, "Learning Whom to Trust"): each worker either
//! knows the answer or spams, picking a label from their own spam
//! distribution θ. Fitted by variational Bayes as crowd-kit does: Beta(0.5,
//! 0.5) prior on spamming, Dirichlet(10) on θ, starts drawn from numpy seed
//! 0, one E-step then 50 rounds of M- and E-step. (crowd-kit's 10 restarts
//! all start from the same seed, so they are one run.)
//!
//! Compatibility: crowd-kit 1.4.2 indexes workers and labels in the order
//! they first appear, but its M-step builds the spam counts with a pandas
//! `groupby`, which sorts workers and labels by name, and reads them back
//! by position: worker r's spam distribution is learnt from the answers of
//! the r-th worker by name. accord does the same, so that `mace` gives
//! crowd-kit's labels; on the shared sets the pairing as the paper has it
//! measured worse on product (0.816 against 0.929) and better on four
//! others (see the README).

use super::{Method, MethodInfo, RunsOn};
use crate::classification::numpy_random::NumpyRandom;
use crate::classification::result::Run;
use crate::classification::skill_vote::{self, host_consolidation};
use crate::classification::{Consolidation, MethodState, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::Result;
use crate::maths::{digamma, softmax_into};

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Mace,
    name: "mace",
    summary: "MACE: each worker knows the answer or spams, fitted by variational Bayes",
    runs_on: RunsOn::Host,
    // crowd-kit's 50 rounds; MACE has no stopping test.
    max_iter: Some(50),
    tol: None,
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: None,
    fit,
};

fn fit(
    data: &Packed,
    _backend: &dyn Backend,
    params: &Params,
    _on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let (posteriors, model) = mace(data, params.max_iter, &params.known);
    let votes = skill_vote::from_posteriors(data, &posteriors);
    let mut fit = host_consolidation(data, params, votes, Run::fixed_rounds(params.max_iter));
    let k = data.n_classes();
    // θ is held by label code (first-seen rank); the library speaks class ids.
    let codes = &data.class_first_seen;
    let theta = model
        .theta
        .chunks(k)
        .flat_map(|row| codes.iter().map(move |&code| row[code as usize]))
        .collect();
    fit.method_state = Some(MethodState::Mace {
        spamming: model.strategy,
        theta,
    });
    Ok(fit)
}

// crowd-kit's priors.
const SPAM_PRIOR: [f64; 2] = [0.5, 0.5];
const THETA_PRIOR: f64 = 10.0;

/// `exp(ψ(c + prior)) / exp(ψ(Σ(c + prior)))` per entry of a row.
fn variational_normalise(counts: &mut [f64], prior: &[f64]) {
    let total: f64 = counts.iter().zip(prior).map(|(c, p)| c + p).sum();
    let norm = digamma(total).exp();
    for (c, p) in counts.iter_mut().zip(prior) {
        *c = digamma(*c + p).exp() / norm;
    }
}

/// Rows of `width` draws from U(1, 2.5), each row normalised.
fn random_rows(rows: usize, width: usize) -> Vec<f64> {
    let mut rng = NumpyRandom::new(0);
    let mut values: Vec<f64> = (0..rows * width).map(|_| rng.uniform(1.0, 2.5)).collect();
    for row in values.chunks_mut(width) {
        let sum: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= sum);
    }
    values
}

struct Model {
    /// `[worker][spam, know]`.
    strategy: Vec<f64>,
    /// `[worker][label code]`: the spam distribution, labels in the order
    /// they first appear.
    theta: Vec<f64>,
}

/// crowd-kit's orders: the code of each class (first-seen rank), and the
/// workers and classes sorted by name (its M-step's row and column order).
struct Orders {
    label_code: Vec<usize>,
    workers_by_name: Vec<usize>,
    classes_by_name: Vec<usize>,
}

impl Orders {
    fn new(data: &Packed) -> Self {
        let mut workers_by_name: Vec<usize> = (0..data.n_workers()).collect();
        workers_by_name.sort_by(|&a, &b| data.worker_names.get(a).cmp(data.worker_names.get(b)));
        let mut classes_by_name: Vec<usize> = (0..data.n_classes()).collect();
        classes_by_name.sort_by(|&a, &b| data.class_names[a].cmp(&data.class_names[b]));
        Orders {
            label_code: data.class_first_seen.iter().map(|&c| c as usize).collect(),
            workers_by_name,
            classes_by_name,
        }
    }

    /// The spam counts `[worker][class]` laid out as crowd-kit's M-step
    /// reads them: row r, column c from the r-th worker and the c-th class
    /// by name.
    fn theta_counts(&self, counts: &[f64], k: usize) -> Vec<f64> {
        let mut out = vec![0f64; counts.len()];
        for (r, &w) in self.workers_by_name.iter().enumerate() {
            for (c, &l) in self.classes_by_name.iter().enumerate() {
                out[r * k + c] = counts[w * k + l];
            }
        }
        out
    }
}

/// Posteriors `[item][class]` and expected counts for the next M-step.
struct Expectation {
    posteriors: Vec<f64>,
    strategy_counts: Vec<f64>,
    theta_counts: Vec<f64>,
}

fn e_step(data: &Packed, model: &Model, orders: &Orders, known: &KnownClasses) -> Expectation {
    let k = data.n_classes();
    let (n_items, n_workers) = (data.n_items(), data.n_workers());
    let mut posteriors = vec![1.0 / k as f64; n_items * k];
    let mut strategy_counts = vec![0f64; n_workers * 2];
    let mut theta_counts = vec![0f64; n_workers * k];
    let mut log = vec![0f64; k];
    for i in 0..n_items {
        let range = data.item_range(i);
        if range.is_empty() {
            continue;
        }
        log.fill(0.0);
        for a in range.clone() {
            let (w, l) = (data.item_worker[a] as usize, data.item_label[a] as usize);
            let spam = model.strategy[2 * w] * model.theta[w * k + orders.label_code[l]];
            let know = model.strategy[2 * w + 1];
            for (c, lp) in log.iter_mut().enumerate() {
                *lp += (spam + if c == l { know } else { 0.0 }).ln();
            }
        }
        let post = &mut posteriors[i * k..(i + 1) * k];
        softmax_into(&log, post);
        // A known item's truth is given: its answers are spam or knowledge
        // by that class.
        if let Some(y) = known.class_of(i as u32) {
            for (c, p) in post.iter_mut().enumerate() {
                *p = if c == y as usize { 1.0 } else { 0.0 };
            }
        }
        for a in range {
            let (w, l) = (data.item_worker[a] as usize, data.item_label[a] as usize);
            let spam = model.strategy[2 * w] * model.theta[w * k + orders.label_code[l]];
            let know = model.strategy[2 * w + 1];
            // P(spammed | answer): the truth was l and the worker spammed
            // anyway, or the truth was another class.
            let spammed = post[l] * spam / (spam + know) + (1.0 - post[l]);
            let knew = post[l] * know / (spam + know);
            strategy_counts[2 * w] += spammed;
            strategy_counts[2 * w + 1] += knew;
            theta_counts[w * k + l] += spammed;
        }
    }
    Expectation {
        posteriors,
        strategy_counts,
        theta_counts,
    }
}

/// MACE's posteriors `[item][class]` (row-major) after `rounds` rounds,
/// and the model they are the E-step of, the `known` items clamped to
/// their class in every E-step (so spamming and spam distributions are
/// learnt from them).
fn mace(data: &Packed, rounds: usize, known: &KnownClasses) -> (Vec<f64>, Model) {
    let k = data.n_classes();
    let n_workers = data.n_workers();
    let mut model = Model {
        strategy: random_rows(n_workers, 2),
        theta: random_rows(n_workers, k),
    };
    let orders = Orders::new(data);
    let mut expectation = e_step(data, &model, &orders, known);
    let theta_prior = vec![THETA_PRIOR; k];
    for _ in 0..rounds {
        model.strategy = expectation.strategy_counts.clone();
        for row in model.strategy.chunks_mut(2) {
            variational_normalise(row, &SPAM_PRIOR);
        }
        model.theta = orders.theta_counts(&expectation.theta_counts, k);
        for row in model.theta.chunks_mut(k) {
            variational_normalise(row, &theta_prior);
        }
        expectation = e_step(data, &model, &orders, known);
    }
    (expectation.posteriors, model)
}
