//! The library's fit over partitions (`accord::classification::partitioned`)
//! for `accord.spark`: what an executor runs on its partition's Arrow
//! batches (one pass: fixed-point sums, or the labels), and the driver's EM
//! loop, which calls back into Python to run each pass as a Spark stage.
//! No maths here: the passes, the M-step and the stopping tests are the
//! library's.

use accord::classification::partitioned::{self, LabelRule, PartitionedFit};
use accord::classification::{chooser, Params};
use accord::engine::backend::cpu::CpuBackend;
use accord::engine::pack::{pack, AnnotationBuilder, ClassId, DuplicatePolicy, MAX_CLASSES};
use accord::engine::partial::{self, ItemRows, PartialSums, Pass};
use accord::maths::TieBreak;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict};

use crate::{arrow_in, guarded, to_py, Options};

/// `k`, or an error past the classes one run holds.
fn classes_at_most_max(k: usize) -> PyResult<usize> {
    if k > MAX_CLASSES {
        return Err(PyValueError::new_err(format!(
            "{k} classes; accord packs at most {MAX_CLASSES} in one run"
        )));
    }
    Ok(k)
}

/// A partition's rows as the library's CSR by item. The batches have the
/// columns `item` (string), `w` and `l` (int32 worker and class ids), sorted
/// by item, so an item's rows are consecutive; a class id of `k` or more is
/// an error. Returns the rows and the index (over all batches) of each
/// item's first row.
fn item_rows(batches: &[RecordBatch], k: usize) -> PyResult<(ItemRows, Vec<u64>)> {
    let mut rows = ItemRows {
        item_offsets: vec![0],
        ..ItemRows::default()
    };
    let mut first_rows = Vec::new();
    let mut previous: Option<Vec<u8>> = None;
    let mut at = 0u64;
    for batch in batches {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| PyValueError::new_err(format!("the partition has no column {name}")))
        };
        let (item, w, l) = (column("item")?, column("w")?, column("l")?);
        let ids = |a: &dyn Array, name: &str| -> PyResult<Vec<u32>> {
            if a.data_type() != &DataType::Int32 || a.null_count() > 0 {
                return Err(PyValueError::new_err(format!(
                    "column {name} must be int32 ids without nulls"
                )));
            }
            Ok(a.as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|&v| v as u32)
                .collect())
        };
        let (w, l) = (ids(w.as_ref(), "w")?, ids(l.as_ref(), "l")?);
        let names = Strings::of(item.as_ref())?;
        for r in 0..batch.num_rows() {
            let name = names.value(r);
            if previous.as_deref() != Some(name) {
                if previous.is_some() {
                    rows.item_offsets.push(rows.item_worker.len() as u32);
                }
                previous = Some(name.to_vec());
                first_rows.push(at);
            }
            rows.item_worker.push(w[r]);
            if l[r] as usize >= k {
                return Err(PyValueError::new_err(format!(
                    "class id {} is out of range ({k} classes)",
                    l[r]
                )));
            }
            // Below k, which is at most MAX_CLASSES (`classes_at_most_max`).
            rows.item_label.push(l[r] as ClassId);
            at += 1;
        }
    }
    if previous.is_some() {
        rows.item_offsets.push(rows.item_worker.len() as u32);
    }
    Ok((rows, first_rows))
}

/// A string column of any of Arrow's three layouts.
enum Strings<'a> {
    Small(&'a arrow_array::StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
}

impl<'a> Strings<'a> {
    fn of(a: &'a dyn Array) -> PyResult<Self> {
        match a.data_type() {
            DataType::Utf8 => Ok(Strings::Small(a.as_string::<i32>())),
            DataType::LargeUtf8 => Ok(Strings::Large(a.as_string::<i64>())),
            DataType::Utf8View => Ok(Strings::View(a.as_string_view())),
            other => Err(PyValueError::new_err(format!(
                "the item and sample columns must be strings, not {other}"
            ))),
        }
    }

    fn value(&self, i: usize) -> &'a [u8] {
        match self {
            Strings::Small(a) => a.value(i).as_bytes(),
            Strings::Large(a) => a.value(i).as_bytes(),
            Strings::View(a) => a.value(i).as_bytes(),
        }
    }

    fn text(&self, i: usize) -> &'a str {
        match self {
            Strings::Small(a) => a.value(i),
            Strings::Large(a) => a.value(i),
            Strings::View(a) => a.value(i),
        }
    }
}

