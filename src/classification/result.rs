//! The result of a fit.

use ndarray::{Array2, Array3};

use super::Method;
use crate::engine::backend::ModelParams;
use crate::engine::pack::Packed;

/// One label per item with its confidence, and what the model learnt.
#[derive(Debug, Clone)]
pub struct Consolidation {
    /// The method that produced it.
    pub method: Method,
    /// Class id per item.
    pub labels: Vec<u32>,
    /// Confidence in the label, in [0, 1].
    pub confidence: Vec<f32>,
    /// `[item][class]` posterior probabilities (vote shares for `mv`).
    pub posteriors: Array2<f32>,
    /// The class priors the model ended with.
    pub class_priors: Vec<f32>,
    /// `[worker][true][given]` confusion tables.
    pub confusion: Array3<f32>,
    /// Each worker's expected accuracy: the mean posterior probability of the
    /// labels they gave.
    pub worker_accuracy: Vec<f32>,
    /// The method's own weight of each worker's vote, where it has one
    /// (`wawa`, `zbs`, `mmsr`: crowd-kit's `skills_`); `None` for the others.
    pub worker_skill: Option<Vec<f64>>,
    /// Log-likelihood after each E-step (empty for `mv`).
    pub log_likelihood: Vec<f64>,
    /// Iterations (E-steps, or a host method's rounds) actually run.
    pub iterations: usize,
    /// Whether the method's stopping test was met before its last allowed
    /// iteration; always false for methods without one (see
    /// [`Consolidation::has_stopping_test`]).
    pub converged: bool,
    /// Whether the method has a stopping test at all; those without one
    /// (`mace`, `kos`, `zbs`) run their rounds.
    pub has_stopping_test: bool,
    /// Where the arithmetic ran: the backend's name, or `host` for the
    /// host-side methods.
    pub ran_on: String,
    /// Where EM began.
    pub start: StartUsed,
    /// For `auto`: the candidates' held-out scores and the one chosen.
    pub choice: Option<crate::classification::chooser::Choice>,
    /// The map that calibrated the confidences and posteriors (`None`: they
    /// are the method's own; see [`calibrate`](crate::classification::calibrate)).
    pub calibration: Option<crate::classification::calibrate::Calibration>,
    /// Parameters only the method has (GLAD's abilities and difficulties,
    /// MACE's spamming and spam distributions); `None` for the others.
    pub method_state: Option<MethodState>,
}

/// A method's own parameters beyond the confusion tables, as crowd-kit
/// names them.
#[derive(Debug, Clone, PartialEq)]
pub enum MethodState {
    /// GLAD: `P(worker w is right on item i) = σ(alpha[w]·exp(beta[i]))`.
    Glad {
        /// Each worker's ability, in worker-id order (crowd-kit's `alphas_`).
        alpha: Vec<f64>,
        /// Each item's log-easiness, in item-id order (crowd-kit's `betas_`).
        beta: Vec<f64>,
    },
    /// MACE: each answer is knowledge (the true label) or spam (a draw from
    /// the worker's own spam distribution).
    Mace {
        /// `[worker][spamming, knowing]` (crowd-kit's `spamming_`).
        spamming: Vec<f64>,
        /// `[worker][class]` spam distribution, classes in class-id order
        /// (crowd-kit's `thetas_` has them in first-seen order).
        theta: Vec<f64>,
    },
}

/// Where an EM fit began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartUsed {
    /// Majority vote (or a method's own start), as asked.
    Default,
    /// The spectral method's tables.
    Spectral,
    /// Majority vote: the spectral start ended with a lower log-likelihood.
    VotesBetter,
    /// Majority vote: the spectral start could not run on this data.
    SpectralUnavailable,
}

/// How a fit ran: iterations, convergence, objective history.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Iterations (or rounds) run.
    pub iterations: usize,
    /// Whether the stopping test was met.
    pub converged: bool,
    /// Whether the method has a stopping test.
    pub has_stopping_test: bool,
    /// Log-likelihood after each E-step (EM methods only).
    pub log_likelihood: Vec<f64>,
}

impl Run {
    /// A method that does not iterate (one pass).
    pub fn single_pass() -> Self {
        Run {
            iterations: 1,
            converged: true,
            has_stopping_test: true,
            log_likelihood: Vec::new(),
        }
    }

    /// `rounds` of a method without a stopping test.
    pub fn fixed_rounds(rounds: usize) -> Self {
        Run {
            iterations: rounds,
            converged: false,
            has_stopping_test: false,
            log_likelihood: Vec::new(),
        }
    }

    /// `rounds` of a method with a stopping test, met or not.
    pub fn rounds(rounds: usize, converged: bool) -> Self {
        Run {
            iterations: rounds,
            converged,
            has_stopping_test: true,
            log_likelihood: Vec::new(),
        }
    }
}

impl Consolidation {
    pub(crate) fn new(
        data: &Packed,
        method: Method,
        labels: Vec<u32>,
        confidence: Vec<f32>,
        posteriors: Array2<f32>,
        model: ModelParams,
        run: Run,
    ) -> Self {
        let worker_accuracy = expected_worker_accuracy(data, &posteriors);
        Consolidation {
            method,
            labels,
            confidence,
            posteriors,
            class_priors: model.class_priors,
            confusion: model.confusion,
            worker_accuracy,
            worker_skill: None,
            log_likelihood: run.log_likelihood,
            iterations: run.iterations,
            converged: run.converged,
            has_stopping_test: run.has_stopping_test,
            ran_on: String::new(),
            start: StartUsed::Default,
            choice: None,
            calibration: None,
            method_state: None,
        }
    }
}

pub(crate) fn expected_worker_accuracy(data: &Packed, posteriors: &Array2<f32>) -> Vec<f32> {
    use rayon::prelude::*;
    (0..data.n_workers())
        .into_par_iter()
        .map(|w| {
            let range = data.worker_range(w);
            let n = range.len();
            let sum: f64 = data.worker_item[range.clone()]
                .iter()
                .zip(&data.worker_label[range])
                .map(|(&i, &l)| posteriors[[i as usize, l as usize]] as f64)
                .sum();
            if n == 0 {
                0.0
            } else {
                (sum / n as f64) as f32
            }
        })
        .collect()
}
