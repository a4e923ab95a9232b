//! The worker model one job leaves for the next (Ground Truth's
//! `get_or_initialize_parameters` / `put_worker_information` between
//! batches): `--workers-out model.json` writes it, `--workers-in model.json`
//! (the library's [`Consolidator::workers_in`]) starts the next job from it.
//!
//! A worker seen before keeps their past as a Dirichlet prior: their
//! expected counts `C[true][given]` from earlier jobs (summing to their past
//! answers) are added to every M-step's counts, so a worker is trusted from
//! their first item as much as their record earns, and EM starts from their
//! saved table. A new worker starts from the population table (all
//! workers' counts pooled) and learns from this job alone. Running batch 2
//! with batch 1's model is incremental EM with batch 1's posteriors frozen.
//!
//! [`Consolidator::workers_in`]: super::Consolidator::workers_in

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::chooser;
use super::methods::Method;
use super::write::round6;
use super::{Consolidation, Params};
use crate::engine::backend::cpu::ds_m_step_counts;
use crate::engine::backend::{WorkerPrior, PROB_FLOOR};
use crate::engine::em::StopTest;
use crate::engine::pack::Packed;
use crate::error::{Error, Location, Result};

/// The `format` field of a model file.
pub const FORMAT: &str = "accord-worker-model";

/// The model file version this accord writes and reads.
pub const VERSION: u32 = 1;

/// A job's worker models: the classes, the EM model they were fitted
/// with, the class priors, a population table, and per worker their table
/// and the expected counts behind it. Serialised as the JSON worker report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Class names in class-id order; a later job must use the same.
    pub classes: Vec<String>,
    /// The method the job asked for (`auto`, `ds`, ...).
    pub method: String,
    /// The model whose tables these are (for `auto`, the one it chose).
    pub fitted: Fitted,
    /// Class priors the job ended with, in `classes` order.
    pub class_priors: Vec<f64>,
    /// Every worker's counts pooled: where a new worker starts.
    pub population: Population,
    /// Every worker seen so far, this job's first (in first-seen order),
    /// then those only earlier jobs saw.
    pub workers: Vec<SavedWorker>,
}

/// The EM model whose tables a job's model holds (informational: the next
/// job's method is its own `--method`; `auto` chooses again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// Its method's name (`ds`, `hds`, `one-coin`, `mds`; or a method
    /// without a confusion rule, such as `mace` or `mv`).
    pub method: String,
    /// Pseudo-counts on each diagonal cell.
    pub prior_correct: f64,
    /// `hds`'s weight of the population table.
    pub prior_strength: f64,
    /// Pseudo-count on every cell.
    pub smoothing: f64,
    /// The stopping test.
    pub stop_test: StopTest,
}

impl Fitted {
    /// The model of `params`.
    pub fn of(params: &Params) -> Fitted {
        Fitted {
            method: params.method.name().to_string(),
            prior_correct: params.prior_correct as f64,
            prior_strength: params.prior_strength as f64,
            smoothing: params.smoothing as f64,
            stop_test: params.stop_test,
        }
    }

    /// The model `fit` ran under `params`: for `auto`, its chosen candidate.
    pub fn of_fit(params: &Params, fit: &Consolidation) -> Fitted {
        let chosen = fit.choice.as_ref().and_then(|choice| {
            chooser::candidate_named(choice.chosen, params.seed, &params.resume)
        });
        match chosen {
            Some(candidate) => Fitted::of(&candidate.params),
            None => Fitted::of(params),
        }
    }
}

/// Whether `method` fits confusion tables by EM, so it takes a worker prior.
pub fn takes_worker_prior(method: Method) -> bool {
    matches!(
        method,
        Method::Ds | Method::Hds | Method::OneCoin | Method::Mds
    )
}

/// All workers' counts pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// The answers behind it.
    pub answers: f64,
    /// `[true][given]`, rows summing to 1 (uniform where no answer).
    pub confusion: Vec<Vec<f64>>,
}

/// One worker's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedWorker {
    /// The worker's id.
    pub worker: String,
    /// Their annotations in the job that wrote the file (0: only earlier
    /// jobs saw them).
    pub annotations: u64,
    /// Their answers over every job so far: the sum of `counts`.
    pub answers: f64,
    /// Expected accuracy in the job that last saw them.
    pub accuracy: f64,
    /// Confusion table `[true][given]`, rows summing to 1, from the job
    /// that last saw them.
    pub confusion: Vec<Vec<f64>>,
    /// Expected counts `[true][given]` over every job so far: per answer
    /// the posterior of each true class, added up. The next job's prior.
    pub counts: Vec<Vec<f64>>,
    /// Spammer score of `confusion` (see [`spammer`](super::spammer)).
    pub spammer_score: f64,
}

