//! Synthetic multi-label answers: each label of each item holds with its
//! label's prevalence, and each worker ticks a label that holds with their
//! sensitivity for it and one that does not with their false-tick rate.
//! Seeded and reproducible byte for byte, whatever the thread count.

use std::path::{Path, PathBuf};

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::engine::pack::Names;
use crate::error::{Error, Result};
use crate::multilabel::{AnswerStats, Answers};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiSpec {
    /// Number of items.
    pub items: usize,
    /// Number of workers.
    pub workers: usize,
    /// Number of labels, named `L00`, `L01`, ...
    pub labels: usize,
    /// Distinct workers per item.
    pub per_item: usize,
    /// The most and least common labels' prevalence; the others lie
    /// between on a geometric scale.
    pub prevalence: (f64, f64),
    /// Each worker's sensitivity is drawn uniformly from this range, then
    /// moved by up to ±0.1 per label.
    pub sensitivity: (f64, f64),
    /// Each worker's false-tick rate is drawn uniformly from this range,
    /// then scaled by 0.5..1.5 per label.
    pub false_ticks: (f64, f64),
    /// Share of workers who tick every label with probability 0.2, whatever
    /// the item.
    pub spammers: f64,
    /// Seed of the draws.
    pub seed: u64,
}

impl MultiSpec {
    /// `items` items, `workers` workers, `labels` labels, `per_item`
    /// workers each; prevalence 0.3 down to 0.02, sensitivity 0.4–0.95,
    /// false ticks 0–0.1, no spammers.
    pub fn new(items: usize, workers: usize, labels: usize, per_item: usize, seed: u64) -> Self {
        MultiSpec {
            items,
            workers,
            labels,
            per_item,
            prevalence: (0.3, 0.02),
            sensitivity: (0.4, 0.95),
            false_ticks: (0.0, 0.1),
            spammers: 0.0,
            seed,
        }
    }

    fn check(&self) -> Result<()> {
        if self.labels == 0 || self.labels > 4096 {
            return Err(Error::Usage(format!(
                "`classes` {}: multi-label generation takes 1 to 4096 labels",
                self.labels
            )));
        }
        if self.workers == 0 || self.per_item == 0 || self.per_item > self.workers {
            return Err(Error::Usage(format!(
                "`per_item` {} must lie in 1..=`workers` ({})",
                self.per_item, self.workers
            )));
        }
        let unit = |(a, b): (f64, f64)| (0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b);
        if !unit(self.prevalence) || !unit(self.sensitivity) || !unit(self.false_ticks) {
            return Err(Error::Usage(
                "prevalence, sensitivity and false-tick ranges must lie in [0, 1]".into(),
            ));
        }
        Ok(())
    }
}

/// Generated answers with their truth.
#[derive(Debug, Clone)]
pub struct MultiSynth {
    /// The answers, as a reader would give them.
    pub answers: Answers,
    /// `[item][label]` whether the label holds.
    pub truth: Vec<bool>,
}

/// The label names `L00`, `L01`, ... (as wide as the count needs).
pub fn label_names(labels: usize) -> Vec<String> {
    let width = (labels.max(2) - 1).to_string().len().max(2);
    (0..labels).map(|l| format!("L{l:0width$}")).collect()
}

/// Items per independently seeded block: the draws of a block do not
/// depend on how blocks are spread over threads.
const BLOCK: usize = 4096;

