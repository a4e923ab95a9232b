//! The front door for classification: a builder of parameters with the
//! CLI's defaults, a checked fit on the chosen backend (with the retry on
//! the CPU that `auto` promises), and a result that speaks in names.

use ndarray::ArrayView2;

use std::sync::Arc;

use super::calibrate::calibrate_fit;
use super::job_model::{takes_worker_prior, Fitted, JobModel};
use super::known::{worker_tally, KnownLabels, KnownReport, KnownTally};
use super::spammer::spammer_scores;
use super::{fit, Consolidation, Init, Method, Params};
#[cfg(feature = "gpu")]
use crate::engine::backend::gpu::GpuBackend;
use crate::engine::pack::{self, AnnotationBuilder, DuplicatePolicy, KnownClasses, Packed};
use crate::engine::select::{BackendChoice, BackendRequest, Selected};
use crate::error::{Error, Result};
use crate::maths::TieBreak;

/// Consolidates classification annotations: one label per item.
///
/// Defaults are the CLI's: the `auto` method, the `auto` backend, every repeated
/// answer kept, the label set learnt from the data.
///
/// ```
/// use accord::classification::{Consolidator, Method};
/// use accord::engine::select::BackendChoice;
///
/// // Two careful workers and a careless one label two images; ids may be
/// // strings or integers.
/// let answers = [
///     ("img1", "ann", "owl"), ("img1", "bob", "owl"), ("img1", "cat", "falcon"),
///     ("img2", "ann", "falcon"), ("img2", "bob", "falcon"), ("img2", "cat", "falcon"),
/// ];
/// let labels = Consolidator::new()
///     .method(Method::Ds)
///     .backend(BackendChoice::Cpu)
///     .fit(answers)
///     .unwrap();
/// assert_eq!(labels.label_of("img1"), Some("owl"));
/// for row in labels.items() {
///     println!("{} {} {:.3}", row.item, row.label, row.confidence);
/// }
/// let ann = labels.workers().find(|w| w.worker == "ann").unwrap();
/// assert!(ann.accuracy > 0.5);
/// ```
#[derive(Clone)]
pub struct Consolidator {
    params: Params,
    backend: BackendRequest,
    duplicates: DuplicatePolicy,
    categories: Option<Vec<String>>,
    known: Option<KnownLabels>,
    drop_spammers: Option<f32>,
    workers_in: Option<Arc<JobModel>>,
}

impl std::fmt::Debug for Consolidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consolidator")
            .field("params", &self.params)
            .field("backend", &self.backend.choice)
            .field("duplicates", &self.duplicates)
            .field("categories", &self.categories)
            .field("known", &self.known.as_ref().map(KnownLabels::len))
            .field("drop_spammers", &self.drop_spammers)
            .field(
                "workers_in",
                &self.workers_in.as_ref().map(|m| m.workers.len()),
            )
            .finish()
    }
}

impl Default for Consolidator {
    fn default() -> Self {
        Self::new()
    }
}

impl Consolidator {
    /// The default method (`auto`) with its defaults, on the `auto` backend.
    pub fn new() -> Self {
        Consolidator {
            params: Params::new(Method::default()),
            backend: BackendRequest::default(),
            duplicates: DuplicatePolicy::Keep,
            categories: None,
            known: None,
            drop_spammers: None,
            workers_in: None,
        }
    }

    /// Starts from `params` as they are (for callers that build [`Params`]
    /// themselves, such as the CLI).
    pub fn with_params(params: Params) -> Self {
        Consolidator {
            params,
            ..Self::new()
        }
    }

    /// Uses `method`, with that method's defaults for the iteration limit,
    /// tolerance and prior (set those after this call to change them).
    pub fn method(mut self, method: Method) -> Self {
        let keep = self.params.clone();
        self.params = Params {
            smoothing: keep.smoothing,
            prior_strength: keep.prior_strength,
            init: keep.init,
            seed: keep.seed,
            ties: keep.ties,
            known: keep.known,
            ..Params::new(method)
        };
        self
    }

