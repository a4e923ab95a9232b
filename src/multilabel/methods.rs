//! The multi-label methods: `mv` on the host; `ds` and `hds` as a batch of
//! binary Dawid-Skene problems, one per label, through the engine's EM loop
//! on the chosen backend (see [`crate::engine::pack::binary`]).

use crate::engine::backend::{Backend, ConfusionRule};
use crate::engine::em::{run_em, MStepRule, Start, Stopping};
use crate::engine::pack::binary::{pack_binary, PRESENT};
use crate::error::Result;

use super::answers::Answers;

/// A multi-label method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultiMethod {
    /// Per label, the share of the item's workers who ticked it; present
    /// when at least half did.
    Mv,
    /// Per label, Dawid-Skene: each worker a sensitivity and a specificity
    /// per label, the label's own prevalence; EM.
    Ds,
    /// `ds` with each worker's label tables drawn toward that worker's
    /// table pooled over all labels (variational, as classification's
    /// `hds`): a worker who rarely meets a label is still modelled.
    #[default]
    Hds,
}

impl MultiMethod {
    /// Every method, in the order the CLI lists them.
    pub const ALL: [MultiMethod; 3] = [MultiMethod::Hds, MultiMethod::Ds, MultiMethod::Mv];

    /// The method's `--method` name.
    pub fn name(self) -> &'static str {
        match self {
            MultiMethod::Mv => "mv",
            MultiMethod::Ds => "ds",
            MultiMethod::Hds => "hds",
        }
    }

    /// The method called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the method runs EM on the backend.
    pub fn uses_em(self) -> bool {
        self != MultiMethod::Mv
    }
}

/// A fitted multi-label model, by dense ids.
#[derive(Debug, Clone)]
pub struct MultiFit {
    /// `[item][label]` probability that the label holds.
    pub confidence: Vec<f32>,
    /// Per label, its prevalence: the class prior of "present".
    pub label_priors: Vec<f32>,
    /// `[worker][label]` P(ticked | the label holds); NaN for `mv`.
    pub sensitivity: Vec<f32>,
    /// `[worker][label]` P(not ticked | the label does not hold); NaN for `mv`.
    pub specificity: Vec<f32>,
    /// EM iterations (0 for `mv`).
    pub iterations: usize,
    /// Whether EM met its stopping test (true for `mv`).
    pub converged: bool,
    /// Log-likelihood after each E-step.
    pub log_likelihood: Vec<f64>,
    /// Per label, the temperature `τ` of the calibration (1: the plain
    /// posterior; see [`super::calibrate`]); NaN for `mv`.
    pub temperature: Vec<f32>,
    /// `hds`: the strength of the pull toward each worker's pooled table,
    /// given or chosen (see [`super::strength`]); NaN for `mv` and `ds`.
    pub prior_strength: f32,
}

/// What the EM methods need besides the method.
#[derive(Debug, Clone, Copy)]
pub struct EmSettings {
    /// Most E-steps.
    pub max_iter: usize,
    /// Relative log-likelihood change that stops EM.
    pub tol: f64,
    /// Pseudo-count of a correct answer on each diagonal cell.
    pub prior_correct: f32,
    /// `hds`: pseudo-answers per row drawn toward the worker's pooled table.
    pub prior_strength: f32,
}

/// Majority vote per label: the share of the item's workers who ticked it.
pub fn fit_mv(answers: &Answers) -> MultiFit {
    let (ticks, answered) = answers.counts();
    let l = answers.n_labels();
    let confidence: Vec<f32> = ticks
        .iter()
        .enumerate()
        .map(|(at, &t)| match answered[at / l] {
            0 => 0.0,
            n => t as f32 / n as f32,
        })
        .collect();
    let answered_items = answered.iter().filter(|&&n| n > 0).count().max(1);
    let label_priors = (0..l)
        .map(|label| {
            (0..answers.n_items())
                .map(|i| confidence[i * l + label] as f64)
                .sum::<f64>() as f32
                / answered_items as f32
        })
        .collect();
    let nan = vec![f32::NAN; answers.n_workers() * l];
    MultiFit {
        confidence,
        label_priors,
        sensitivity: nan.clone(),
        specificity: nan,
        iterations: 0,
        converged: true,
        log_likelihood: Vec::new(),
        temperature: vec![f32::NAN; l],
        prior_strength: f32::NAN,
    }
}

/// `ds` or `hds`: every label's binary problem in one EM run on `backend`.
pub fn fit_em(
    answers: &Answers,
    method: MultiMethod,
    settings: EmSettings,
    backend: &dyn Backend,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<MultiFit> {
    let data = pack_binary(&answers.responses())?;
    let rule = match method {
        MultiMethod::Hds => ConfusionRule::Hierarchical {
            strength: settings.prior_strength,
            prior_correct: settings.prior_correct,
        },
        _ => ConfusionRule::Full {
            smoothing: 0.0,
            prior_correct: settings.prior_correct,
        },
    };
    let fit = run_em(
        &data,
        backend,
        Stopping::relative(settings.max_iter, settings.tol),
        Start::Votes,
        MStepRule::Fixed(rule),
        on_iteration,
    )?;
    let (n, l, w) = (answers.n_items(), answers.n_labels(), answers.n_workers());
    let present = PRESENT as usize;
    let mut confidence = vec![0f32; n * l];
    for label in 0..l {
        for i in 0..n {
            confidence[i * l + label] = fit.posteriors[[label * n + i, present]];
        }
    }
    let label_priors = (0..l)
        .map(|label| fit.model.class_priors[label * 2 + present])
        .collect();
    let (mut sensitivity, mut specificity) = (vec![0f32; w * l], vec![0f32; w * l]);
    for at in 0..w * l {
        sensitivity[at] = fit.model.confusion[[at, 1, 1]];
        specificity[at] = fit.model.confusion[[at, 0, 0]];
    }
    Ok(MultiFit {
        confidence,
        label_priors,
        sensitivity,
        specificity,
        iterations: fit.log_likelihood.len(),
        converged: fit.converged,
        log_likelihood: fit.log_likelihood,
        temperature: vec![1.0; l],
        prior_strength: settings.prior_strength,
    })
}