/// Draws answers from `spec`.
pub fn generate(spec: &MultiSpec) -> Result<MultiSynth> {
    spec.check()?;
    let (n, w, l) = (spec.items, spec.workers, spec.labels);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let prevalence: Vec<f64> = (0..l)
        .map(|label| {
            let t = if l == 1 {
                0.0
            } else {
                label as f64 / (l - 1) as f64
            };
            spec.prevalence.0 * (spec.prevalence.1 / spec.prevalence.0.max(1e-12)).powf(t)
        })
        .collect();
    let draw = |rng: &mut ChaCha8Rng, (a, b): (f64, f64)| a + (b - a) * rng.gen::<f64>();
    let mut sens = vec![0f64; w * l];
    let mut fp = vec![0f64; w * l];
    for worker in 0..w {
        let spammer = rng.gen_bool(spec.spammers.clamp(0.0, 1.0));
        let (s, f) = (
            draw(&mut rng, spec.sensitivity),
            draw(&mut rng, spec.false_ticks),
        );
        for label in 0..l {
            let at = worker * l + label;
            if spammer {
                (sens[at], fp[at]) = (0.2, 0.2);
            } else {
                sens[at] = (s + rng.gen_range(-0.1..=0.1)).clamp(0.0, 1.0);
                fp[at] = (f * rng.gen_range(0.5..=1.5)).clamp(0.0, 1.0);
            }
        }
    }
    let words = l.div_ceil(64);
    let blocks: Vec<(Vec<bool>, Vec<u32>, Vec<u64>)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(
                spec.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(b as u64 + 1)),
            );
            let items = b * BLOCK..((b + 1) * BLOCK).min(n);
            let mut truth = Vec::with_capacity(items.len() * l);
            let mut workers = Vec::with_capacity(items.len() * spec.per_item);
            let mut ticked = Vec::with_capacity(items.len() * spec.per_item * words);
            for _ in items {
                let row: Vec<bool> = prevalence.iter().map(|&p| rng.gen_bool(p)).collect();
                for worker in sample(&mut rng, w, spec.per_item).into_iter() {
                    workers.push(worker as u32);
                    let mut set = vec![0u64; words];
                    for (label, &holds) in row.iter().enumerate() {
                        let at = worker * l + label;
                        let p = if holds { sens[at] } else { fp[at] };
                        if rng.gen_bool(p) {
                            set[label / 64] |= 1 << (label % 64);
                        }
                    }
                    ticked.extend(set);
                }
                truth.extend(row);
            }
            (truth, workers, ticked)
        })
        .collect();
    let mut truth = Vec::with_capacity(n * l);
    let mut response_worker = Vec::with_capacity(n * spec.per_item);
    let mut ticked = Vec::with_capacity(n * spec.per_item * words);
    for (t, ws, s) in blocks {
        truth.extend(t);
        response_worker.extend(ws);
        ticked.extend(s);
    }
    let response_item: Vec<u32> = (0..n as u32)
        .flat_map(|i| std::iter::repeat_n(i, spec.per_item))
        .collect();
    let mut items = Names::default();
    for i in 0..n {
        items.push(&format!("i{i}"));
    }
    let mut worker_names = Names::default();
    for worker in 0..w {
        worker_names.push(&format!("w{worker}"));
    }
    let selections = ticked.iter().map(|x| x.count_ones() as usize).sum();
    let empty = ticked
        .chunks(words)
        .filter(|c| c.iter().all(|&x| x == 0))
        .count();
    Ok(MultiSynth {
        answers: Answers {
            items,
            workers: worker_names,
            labels: label_names(l),
            stats: AnswerStats {
                responses: response_item.len(),
                selections,
                empty_responses: empty,
                repeated_labels: 0,
                repeated_responses: 0,
            },
            response_item,
            response_worker,
            ticked,
            data_objects: vec![None; n],
        },
        truth,
    })
}

/// Writes `selections.csv` (item,worker,label), `responses.csv`
/// (item,worker) and `gold.csv` (item,label,present: every label of every
/// item) into `dir`, all three committed together. Returns the selections
/// file.
pub fn write_multilabel_dataset(spec: &MultiSpec, dir: &Path) -> Result<PathBuf> {
    let synth = generate(spec)?;
    let a = &synth.answers;
    let paths: Vec<PathBuf> = ["selections.csv", "responses.csv", "gold.csv"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let mut files = Vec::new();
    for p in &paths {
        files.push(crate::io::AtomicFile::create(p)?);
    }
    let werr = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::Write { path: p, source: e }
    };
    {
        let out = files[0].writer();
        out.write_all(b"item,worker,label\n")
            .map_err(werr(&paths[0]))?;
        for r in 0..a.n_responses() {
            let (i, w) = (a.response_item[r] as usize, a.response_worker[r] as usize);
            for (label, name) in a.labels.iter().enumerate() {
                if a.has(r, label) {
                    writeln!(out, "{},{},{name}", &a.items[i], &a.workers[w])
                        .map_err(werr(&paths[0]))?;
                }
            }
        }
    }
    {
        let out = files[1].writer();
        out.write_all(b"item,worker\n").map_err(werr(&paths[1]))?;
        for r in 0..a.n_responses() {
            let (i, w) = (a.response_item[r] as usize, a.response_worker[r] as usize);
            writeln!(out, "{},{}", &a.items[i], &a.workers[w]).map_err(werr(&paths[1]))?;
        }
    }
    {
        let out = files[2].writer();
        out.write_all(b"item,label,present\n")
            .map_err(werr(&paths[2]))?;
        let l = a.n_labels();
        for i in 0..a.n_items() {
            for (label, name) in a.labels.iter().enumerate() {
                writeln!(
                    out,
                    "{},{name},{}",
                    &a.items[i],
                    synth.truth[i * l + label] as u8
                )
                .map_err(werr(&paths[2]))?;
            }
        }
    }
    crate::io::commit_all(files)?;
    Ok(paths[0].clone())
}
