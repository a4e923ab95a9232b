//! The front door for multi-label classification: parameters with the
//! CLI's defaults, a checked fit on the chosen backend (with `auto`'s retry
//! on the CPU), and a result that speaks in item, worker and label names.

use super::answers::{Answers, AnswersBuilder};
use super::decide::Decision;
use super::methods::{fit_em, fit_mv, EmSettings, MultiFit, MultiMethod};
#[cfg(feature = "gpu")]
use crate::engine::backend::gpu::GpuBackend;
use crate::engine::select::{BackendChoice, BackendRequest, Selected};
use crate::error::{Error, Result};

/// The parameters of a multi-label fit, with the CLI's defaults.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MultiParams {
    /// The method (default `hds`).
    pub method: MultiMethod,
    /// Most EM iterations (default 100).
    pub max_iter: usize,
    /// EM stops when `|ΔLL| ≤ tol·|LL|` (default 1e-5).
    pub tol: f64,
    /// Pseudo-count of a correct answer on each diagonal cell of every
    /// label table (default 1).
    pub prior_correct: f32,
    /// `hds`: pseudo-answers per row drawn toward the worker's table pooled
    /// over labels; `None` (the default): chosen by the data (see
    /// [`super::strength`]).
    pub prior_strength: Option<f32>,
    /// How confidences become selected labels (default: threshold 0.5).
    pub decision: Decision,
    /// `ds`, `hds`: temper each label's evidence by the temperature that
    /// best predicts each worker from the others (default true; see
    /// [`super::calibrate`]); false keeps EM's posteriors.
    pub calibrate: bool,
}

impl Default for MultiParams {
    fn default() -> Self {
        MultiParams {
            method: MultiMethod::default(),
            max_iter: 100,
            tol: 1e-5,
            prior_correct: 1.0,
            prior_strength: None,
            decision: Decision::default(),
            calibrate: true,
        }
    }
}

impl MultiParams {
    /// Checks every value's range.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::invalid_param("max_iter", "must be at least 1"));
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return Err(Error::invalid_param("tol", "must be a number ≥ 0"));
        }
        if !self.prior_correct.is_finite() || self.prior_correct < 0.0 {
            return Err(Error::invalid_param(
                "prior_correct",
                "must be a finite number ≥ 0",
            ));
        }
        if self
            .prior_strength
            .is_some_and(|s| !s.is_finite() || s < 0.0)
        {
            return Err(Error::invalid_param(
                "prior_strength",
                "must be a finite number ≥ 0",
            ));
        }
        self.decision.validate()
    }
}

/// Consolidates multi-label answers: a confidence for every (item, label).
///
/// ```
/// use accord::engine::select::BackendChoice;
/// use accord::multilabel::{MultiLabelConsolidator, MultiMethod};
///
/// // Three workers tick the relations they see in two sentences.
/// let answers = MultiLabelConsolidator::answers(
///     None,
///     [
///         ("s1", "ann", &["TREATS"][..]),
///         ("s1", "bob", &["TREATS", "CAUSES"]),
///         ("s1", "cat", &["TREATS"]),
///         ("s2", "ann", &["CAUSES"]),
///         ("s2", "bob", &[]),
///         ("s2", "cat", &["CAUSES"]),
///     ],
/// )
/// .unwrap();
/// let result = MultiLabelConsolidator::new()
///     .method(MultiMethod::Mv)
///     .backend(BackendChoice::Cpu)
///     .fit(answers)
///     .unwrap();
/// let treats = result.label_id("TREATS").unwrap();
/// assert!(result.is_selected(0, treats));
/// assert!((result.confidence(1, treats) - 0.0).abs() < 1e-6);
/// ```
#[derive(Clone, Default)]
pub struct MultiLabelConsolidator {
    params: MultiParams,
    backend: BackendRequest,
}

impl std::fmt::Debug for MultiLabelConsolidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiLabelConsolidator")
            .field("params", &self.params)
            .field("backend", &self.backend.choice)
            .finish()
    }
}

impl MultiLabelConsolidator {
    /// `hds` with its defaults, threshold 0.5, on the `auto` backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from `params` as they are.
    pub fn with_params(params: MultiParams) -> Self {
        MultiLabelConsolidator {
            params,
            backend: BackendRequest::default(),
        }
    }

