//! The default method's choice of model, made by the data: every candidate
//! is fitted with a fold of the annotations hidden, and judged by how well it
//! predicts the hidden answers (the held-out log-likelihood, K-fold over
//! annotations). No gold is read and no accuracy figure is consulted.
//!
//! Why this criterion: the candidates differ in how many parameters a
//! worker gets (one accuracy, a full table, a table drawn toward the
//! population, a spam rate), and the in-sample likelihood always prefers
//! the biggest. The held-out likelihood pays for overfitting: a full table
//! learnt from four answers predicts the fifth badly. It is also the
//! quantity every candidate models, so it compares them on one scale.

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::job_model::Resume;
use super::methods::{self, Method};
use super::{Consolidation, Params};
use crate::engine::backend::{Backend, WorkerPrior, PROB_FLOOR};
use crate::engine::pack::Packed;
use crate::error::Result;

/// One model the default method may choose.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// A name for summaries: the method's, with the setting that differs.
    pub name: &'static str,
    /// The parameters it is fitted with (its method's defaults, but one).
    pub params: Params,
}

/// The candidates: each structure the issue of label quality names (full
/// confusion, with and without a pseudo-count of correct answers; the
/// hierarchical prior; one coin; MACE's spammers) and majority vote.
pub fn candidates(seed: u64) -> Vec<Candidate> {
    let with = |name, method, f: fn(&mut Params)| {
        let mut params = Params::new(method);
        params.seed = seed;
        f(&mut params);
        Candidate { name, params }
    };
    vec![
        with("ds", Method::Ds, |_| {}),
        with("ds --prior-correct 1", Method::Ds, |p| {
            p.prior_correct = 1.0;
            p.stop_test = crate::engine::em::StopTest::RelativeLikelihood;
        }),
        with("hds", Method::Hds, |_| {}),
        with("one-coin", Method::OneCoin, |_| {}),
        with("mace", Method::Mace, |_| {}),
        with("mv", Method::Mv, |_| {}),
    ]
}

/// Folds of the held-out criterion on small inputs (every annotation is
/// held out once).
pub const FOLDS: usize = 5;

/// Above this many annotations the choice is made on a sample of items
/// holding about this many, in [`LARGE_FOLDS`] folds, so that the cost of
/// choosing stops growing with the input (see `accord bench`).
pub const SAMPLE_ANNOTATIONS: usize = 300_000;

/// The temperature of a candidate is fitted on at most this many hidden
/// answers (evenly spaced): one number needs no more.
pub const TEMPERATURE_ROWS: usize = 100_000;

/// Folds on samples of [`SAMPLE_ANNOTATIONS`].
pub const LARGE_FOLDS: usize = 2;

/// Inputs up to this size use [`FOLDS`] folds; larger ones [`LARGE_FOLDS`].
pub const SMALL_ANNOTATIONS: usize = 200_000;

/// At most about this many hidden answers keep their terms (a seeded
/// uniform subset of all folds' hidden answers when there are more, of at
/// least half this many): the
/// scores and the calibration's at most [`MAX_BINS`] bins need far fewer,
/// and the terms take `2K` floats each, so fits on every annotation (as
/// calibration's) stay within a bounded memory beyond the data's.
///
/// [`MAX_BINS`]: crate::classification::calibrate::MAX_BINS
pub const STORED_ANSWERS: usize = 2_000_000;

/// What the choice found: every candidate's held-out score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Choice {
    /// The chosen candidate's name.
    pub chosen: &'static str,
    /// Its method.
    pub method: Method,
    /// The temperature that made its held-out predictions best.
    pub temperature: f64,
    /// Mean held-out log-likelihood per hidden annotation, per candidate,
    /// in [`candidates_resumed`] order (the `+ model` ones only when the fit
    /// resumed from an earlier job).
    pub scores: Vec<(&'static str, f64)>,
    /// Folds used.
    pub folds: usize,
    /// Annotations the choice was made on (all, or a sample of items).
    pub annotations: usize,
}

