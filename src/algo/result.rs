//! The result of a fit.

use ndarray::{Array2, Array3};

use super::Method;
use crate::backend::ModelParams;
use crate::pack::Packed;

/// One label per item with its confidence, and what the model learnt.
#[derive(Debug, Clone)]
pub struct Consolidation {
    pub method: Method,
    /// Class id per item.
    pub labels: Vec<u32>,
    /// Confidence in the label, in [0, 1].
    pub confidence: Vec<f32>,
    /// `[item][class]` posterior probabilities (vote shares for `mv`).
    pub posteriors: Array2<f32>,
    pub class_priors: Vec<f32>,
    /// `[worker][true][given]` confusion tables.
    pub confusion: Array3<f32>,
    /// Each worker's expected accuracy: the mean posterior probability of the
    /// labels they gave.
    pub worker_accuracy: Vec<f32>,
    /// Log-likelihood after each E-step (empty for `mv`).
    pub log_likelihood: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    /// Where EM began.
    pub start: StartUsed,
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

impl Consolidation {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        data: &Packed,
        method: Method,
        labels: Vec<u32>,
        confidence: Vec<f32>,
        posteriors: Array2<f32>,
        model: ModelParams,
        log_likelihood: Vec<f64>,
        iterations: usize,
        converged: bool,
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
            log_likelihood,
            iterations,
            converged,
            start: StartUsed::Default,
        }
    }
}

fn expected_worker_accuracy(data: &Packed, posteriors: &Array2<f32>) -> Vec<f32> {
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
