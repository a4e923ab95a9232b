//! EM over partitions of the items (a cluster's executors): each partition
//! runs the E-step on its own items with the CPU backend's kernels and
//! returns the sums the M-step needs, in fixed point; the sums of all
//! partitions are added as integers (exact, so in any order and after any
//! retry the total is the same), and the driver runs the M-step and the
//! stopping test through [`em::run_session`] with a [`PartitionedSession`].
//! Only the workers' tables and these sums travel: `workers × K²` numbers
//! per iteration, never the annotations.

use ndarray::Array2;

use super::backend::cpu::{
    annotation_counts, confusion_from_log, confusion_normalise, ds_e_step, mean_worker_accuracy,
    mv_counts, vote_shares,
};
use super::backend::{ConfusionRule, EmSession, ModelParams, WorkerPrior, PROB_FLOOR};
use super::em::{self, crowdkit_entropy, crowdkit_objective_from_counts};
use super::pack::KnownClasses;
use crate::error::{Error, Result};
use crate::maths::{from_fixed, to_fixed, LL_FRAC_BITS, PROB_FRAC_BITS};

/// Fractional bits of the partial sum of the entropy: those of the GPU's
/// probability sums.
pub const PARTIAL_FRAC_BITS: u32 = PROB_FRAC_BITS;

/// A posterior in [0, 1] as two fixed-point words: the GPU's probability
/// sums' ([`PROB_FRAC_BITS`], the high word) and 32 bits more below them
/// (the low word), so every f32 posterior above 2^-41 is exact and none
/// below 2^-64 counts. One word was not enough: `ds` (no pseudo-count)
/// builds tables from cells whose every contribution is below 2^-32, and
/// rounding those away moved posteriors by up to 8e-4 on `weather`. Each
/// word sums over up to 2^31 annotations in an i64.
pub fn wide_fixed(x: f32) -> (i64, i64) {
    let v = (x.clamp(0.0, 1.0) as f64 * 2f64.powi(64)).round_ties_even() as u128;
    ((v >> 32) as i64, (v & 0xffff_ffff) as i64)
}

/// The sum of words of [`wide_fixed`], correctly rounded to f64.
pub fn from_wide(hi: i64, lo: i64) -> f64 {
    let exact = ((hi as i128) << 32) + lo as i128;
    exact as f64 / 2f64.powi(64)
}

/// Row keys of the sums that are not soft counts (those have key
/// `worker·K + true class`, values over the given class).
const KEY_PRIORS: i64 = -1;
const KEY_LOG_LIKELIHOOD: i64 = -2;
const KEY_ENTROPY: i64 = -3;
const KEY_ITEMS: i64 = -4;

/// One partition's items as CSR: row `i` is `item_offsets[i]..item_offsets[i + 1]`
/// into `item_worker` / `item_label` (global worker and class ids).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemRows {
    /// Row offsets, length items + 1.
    pub item_offsets: Vec<u32>,
    /// Worker id of each annotation.
    pub item_worker: Vec<u32>,
    /// Class id of each annotation.
    pub item_label: Vec<crate::engine::pack::ClassId>,
}

impl ItemRows {
    /// The number of items.
    pub fn n_items(&self) -> usize {
        self.item_offsets.len().saturating_sub(1)
    }
}

/// What a pass over the partitions computes the posteriors from.
#[derive(Debug, Clone, PartialEq)]
pub enum Pass {
    /// Each item's vote shares (the `Votes` start, and majority vote).
    Votes,
    /// The E-step under these tables: log class priors (K) and
    /// log-confusion `[worker][given][true]`.
    EStep {
        /// Log class priors, length K.
        log_priors: Vec<f32>,
        /// Log-confusion tables `[worker][given][true]`.
        log_confusion: Vec<f32>,
    },
}

/// The posteriors of one partition's items under `pass`, and each item's
/// log-likelihood term (E-step only): the CPU backend's kernels, so the
/// arithmetic is the single-machine fit's.
pub fn posteriors(rows: &ItemRows, pass: &Pass, k: usize) -> (Vec<f32>, Option<Vec<f32>>) {
    match pass {
        Pass::Votes => {
            let counts = mv_counts(&rows.item_offsets, &rows.item_label, k);
            (vote_shares(counts, k, &[]), None)
        }
        Pass::EStep {
            log_priors,
            log_confusion,
        } => {
            let mut posteriors = vec![0f32; rows.n_items() * k];
            let ll = ds_e_step(
                &rows.item_offsets,
                &rows.item_worker,
                &rows.item_label,
                log_confusion,
                log_priors,
                &[],
                &mut posteriors,
            );
            (posteriors, Some(ll.ll))
        }
    }
}