/// What the candidates' fold fits say about the hidden answers: the rows
/// [`tempered_score`] reads and, for calibration, each row's agreement and
/// the known items' outcomes.
#[derive(Debug, Clone, Default)]
pub struct HeldOut {
    /// Per candidate, `2K` numbers per hidden answer (see `held_out_terms`).
    pub terms: Vec<Vec<f32>>,
    /// Per candidate, per hidden answer: the share of the item's training
    /// answers that gave the fit's label (the argmax of the row's `ln q`).
    pub shares: Vec<Vec<f32>>,
    /// Per candidate, the known items in the sample, once per fold. The
    /// fold fits do not clamp them, so their posteriors are honest guesses.
    pub known: Vec<KnownRows>,
    /// Folds the annotations were split into.
    pub folds: usize,
    /// Annotations the fits read (the sample's, above
    /// [`SAMPLE_ANNOTATIONS`]).
    pub annotations: usize,
}

/// The known items' fold posteriors (see [`HeldOut::known`]).
#[derive(Debug, Clone, Default)]
pub struct KnownRows {
    /// Per row, the share of the item's training answers that gave the
    /// fit's label.
    pub shares: Vec<f32>,
    /// Per row, `ln q(t)` for the `K` classes (floored at `PROB_FLOOR`).
    pub log_q: Vec<f32>,
    /// Per row, the known class.
    pub class: Vec<u32>,
}

/// Fits every candidate once per fold with that fold's annotations hidden,
/// on every annotation of `data` (never a sample) in `folds` folds, on
/// `backend`, and collects the hidden answers' terms. `known` (dense ids of
/// `data`, possibly empty) are scored, never clamped. `on_fit` is called
/// after each fit with the number done and the number in all.
pub fn held_out_all(
    data: &Packed,
    candidates: &[Candidate],
    backend: &dyn Backend,
    seed: u64,
    known: &crate::engine::pack::KnownClasses,
    folds: usize,
    on_fit: &mut dyn FnMut(usize, usize),
) -> Result<HeldOut> {
    let fits = Fits {
        candidates,
        backend,
        seed,
        known,
        folds: Some(folds),
    };
    held_out_on(data, &fits, on_fit)
}

/// What [`held_out_on`] fits, and how.
struct Fits<'a> {
    candidates: &'a [Candidate],
    backend: &'a dyn Backend,
    seed: u64,
    known: &'a crate::engine::pack::KnownClasses,
    folds: Option<usize>,
}

/// The held-out fits of [`held_out_all`] and of the choice, on `on` (all
/// annotations, or the choice's sample); `folds: None` is the choice's
/// ([`FOLDS`], or [`LARGE_FOLDS`] above [`SMALL_ANNOTATIONS`]).
fn held_out_on(
    on: &Packed,
    fits: &Fits<'_>,
    on_fit: &mut dyn FnMut(usize, usize),
) -> Result<HeldOut> {
    let Fits {
        candidates,
        backend,
        seed,
        known,
        folds,
    } = *fits;
    let known_here: Vec<(usize, u32)> = known
        .item
        .iter()
        .zip(&known.class)
        .map(|(&i, &c)| (i as usize, c))
        .collect();
    let folds = folds.unwrap_or(if on.n_annotations() <= SMALL_ANNOTATIONS {
        FOLDS
    } else {
        LARGE_FOLDS
    });
    let fold_of = fold_assignment(on.n_annotations(), folds, seed);
    let stored = stored_answers(on.n_annotations(), seed);
    let n = candidates.len();
    let mut out = HeldOut {
        terms: vec![Vec::new(); n],
        shares: vec![Vec::new(); n],
        known: vec![KnownRows::default(); n],
        folds,
        annotations: on.n_annotations(),
    };
    let mut done = 0;
    for fold in 0..folds {
        let training = subset(on, |a| fold_of[a] as usize != fold);
        for (c, candidate) in candidates.iter().enumerate() {
            let mut params = candidate.params.clone();
            params.known = Default::default();
            let fit = methods::fit(&training, backend, &params, &mut |_, _| {})?;
            let hidden = |a: usize| fold_of[a] as usize == fold && stored(a);
            let prior = &params.resume.prior;
            held_out_terms(on, &training, &fit, prior, hidden, &mut out.terms[c]);
            held_out_shares(on, &training, &fit, hidden, &mut out.shares[c]);
            let q = fit.posteriors.as_slice().expect("standard layout");
            let k = on.n_classes();
            for &(i, class) in &known_here {
                if let Some(share) = label_share(&training, &fit, i) {
                    let rows = &mut out.known[c];
                    rows.shares.push(share);
                    let row = &q[i * k..(i + 1) * k];
                    rows.log_q
                        .extend(row.iter().map(|p| p.max(PROB_FLOOR).ln()));
                    rows.class.push(class);
                }
            }
            done += 1;
            on_fit(done, folds * n);
        }
    }
    Ok(out)
}

