//! accord's Python extension: one fit over the library's front door
//! (`accord::classification::Consolidator`), fed by the Arrow C stream
//! interface and answering with flat buffers that the pure-Python layer
//! (`python/accord/`) turns into pandas objects. No algorithm lives here.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use accord::classification::{
    skill_vote, Confidence, Consolidator, Init, JobModel, Labels, Method, MethodState, METHODS,
};
use accord::engine::pack::{DuplicatePolicy, Names};
use accord::engine::select::BackendChoice;
use accord::maths::TieBreak;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict};

mod arrow_in;
mod spark;

/// How often a fit looks for a pending signal (Ctrl-C): often enough to feel
/// immediate, rarely enough that taking the GIL costs nothing.
const SIGNAL_CHECK_EVERY: Duration = Duration::from_millis(50);

/// What unwinds a fit when Python reports a signal between iterations: the
/// error `check_signals` gave (a `KeyboardInterrupt`, usually).
struct Interrupted(PyErr);

/// The fit's options, as the Python layer passes them (library names).
struct Options {
    method: Method,
    backend: BackendChoice,
    max_iter: Option<usize>,
    tol: Option<f64>,
    prior_correct: Option<f32>,
    prior_strength: Option<f32>,
    smoothing: Option<f32>,
    init: Init,
    ties: TieBreak,
    seed: u64,
    duplicates: DuplicatePolicy,
    categories: Option<Vec<String>>,
    /// `None`: crowd-kit's classes give the model's posterior, `Accord` its
    /// calibrated confidence.
    confidence: Option<Confidence>,
}

impl Options {
    fn consolidator(&self) -> Consolidator {
        let mut c = Consolidator::new()
            .method(self.method)
            .backend(self.backend)
            .duplicates(self.duplicates)
            .init(self.init)
            .ties(self.ties, self.seed);
        // crowd-kit's classes give the model's posterior (`probas_`);
        // `Accord`, the library's default, its calibrated confidence.
        let confidence = self.confidence.unwrap_or(if self.method == Method::Auto {
            Confidence::Calibrated
        } else {
            Confidence::Raw
        });
        c = c.confidence(confidence);
        if let Some(v) = self.max_iter {
            c = c.max_iter(v);
        }
        if let Some(v) = self.tol {
            c = c.tol(v);
        }
        if let Some(v) = self.prior_correct {
            c = c.prior_correct(v);
        }
        if let Some(v) = self.prior_strength {
            c = c.prior_strength(v);
        }
        if let Some(v) = self.smoothing {
            c = c.smoothing(v);
        }
        if let Some(categories) = &self.categories {
            c = c.categories(categories.clone());
        }
        c
    }
}

fn parse<T>(name: &str, value: &str, known: &[(&str, T)]) -> PyResult<T>
where
    T: Copy,
{
    known
        .iter()
        .find(|(n, _)| *n == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
            PyValueError::new_err(format!(
                "`{name}` must be one of {}, not {value:?}",
                names.join(", ")
            ))
        })
}

/// The library's error as the Python exception a caller expects: bad input
/// and parameters are `ValueError`, I/O `OSError`, the rest (a GPU that
/// failed) `RuntimeError`.
fn to_py(error: accord::Error) -> PyErr {
    use accord::Error as E;
    let message = error.to_string();
    match error {
        E::BadInput { .. } | E::Usage(_) | E::InvalidParam { .. } | E::Limit(_) => {
            PyValueError::new_err(message)
        }
        E::Read { .. } | E::Write { .. } => PyOSError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

/// Runs `work` without the GIL, turning a panic into a `RuntimeError` and
/// an interrupt seen between iterations into the error Python raised.
fn guarded<T: Send>(py: Python<'_>, work: impl FnOnce() -> PyResult<T> + Send) -> PyResult<T> {
    let outcome = py.allow_threads(|| catch_unwind(AssertUnwindSafe(work)));
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(match payload.downcast::<Interrupted>() {
            Ok(interrupted) => interrupted.0,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                PyRuntimeError::new_err(format!(
                    "accord panicked (a bug: please report it with the input): {what}"
                ))
            }
        }),
    }
}