/// The sums one partition contributes, in fixed point; soft counts only for
/// the workers it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSums {
    /// Classes.
    pub k: usize,
    /// The workers with annotations here, ascending.
    pub workers: Vec<u32>,
    /// Soft counts `[worker of workers][true][given]`, the two words of
    /// [`wide_fixed`] each.
    pub counts: Vec<[i64; 2]>,
    /// `Σ_items q(t)`, [`wide_fixed`] words.
    pub priors: Vec<[i64; 2]>,
    /// `Σ_items` log-likelihood terms, [`LL_FRAC_BITS`] (the fixed-point
    /// sum the single-machine E-step reports).
    pub log_likelihood: i64,
    /// `Σ_items` [`crowdkit_entropy`], [`PARTIAL_FRAC_BITS`].
    pub entropy: i64,
    /// Items.
    pub items: i64,
}

fn fixed_f64(x: f64, frac_bits: u32) -> i64 {
    (x * (frac_bits as f64).exp2()).round_ties_even() as i64
}

/// The partition's sums for posteriors `q` (and log-likelihood terms, for
/// an E-step). `n_workers` is the number of workers in all.
pub fn partition_sums(
    rows: &ItemRows,
    q: &[f32],
    ll_terms: Option<&[f32]>,
    k: usize,
    n_workers: usize,
) -> Result<PartitionSums> {
    if let Some(&w) = rows.item_worker.iter().find(|&&w| w as usize >= n_workers) {
        return Err(Error::Usage(format!(
            "worker id {w} is out of range ({n_workers} workers)"
        )));
    }
    if let Some(&l) = rows.item_label.iter().find(|&&l| l as usize >= k) {
        return Err(Error::Usage(format!(
            "class id {l} is out of range ({k} classes)"
        )));
    }
    // Dense slots for the workers seen, in ascending id order.
    let mut seen = vec![false; n_workers];
    rows.item_worker
        .iter()
        .for_each(|&w| seen[w as usize] = true);
    let mut slot = vec![u32::MAX; n_workers];
    let mut workers = Vec::new();
    for (w, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
        slot[w] = workers.len() as u32;
        workers.push(w as u32);
    }
    let add = |a: &mut [i64; 2], b: (i64, i64)| {
        a[0] = a[0].wrapping_add(b.0);
        a[1] = a[1].wrapping_add(b.1);
    };
    let mut counts = vec![[0i64; 2]; workers.len() * k * k];
    let mut priors = vec![[0i64; 2]; k];
    let mut entropy = 0i64;
    let mut fixed = vec![(0i64, 0i64); k];
    for i in 0..rows.n_items() {
        let row = &q[i * k..(i + 1) * k];
        for (f, &p) in fixed.iter_mut().zip(row) {
            *f = wide_fixed(p);
        }
        for (s, &f) in priors.iter_mut().zip(&fixed) {
            add(s, f);
        }
        entropy = entropy.wrapping_add(fixed_f64(crowdkit_entropy(row), PARTIAL_FRAC_BITS));
        let range = rows.item_offsets[i] as usize..rows.item_offsets[i + 1] as usize;
        for (&w, &l) in rows.item_worker[range.clone()]
            .iter()
            .zip(&rows.item_label[range])
        {
            let base = slot[w as usize] as usize * k * k + l as usize;
            for (t, &f) in fixed.iter().enumerate() {
                add(&mut counts[base + t * k], f);
            }
        }
    }
    let log_likelihood = ll_terms
        .map(|t| {
            t.iter()
                .map(|&x| to_fixed(x, LL_FRAC_BITS))
                .fold(0i64, i64::wrapping_add)
        })
        .unwrap_or(0);
    Ok(PartitionSums {
        k,
        workers,
        counts,
        priors,
        log_likelihood,
        entropy,
        items: rows.n_items() as i64,
    })
}

/// Values per row of [`PartitionSums::to_rows`]: two words per class.
pub fn row_width(k: usize) -> usize {
    2 * k
}