/// Chooses a candidate for `data` by the held-out log-likelihood and
/// returns it with the scores. `on_fit` is called after each candidate fit
/// (for progress) with the number done and the number in all.
pub fn choose(
    data: &Packed,
    backend: &dyn Backend,
    seed: u64,
    on_fit: &mut dyn FnMut(usize, usize),
) -> Result<(Candidate, Choice)> {
    choose_resumed(data, backend, seed, &Arc::default(), on_fit)
}

/// [`choose`] for a job that starts from an earlier job's workers (see
/// [`job_model`](super::job_model)): the candidates, and each EM one
/// (`ds`, `ds --prior-correct 1`, `hds`, `one-coin`) fitted from those
/// workers as well ([`candidates_resumed`]), so that this job's held-out
/// answers decide whether the past helps. Without `resume`, [`choose`].
pub fn choose_resumed(
    data: &Packed,
    backend: &dyn Backend,
    seed: u64,
    resume: &Arc<Resume>,
    on_fit: &mut dyn FnMut(usize, usize),
) -> Result<(Candidate, Choice)> {
    let candidates = candidates_resumed(seed, resume);
    match sample_items(data, seed) {
        Some((sample, _)) => choose_among(&sample, &candidates, backend, seed, on_fit),
        None => choose_among(data, &candidates, backend, seed, on_fit),
    }
}

/// [`candidates`], then (with `resume`) the EM ones again fitted from an
/// earlier job's workers, named `<name> + model`.
pub fn candidates_resumed(seed: u64, resume: &Arc<Resume>) -> Vec<Candidate> {
    let plain = candidates(seed);
    if resume.is_empty() {
        return plain;
    }
    let resumed: Vec<Candidate> = plain
        .iter()
        .filter_map(|c| {
            let name = resumed_name(c.name)?;
            let mut params = c.params.clone();
            params.resume = Arc::clone(resume);
            Some(Candidate { name, params })
        })
        .collect();
    plain.into_iter().chain(resumed).collect()
}

/// The candidate named `name` (as [`Choice::chosen`] gives it), with
/// `resume` when it is a `+ model` one.
pub fn candidate_named(name: &str, seed: u64, resume: &Arc<Resume>) -> Option<Candidate> {
    candidates_resumed(seed, resume)
        .into_iter()
        .find(|c| c.name == name)
}

/// The name of an EM candidate's variant fitted from an earlier job.
fn resumed_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "ds" => "ds + model",
        "ds --prior-correct 1" => "ds --prior-correct 1 + model",
        "hds" => "hds + model",
        "one-coin" => "one-coin + model",
        _ => return None,
    })
}