/// Between iterations: stops the fit if Python has a signal pending.
fn signal_check() -> impl FnMut(usize, f64) {
    let mut last = Instant::now();
    move |_, _| {
        if last.elapsed() < SIGNAL_CHECK_EVERY {
            return;
        }
        last = Instant::now();
        if let Err(e) = Python::with_gil(|py| py.check_signals()) {
            // resume_unwind skips the panic hook: nothing is printed, and
            // `guarded` turns the payload back into the Python error.
            std::panic::resume_unwind(Box::new(Interrupted(e)));
        }
    }
}

/// A fitted consolidation, in flat buffers for the Python layer.
#[pyclass(frozen, module = "accord._accord")]
struct Fit {
    labels: Labels,
    worker_skill: Option<Vec<f64>>,
    /// Each worker's annotation count, taken before the packed annotations
    /// are released.
    worker_annotations: Vec<usize>,
    /// The worker model the fit leaves for the next job, taken before the
    /// packed annotations are released.
    job_model: JobModel,
}

fn names_buffers<'py>(
    py: Python<'py>,
    names: &Names,
) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    // Arrow's large-string layout: i64 offsets, then the bytes.
    let mut offsets = Vec::with_capacity((names.len() + 1) * 8);
    let mut bytes = Vec::new();
    offsets.extend_from_slice(&0i64.to_ne_bytes());
    for name in names.iter() {
        bytes.extend_from_slice(name.as_bytes());
        offsets.extend_from_slice(&(bytes.len() as i64).to_ne_bytes());
    }
    (PyBytes::new(py, &offsets), PyBytes::new(py, &bytes))
}

fn f64_bytes<'py>(py: Python<'py>, values: &[f64]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(values.len() * 8);
    for v in values {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    PyBytes::new(py, &out)
}

fn f32_bytes<'py>(py: Python<'py>, values: &[f32]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    PyBytes::new(py, &out)
}