fn read_all(stream: &Bound<'_, PyCapsule>) -> PyResult<Vec<RecordBatch>> {
    arrow_in::stream_reader(stream)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("cannot read the Arrow stream: {e}")))
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes(b.try_into().expect("4 bytes")))
        .collect()
}

fn i64s(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|b| i64::from_ne_bytes(b.try_into().expect("8 bytes")))
        .collect()
}

fn bytes_of<T: Copy, const N: usize>(
    py: Python<'_>,
    values: &[T],
    to: impl Fn(T) -> [u8; N],
) -> Py<PyBytes> {
    let mut out = Vec::with_capacity(values.len() * N);
    for &v in values {
        out.extend_from_slice(&to(v));
    }
    PyBytes::new(py, &out).unbind()
}

fn make_pass(
    kind: &str,
    log_priors: Option<&[u8]>,
    log_confusion: Option<&[u8]>,
) -> PyResult<Pass> {
    match (kind, log_priors, log_confusion) {
        ("votes", _, _) => Ok(Pass::Votes),
        ("estep", Some(p), Some(c)) => Ok(Pass::EStep {
            log_priors: f32s(p),
            log_confusion: f32s(c),
        }),
        _ => Err(PyValueError::new_err(format!(
            "a pass is \"votes\", or \"estep\" with its tables; got {kind:?}"
        ))),
    }
}

/// An executor's pass over its partition (an Arrow C stream of columns
/// item, w, l sorted by item): the fixed-point sums as rows, `(keys, values)`
/// of int64, `row_width(k)` (2K) values per key.
#[pyfunction]
#[pyo3(signature = (stream, kind, k, n_workers, log_priors = None, log_confusion = None))]
pub fn partition_sums(
    py: Python<'_>,
    stream: &Bound<'_, PyCapsule>,
    kind: &str,
    k: usize,
    n_workers: usize,
    log_priors: Option<&[u8]>,
    log_confusion: Option<&[u8]>,
) -> PyResult<(Py<PyBytes>, Py<PyBytes>)> {
    let pass = make_pass(kind, log_priors, log_confusion)?;
    let batches = read_all(stream)?;
    let (keys, values) = guarded(py, move || {
        let (rows, _) = item_rows(&batches, classes_at_most_max(k)?)?;
        let (q, ll) = partial::posteriors(&rows, &pass, k);
        let sums =
            partial::partition_sums(&rows, &q, ll.as_deref(), k, n_workers).map_err(to_py)?;
        Ok(sums.to_rows())
    })?;
    Ok((
        bytes_of(py, &keys, i64::to_ne_bytes),
        bytes_of(py, &values, i64::to_ne_bytes),
    ))
}

/// `partition_labels`' four buffers.
type LabelBuffers = (Py<PyBytes>, Py<PyBytes>, Py<PyBytes>, Py<PyBytes>);

/// An executor's last pass: each item's first row (an index over all the
/// partition's rows), class id, confidence and posteriors (`u64`, `u32`,
/// `f32`, `f32` `[item][class]`, native-endian), under the rule
/// `FitResult.label_rule()` gave.
#[pyfunction]
#[pyo3(signature = (stream, k, kind, log_priors, log_confusion, ties, seed, round_confidence))]
#[allow(clippy::too_many_arguments)]
pub fn partition_labels(
    py: Python<'_>,
    stream: &Bound<'_, PyCapsule>,
    k: usize,
    kind: &str,
    log_priors: Option<&[u8]>,
    log_confusion: Option<&[u8]>,
    ties: Option<&str>,
    seed: u64,
    round_confidence: bool,
) -> PyResult<LabelBuffers> {
    let votes = match ties {
        None => None,
        Some("lowest") => Some((TieBreak::Lowest, seed)),
        Some("random") => Some((TieBreak::Random, seed)),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "`ties` must be lowest or random, not {other:?}"
            )))
        }
    };
    let rule = LabelRule {
        pass: make_pass(kind, log_priors, log_confusion)?,
        votes,
        round_confidence,
    };
    let batches = read_all(stream)?;
    let (first_rows, labels, confidence, posteriors) = guarded(py, move || {
        let (rows, first_rows) = item_rows(&batches, classes_at_most_max(k)?)?;
        let names: Vec<String> = if matches!(rule.votes, Some((TieBreak::Random, _))) {
            item_names(&batches, &first_rows)
        } else {
            Vec::new()
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (labels, confidence, posteriors) =
            partitioned::label_partition(&rule, &rows, &names, k);
        Ok((first_rows, labels, confidence, posteriors))
    })?;
    Ok((
        bytes_of(py, &first_rows, u64::to_ne_bytes),
        bytes_of(py, &labels, u32::to_ne_bytes),
        bytes_of(py, &confidence, f32::to_ne_bytes),
        bytes_of(py, &posteriors, f32::to_ne_bytes),
    ))
}