/// [`choose`] on annotations that are already its sample (or all of them,
/// up to [`SAMPLE_ANNOTATIONS`]): what a fit whose items are spread over a
/// cluster calls after collecting that sample (items in first-seen order,
/// every worker and class id as in the whole input).
pub fn choose_on_sample(
    on: &Packed,
    backend: &dyn Backend,
    seed: u64,
    on_fit: &mut dyn FnMut(usize, usize),
) -> Result<(Candidate, Choice)> {
    choose_among(on, &candidates(seed), backend, seed, on_fit)
}

/// [`choose_on_sample`] among `candidates`.
fn choose_among(
    on: &Packed,
    candidates: &[Candidate],
    backend: &dyn Backend,
    seed: u64,
    on_fit: &mut dyn FnMut(usize, usize),
) -> Result<(Candidate, Choice)> {
    let none = crate::engine::pack::KnownClasses::default();
    let fits = Fits {
        candidates,
        backend,
        seed,
        known: &none,
        folds: None,
    };
    let held = held_out_on(on, &fits, on_fit)?;
    let k = on.n_classes();
    let tempered: Vec<(f64, f64)> = held.terms.iter().map(|t| best_temperature(t, k)).collect();
    let scores: Vec<(&'static str, f64)> = candidates
        .iter()
        .zip(&tempered)
        .map(|(c, &(_, score))| (c.name, score))
        .collect();
    // The first best on exact ties: the list runs from the plain model on.
    let best = (0..scores.len()).fold(0, |b, c| if scores[c].1 > scores[b].1 { c } else { b });
    let choice = Choice {
        chosen: candidates[best].name,
        method: candidates[best].params.method,
        temperature: tempered[best].0,
        scores,
        folds: held.folds,
        annotations: held.annotations,
    };
    Ok((candidates[best].clone(), choice))
}

/// The share of item `i`'s answers in `training` that gave the fit's label,
/// or `None` when it has none there.
fn label_share(training: &Packed, fit: &Consolidation, i: usize) -> Option<f32> {
    let range = training.item_range(i);
    if range.is_empty() {
        return None;
    }
    let label = fit.labels[i];
    let agreeing = training.item_label[range.clone()]
        .iter()
        .filter(|&&l| u32::from(l) == label)
        .count();
    Some(agreeing as f32 / range.len() as f32)
}

/// For each hidden annotation (in the order `held_out_terms` writes them),
/// the share of its item's training answers that gave the label the fit's
/// posterior ranks first; 0 when the item kept no training answer.
fn held_out_shares(
    all: &Packed,
    training: &Packed,
    fit: &Consolidation,
    hidden: impl Fn(usize) -> bool,
    out: &mut Vec<f32>,
) {
    let k = all.n_classes();
    let q = fit.posteriors.as_slice().expect("standard layout");
    for i in 0..all.n_items() {
        let rows = all.item_range(i).filter(|&a| hidden(a)).count();
        if rows == 0 {
            continue;
        }
        let row = &q[i * k..(i + 1) * k];
        let top = (0..k).fold(0, |b, t| if row[t] > row[b] { t } else { b });
        let range = training.item_range(i);
        let share = if range.is_empty() {
            0.0
        } else {
            let agreeing = training.item_label[range.clone()]
                .iter()
                .filter(|&&l| l as usize == top)
                .count();
            agreeing as f32 / range.len() as f32
        };
        out.extend(std::iter::repeat_n(share, rows));
    }
}

/// Each annotation's fold (in by-item order): a seeded shuffle of equal
/// shares, so every fold holds the same number of answers.
fn fold_assignment(n: usize, folds: usize, seed: u64) -> Vec<u8> {
    let mut fold_of: Vec<u8> = (0..n).map(|a| (a % folds) as u8).collect();
    fold_of.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_f01d));
    fold_of
}

/// Whether hidden answer `a` (of `n`) keeps its terms: all of them up to
/// [`STORED_ANSWERS`], else each with probability `1 / ⌈n / STORED_ANSWERS⌉`
/// (so between half of [`STORED_ANSWERS`] and all of it are kept), by a
/// seeded hash of its index (no per-annotation memory).
fn stored_answers(n: usize, seed: u64) -> impl Fn(usize) -> bool + Sync {
    let every = n.div_ceil(STORED_ANSWERS).max(1) as u64;
    move |a: usize| every == 1 || splitmix64(a as u64 ^ seed ^ 0x57_0be5) % every == 0
}