#[pymethods]
impl Fit {
    /// Item names in item-id order (first-seen order): `(offsets, bytes)` of
    /// an Arrow large-string array.
    fn item_names<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        names_buffers(py, &self.labels.data.item_names)
    }

    /// Worker names in worker-id order, as [`Fit::item_names`].
    fn worker_names<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        names_buffers(py, &self.labels.data.worker_names)
    }

    /// Class names in class-id order.
    fn classes(&self) -> Vec<String> {
        self.labels.classes().to_vec()
    }

    /// Each item's class id, `u32` native-endian.
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(self.labels.fit.labels.len() * 4);
        for l in &self.labels.fit.labels {
            out.extend_from_slice(&l.to_ne_bytes());
        }
        PyBytes::new(py, &out)
    }

    /// Each item's confidence, `f32`.
    fn confidence<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        f32_bytes(py, &self.labels.fit.confidence)
    }

    /// `[item][class]` posteriors, `f32`, row-major.
    fn posteriors<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let p = &self.labels.fit.posteriors;
        match p.as_slice() {
            Some(s) => f32_bytes(py, s),
            None => f32_bytes(py, &p.iter().copied().collect::<Vec<_>>()),
        }
    }

    /// GLAD's `(alpha, beta)`: abilities by worker id and log-easiness by
    /// item id, `f64`; `None` for the other methods.
    fn glad_params<'py>(
        &self,
        py: Python<'py>,
    ) -> Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        match &self.labels.fit.method_state {
            Some(MethodState::Glad { alpha, beta }) => {
                Some((f64_bytes(py, alpha), f64_bytes(py, beta)))
            }
            _ => None,
        }
    }

    /// MACE's `(spamming, theta)`: `[worker][spamming, knowing]` and
    /// `[worker][label]` with labels in first-seen order (crowd-kit's
    /// `thetas_` layout), `f64`; `None` for the other methods.
    fn mace_params<'py>(
        &self,
        py: Python<'py>,
    ) -> Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let Some(MethodState::Mace { spamming, theta }) = &self.labels.fit.method_state else {
            return None;
        };
        let first_seen = &self.labels.data.class_first_seen;
        let k = first_seen.len();
        let mut by_code = vec![0f64; theta.len()];
        for (row, out) in theta.chunks(k).zip(by_code.chunks_mut(k)) {
            for (class, &code) in first_seen.iter().enumerate() {
                out[code as usize] = row[class];
            }
        }
        Some((f64_bytes(py, spamming), f64_bytes(py, &by_code)))
    }

    /// Class ids in the order labels first appear in the input.
    fn classes_first_seen(&self) -> Vec<u32> {
        let first_seen = &self.labels.data.class_first_seen;
        let mut order: Vec<u32> = (0..first_seen.len() as u32).collect();
        order.sort_by_key(|&c| first_seen[c as usize]);
        order
    }

    /// `[worker][true][given]` confusion tables, `f32`, row-major.
    fn confusion<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let c = &self.labels.fit.confusion;
        match c.as_slice() {
            Some(s) => f32_bytes(py, s),
            None => f32_bytes(py, &c.iter().copied().collect::<Vec<_>>()),
        }
    }

    /// Each worker's expected accuracy, `f32`.
    fn worker_accuracy<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        f32_bytes(py, &self.labels.fit.worker_accuracy)
    }

    /// Each worker's annotation count.
    fn worker_annotations(&self) -> Vec<usize> {
        self.worker_annotations.clone()
    }

    /// The method's own weight of each worker's vote, where it has one.
    fn worker_skill(&self) -> Option<Vec<f64>> {
        self.worker_skill.clone()
    }

    /// The class priors the model ended with.
    fn class_priors(&self) -> Vec<f32> {
        self.labels.fit.class_priors.clone()
    }

    /// Log-likelihood after each E-step (EM methods).
    fn log_likelihood(&self) -> Vec<f64> {
        self.labels.fit.log_likelihood.clone()
    }

    /// The worker model for the next job, as `--workers-out FILE.json`
    /// writes it (JSON text).
    fn worker_model(&self) -> PyResult<String> {
        let mut out = Vec::new();
        accord::classification::write::write_job_model(
            &mut out,
            &self.job_model,
            &Default::default(),
        )
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        String::from_utf8(out).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Iterations run, convergence, backend, and what `auto` decided.
    fn run_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let f = &self.labels.fit;
        d.set_item("method", f.method.name())?;
        d.set_item("iterations", f.iterations)?;
        d.set_item("converged", f.converged)?;
        d.set_item("has_stopping_test", f.has_stopping_test)?;
        d.set_item("backend", &self.labels.backend)?;
        d.set_item("backend_notice", &self.labels.backend_notice)?;
        d.set_item("gpu_failure", &self.labels.gpu_failure)?;
        let s = &self.labels.data.stats;
        d.set_item("items", s.items)?;
        d.set_item("workers", s.workers)?;
        d.set_item("classes", s.classes)?;
        d.set_item("annotations", s.annotations)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("duplicates_dropped", s.duplicates_dropped)?;
        Ok(d)
    }
}

