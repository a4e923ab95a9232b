//! Classification fits whose items are spread over partitions (a Spark
//! cluster's executors, see python/accord/spark.py): the methods whose
//! arithmetic is the backends' E- and M-steps (`mv`, `ds`, `hds`,
//! `one-coin`, `mds`), run by [`engine::partial`](crate::engine::partial)
//! with each method's own start, M-step rule and stopping test from the
//! method table. The methods that need all the annotations at once on one
//! machine are refused with the reason.

use super::em_fit::fit_start;
use super::methods::mds::round_confidence;
use super::methods::mv::decide_votes;
use super::methods::Method;
use super::{Init, Params};
use crate::engine::backend::{ConfusionRule, ModelParams};
use crate::engine::em::{argmax_rows, MStepRule, Stopping};
use crate::engine::partial::{self, ItemRows, PartialSums, PartitionedSession, Pass};
use crate::error::{Error, Result};
use crate::maths::{name_key, TieBreak};

/// How the last pass labels each partition's items.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelRule {
    /// The posteriors: vote shares or the last E-step's.
    pub pass: Pass,
    /// Majority vote's decision (`Some` for `mv`): ties and seed.
    pub votes: Option<(TieBreak, u64)>,
    /// Confidence rounded to two decimals (`mds`, as Ground Truth reports it).
    pub round_confidence: bool,
}

/// A fit over partitions, as the driver ends it: the tables, the run, and
/// the rule that labels the items where they live.
#[derive(Debug, Clone)]
pub struct PartitionedFit {
    /// The method fitted.
    pub method: Method,
    /// How the items are labelled (a last pass over the partitions).
    pub labels: LabelRule,
    /// Class priors and confusion tables `[worker][true][given]`.
    pub model: ModelParams,
    /// Each worker's expected accuracy under the final posteriors.
    pub worker_accuracy: Vec<f32>,
    /// Log-likelihood after each E-step (empty for `mv`).
    pub log_likelihood: Vec<f64>,
    /// E-steps run (1 for `mv`).
    pub iterations: usize,
    /// Whether the stopping test was met.
    pub converged: bool,
}

/// Checks that `params` can be fitted over partitions; the error says why not.
pub fn check(params: &Params) -> Result<()> {
    params.validate()?;
    match params.method {
        Method::Mv | Method::Ds | Method::Hds | Method::OneCoin | Method::Mds => {}
        Method::Auto => {
            return Err(Error::invalid_param(
                "method",
                "`auto` is chosen on a sample first (see `chooser`): fit the chosen candidate's parameters",
            ))
        }
        other => {
            return Err(Error::invalid_param(
                "method",
                format!(
                    "`{}` runs on one machine only: its steps need all the annotations at once, not sums over partitions of the items",
                    other.name()
                ),
            ))
        }
    }
    if params.init != Init::Votes {
        return Err(Error::invalid_param(
            "init",
            "only `votes` starts a fit over partitions (the spectral start needs all the annotations at once)",
        ));
    }
    if !params.known.is_empty() {
        return Err(Error::invalid_param(
            "known",
            "is not supported when the items are spread over partitions",
        ));
    }
    Ok(())
}

/// Fits `params` over partitions: `worker_annotations` per worker (global
/// worker ids), `k` classes, `run_pass` runs one pass over every partition
/// and returns the summed sums, `on_iteration` after each E-step.
pub fn fit(
    params: &Params,
    worker_annotations: &[u64],
    k: usize,
    run_pass: &mut dyn FnMut(&Pass) -> Result<PartialSums>,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<PartitionedFit> {
    check(params)?;
    let mut session = PartitionedSession::new(worker_annotations, k, run_pass)?;
    let method = params.method;
    if method == Method::Mv {
        use crate::engine::backend::EmSession;
        // The single-machine `mv`: vote shares, worker tables from them.
        session.init_posteriors_from_votes()?;
        session.m_step(ConfusionRule::Full {
            smoothing: params.smoothing,
            prior_correct: 0.0,
        })?;
        return Ok(PartitionedFit {
            method,
            labels: LabelRule {
                pass: Pass::Votes,
                votes: Some((params.ties, params.seed)),
                round_confidence: false,
            },
            model: session.read_params()?,
            worker_accuracy: session.expected_worker_accuracy(),
            log_likelihood: Vec::new(),
            iterations: 1,
            converged: true,
        });
    }
    let rule_of = method.info().em_rule.expect("checked: an EM method");
    let m_rule: MStepRule = rule_of(params);
    let stopping = Stopping {
        max_iter: params.max_iter,
        tol: params.tol,
        test: params.stop_test,
    };
    let (run, mut session) =
        partial::run(session, stopping, fit_start(method), m_rule, on_iteration)?;
    use crate::engine::backend::EmSession;
    let (pass, _) = session.last_pass().expect("EM ran an E-step").clone();
    Ok(PartitionedFit {
        method,
        labels: LabelRule {
            pass,
            votes: None,
            round_confidence: method == Method::Mds,
        },
        model: session.read_params()?,
        worker_accuracy: session.expected_worker_accuracy(),
        iterations: run.log_likelihood.len(),
        log_likelihood: run.log_likelihood,
        converged: run.converged,
    })
}

/// One partition's labels: class ids, confidences and posteriors
/// `[item][class]`, for the items of `rows` named `item_names`.
pub fn label_partition(
    rule: &LabelRule,
    rows: &ItemRows,
    item_names: &[&str],
    k: usize,
) -> (Vec<u32>, Vec<f32>, Vec<f32>) {
    let (posteriors, _) = partial::posteriors(rows, &rule.pass, k);
    let (labels, mut confidence) = match rule.votes {
        Some((ties, seed)) => {
            let counts =
                crate::engine::backend::cpu::mv_counts(&rows.item_offsets, &rows.item_label, k);
            let keys: Vec<u32> = match ties {
                TieBreak::Lowest => Vec::new(),
                TieBreak::Random => item_names.iter().map(|n| name_key(n)).collect(),
            };
            decide_votes(&counts, k, ties, seed, &keys)
        }
        None => argmax_rows(&posteriors, k),
    };
    if rule.round_confidence {
        round_confidence(&mut confidence);
    }
    (labels, confidence, posteriors)
}