/// SplitMix64's finaliser: a cheap, well-mixed hash of one word.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seeded sample of items holding about [`SAMPLE_ANNOTATIONS`]
/// annotations, the items renumbered (workers and classes keep their ids),
/// with the kept items' ids in `data` (increasing), or `None` when the input
/// is no larger.
fn sample_items(data: &Packed, seed: u64) -> Option<(Packed, Vec<u32>)> {
    let n = data.n_annotations();
    if n <= SAMPLE_ANNOTATIONS {
        return None;
    }
    let items = sample_order(data.n_items(), seed);
    let mut kept = Vec::new();
    let mut held = 0;
    for &i in &items {
        if held >= SAMPLE_ANNOTATIONS {
            break;
        }
        kept.push(i);
        held += data.item_range(i as usize).len();
    }
    kept.sort_unstable();
    let mut item_names = crate::engine::pack::Names::default();
    let mut item_offsets = vec![0u32];
    let (mut item_worker, mut item_label) = (Vec::with_capacity(held), Vec::with_capacity(held));
    for &i in &kept {
        item_names.push(&data.item_names[i as usize]);
        let range = data.item_range(i as usize);
        item_worker.extend_from_slice(&data.item_worker[range.clone()]);
        item_label.extend_from_slice(&data.item_label[range]);
        item_offsets.push(item_worker.len() as u32);
    }
    let by_item = Packed {
        item_names,
        item_offsets,
        item_worker,
        item_label,
        worker_offsets: Vec::new(),
        worker_item: Vec::new(),
        worker_label: Vec::new(),
        worker_names: data.worker_names.clone(),
        class_names: data.class_names.clone(),
        class_first_seen: data.class_first_seen.clone(),
        stats: data.stats.clone(),
        groups: data.groups,
    };
    Some((subset(&by_item, |_| true), kept))
}

/// The order in which the sample of [`choose`] takes items (item ids, in
/// first-seen order of the input): a seeded shuffle, from which items are
/// taken until they hold [`SAMPLE_ANNOTATIONS`]. Public so that a fit whose
/// items are spread over a cluster can take the same sample.
pub fn sample_order(n_items: usize, seed: u64) -> Vec<u32> {
    let mut items: Vec<u32> = (0..n_items as u32).collect();
    items.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5a3b_1e00));
    items
}

/// The annotations (by-item index `a`) for which `keep(a)`, with every item,
/// worker and class id unchanged (items and workers left without an answer
/// stay, with empty rows).
pub fn subset(data: &Packed, keep: impl Fn(usize) -> bool) -> Packed {
    let n_items = data.n_items();
    let mut item_offsets = Vec::with_capacity(n_items + 1);
    item_offsets.push(0u32);
    let mut item_worker = Vec::new();
    let mut item_label = Vec::new();
    let mut worker_counts = vec![0u32; data.worker_names.len() + 1];
    for i in 0..n_items {
        for a in data.item_range(i) {
            if keep(a) {
                let w = data.item_worker[a];
                item_worker.push(w);
                item_label.push(data.item_label[a]);
                worker_counts[w as usize + 1] += 1;
            }
        }
        item_offsets.push(item_worker.len() as u32);
    }
    // Counting sort by worker, items in order within each worker.
    for w in 1..worker_counts.len() {
        worker_counts[w] += worker_counts[w - 1];
    }
    let worker_offsets = worker_counts.clone();
    let mut cursor = worker_counts;
    let mut worker_item = vec![0u32; item_worker.len()];
    let mut worker_label = vec![0; item_worker.len()];
    for i in 0..n_items {
        for a in item_offsets[i] as usize..item_offsets[i + 1] as usize {
            let slot = &mut cursor[item_worker[a] as usize];
            worker_item[*slot as usize] = i as u32;
            worker_label[*slot as usize] = item_label[a];
            *slot += 1;
        }
    }
    let mut stats = data.stats.clone();
    stats.annotations = item_worker.len();
    stats.items_without_annotations = (0..n_items)
        .filter(|&i| item_offsets[i] == item_offsets[i + 1])
        .count();
    Packed {
        item_names: data.item_names.clone(),
        worker_names: data.worker_names.clone(),
        class_names: data.class_names.clone(),
        class_first_seen: data.class_first_seen.clone(),
        item_offsets,
        item_worker,
        item_label,
        worker_offsets,
        worker_item,
        worker_label,
        stats,
        groups: data.groups,
    }
}