/// What a fit resumes from: the prior counts and the starting tables for
/// the packed data's workers (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resume {
    /// Past counts per worker of the data (zeros for new workers).
    pub prior: WorkerPrior,
    /// Log class priors to start from, length K.
    pub log_priors: Vec<f32>,
    /// Log tables `[worker][given][true]` to start from: the saved one,
    /// or the population's for a new worker.
    pub log_confusion: Vec<f32>,
    /// How many of the data's workers the model knew.
    pub known_workers: usize,
    /// The mean of the saved workers' accuracies: where `mds`'s
    /// population accuracy starts instead of its fixed 0.7 (`None`: the
    /// model has no worker).
    pub population_accuracy: Option<f32>,
}

impl Resume {
    /// Whether there is nothing to resume from.
    pub fn is_empty(&self) -> bool {
        self.prior.is_empty()
    }
}

impl JobModel {
    /// Reads and checks a model file; errors name the file and the problem
    /// (not JSON, truncated, another format or version, tables of the
    /// wrong shape).
    pub fn read(path: &Path) -> Result<JobModel> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        JobModel::parse(&text).map_err(|(line, problem)| match line {
            Some(line) => Error::at_line(path, line, problem),
            None => Error::BadInput {
                path: path.into(),
                location: Location::File,
                problem,
            },
        })
    }

    /// Parses and checks a model from its JSON text; the error is the
    /// problem, with the line where the JSON itself is broken.
    pub fn parse(text: &str) -> std::result::Result<JobModel, (Option<u64>, String)> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            (
                Some(e.line() as u64),
                format!("is not a complete JSON model file: {e}"),
            )
        })?;
        let bad = |problem: String| (None, problem);
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(bad(format!(
                    "is a {other:?} file, not an accord worker model ({FORMAT:?})"
                )))
            }
            None => {
                return Err(bad(format!(
                    "has no \"format\": {FORMAT:?} field, so it is not an accord worker model (write one with --workers-out FILE.json)"
                )))
            }
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == VERSION as u64 => {}
            Some(v) => {
                return Err(bad(format!(
                    "is a version {v} model; this accord reads version {VERSION}"
                )))
            }
            None => return Err(bad("has no numeric \"version\"".into())),
        }
        let model: JobModel = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        model.check().map_err(bad)?;
        Ok(model)
    }

    /// Checks the shapes and values; the problem only.
    pub fn check(&self) -> std::result::Result<(), String> {
        let k = self.classes.len();
        if k < 2 {
            return Err(format!("names {k} classes; a model needs at least 2"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(c) = self.classes.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(format!("names class {c:?} twice"));
        }
        if self.class_priors.len() != k {
            return Err(format!(
                "has {} class priors for {k} classes",
                self.class_priors.len()
            ));
        }
        if self
            .class_priors
            .iter()
            .any(|p| !(p.is_finite() && *p >= 0.0))
            || self.class_priors.iter().sum::<f64>() <= 0.0
        {
            return Err(format!(
                "has class priors {:?}: they are finite, at least 0 and not all 0",
                self.class_priors
            ));
        }
        check_table("the population table", &self.population.confusion, k)?;
        let mut names = std::collections::HashSet::new();
        for w in &self.workers {
            if !names.insert(w.worker.as_str()) {
                return Err(format!("lists worker {:?} twice", w.worker));
            }
            check_table(
                &format!("worker {:?}'s confusion", w.worker),
                &w.confusion,
                k,
            )?;
            check_table(&format!("worker {:?}'s counts", w.worker), &w.counts, k)?;
        }
        Ok(())
    }

    /// The model of a job: `fit` of `data` under `fitted`, after starting
    /// from `carried` (whose workers this job did not see are kept, and
    /// whose counts are added to this job's for those it did).
    pub fn from_fit(
        data: &Packed,
        fit: &Consolidation,
        fitted: Fitted,
        carried: Option<&JobModel>,
    ) -> JobModel {
        let k = data.n_classes();
        let counts = job_counts(data, fit);
        let scores = super::spammer::spammer_scores(fit);
        let past: HashMap<&str, &SavedWorker> = carried
            .map(|m| m.workers.iter().map(|w| (w.worker.as_str(), w)).collect())
            .unwrap_or_default();
        let mut workers: Vec<SavedWorker> = (0..data.n_workers())
            .map(|w| {
                let name = data.worker_names.get(w);
                let mut table: Vec<Vec<f64>> = counts[w * k * k..(w + 1) * k * k]
                    .chunks(k)
                    .map(|row| row.iter().map(|&c| round6(c)).collect())
                    .collect();
                if let Some(before) = past.get(name) {
                    for (row, old) in table.iter_mut().zip(&before.counts) {
                        row.iter_mut()
                            .zip(old)
                            .for_each(|(c, o)| *c = round6_f64(*c + o));
                    }
                }
                SavedWorker {
                    worker: name.to_string(),
                    annotations: data.worker_range(w).len() as u64,
                    answers: round6_f64(table.iter().flatten().sum()),
                    accuracy: round6(fit.worker_accuracy[w]),
                    confusion: (0..k)
                        .map(|t| (0..k).map(|l| round6(fit.confusion[[w, t, l]])).collect())
                        .collect(),
                    counts: table,
                    spammer_score: round6(scores[w]),
                }
            })
            .collect();
        if let Some(model) = carried {
            let here: std::collections::HashSet<&str> = data.worker_names.iter().collect();
            workers.extend(
                model
                    .workers
                    .iter()
                    .filter(|w| !here.contains(w.worker.as_str()))
                    .map(|w| SavedWorker {
                        annotations: 0,
                        ..w.clone()
                    }),
            );
        }
        JobModel {
            format: FORMAT.into(),
            version: VERSION,
            classes: data.class_names.clone(),
            method: fit.method.name().into(),
            fitted,
            class_priors: fit.class_priors[..k].iter().map(|&p| round6(p)).collect(),
            population: population(&workers, k),
            workers,
        }
    }

    /// The prior and start for `data`'s workers. Errors when the classes
    /// differ from the model's (naming both).
    pub fn resume(&self, data: &Packed) -> Result<Resume> {
        if data.class_names != self.classes {
            return Err(Error::invalid_param(
                "workers_in",
                format!(
                    "is a model for the classes {:?}, but the data's are {:?}",
                    self.classes, data.class_names
                ),
            ));
        }
        let k = self.classes.len();
        let by_name: HashMap<&str, &SavedWorker> = self
            .workers
            .iter()
            .map(|w| (w.worker.as_str(), w))
            .collect();
        let log = |p: f64| (p as f32).max(PROB_FLOOR).ln();
        let given_true = |table: &[Vec<f64>], out: &mut [f32]| {
            for (t, row) in table.iter().enumerate() {
                for (l, &p) in row.iter().enumerate() {
                    out[l * k + t] = log(p);
                }
            }
        };
        let mut counts = vec![0f32; data.n_workers() * k * k];
        let mut log_confusion = vec![0f32; data.n_workers() * k * k];
        let mut known_workers = 0;
        for w in 0..data.n_workers() {
            let cell = w * k * k..(w + 1) * k * k;
            match by_name.get(data.worker_names.get(w)) {
                Some(saved) => {
                    known_workers += 1;
                    for (c, &v) in counts[cell.clone()]
                        .iter_mut()
                        .zip(saved.counts.iter().flatten())
                    {
                        *c = v as f32;
                    }
                    given_true(&saved.confusion, &mut log_confusion[cell]);
                }
                None => given_true(&self.population.confusion, &mut log_confusion[cell]),
            }
        }
        let population_accuracy = (!self.workers.is_empty()).then(|| {
            let sum: f64 = self.workers.iter().map(|w| w.accuracy).sum();
            (sum / self.workers.len() as f64) as f32
        });
        Ok(Resume {
            prior: WorkerPrior { counts },
            log_priors: self.class_priors.iter().map(|&p| log(p)).collect(),
            log_confusion,
            known_workers,
            population_accuracy,
        })
    }
}

/// This job's expected counts `[worker][true][given]`: each annotation adds
/// its item's posterior to the row of its label.
fn job_counts(data: &Packed, fit: &Consolidation) -> Vec<f32> {
    ds_m_step_counts(
        &data.worker_offsets,
        &data.worker_item,
        &data.worker_label,
        fit.posteriors.as_slice().expect("standard layout"),
        data.n_classes(),
    )
}

/// Every worker's counts pooled, rows normalised (uniform where empty).
fn population(workers: &[SavedWorker], k: usize) -> Population {
    let mut sums = vec![vec![0f64; k]; k];
    for w in workers {
        for (row, counts) in sums.iter_mut().zip(&w.counts) {
            row.iter_mut().zip(counts).for_each(|(s, &c)| *s += c);
        }
    }
    let answers = sums.iter().flatten().sum();
    let confusion = sums
        .iter()
        .map(|row| {
            let total: f64 = row.iter().sum();
            row.iter()
                .map(|&s| {
                    round6_f64(if total > 0.0 {
                        s / total
                    } else {
                        1.0 / k as f64
                    })
                })
                .collect()
        })
        .collect();
    Population {
        answers: round6_f64(answers),
        confusion,
    }
}

fn check_table(what: &str, table: &[Vec<f64>], k: usize) -> std::result::Result<(), String> {
    if table.len() != k || table.iter().any(|row| row.len() != k) {
        return Err(format!("{what} is not {k} × {k}"));
    }
    if let Some(v) = table
        .iter()
        .flatten()
        .find(|v| !(v.is_finite() && **v >= 0.0))
    {
        return Err(format!(
            "{what} holds {v}: entries are finite and at least 0"
        ));
    }
    Ok(())
}

fn round6_f64(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