impl PartitionSums {
    /// The sums as rows of `(key, 2K values)` for a cluster's aggregation
    /// (sum by key): key `worker·K + t` holds the counts `C[t][·]` (K high
    /// words, then K low words), and four negative keys the priors (the
    /// same layout), log-likelihood, entropy and item count (first value).
    /// Returns the keys and the values row-major.
    pub fn to_rows(&self) -> (Vec<i64>, Vec<i64>) {
        let k = self.k;
        let width = row_width(k);
        let n_rows = self.workers.len() * k + 4;
        let mut keys = Vec::with_capacity(n_rows);
        let mut values = Vec::with_capacity(n_rows * width);
        let push_words = |values: &mut Vec<i64>, cells: &[[i64; 2]]| {
            values.extend(cells.iter().map(|c| c[0]));
            values.extend(cells.iter().map(|c| c[1]));
        };
        for (s, &w) in self.workers.iter().enumerate() {
            for t in 0..k {
                keys.push(w as i64 * k as i64 + t as i64);
                push_words(
                    &mut values,
                    &self.counts[(s * k + t) * k..(s * k + t + 1) * k],
                );
            }
        }
        keys.push(KEY_PRIORS);
        push_words(&mut values, &self.priors);
        for (key, v) in [
            (KEY_LOG_LIKELIHOOD, self.log_likelihood),
            (KEY_ENTROPY, self.entropy),
            (KEY_ITEMS, self.items),
        ] {
            keys.push(key);
            values.push(v);
            values.extend(std::iter::repeat_n(0, width - 1));
        }
        (keys, values)
    }
}

/// The sums of every partition, added: dense over all workers.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialSums {
    /// Classes.
    pub k: usize,
    /// Soft counts `[worker][true][given]`, exact sums of [`wide_fixed`] words.
    pub counts: Vec<[i64; 2]>,
    /// `Σ_items q(t)`, [`wide_fixed`] words.
    pub priors: Vec<[i64; 2]>,
    /// Log-likelihood, [`LL_FRAC_BITS`].
    pub log_likelihood: i64,
    /// Entropy of the posteriors, [`PARTIAL_FRAC_BITS`].
    pub entropy: i64,
    /// Items.
    pub items: i64,
}

impl PartialSums {
    /// The totals from aggregated rows of [`PartitionSums::to_rows`]
    /// (`values` row-major, [`row_width`] per key; every key at most once).
    pub fn from_rows(n_workers: usize, k: usize, keys: &[i64], values: &[i64]) -> Result<Self> {
        let width = row_width(k);
        if values.len() != keys.len() * width {
            return Err(Error::Usage(format!(
                "{} values for {} keys of {k} classes",
                values.len(),
                keys.len()
            )));
        }
        let mut sums = PartialSums {
            k,
            counts: vec![[0; 2]; n_workers * k * k],
            priors: vec![[0; 2]; k],
            log_likelihood: 0,
            entropy: 0,
            items: 0,
        };
        let words = |out: &mut [[i64; 2]], row: &[i64]| {
            for (c, o) in out.iter_mut().enumerate() {
                *o = [row[c], row[k + c]];
            }
        };
        for (&key, row) in keys.iter().zip(values.chunks_exact(width.max(1))) {
            match key {
                KEY_PRIORS => words(&mut sums.priors, row),
                KEY_LOG_LIKELIHOOD => sums.log_likelihood = row[0],
                KEY_ENTROPY => sums.entropy = row[0],
                KEY_ITEMS => sums.items = row[0],
                key if key >= 0 && (key as usize) < n_workers * k => {
                    let at = key as usize * k;
                    words(&mut sums.counts[at..at + k], row);
                }
                key => {
                    return Err(Error::Usage(format!(
                        "partial-sum key {key} is out of range ({n_workers} workers × {k} classes)"
                    )))
                }
            }
        }
        Ok(sums)
    }

    /// The log-likelihood, as the single-machine E-step reports it.
    pub fn log_likelihood(&self) -> f64 {
        from_fixed(self.log_likelihood, LL_FRAC_BITS)
    }

    /// The soft counts as numbers.
    pub fn counts_f64(&self) -> Vec<f64> {
        self.counts.iter().map(|c| from_wide(c[0], c[1])).collect()
    }