/// For each annotation `a` of `all` with `hidden(a)`, the `2K` numbers its
/// held-out score needs: `ln q_i(t)` (the fit's posteriors for the item,
/// from its other answers) and `P_w[t][given]` (the worker's table as the fit
/// learnt it, turned into a predictive table by one pseudo-answer spread as
/// the population's table: `(n_t·table[t] + pop[t]) / (n_t + 1)` with `n_t`
/// the worker's soft count of training answers on class `t`, so that a
/// worker never seen is predicted by the population and no answer gets
/// probability zero). A fit from an earlier job's workers counts their past
/// answers (`prior`'s row sums) in `n_t` too, as its M-step did.
fn held_out_terms(
    all: &Packed,
    training: &Packed,
    fit: &Consolidation,
    prior: &WorkerPrior,
    hidden: impl Fn(usize) -> bool + Sync,
    out: &mut Vec<f32>,
) {
    let k = all.n_classes();
    let q = fit.posteriors.as_slice().expect("standard layout");
    let table = fit.confusion.as_slice().expect("standard layout");
    let n_workers = training.n_workers();
    let mut soft: Vec<f64> = if prior.is_empty() {
        vec![0f64; n_workers * k]
    } else {
        prior
            .counts
            .chunks(k)
            .map(|row| row.iter().map(|&c| c as f64).sum())
            .collect()
    };
    let mut population = vec![1.0 / k as f64; k * k];
    for w in 0..n_workers {
        let range = training.worker_range(w);
        for (&i, &l) in training.worker_item[range.clone()]
            .iter()
            .zip(&training.worker_label[range])
        {
            for t in 0..k {
                let p = q[i as usize * k + t] as f64;
                soft[w * k + t] += p;
                population[t * k + l as usize] += p;
            }
        }
    }
    for row in population.chunks_mut(k) {
        let total: f64 = row.iter().sum();
        row.iter_mut().for_each(|p| *p /= total);
    }
    let per_item: Vec<Vec<f32>> = (0..all.n_items())
        .into_par_iter()
        .map(|i| {
            let mut terms = Vec::new();
            for a in all.item_range(i).filter(|&a| hidden(a)) {
                let w = all.item_worker[a] as usize;
                let l = all.item_label[a] as usize;
                terms.extend((0..k).map(|t| q[i * k + t].max(PROB_FLOOR).ln()));
                terms.extend((0..k).map(|t| {
                    let n = soft[w * k + t];
                    let own = table[(w * k + t) * k + l] as f64;
                    ((n * own + population[t * k + l]) / (n + 1.0)) as f32
                }));
            }
            terms
        })
        .collect();
    for terms in per_item {
        out.extend(terms);
    }
}

/// Mean over the held-out answers of `ln Σ_t q^{1/T}(t)·P(t)` (posteriors
/// sharpened or softened by temperature `T`, renormalised), for the terms
/// `held_out_terms` wrote.
pub fn tempered_score(terms: &[f32], k: usize, temperature: f64) -> f64 {
    let rows = terms.len() / (2 * k);
    let total: f64 = terms
        .par_chunks(2 * k)
        .map(|row| {
            let (log_q, p) = row.split_at(k);
            let top = log_q.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let (mut norm, mut mass) = (0.0, 0.0);
            for (&l, &pt) in log_q.iter().zip(p) {
                let e = ((l - top) as f64 / temperature).exp();
                norm += e;
                mass += e * pt as f64;
            }
            (mass / norm).max(f64::MIN_POSITIVE).ln()
        })
        .sum();
    total / rows.max(1) as f64
}