/// Consolidates the annotations of an Arrow C stream (`stream` is the
/// capsule from `obj.__arrow_c_stream__()`) whose first three columns are
/// item, worker and label.
#[pyfunction]
#[pyo3(signature = (
    stream, method, backend = "auto", max_iter = None, tol = None,
    prior_correct = None, prior_strength = None, smoothing = None,
    init = "votes", ties = "lowest", seed = 0, duplicates = "keep", categories = None,
    confidence = None, workers_in = None,
))]
#[allow(clippy::too_many_arguments)]
fn fit(
    py: Python<'_>,
    stream: &Bound<'_, PyCapsule>,
    method: &str,
    backend: &str,
    max_iter: Option<usize>,
    tol: Option<f64>,
    prior_correct: Option<f32>,
    prior_strength: Option<f32>,
    smoothing: Option<f32>,
    init: &str,
    ties: &str,
    seed: u64,
    duplicates: &str,
    categories: Option<Vec<String>>,
    confidence: Option<&str>,
    workers_in: Option<&str>,
) -> PyResult<Fit> {
    let workers_in = workers_in
        .map(|text| {
            JobModel::parse(text).map_err(|(line, problem)| {
                let at = line.map_or(String::new(), |l| format!(" (line {l})"));
                PyValueError::new_err(format!("`workers_in`{at} {problem}"))
            })
        })
        .transpose()?;
    // The model's classes are the label set unless `categories` names them.
    let categories = categories.or_else(|| workers_in.as_ref().map(|m| m.classes.clone()));
    let options = options(
        method,
        backend,
        (max_iter, tol),
        (prior_correct, prior_strength, smoothing),
        (init, ties, seed, duplicates),
        categories,
    )?;
    let options = Options {
        confidence: confidence
            .map(|c| {
                parse(
                    "confidence",
                    c,
                    &[
                        ("calibrated", Confidence::Calibrated),
                        ("raw", Confidence::Raw),
                    ],
                )
            })
            .transpose()?,
        ..options
    };
    let mut consolidator = options.consolidator();
    consolidator.params().validate().map_err(to_py)?;
    if let Some(model) = workers_in {
        consolidator = consolidator.workers_in(model);
    }
    let reader = arrow_in::stream_reader(stream)?;
    guarded(py, move || {
        let data =
            arrow_in::pack_stream(reader, options.categories.as_deref(), options.duplicates)?;
        let mut on_iteration = signal_check();
        let mut labels = consolidator
            .fit_packed_with(data, &mut on_iteration)
            .map_err(to_py)?;
        let worker_skill = match (&labels.fit.worker_skill, options.method) {
            (Some(skills), _) => Some(skills.clone()),
            // crowd-kit's MajorityVote reports each worker's agreement
            // with the vote.
            (None, Method::Mv) => Some(skill_vote::accuracy_against(
                &labels.data,
                &labels.fit.labels,
            )),
            (None, _) => None,
        };
        let worker_annotations = labels.workers().map(|w| w.annotations).collect();
        let job_model = labels.job_model();
        // The fitted attributes are read by name: the annotations go before
        // pandas objects are built beside the caller's frame.
        labels.data.release_annotations();
        Ok(Fit {
            labels,
            worker_skill,
            worker_annotations,
            job_model,
        })
    })
}

/// The options from the Python layer's arguments (library names), checked.
fn options(
    method: &str,
    backend: &str,
    (max_iter, tol): (Option<usize>, Option<f64>),
    (prior_correct, prior_strength, smoothing): (Option<f32>, Option<f32>, Option<f32>),
    (init, ties, seed, duplicates): (&str, &str, u64, &str),
    categories: Option<Vec<String>>,
) -> PyResult<Options> {
    let methods: Vec<(&str, Method)> = METHODS.iter().map(|m| (m.name, m.method)).collect();
    Ok(Options {
        method: parse("method", method, &methods)?,
        backend: parse(
            "backend",
            backend,
            &[
                ("auto", BackendChoice::Auto),
                ("cpu", BackendChoice::Cpu),
                ("gpu", BackendChoice::Gpu),
            ],
        )?,
        max_iter,
        tol,
        prior_correct,
        prior_strength,
        smoothing,
        init: parse(
            "init",
            init,
            &[
                ("votes", Init::Votes),
                ("spectral", Init::Spectral),
                ("best", Init::Best),
            ],
        )?,
        ties: parse(
            "ties",
            ties,
            &[("lowest", TieBreak::Lowest), ("random", TieBreak::Random)],
        )?,
        seed,
        duplicates: parse(
            "duplicates",
            duplicates,
            &[
                ("keep", DuplicatePolicy::Keep),
                ("first", DuplicatePolicy::First),
            ],
        )?,
        categories,
        confidence: None,
    })
}