/// The item names at the given rows (random tie-breaks hash the names).
fn item_names(batches: &[RecordBatch], rows: &[u64]) -> Vec<String> {
    let mut out = Vec::with_capacity(rows.len());
    let mut start = 0u64;
    let mut next = rows.iter().peekable();
    for batch in batches {
        let end = start + batch.num_rows() as u64;
        let item = batch.column_by_name("item").expect("checked");
        while let Some(&&r) = next.peek() {
            if r >= end {
                break;
            }
            let i = (r - start) as usize;
            out.push(
                Strings::of(item.as_ref())
                    .expect("checked")
                    .text(i)
                    .to_string(),
            );
            next.next();
        }
        start = end;
    }
    out
}

/// The parameters of one fit over partitions: a method with its options,
/// or `auto`'s chosen candidate.
#[pyclass(frozen, module = "accord._accord")]
pub struct Plan {
    params: Params,
    choice: Option<String>,
}

#[pymethods]
impl Plan {
    /// The method to fit.
    fn method(&self) -> &'static str {
        self.params.method.name()
    }

    /// `auto`'s choice (JSON: candidates' scores), if this plan is one.
    fn choice(&self) -> Option<String> {
        self.choice.clone()
    }
}

/// A plan for a named method with the Python layer's options (library
/// names); the error says why a method cannot run over partitions.
pub fn plan(options: &Options) -> PyResult<Plan> {
    let params = options.consolidator().params().clone();
    partitioned::check(&params).map_err(to_py)?;
    Ok(Plan {
        params,
        choice: None,
    })
}

/// `auto`'s choice on the annotations of `stream` (item, worker, label as
/// strings, in input order: all of them, or the library's sample of items),
/// packed as the library packs the whole input: every worker in
/// `worker_names` (first-seen order), the classes `classes` in class-id
/// order with their first-seen ranks `class_first_seen`.
pub fn choose(
    py: Python<'_>,
    stream: &Bound<'_, PyCapsule>,
    options: &Options,
    worker_names: Vec<String>,
    classes: Vec<String>,
    class_first_seen: Vec<u32>,
) -> PyResult<Plan> {
    let batches = read_all(stream)?;
    let (seed, ties) = (options.seed, options.ties);
    guarded(py, move || {
        let mut builder = AnnotationBuilder::with_categories(&classes).map_err(to_py)?;
        for w in &worker_names {
            builder.intern_worker(w);
        }
        for batch in &batches {
            let text = |name: &str| -> PyResult<Vec<String>> {
                let a = batch.column_by_name(name).ok_or_else(|| {
                    PyValueError::new_err(format!("the sample has no column {name}"))
                })?;
                let strings = Strings::of(a.as_ref())?;
                if a.null_count() > 0 {
                    return Err(PyValueError::new_err(format!(
                        "the sample's column {name} holds nulls"
                    )));
                }
                Ok((0..a.len()).map(|i| strings.text(i).to_string()).collect())
            };
            let (items, workers, labels) = (text("item")?, text("worker")?, text("label")?);
            for ((i, w), l) in items.iter().zip(&workers).zip(&labels) {
                builder
                    .push(i, w, l)
                    .map_err(|p| PyValueError::new_err(format!("the sample: {p}")))?;
            }
        }
        let mut data = pack(builder.finish(), DuplicatePolicy::Keep).map_err(to_py)?;
        if data.n_workers() != worker_names.len() {
            return Err(PyValueError::new_err(
                "the sample names a worker outside `worker_names`",
            ));
        }
        data.class_first_seen = class_first_seen;
        let (candidate, choice) =
            chooser::choose_on_sample(&data, &CpuBackend, seed, &mut |_, _| {}).map_err(to_py)?;
        let mut params = candidate.params;
        params.ties = ties;
        let choice =
            serde_json::to_string(&choice).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(Plan {
            params,
            choice: Some(choice),
        })
    })
}

/// A finished fit over partitions, on the driver.
#[pyclass(frozen, module = "accord._accord")]
pub struct FitResult {
    fit: PartitionedFit,
}