/// The temperature in `[1/20, 20]` that maximises [`tempered_score`]
/// (golden-section search on `ln T` over at most [`TEMPERATURE_ROWS`]
/// evenly spaced rows; the score is smooth and, in practice, unimodal in
/// it), with the score of all rows at that temperature.
pub fn best_temperature(terms: &[f32], k: usize) -> (f64, f64) {
    let rows = terms.len() / (2 * k);
    let step = rows.div_ceil(TEMPERATURE_ROWS).max(1);
    let fitted: Vec<f32> = if step == 1 {
        terms.to_vec()
    } else {
        terms
            .chunks(2 * k)
            .step_by(step)
            .flatten()
            .copied()
            .collect()
    };
    let score = |log_t: f64| tempered_score(&fitted, k, log_t.exp());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = (-(20f64.ln()), 20f64.ln());
    let mut x1 = hi - ratio * (hi - lo);
    let mut x2 = lo + ratio * (hi - lo);
    let (mut f1, mut f2) = (score(x1), score(x2));
    for _ in 0..30 {
        if f1 < f2 {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + ratio * (hi - lo);
            f2 = score(x2);
        } else {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - ratio * (hi - lo);
            f1 = score(x1);
        }
    }
    let temperature = ((lo + hi) / 2.0).exp();
    (temperature, tempered_score(terms, k, temperature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::pack_triples;

    #[test]
    fn hidden_answers_keep_their_terms_up_to_the_cap_then_a_uniform_share() {
        let small = stored_answers(STORED_ANSWERS, 7);
        assert!((0..STORED_ANSWERS).all(&small));
        let n = 10 * STORED_ANSWERS;
        let large = stored_answers(n, 7);
        let kept = (0..n).filter(|&a| large(a)).count();
        assert!(
            (kept as f64 / STORED_ANSWERS as f64 - 1.0).abs() < 0.01,
            "{kept}"
        );
        // Uniform over positions: each tenth of the input keeps its share.
        for part in 0..10 {
            let range = part * STORED_ANSWERS..(part + 1) * STORED_ANSWERS;
            let here = range.filter(|&a| large(a)).count() as f64;
            assert!((here / (STORED_ANSWERS as f64 / 10.0) - 1.0).abs() < 0.03);
        }
    }

    #[test]
    fn a_subset_keeps_every_id_and_rebuilds_the_worker_rows() {
        let data = pack_triples(
            &[
                ("a", "w1", "x"),
                ("a", "w2", "y"),
                ("b", "w1", "y"),
                ("b", "w2", "y"),
            ],
            None,
        )
        .unwrap();
        let s = subset(&data, |a| a != 1);
        assert_eq!(s.n_items(), 2);
        assert_eq!(s.n_workers(), 2);
        assert_eq!(s.item_offsets, vec![0, 1, 3]);
        assert_eq!(s.worker_offsets, vec![0, 2, 3]);
        assert_eq!(s.worker_item, vec![0, 1, 1]);
        assert_eq!(s.worker_label, vec![0, 1, 1]);
        let none = subset(&data, |_| false);
        assert_eq!(none.worker_offsets, vec![0, 0, 0]);
        assert_eq!(none.stats.items_without_annotations, 2);
    }

    #[test]
    fn folds_hold_equal_shares() {
        let f = fold_assignment(103, 5, 7);
        for fold in 0..5 {
            let n = f.iter().filter(|&&x| x == fold).count();
            assert!((20..=21).contains(&n), "{n}");
        }
    }
}
