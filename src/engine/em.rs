//! The EM loop, written once for every backend and EM method: start, then
//! E-step / stopping test / M-step. Methods choose the start and the M-step
//! rule; backends run the steps.

use ndarray::Array2;

use crate::engine::backend::{Backend, ConfusionRule, EmSession, ModelParams};
use crate::engine::pack::Packed;
use crate::error::Result;

/// How EM starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start<'a> {
    /// Posteriors from vote shares, then an M-step (crowd-kit's start).
    Votes,
    /// Every worker with this accuracy on a symmetric table, uniform priors
    /// (Ground Truth's start; the first E-step sees uniform item posteriors).
    Symmetric(f32),
    /// Given log class priors and log-confusion tables `[worker][given][true]`
    /// (the spectral start).
    Given {
        /// Log class priors, length K.
        log_priors: &'a [f32],
        /// Log-confusion tables `[worker][given][true]`, row-major.
        log_confusion: &'a [f32],
    },
}

/// The M-step rule of an EM method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MStepRule {
    /// The same rule every iteration.
    Fixed(ConfusionRule),
    /// Ground Truth's modified Dawid-Skene: the all-worker prior accuracy is
    /// `initial_accuracy`, then the mean worker accuracy of the previous
    /// M-step (the only rule that reads that mean back from the device).
    Modified {
        /// The population accuracy before the first M-step.
        initial_accuracy: f32,
    },
}

impl MStepRule {
    /// The population accuracy the modified rule starts from (unused, 0,
    /// for the fixed rules); [`m_step`] updates it.
    pub fn initial_population(self) -> f32 {
        match self {
            MStepRule::Modified { initial_accuracy } => initial_accuracy,
            MStepRule::Fixed(_) => 0.0,
        }
    }
}

/// How long EM runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopping {
    /// Most E-steps.
    pub max_iter: usize,
    /// The tolerance of `test`.
    pub tol: f64,
    /// The stopping test.
    pub test: StopTest,
}

impl Stopping {
    /// At most `max_iter` E-steps, stopping when `|ΔLL| ≤ tol·|LL|`.
    pub fn relative(max_iter: usize, tol: f64) -> Stopping {
        Stopping {
            max_iter,
            tol,
            test: StopTest::RelativeLikelihood,
        }
    }
}

/// When EM stops before `max_iter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopTest {
    /// The marginal log-likelihood's relative change: `|ΔLL| ≤ tol·|LL|`.
    #[default]
    RelativeLikelihood,
    /// crowd-kit's `DawidSkene` test: after each M-step, stop when the
    /// per-annotation objective of [`crowdkit_objective`] rose by less than
    /// `tol` (or fell). That objective counts the class prior once per
    /// annotation rather than once per item, so it can fall while the
    /// likelihood still rises: crowd-kit's DS then stops early (after 2
    /// E-steps on `adult`, 5 on `weather`), and `ds` does the same so as to
    /// fit the model crowd-kit users get. Each iteration's E-step and M-step
    /// then run as one [`EmSession::e_and_m_step`], which sums the objective
    /// on the device: one small read-back per iteration, as for the
    /// likelihood test.
    CrowdKitElbo,
}

/// What an EM run ends with, read back once.
#[derive(Debug, Clone)]
pub struct EmFit {
    /// `[item][class]` posteriors after the last E-step.
    pub posteriors: Array2<f32>,
    /// Class priors and confusion tables after the last M-step.
    pub model: ModelParams,
    /// Log-likelihood after each E-step.
    pub log_likelihood: Vec<f64>,
    /// Whether the stopping test was met before `max_iter`.
    pub converged: bool,
}

/// True when EM has converged: `|ΔLL| ≤ tol·|LL|`.
///
/// Ground Truth's notebook tests `(LL − prevLL)/prevLL < tol`, which is
/// negative (so "converged") whenever LL rises, because LL < 0: it stops after
/// two epochs. accord uses the relative change's absolute value instead.
pub fn converged(previous: f64, current: f64, tol: f64) -> bool {
    (current - previous).abs() <= tol * current.abs()
}