#[pymethods]
impl FitResult {
    /// The rule of the last pass: `(kind, log_priors, log_confusion, ties,
    /// seed, round_confidence)`, the arguments of `partition_labels`.
    #[allow(clippy::type_complexity)]
    fn label_rule(
        &self,
        py: Python<'_>,
    ) -> (
        &'static str,
        Option<Py<PyBytes>>,
        Option<Py<PyBytes>>,
        Option<&'static str>,
        u64,
        bool,
    ) {
        let r = &self.fit.labels;
        let (kind, p, c) = match &r.pass {
            Pass::Votes => ("votes", None, None),
            Pass::EStep {
                log_priors,
                log_confusion,
            } => (
                "estep",
                Some(bytes_of(py, log_priors, f32::to_ne_bytes)),
                Some(bytes_of(py, log_confusion, f32::to_ne_bytes)),
            ),
        };
        let (ties, seed) = match r.votes {
            None => (None, 0),
            Some((TieBreak::Lowest, s)) => (Some("lowest"), s),
            Some((TieBreak::Random, s)) => (Some("random"), s),
        };
        (kind, p, c, ties, seed, r.round_confidence)
    }

    /// `[worker][true][given]` confusion tables, `f32`.
    fn confusion<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let c = &self.fit.model.confusion;
        let v: Vec<f32> = c.iter().copied().collect();
        bytes_of(py, &v, f32::to_ne_bytes).into_bound(py)
    }

    /// Each worker's expected accuracy.
    fn worker_accuracy(&self) -> Vec<f32> {
        self.fit.worker_accuracy.clone()
    }

    /// The class priors.
    fn class_priors(&self) -> Vec<f32> {
        self.fit.model.class_priors.clone()
    }

    /// Log-likelihood after each E-step.
    fn log_likelihood(&self) -> Vec<f64> {
        self.fit.log_likelihood.clone()
    }

    /// Method, iterations, convergence.
    fn run_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("method", self.fit.method.name())?;
        d.set_item("iterations", self.fit.iterations)?;
        d.set_item("converged", self.fit.converged)?;
        Ok(d)
    }
}

/// The driver's EM over partitions: `run_pass(kind, log_priors, log_confusion)`
/// runs one pass over every partition (a Spark stage) and returns the summed
/// `(keys, values)` int64 rows of `partition_sums`.
#[pyfunction]
pub fn fit_partitioned(
    py: Python<'_>,
    plan: &Plan,
    worker_annotations: Vec<u64>,
    k: usize,
    run_pass: PyObject,
) -> PyResult<FitResult> {
    let n_workers = worker_annotations.len();
    let mut failure: Option<PyErr> = None;
    let mut pass = |p: &Pass| -> accord::Result<PartialSums> {
        let called = (|| -> PyResult<PartialSums> {
            let (kind, priors, confusion) = match p {
                Pass::Votes => ("votes", None, None),
                Pass::EStep {
                    log_priors,
                    log_confusion,
                } => (
                    "estep",
                    Some(bytes_of(py, log_priors, f32::to_ne_bytes)),
                    Some(bytes_of(py, log_confusion, f32::to_ne_bytes)),
                ),
            };
            let out = run_pass.call1(py, (kind, priors, confusion))?;
            let (keys, values): (Vec<u8>, Vec<u8>) = out.extract(py)?;
            PartialSums::from_rows(n_workers, k, &i64s(&keys), &i64s(&values)).map_err(to_py)
        })();
        called.map_err(|e| {
            failure = Some(e);
            accord::Error::Usage("a pass over the partitions failed".into())
        })
    };
    let result = partitioned::fit(
        &plan.params,
        &worker_annotations,
        k,
        &mut pass,
        &mut |_, _| {},
    );
    match (result, failure) {
        (_, Some(e)) => Err(e),
        (Ok(fit), None) => Ok(FitResult { fit }),
        (Err(e), None) => Err(to_py(e)),
    }
}

/// The order of classes found in the data, as the library sorts them.
#[pyfunction]
pub fn class_order(names: Vec<String>) -> Vec<String> {
    accord::engine::pack::class_order(&names)
        .into_iter()
        .map(|i| names[i].clone())
        .collect()
}

/// The first `limit` item ids (first-seen order) of `auto`'s sample order.
#[pyfunction]
pub fn sample_order(py: Python<'_>, n_items: usize, seed: u64, limit: usize) -> Py<PyBytes> {
    let order = chooser::sample_order(n_items, seed);
    bytes_of(py, &order[..limit.min(order.len())], u32::to_ne_bytes)
}

/// Values per row of `partition_sums` for `k` classes.
#[pyfunction]
pub fn row_width(k: usize) -> usize {
    partial::row_width(k)
}

/// The annotations above which `auto` chooses on a sample.
#[pyfunction]
pub fn sample_annotations() -> usize {
    chooser::SAMPLE_ANNOTATIONS
}