    /// Most iterations.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.params.max_iter = max_iter;
        self
    }

    /// Stopping tolerance.
    pub fn tol(mut self, tol: f64) -> Self {
        self.params.tol = tol;
        self
    }

    /// Pseudo-counts of a correct answer per confusion row (`ds`, `hds`).
    pub fn prior_correct(mut self, prior_correct: f32) -> Self {
        self.params.prior_correct = prior_correct;
        self
    }

    /// `hds`'s pseudo-annotations per row toward the population.
    pub fn prior_strength(mut self, prior_strength: f32) -> Self {
        self.params.prior_strength = prior_strength;
        self
    }

    /// Dirichlet smoothing on every soft count (`ds`, `one-coin`).
    pub fn smoothing(mut self, smoothing: f32) -> Self {
        self.params.smoothing = smoothing;
        self
    }

    /// How `ds` and `hds` start.
    pub fn init(mut self, init: Init) -> Self {
        self.params.init = init;
        self
    }

    /// Majority vote's tie rule and the seed of its random draw.
    pub fn ties(mut self, ties: TieBreak, seed: u64) -> Self {
        self.params.ties = ties;
        self.params.seed = seed;
        self
    }

    /// Which backend runs the kernels.
    pub fn backend(mut self, choice: BackendChoice) -> Self {
        self.backend.choice = choice;
        self
    }

    /// Runs on this GPU backend (for instance one built on the caller's own
    /// device with [`GpuBackend::from_device`]).
    #[cfg(feature = "gpu")]
    pub fn gpu(mut self, gpu: GpuBackend) -> Self {
        self.backend.gpu = Some(gpu);
        self.backend.choice = BackendChoice::Gpu;
        self
    }

    /// What to do with repeated (item, worker) answers in [`Consolidator::fit`].
    pub fn duplicates(mut self, policy: DuplicatePolicy) -> Self {
        self.duplicates = policy;
        self
    }

    /// The label set, in this order, for [`Consolidator::fit`]; any other
    /// label is an error. Without it the labels found are used, sorted.
    pub fn categories(mut self, categories: Vec<String>) -> Self {
        self.categories = Some(categories);
        self
    }

    /// What the labels' confidence reports: calibrated (the default) or the
    /// method's raw posterior (see [`calibrate`](super::calibrate)).
    pub fn confidence(mut self, confidence: super::Confidence) -> Self {
        self.params.confidence = confidence;
        self
    }

    /// Items whose label is known (control tasks): every EM method clamps
    /// their posteriors to the known class after its start and each E-step,
    /// so worker models learn from them, and every method outputs the known
    /// label with confidence 1. Items not in the data are listed in
    /// [`Labels::known`] and ignored; a label outside the classes is an error.
    pub fn known(mut self, known: KnownLabels) -> Self {
        self.known = Some(known);
        self
    }

    /// Fits, then drops the workers whose spammer score (see
    /// [`spammer`](super::spammer): 1 = answers independent of the truth,
    /// 0 = perfect) is at least `threshold`, and fits again with the same
    /// method on the others' answers. Items that only dropped workers
    /// answered keep the first fit's label (listed in
    /// [`SpammerDrop::orphaned`]). `threshold` is in [0, 1].
    pub fn drop_spammers(mut self, threshold: f32) -> Self {
        self.drop_spammers = Some(threshold);
        self
    }

    /// Starts from an earlier job's worker model (see
    /// [`job_model`](super::job_model)): every EM method starts from its
    /// tables (new workers from its population table) and adds each known
    /// worker's past counts to every M-step, a Dirichlet prior weighted by
    /// their past answers. `auto` fits its EM candidates that way, in its
    /// choice and in the final fit (so the held-out likelihood of this job's
    /// answers still picks the model); `ds`, `hds`, `one-coin` and `mds`
    /// take it as named; any other method is refused.
    /// The classes must be the model's: [`Consolidator::fit`] uses them as
    /// the label set unless [`Consolidator::categories`] is given.
    pub fn workers_in(mut self, model: JobModel) -> Self {
        self.workers_in = Some(Arc::new(model));
        self
    }

    /// The parameters a fit will use.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Consolidates `(item, worker, label)` answers held in memory. Ids and
    /// labels may be anything printable (strings, integers).
    pub fn fit<I, W, L>(&self, answers: impl IntoIterator<Item = (I, W, L)>) -> Result<Labels>
    where
        I: std::fmt::Display,
        W: std::fmt::Display,
        L: std::fmt::Display,
    {
        self.params.validate()?;
        let model_classes = self.workers_in.as_ref().map(|m| &m.classes);
        let mut builder = match self.categories.as_ref().or(model_classes) {
            Some(c) => AnnotationBuilder::with_categories(c)?,
            None => AnnotationBuilder::new(),
        };
        let (mut item, mut worker, mut label) = (String::new(), String::new(), String::new());
        for (n, (i, w, l)) in answers.into_iter().enumerate() {
            use std::fmt::Write;
            item.clear();
            worker.clear();
            label.clear();
            let _ = (
                write!(item, "{i}"),
                write!(worker, "{w}"),
                write!(label, "{l}"),
            );
            builder.push(&item, &worker, &label).map_err(|problem| {
                Error::invalid_param(
                    "answers",
                    format!("has a bad answer at index {n}: {problem}"),
                )
            })?;
        }
        let data = pack::pack(builder.finish(), self.duplicates)?;
        self.fit_packed(data)
    }

    /// Consolidates annotations already packed (by a reader and
    /// [`pack::pack`]).
    pub fn fit_packed(&self, data: Packed) -> Result<Labels> {
        self.fit_packed_with(data, &mut |_, _| {})
    }

    /// As [`Consolidator::fit_packed`], calling `on_iteration` after each
    /// iteration with its number and objective (EM's log-likelihood).
    pub fn fit_packed_with(
        &self,
        data: Packed,
        on_iteration: &mut dyn FnMut(usize, f64),
    ) -> Result<Labels> {
        self.fit_packed_on(self.backend.select()?, data, on_iteration)
    }

    /// As [`Consolidator::fit_packed_with`], on a backend the caller
    /// selected beforehand (with [`select`](crate::engine::select::select), say, to report its choice
    /// before reading the input); the consolidator's own backend choice is
    /// not used.
    pub fn fit_packed_on(
        &self,
        selected: Selected,
        data: Packed,
        on_iteration: &mut dyn FnMut(usize, f64),
    ) -> Result<Labels> {
        self.params.validate()?;
        if let Some(t) = self.drop_spammers {
            if !(t.is_finite() && (0.0..=1.0).contains(&t)) {
                return Err(Error::invalid_param(
                    "drop_spammers",
                    format!("must be a spammer score in [0, 1], not {t}"),
                ));
            }
        }
        let mut params = self.params.clone();
        let resumed = match &self.workers_in {
            Some(model) => Some(resume_params(&mut params, model, &data)?),
            None => None,
        };
        let known_report = match &self.known {
            Some(known) => {
                let (classes, report) = known.resolve(&data)?;
                params.known = classes;
                Some(report)
            }
            None => None,
        };
        let ran = selected.run(|backend| {
            let mut first = fit(&data, backend, &params, on_iteration)?;
            // Calibrated on the answers each fit read; items only dropped
            // workers answered keep the first fit's calibrated values.
            calibrate_fit(&data, &params, &mut first)?;
            match self.drop_spammers {
                None => Ok((first, None)),
                Some(threshold) => {
                    let (mut second, drop) = refit_without_spammers(
                        &data,
                        backend,
                        &params,
                        first,
                        threshold,
                        on_iteration,
                    )?;
                    if let Some(drop) = drop.as_ref().filter(|d| d.n_dropped() > 0) {
                        let kept = data.without_workers(&drop.dropped);
                        second.calibration = None;
                        let refit = without_prior_of(&params, &drop.dropped);
                        calibrate_fit(&kept, &refit, &mut second)?;
                    }
                    Ok((second, drop))
                }
            }
        })?;
        let (fit, spammers) = ran.value;
        Ok(Labels {
            fitted: Fitted::of_fit(&params, &fit),
            workers_in: self.workers_in.clone(),
            resumed,
            // Host-side methods ran on the host whatever the backend.
            backend: fit.ran_on.clone(),
            data,
            fit,
            backend_notice: ran.notice,
            gpu_failure: ran.gpu_failure,
            known_classes: params.known,
            known: known_report,
            spammers,
        })
    }
}