/// Runs EM: start, then E-step / stopping test / M-step until converged or
/// `stopping.max_iter` E-steps.
pub fn run_em(
    data: &Packed,
    backend: &dyn Backend,
    stopping: Stopping,
    start: Start<'_>,
    m_rule: MStepRule,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<EmFit> {
    let mut session = backend.em_session(data)?;
    let shape = (data.n_workers(), data.n_classes());
    let run = run_session(
        session.as_mut(),
        shape,
        data.n_annotations(),
        stopping,
        start,
        m_rule,
        on_iteration,
    )?;
    // crowd-kit's test keeps the posteriors of the last E-step and the
    // tables fitted from them: what the session holds when the loop ends.
    let model = session.read_params()?;
    let posteriors = session.take_posteriors()?;
    Ok(EmFit {
        posteriors,
        model,
        log_likelihood: run.log_likelihood,
        converged: run.converged,
    })
}

/// What [`run_session`] ran: the log-likelihood after each E-step, and
/// whether the stopping test was met before `max_iter`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmRun {
    /// Log-likelihood after each E-step.
    pub log_likelihood: Vec<f64>,
    /// Whether the stopping test was met before `max_iter`.
    pub converged: bool,
}

/// The EM loop over a session, for any place the steps run (a backend's
/// session, or partitions of the items on a cluster: see
/// [`crate::engine::partial`]). `shape` is (workers, classes);
/// `n_annotations` divides crowd-kit's objective (read only under
/// [`StopTest::CrowdKitElbo`], from [`EmSession::e_and_m_step`]). The
/// session holds the result when it returns.
pub fn run_session<S: EmSession + ?Sized>(
    session: &mut S,
    shape: (usize, usize),
    n_annotations: usize,
    stopping: Stopping,
    start: Start<'_>,
    m_rule: MStepRule,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<EmRun> {
    let (n_workers, k) = shape;
    // The population accuracy only matters to (and is only read back for)
    // the modified rule.
    let mut population_accuracy = m_rule.initial_population();
    match start {
        Start::Votes => {
            session.init_posteriors_from_votes()?;
            m_step(session, m_rule, &mut population_accuracy)?;
        }
        Start::Symmetric(accuracy) => session.init_symmetric(accuracy, n_workers, k)?,
        Start::Given {
            log_priors,
            log_confusion,
        } => session.init_params(log_priors, log_confusion)?,
    }
    let mut history = Vec::new();
    let mut converged_flag = false;
    let mut crowdkit_previous = f64::NEG_INFINITY;
    let n_annotations = n_annotations.max(1) as f64;
    for iteration in 1..=stopping.max_iter {
        if stopping.test == StopTest::CrowdKitElbo && iteration < stopping.max_iter {
            // E-step and M-step in one submit, one read-back; the objective
            // is that of the E-step's posteriors under the tables just
            // fitted from them, as crowd-kit evaluates it.
            let (ll, objective) = e_and_m_step(session, m_rule, &mut population_accuracy)?;
            on_iteration(iteration, ll);
            history.push(ll);
            let objective = objective / n_annotations;
            if objective - crowdkit_previous < stopping.tol {
                // crowd-kit keeps these posteriors and the tables just fitted.
                converged_flag = true;
                break;
            }
            crowdkit_previous = objective;
            continue;
        }
        let ll = session.e_step()?;
        on_iteration(iteration, ll);
        let previous = history.last().copied();
        history.push(ll);
        if stopping.test == StopTest::RelativeLikelihood
            && previous.is_some_and(|p| converged(p, ll, stopping.tol))
        {
            converged_flag = true;
            break;
        }
        if iteration == stopping.max_iter {
            break;
        }
        m_step(session, m_rule, &mut population_accuracy)?;
    }
    Ok(EmRun {
        log_likelihood: history,
        converged: converged_flag,
    })
}

/// crowd-kit's `DawidSkene._evidence_lower_bound` per annotation: with item
/// posteriors `q`, class priors `p` and tables `e` (the ones fitted from `q`),
/// `(Σ_annotations Σ_t q(t)·(ln e[t][given] + ln p(t)) + Σ_items H(q)) / n`,
/// probabilities floored at `f64::EPSILON` as crowd-kit clips them.
///
/// The host-side reference, in f64 over every annotation. EM itself gets
/// the objective from [`EmSession::e_and_m_step`], in f32 terms summed
/// exactly: the expected log joint per (worker, true class) from the
/// M-step's soft counts, the entropy per item as `ln s − Σ e·d / s` from
/// the E-step's log-sum-exp (without crowd-kit's clip of `q` at ε, which
/// moves a term by at most `K·ε·36`). The tests hold the two within 1e-5
/// relative.
pub fn crowdkit_objective(data: &Packed, posteriors: &Array2<f32>, model: &ModelParams) -> f64 {
    use rayon::prelude::*;
    let k = data.n_classes();
    let log = |p: f32| (p as f64).max(f64::EPSILON).ln();
    let log_priors: Vec<f64> = model.class_priors[..k].iter().map(|&p| log(p)).collect();
    let log_confusion: Vec<f64> = model
        .confusion
        .as_slice()
        .expect("standard layout")
        .par_iter()
        .map(|&p| log(p))
        .collect();
    let q = posteriors.as_slice().expect("standard layout");
    let total: f64 = (0..data.n_items())
        .into_par_iter()
        .map(|i| {
            let row = &q[i * k..(i + 1) * k];
            let range = data.item_range(i);
            let mut sum = 0.0;
            for (&w, &l) in data.item_worker[range.clone()]
                .iter()
                .zip(&data.item_label[range])
            {
                let table = &log_confusion[w as usize * k * k..(w as usize + 1) * k * k];
                for t in 0..k {
                    sum += row[t] as f64 * (table[t * k + l as usize] + log_priors[t]);
                }
            }
            sum + crowdkit_entropy(row)
        })
        .sum();
    total / data.n_annotations().max(1) as f64
}

/// [`EmSession::e_and_m_step`] under `m_rule`; the modified rule also reads
/// back the new population accuracy into `population`.
pub fn e_and_m_step<S: EmSession + ?Sized>(
    session: &mut S,
    m_rule: MStepRule,
    population: &mut f32,
) -> Result<(f64, f64)> {
    match m_rule {
        MStepRule::Fixed(rule) => session.e_and_m_step(rule),
        MStepRule::Modified { .. } => {
            let out = session.e_and_m_step(ConfusionRule::Modified {
                prior_accuracy: *population,
            })?;
            *population = session.mean_worker_accuracy()?;
            Ok(out)
        }
    }
}

/// One item's term of the entropy in [`crowdkit_objective`]: `H(q)`, with
/// the logarithm's argument floored at `f64::EPSILON` as crowd-kit clips it.
pub fn crowdkit_entropy(row: &[f32]) -> f64 {
    row.iter()
        .map(|&p| -(p as f64).max(f64::EPSILON).ln() * p as f64)
        .sum()
}

/// [`crowdkit_objective`] regrouped by confusion cell, for fits whose
/// posteriors never meet on one machine (see [`crate::engine::partial`]):
/// with `counts` the soft counts `C[worker][true][given] = Σ q(t)` over the
/// worker's annotations with that label, and `entropy` the sum over items of
/// [`crowdkit_entropy`], `(Σ_cells C·(ln e[t][given] + ln p(t)) + entropy) / n`.
/// Equal to the per-annotation sum up to rounding.
pub fn crowdkit_objective_from_counts(
    counts: &[f64],
    entropy: f64,
    n_annotations: usize,
    model: &ModelParams,
) -> f64 {
    let k = model.confusion.dim().1;
    let log = |p: f32| (p as f64).max(f64::EPSILON).ln();
    let log_priors: Vec<f64> = model.class_priors[..k].iter().map(|&p| log(p)).collect();
    let table = model.confusion.as_slice().expect("standard layout");
    let total: f64 = counts
        .iter()
        .zip(table)
        .enumerate()
        .map(|(at, (&c, &e))| {
            let t = (at / k) % k;
            c * (log(e) + log_priors[t])
        })
        .sum();
    (total + entropy) / n_annotations.max(1) as f64
}

/// One M-step under `m_rule`; the modified rule also reads back the new
/// population accuracy into `population` (start it at the rule's
/// `initial_accuracy`).
pub fn m_step<S: EmSession + ?Sized>(
    session: &mut S,
    m_rule: MStepRule,
    population: &mut f32,
) -> Result<()> {
    match m_rule {
        MStepRule::Fixed(rule) => session.m_step(rule),
        MStepRule::Modified { .. } => {
            session.m_step(ConfusionRule::Modified {
                prior_accuracy: *population,
            })?;
            *population = session.mean_worker_accuracy()?;
            Ok(())
        }
    }
}

/// Each row's most probable class (the first on exact ties) and its
/// probability.
pub fn argmax_rows(posteriors: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
    posteriors
        .chunks(k)
        .map(|row| {
            let mut best = 0;
            for (c, &p) in row.iter().enumerate() {
                if p > row[best] {
                    best = c;
                }
            }
            (best as u32, row[best])
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_likelihood_is_not_convergence() {
        // Ground Truth's published test would call this converged.
        assert!(!converged(-100.0, -90.0, 1e-8));
        assert!(converged(-100.0, -100.0 + 1e-7, 1e-8));
    }
}