    /// Each worker's expected accuracy (the mean posterior of the labels
    /// they gave: `trace(C) / n`), given each worker's annotation count.
    pub fn worker_accuracy(&self, worker_annotations: &[u64]) -> Vec<f32> {
        let k = self.k;
        worker_annotations
            .iter()
            .enumerate()
            .map(|(w, &n)| {
                let trace: i128 = (0..k)
                    .map(|t| {
                        let c = self.counts[(w * k + t) * k + t];
                        ((c[0] as i128) << 32) + c[1] as i128
                    })
                    .sum();
                if n == 0 {
                    0.0
                } else {
                    (trace as f64 / 2f64.powi(64) / n as f64) as f32
                }
            })
            .collect()
    }
}

/// The driver's side of EM over partitions: it holds the tables, runs each
/// E-step (or the vote start) as a pass over the partitions through
/// `run_pass`, and the M-step on the summed counts with the CPU backend's
/// `confusion_normalise`. The posteriors stay in the partitions:
/// [`EmSession::read_posteriors`] gives none (a last pass under
/// [`PartitionedSession::last_pass`] recomputes them where they live).
pub struct PartitionedSession<'f> {
    k: usize,
    worker_annotations: Vec<u64>,
    worker_offsets: Vec<u32>,
    run_pass: &'f mut dyn FnMut(&Pass) -> Result<PartialSums>,
    log_priors: Vec<f32>,
    log_confusion: Vec<f32>,
    worker_accuracy: Vec<f32>,
    last: Option<(Pass, PartialSums)>,
}

impl<'f> PartitionedSession<'f> {
    /// A session over `worker_annotations.len()` workers with those numbers
    /// of annotations and `k` classes; `run_pass` runs a pass over every
    /// partition and returns the summed [`PartialSums`].
    pub fn new(
        worker_annotations: &[u64],
        k: usize,
        run_pass: &'f mut dyn FnMut(&Pass) -> Result<PartialSums>,
    ) -> Result<Self> {
        let mut worker_offsets = Vec::with_capacity(worker_annotations.len() + 1);
        worker_offsets.push(0u32);
        let mut total = 0u64;
        for &n in worker_annotations {
            total += n;
            if total > u32::MAX as u64 {
                return Err(Error::Limit(format!(
                    "more than {} annotations; accord indexes at most that many in one run: split the input",
                    u32::MAX
                )));
            }
            worker_offsets.push(total as u32);
        }
        let w = worker_annotations.len();
        Ok(PartitionedSession {
            k,
            worker_annotations: worker_annotations.to_vec(),
            worker_offsets,
            run_pass,
            log_priors: vec![-(k as f32).ln(); k],
            log_confusion: vec![-(k as f32).ln(); w * k * k],
            worker_accuracy: vec![0.0; w],
            last: None,
        })
    }

    /// The last pass run (what the posteriors are now) and its sums.
    pub fn last_pass(&self) -> Option<&(Pass, PartialSums)> {
        self.last.as_ref()
    }

    /// Each worker's expected accuracy under the last pass's posteriors.
    pub fn expected_worker_accuracy(&self) -> Vec<f32> {
        match &self.last {
            Some((_, sums)) => sums.worker_accuracy(&self.worker_annotations),
            None => vec![0.0; self.worker_annotations.len()],
        }
    }

    /// [`em::crowdkit_objective`] for the last pass's posteriors and the
    /// current tables, from the summed counts.
    pub fn crowdkit_objective(&mut self) -> Result<f64> {
        let model = self.read_params()?;
        let (_, sums) = self.last.as_ref().ok_or_else(no_pass)?;
        let n: u64 = self.worker_annotations.iter().sum();
        Ok(crowdkit_objective_from_counts(
            &sums.counts_f64(),
            from_fixed(sums.entropy, PARTIAL_FRAC_BITS),
            n as usize,
            &model,
        ))
    }

    fn pass(&mut self, pass: Pass) -> Result<()> {
        let sums = (self.run_pass)(&pass)?;
        if sums.k != self.k || sums.counts.len() != self.log_confusion.len() {
            return Err(Error::Usage(format!(
                "a pass returned sums for {} classes and {} cells, not {} and {}",
                sums.k,
                sums.counts.len(),
                self.k,
                self.log_confusion.len()
            )));
        }
        self.last = Some((pass, sums));
        Ok(())
    }
}

fn no_pass() -> Error {
    Error::Usage("no pass over the partitions has run yet".into())
}