/// How a fit resumed from an earlier job's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    /// The method asked for.
    pub method: Method,
    /// The data's workers the model knew.
    pub known_workers: usize,
    /// The data's workers it did not (they start from its population table).
    pub new_workers: usize,
}

/// Sets `params` to resume from `model` on `data`: its prior and start.
fn resume_params(params: &mut Params, model: &JobModel, data: &Packed) -> Result<Resumed> {
    if params.init != Init::Votes {
        return Err(Error::invalid_param(
            "init",
            "does not apply with `workers_in`: EM starts from the model's tables",
        ));
    }
    if params.method != Method::Auto && !takes_worker_prior(params.method) {
        return Err(Error::invalid_param(
            "workers_in",
            format!(
                "needs an EM method (ds, hds, one-coin, mds, or auto): {} does not fit confusion tables by EM",
                params.method.name()
            ),
        ));
    }
    params.resume = Arc::new(model.resume(data)?);
    let known_workers = params.resume.known_workers;
    Ok(Resumed {
        method: params.method,
        known_workers,
        new_workers: data.n_workers() - known_workers,
    })
}

/// What `drop_spammers` did.
#[derive(Debug, Clone, PartialEq)]
pub struct SpammerDrop {
    /// The threshold: workers scoring at least this were dropped.
    pub threshold: f32,
    /// Per worker, whether they were dropped.
    pub dropped: Vec<bool>,
    /// Items that only dropped workers answered: they keep the first fit's
    /// label, confidence and posteriors.
    pub orphaned: Vec<u32>,
    /// Iterations of the first fit (the refit's are in [`Labels::fit`]).
    pub first_iterations: usize,
}