/// A plan for a fit over partitions (`accord.spark`): the method and its
/// options; `auto` is chosen first with `spark_choose`.
#[pyfunction]
#[pyo3(signature = (
    method, max_iter = None, tol = None, prior_correct = None, prior_strength = None,
    smoothing = None, ties = "lowest", seed = 0,
))]
#[allow(clippy::too_many_arguments)]
fn spark_plan(
    method: &str,
    max_iter: Option<usize>,
    tol: Option<f64>,
    prior_correct: Option<f32>,
    prior_strength: Option<f32>,
    smoothing: Option<f32>,
    ties: &str,
    seed: u64,
) -> PyResult<spark::Plan> {
    let options = options(
        method,
        "cpu",
        (max_iter, tol),
        (prior_correct, prior_strength, smoothing),
        ("votes", ties, seed, "keep"),
        None,
    )?;
    spark::plan(&options)
}

/// `auto`'s choice for a fit over partitions, made on the annotations of
/// `stream` (item, worker, label in input order: all of them, or the
/// library's sample) as the single-machine `auto` makes it, with the whole
/// input's workers (first-seen order), classes and classes' first-seen ranks.
#[pyfunction]
#[pyo3(signature = (stream, worker_names, classes, class_first_seen, ties = "lowest", seed = 0))]
fn spark_choose(
    py: Python<'_>,
    stream: &Bound<'_, PyCapsule>,
    worker_names: Vec<String>,
    classes: Vec<String>,
    class_first_seen: Vec<u32>,
    ties: &str,
    seed: u64,
) -> PyResult<spark::Plan> {
    let options = options(
        "auto",
        "cpu",
        (None, None),
        (None, None, None),
        ("votes", ties, seed, "keep"),
        None,
    )?;
    spark::choose(
        py,
        stream,
        &options,
        worker_names,
        classes,
        class_first_seen,
    )
}

/// Every method of the library's table: name, summary and defaults.
#[pyfunction]
fn methods(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    METHODS
        .iter()
        .map(|m| {
            let d = PyDict::new(py);
            d.set_item("name", m.name)?;
            d.set_item("summary", m.summary)?;
            d.set_item("max_iter", m.max_iter)?;
            d.set_item("tol", m.tol)?;
            d.set_item("prior_correct", m.prior_correct)?;
            d.set_item(
                "runs_on",
                match m.runs_on {
                    accord::classification::RunsOn::Backend => "backend",
                    accord::classification::RunsOn::Host => "host",
                },
            )?;
            Ok(d)
        })
        .collect()
}

/// The method the library uses when none is named.
#[pyfunction]
fn default_method() -> &'static str {
    Method::default().name()
}

/// accord's compiled core.
#[pymodule]
fn _accord(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(methods, m)?)?;
    m.add_function(wrap_pyfunction!(default_method, m)?)?;
    m.add_class::<Fit>()?;
    m.add_function(wrap_pyfunction!(spark_plan, m)?)?;
    m.add_function(wrap_pyfunction!(spark_choose, m)?)?;
    m.add_function(wrap_pyfunction!(spark::fit_partitioned, m)?)?;
    m.add_function(wrap_pyfunction!(spark::partition_sums, m)?)?;
    m.add_function(wrap_pyfunction!(spark::partition_labels, m)?)?;
    m.add_function(wrap_pyfunction!(spark::class_order, m)?)?;
    m.add_function(wrap_pyfunction!(spark::sample_order, m)?)?;
    m.add_function(wrap_pyfunction!(spark::sample_annotations, m)?)?;
    m.add_function(wrap_pyfunction!(spark::row_width, m)?)?;
    m.add_class::<spark::Plan>()?;
    m.add_class::<spark::FitResult>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