impl EmSession for PartitionedSession<'_> {
    fn mv_counts(&mut self) -> Result<Array2<u32>> {
        Err(Error::Usage(
            "vote counts stay in the partitions: run a `Votes` pass".into(),
        ))
    }

    fn set_known(&mut self, known: &KnownClasses) -> Result<()> {
        if known.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_param(
                "known",
                "is not supported when the items are spread over partitions",
            ))
        }
    }

    fn set_worker_prior(&mut self, prior: &WorkerPrior) -> Result<()> {
        if prior.is_empty() {
            Ok(())
        } else {
            Err(Error::Usage(
                "a worker model from an earlier job is not supported when the items are spread over partitions".into(),
            ))
        }
    }

    fn init_posteriors_from_votes(&mut self) -> Result<()> {
        self.pass(Pass::Votes)
    }

    fn init_params(&mut self, log_priors: &[f32], log_confusion: &[f32]) -> Result<()> {
        if log_priors.len() != self.k || log_confusion.len() != self.log_confusion.len() {
            return Err(Error::Usage(
                "the starting tables do not match the workers and classes".into(),
            ));
        }
        self.log_priors = log_priors.to_vec();
        self.log_confusion = log_confusion.to_vec();
        Ok(())
    }

    fn m_step(&mut self, rule: ConfusionRule) -> Result<()> {
        let k = self.k;
        let (_, sums) = self.last.as_ref().ok_or_else(no_pass)?;
        // The CPU session's class priors: the mean posterior, as f32.
        self.log_priors = sums
            .priors
            .iter()
            .map(|s| {
                let p = if sums.items == 0 {
                    1.0 / k as f32
                } else {
                    (from_wide(s[0], s[1]) / sums.items as f64) as f32
                };
                p.max(PROB_FLOOR).ln()
            })
            .collect();
        let counts: Vec<f32> = sums.counts_f64().iter().map(|&c| c as f32).collect();
        let (log_confusion, accuracy) = confusion_normalise(
            &counts,
            &annotation_counts(&self.worker_offsets),
            k,
            rule,
            0,
        );
        self.log_confusion = log_confusion;
        self.worker_accuracy = accuracy;
        Ok(())
    }

    fn e_step(&mut self) -> Result<f64> {
        self.pass(Pass::EStep {
            log_priors: self.log_priors.clone(),
            log_confusion: self.log_confusion.clone(),
        })?;
        Ok(self.last.as_ref().expect("just set").1.log_likelihood())
    }

    /// The E-step's pass, then the M-step on its sums; crowd-kit's
    /// objective comes from the same sums (see [`Self::crowdkit_objective`]).
    fn e_and_m_step(&mut self, rule: ConfusionRule) -> Result<(f64, f64)> {
        let ll = self.e_step()?;
        self.m_step(rule)?;
        let n: u64 = self.worker_annotations.iter().sum();
        Ok((ll, self.crowdkit_objective()? * n.max(1) as f64))
    }

    fn mean_worker_accuracy(&mut self) -> Result<f32> {
        Ok(mean_worker_accuracy(
            &self.worker_accuracy,
            &self.worker_offsets,
        ))
    }

    fn read_posteriors(&mut self) -> Result<Array2<f32>> {
        Ok(Array2::zeros((0, self.k)))
    }

    fn read_params(&mut self) -> Result<ModelParams> {
        Ok(ModelParams {
            class_priors: self.log_priors.iter().map(|l| l.exp()).collect(),
            confusion: confusion_from_log(
                &self.log_confusion,
                self.worker_annotations.len(),
                self.k,
            ),
        })
    }
}

/// Runs EM over partitions: [`em::run_session`] on a [`PartitionedSession`],
/// with the stopping tests computed from the summed counts. Returns the run
/// and the session, which holds the final tables and the last pass.
pub fn run<'f>(
    mut session: PartitionedSession<'f>,
    stopping: em::Stopping,
    start: em::Start<'_>,
    m_rule: em::MStepRule,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<(em::EmRun, PartitionedSession<'f>)> {
    let shape = (session.worker_annotations.len(), session.k);
    let n_annotations = session.worker_annotations.iter().sum::<u64>() as usize;
    let run = em::run_session(
        &mut session,
        shape,
        n_annotations,
        stopping,
        start,
        m_rule,
        on_iteration,
    )?;
    Ok((run, session))
}