impl SpammerDrop {
    /// How many workers were dropped.
    pub fn n_dropped(&self) -> usize {
        self.dropped.iter().filter(|&&d| d).count()
    }
}

/// The second fit of `drop_spammers`: workers with annotations whose score
/// in `first` is at least `threshold` are dropped, and `params.method` fits
/// the rest. The result speaks of every worker and item of `data`: dropped
/// workers keep the first fit's confusion table (so their reported score is
/// the one that dropped them), items only they answered keep the first
/// fit's output, and worker accuracies are against the final posteriors
/// over all of `data`'s answers.
/// `params` with the dropped workers' past counts taken out of an earlier
/// job's prior: a dropped worker has no answers left, and their record
/// must not reach `hds`'s population table or the rules' answer counts.
fn without_prior_of(params: &Params, dropped: &[bool]) -> Params {
    let mut out = params.clone();
    if params.resume.is_empty() {
        return out;
    }
    let mut resume = (*params.resume).clone();
    let cells = resume.prior.counts.len() / dropped.len().max(1);
    for (w, cells) in resume.prior.counts.chunks_mut(cells.max(1)).enumerate() {
        if dropped.get(w).copied().unwrap_or(false) {
            cells.iter_mut().for_each(|c| *c = 0.0);
        }
    }
    out.resume = Arc::new(resume);
    out
}

fn refit_without_spammers(
    data: &Packed,
    backend: &dyn crate::engine::backend::Backend,
    params: &Params,
    first: Consolidation,
    threshold: f32,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<(Consolidation, Option<SpammerDrop>)> {
    let scores = spammer_scores(&first);
    let dropped: Vec<bool> = (0..data.n_workers())
        .map(|w| !data.worker_range(w).is_empty() && scores[w] >= threshold)
        .collect();
    let answering = (0..data.n_workers())
        .filter(|&w| !data.worker_range(w).is_empty())
        .count();
    let n_dropped = dropped.iter().filter(|&&d| d).count();
    let first_iterations = first.iterations;
    if n_dropped == 0 {
        let drop = SpammerDrop {
            threshold,
            dropped,
            orphaned: Vec::new(),
            first_iterations,
        };
        return Ok((first, Some(drop)));
    }
    if n_dropped == answering {
        return Err(Error::invalid_param(
            "drop_spammers",
            format!(
                "would drop every worker (lowest spammer score {:.3} ≥ {threshold}): raise it",
                scores.iter().copied().fold(f32::INFINITY, f32::min)
            ),
        ));
    }
    let kept = data.without_workers(&dropped);
    let mut second = fit(
        &kept,
        backend,
        &without_prior_of(params, &dropped),
        on_iteration,
    )?;
    let orphaned: Vec<u32> = (0..data.n_items())
        .filter(|&i| !data.item_range(i).is_empty() && kept.item_range(i).is_empty())
        .map(|i| i as u32)
        .collect();
    for &i in &orphaned {
        let i = i as usize;
        second.labels[i] = first.labels[i];
        second.confidence[i] = first.confidence[i];
        second
            .posteriors
            .row_mut(i)
            .assign(&first.posteriors.row(i));
    }
    for (w, _) in dropped.iter().enumerate().filter(|(_, &d)| d) {
        second
            .confusion
            .index_axis_mut(ndarray::Axis(0), w)
            .assign(&first.confusion.index_axis(ndarray::Axis(0), w));
    }
    second.worker_accuracy = super::result::expected_worker_accuracy(data, &second.posteriors);
    let drop = SpammerDrop {
        threshold,
        dropped,
        orphaned,
        first_iterations,
    };
    Ok((second, Some(drop)))
}

/// A classification result that speaks in names: the packed input (item,
/// worker and class names) with the fit.
#[derive(Debug, Clone)]
pub struct Labels {
    /// The annotations as packed: names and CSR tensors.
    pub data: Packed,
    /// The fit, by dense ids.
    pub fit: Consolidation,
    /// Where the fit ran: the backend it finished on (`cpu (2 threads)`, a
    /// GPU adapter), or `host` for the host-side methods.
    pub backend: String,
    /// Why `auto` chose the CPU, when it did.
    pub backend_notice: Option<String>,
    /// The GPU error after which `auto` finished the fit on the CPU.
    pub gpu_failure: Option<String>,
    /// The known items the fit clamped, by dense id (empty without `known`).
    pub known_classes: KnownClasses,
    /// How the known labels lined up with the data (`None` without `known`).
    pub known: Option<KnownReport>,
    /// What `drop_spammers` did (`None` without it).
    pub spammers: Option<SpammerDrop>,
    /// The EM model the tables come from (for `auto`, the one it chose).
    pub fitted: Fitted,
    /// The model the fit started from (`None` without `workers_in`).
    pub workers_in: Option<Arc<JobModel>>,
    /// How it resumed from it (`None` without `workers_in`).
    pub resumed: Option<Resumed>,
}

/// One item's consolidated label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemLabel<'a> {
    /// The item's id.
    pub item: &'a str,
    /// The label's name.
    pub label: &'a str,
    /// Confidence in the label, in [0, 1].
    pub confidence: f32,
    /// Posterior probability of each class, in [`Labels::classes`] order.
    pub posteriors: &'a [f32],
}