    /// In-memory answers: `(item, worker, ticked labels)`, one per
    /// response; `categories` fixes the label set and its order.
    pub fn answers<'a>(
        categories: Option<&[String]>,
        responses: impl IntoIterator<Item = (&'a str, &'a str, &'a [&'a str])>,
    ) -> Result<Answers> {
        let mut b = match categories {
            Some(c) => AnswersBuilder::with_categories(c)?,
            None => AnswersBuilder::new(),
        };
        for (n, (item, worker, labels)) in responses.into_iter().enumerate() {
            let bad = |p: String| Error::invalid_param("responses", format!("index {n}: {p}"));
            for l in labels {
                b.check_label(l).map_err(bad)?;
            }
            let (r, kind) = b.response(item, worker, true).map_err(bad)?;
            if kind == super::answers::ResponseKind::Existing {
                b.count_repeated_response();
            }
            for l in labels {
                b.tick(r, l).map_err(bad)?;
            }
        }
        b.finish()
    }

    /// Uses `method`.
    pub fn method(mut self, method: MultiMethod) -> Self {
        self.params.method = method;
        self
    }

    /// The decision rule.
    pub fn decision(mut self, decision: Decision) -> Self {
        self.params.decision = decision;
        self
    }

    /// Where the kernels run.
    pub fn backend(mut self, choice: BackendChoice) -> Self {
        self.backend.choice = choice;
        self
    }

    /// Runs on a GPU backend the caller built.
    #[cfg(feature = "gpu")]
    pub fn gpu(mut self, gpu: GpuBackend) -> Self {
        self.backend.gpu = Some(gpu);
        self
    }

    /// The parameters.
    pub fn params(&self) -> &MultiParams {
        &self.params
    }

    /// Checks the parameters, chooses the backend and fits.
    pub fn fit(&self, answers: Answers) -> Result<MultiLabels> {
        self.params.validate()?;
        self.fit_on(self.backend.select()?, answers, &mut |_, _| {})
    }

    /// Fits on a backend already chosen, calling `on_iteration(iteration,
    /// log-likelihood)` after each E-step.
    pub fn fit_on(
        &self,
        selected: Selected,
        answers: Answers,
        on_iteration: &mut dyn FnMut(usize, f64),
    ) -> Result<MultiLabels> {
        let p = &self.params;
        p.validate()?;
        let (ticks, answered) = answers.counts();
        let (fit, backend, notice, gpu_failure) = if p.method.uses_em() {
            let strength = match (p.method, p.prior_strength) {
                (_, Some(s)) => s,
                (MultiMethod::Hds, None) => {
                    let l = answers.n_labels();
                    let shares: Vec<f32> = ticks
                        .iter()
                        .enumerate()
                        .map(|(at, &t)| t as f32 / answered[at / l].max(1) as f32)
                        .collect();
                    super::strength::choose_strength(&answers, &shares, p.prior_correct)
                }
                _ => f32::NAN,
            };
            let settings = EmSettings {
                max_iter: p.max_iter,
                tol: p.tol,
                prior_correct: p.prior_correct,
                prior_strength: strength,
            };
            let ran = selected
                .run(|backend| fit_em(&answers, p.method, settings, backend, &mut *on_iteration))?;
            let mut fit = ran.value;
            fit.prior_strength = strength;
            if p.calibrate {
                fit.temperature = super::calibrate::temper(&answers, &mut fit);
            }
            (fit, ran.backend, ran.notice, ran.gpu_failure)
        } else {
            (fit_mv(&answers), "host".to_string(), None, None)
        };
        let selected = p
            .decision
            .select(&fit.confidence, answers.n_labels(), &answered);
        Ok(MultiLabels {
            answers,
            params: *p,
            fit,
            selected,
            ticks,
            answered,
            backend,
            backend_notice: notice,
            gpu_failure,
        })
    }
}

/// A multi-label result in names: the answers with the fit.
#[derive(Debug, Clone)]
pub struct MultiLabels {
    /// The answers as read (item, worker and label names).
    pub answers: Answers,
    /// The parameters of the fit.
    pub params: MultiParams,
    /// The fit by dense ids.
    pub fit: MultiFit,
    /// `[item][label]` whether the decision rule selected the label.
    pub selected: Vec<bool>,
    /// `[item][label]` how many workers ticked it.
    pub ticks: Vec<u32>,
    /// `[item]` how many workers answered.
    pub answered: Vec<u32>,
    /// Where the fit ran (`host` for `mv`).
    pub backend: String,
    /// Why `auto` chose the CPU, when it did.
    pub backend_notice: Option<String>,
    /// The GPU error after which `auto` finished on the CPU.
    pub gpu_failure: Option<String>,
}

impl MultiLabels {
    /// The id of label `name`.
    pub fn label_id(&self, name: &str) -> Option<usize> {
        self.answers.labels.iter().position(|l| l == name)
    }

    /// The probability that `label` holds for `item`.
    pub fn confidence(&self, item: usize, label: usize) -> f32 {
        self.fit.confidence[item * self.answers.n_labels() + label]
    }

    /// Whether the decision rule selected `label` for `item`.
    pub fn is_selected(&self, item: usize, label: usize) -> bool {
        self.selected[item * self.answers.n_labels() + label]
    }

    /// How many workers ticked `label` on `item`.
    pub fn ticked(&self, item: usize, label: usize) -> u32 {
        self.ticks[item * self.answers.n_labels() + label]
    }
}