/// What the model learnt about one worker.
#[derive(Debug, Clone)]
pub struct WorkerModel<'a> {
    /// The worker's id.
    pub worker: &'a str,
    /// Annotations the model used.
    pub annotations: usize,
    /// Expected accuracy: the mean posterior probability of the labels given.
    pub accuracy: f32,
    /// Confusion table `[true][given]`, rows summing to 1.
    pub confusion: ArrayView2<'a, f32>,
    /// Spammer score of that table (see [`spammer`](super::spammer)): 1
    /// when the answers are independent of the truth, 0 for a perfect worker.
    pub spammer_score: f32,
    /// Whether `drop_spammers` dropped this worker (their table is then the
    /// first fit's).
    pub dropped: bool,
    /// The worker's answers on the known items (`None` without `known`).
    pub known: Option<KnownTally>,
}

impl Labels {
    /// Class names, in class-id order.
    pub fn classes(&self) -> &[String] {
        &self.data.class_names
    }

    /// Every item's label, in the order items first appeared.
    pub fn items(&self) -> impl ExactSizeIterator<Item = ItemLabel<'_>> + '_ {
        (0..self.data.n_items()).map(move |i| self.item(i))
    }

    /// The label of the item with id `item`, if it was in the input.
    pub fn label_of(&self, item: &str) -> Option<&str> {
        self.items()
            .find(|row| row.item == item)
            .map(|row| row.label)
    }

    /// Every worker's model, in the order workers first appeared.
    pub fn workers(&self) -> impl ExactSizeIterator<Item = WorkerModel<'_>> + '_ {
        let scores = spammer_scores(&self.fit);
        let tally = self.known_tally();
        (0..self.data.n_workers()).map(move |w| WorkerModel {
            worker: self.data.worker_names.get(w),
            annotations: self.data.worker_range(w).len(),
            accuracy: self.fit.worker_accuracy[w],
            confusion: self.fit.confusion.index_axis(ndarray::Axis(0), w),
            spammer_score: scores[w],
            dropped: self.spammers.as_ref().is_some_and(|s| s.dropped[w]),
            known: tally.as_ref().map(|t| t[w]),
        })
    }

    /// The worker model this job leaves for the next (see
    /// [`job_model`](super::job_model)): its workers, and those of the model
    /// it started from that it did not see. Needs the annotations: call it
    /// before [`Packed::release_annotations`].
    pub fn job_model(&self) -> JobModel {
        JobModel::from_fit(
            &self.data,
            &self.fit,
            self.fitted.clone(),
            self.workers_in.as_deref(),
        )
    }

    /// Each worker's answers on the known items (`None` without `known`).
    pub fn known_tally(&self) -> Option<Vec<KnownTally>> {
        self.known
            .as_ref()
            .map(|_| worker_tally(&self.data, &self.known_classes))
    }

    fn item(&self, i: usize) -> ItemLabel<'_> {
        let posteriors = self
            .fit
            .posteriors
            .row(i)
            .to_slice()
            .expect("posteriors are row-major");
        ItemLabel {
            item: self.data.item_names.get(i),
            label: &self.data.class_names[self.fit.labels[i] as usize],
            confidence: self.fit.confidence[i],
            posteriors,
        }
    }
}
