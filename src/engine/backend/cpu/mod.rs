//! The CPU backend: reference kernels, parallel with rayon.
//!
//! One file per shader: `cpu/<stage>.rs` is the twin of
//! `shaders/<stage>.wgsl` and does the same f32 log-space arithmetic, so
//! the parity tests can compare them closely. The sessions below run the
//! stages in the order the GPU sessions do. Two sums run in f64 instead, on
//! purpose, as the references the GPU's passes approximate: the M-step's
//! soft counts ([`ds_m_step_counts`]; the GPU cuts workers into segments by
//! its binding limits) and the class priors ([`class_priors`]; computing
//! them through the fixed-point twins rounds each posterior in f32 and
//! measured further from the GPU on the saved property cases, not closer).
//! The twins are checked against these step by step.

mod confusion_normalise;
mod ds_e_step;
mod ds_m_step_combine;
mod ds_m_step_segments;
mod group_sums;
#[cfg(test)]
mod kernel_tests;
mod log_priors;
mod loop_probe;
mod m_step_counts;
mod mv_counts;
mod reduce_rows;
pub mod seg;
pub mod staple;
mod vote_shares;

pub use confusion_normalise::{
    annotation_counts, confusion_normalise, fit_terms, mean_worker_accuracy, population_confusion,
    symmetric_log_table, LN_EPS,
};
pub use ds_e_step::{ds_e_step, exp_nonpositive, ll_fixed, ll_from_fixed, ll_reduce, EStepTerms};
pub use ds_m_step_combine::ds_m_step_combine;
pub use ds_m_step_segments::ds_m_step_segments;
pub use group_sums::group_sums;
pub use log_priors::{class_priors, log_priors};
pub use loop_probe::loop_probe;
pub use m_step_counts::ds_m_step_counts;
pub use mv_counts::mv_counts;
pub use reduce_rows::{reduce_columns, reduce_rows};
pub use vote_shares::vote_shares;

use ndarray::{Array2, Array3};

use super::{
    Backend, ConfusionRule, EmSession, ModelParams, SegBackend, SegHostBytes, SegSession,
    WorkerPrior,
};
use crate::engine::pack::masks::{ImageSlot, MaskBatch};
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::Result;
use crate::maths::TieBreak;

/// Items per rayon task: large enough to amortise scheduling, small enough
/// to balance skewed rows.
const ITEM_CHUNK: usize = 4096;

/// Items whose E-step terms are held at once (8 MB of them): enough
/// rayon tasks to keep every core busy, and never one pair of f32 per item
/// of a 100M-item fit.
const E_STEP_BLOCK: usize = 1 << 20;

/// Runs the kernels on the host's cores.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn name(&self) -> String {
        match rayon::current_num_threads() {
            1 => "cpu (1 thread)".to_string(),
            n => format!("cpu ({n} threads)"),
        }
    }

    fn em_session<'a>(&'a self, data: &'a Packed) -> Result<Box<dyn EmSession + 'a>> {
        let (i, w, k) = (
            data.n_items() as u64,
            data.n_workers() as u64,
            data.n_classes() as u64,
        );
        // Posteriors, then log-confusion tables and the M-step's counts.
        let needed = 4 * (i * k + 2 * w * k * k);
        crate::engine::memory::check_fits(
            needed,
            crate::engine::memory::available_bytes(),
            &format!("{i} items × {k} classes and {w} workers × {k} × {k} confusion tables"),
            "split the input into runs with fewer workers, or merge rare classes",
        )?;
        Ok(Box::new(CpuSession::new(data)))
    }
}

/// Model state in host memory.
struct CpuSession<'a> {
    data: &'a Packed,
    /// `[item][class]`
    posteriors: Vec<f32>,
    /// `[item group][class]`
    log_priors: Vec<f32>,
    /// `[worker][given][true]`: the E-step reads a contiguous run over the
    /// true class for each annotation.
    log_confusion: Vec<f32>,
    /// `[worker]` trace(C)/n from the last M-step.
    worker_accuracy: Vec<f32>,
    /// Per item its known class + 1 (0: not known); empty when no item is.
    known: Vec<u32>,
    /// The last M-step's soft counts `[worker][true][given]`.
    counts: Vec<f32>,
    /// Pseudo-counts added to every M-step's (empty: none).
    prior: WorkerPrior,
    /// Each worker's `n` for the confusion rules: annotations plus past answers.
    worker_n: Vec<f32>,
}

impl<'a> CpuSession<'a> {
    /// The E-step over each prior block in turn: posteriors, and the sums
    /// of the items' log-likelihood and entropy terms. The terms are
    /// reduced [`E_STEP_BLOCK`] items at a time, in fixed point as the
    /// GPU's passes do, so the totals are those of one reduction over all.
    fn e_step_sums(&mut self) -> (f64, f64) {
        let d = self.data;
        let k = d.n_classes();
        let (mut ll, mut entropy) = (0i64, 0i64);
        for g in 0..d.n_item_groups() {
            let group = d.item_group_range(g);
            for start in group.clone().step_by(E_STEP_BLOCK) {
                let r = start..(start + E_STEP_BLOCK).min(group.end);
                let known = if self.known.is_empty() {
                    &[][..]
                } else {
                    &self.known[r.clone()]
                };
                let terms = ds_e_step(
                    &d.item_offsets[r.start..=r.end],
                    &d.item_worker,
                    &d.item_label,
                    &self.log_confusion,
                    &self.log_priors[g * k..(g + 1) * k],
                    known,
                    &mut self.posteriors[r.start * k..r.end * k],
                );
                ll = ll.wrapping_add(ll_fixed(&terms.ll));
                entropy = entropy.wrapping_add(ll_fixed(&terms.entropy));
            }
        }
        (ll_from_fixed(ll), ll_from_fixed(entropy))
    }

    fn new(data: &'a Packed) -> Self {
        let (i, w, k) = (data.n_items(), data.n_workers(), data.n_classes());
        CpuSession {
            data,
            posteriors: vec![1.0 / k as f32; i * k],
            log_priors: vec![-(k as f32).ln(); data.n_item_groups() * k],
            log_confusion: vec![-(k as f32).ln(); w * k * k],
            worker_accuracy: vec![0.0; w],
            known: Vec::new(),
            counts: Vec::new(),
            prior: WorkerPrior::default(),
            worker_n: annotation_counts(&data.worker_offsets),
        }
    }
}

impl EmSession for CpuSession<'_> {
    fn mv_counts(&mut self) -> Result<Array2<u32>> {
        let d = self.data;
        let counts = mv_counts(&d.item_offsets, &d.item_label, d.n_classes());
        Ok(Array2::from_shape_vec((d.n_items(), d.n_classes()), counts).expect("shape"))
    }

    fn init_posteriors_from_votes(&mut self) -> Result<()> {
        let d = self.data;
        // The uniform start goes before the counts and shares are built:
        // this is where a fit's memory peaks, beside the packed input.
        self.posteriors = Vec::new();
        let counts = mv_counts(&d.item_offsets, &d.item_label, d.n_classes());
        self.posteriors = vote_shares(counts, d.n_classes(), &self.known);
        Ok(())
    }

    fn set_known(&mut self, known: &KnownClasses) -> Result<()> {
        self.known.clear();
        if !known.is_empty() {
            self.known = vec![0; self.data.n_items()];
            for (&i, &y) in known.item.iter().zip(&known.class) {
                self.known[i as usize] = y + 1;
            }
        }
        Ok(())
    }

    fn set_worker_prior(&mut self, prior: &WorkerPrior) -> Result<()> {
        self.prior = prior.clone();
        self.worker_n = if prior.is_empty() {
            annotation_counts(&self.data.worker_offsets)
        } else {
            prior.worker_n(self.data)
        };
        Ok(())
    }

    fn init_params(&mut self, log_priors: &[f32], log_confusion: &[f32]) -> Result<()> {
        self.log_priors = tile_priors(log_priors, self.data);
        self.log_confusion.copy_from_slice(log_confusion);
        Ok(())
    }

    fn m_step(&mut self, rule: ConfusionRule) -> Result<()> {
        let d = self.data;
        let k = d.n_classes();
        self.log_priors = (0..d.n_item_groups())
            .flat_map(|g| {
                let r = d.item_group_range(g);
                class_priors(&self.posteriors[r.start * k..r.end * k], k)
            })
            .map(|p| p.max(super::PROB_FLOOR).ln())
            .collect();
        let mut counts = ds_m_step_counts(
            &d.worker_offsets,
            &d.worker_item,
            &d.worker_label,
            &self.posteriors,
            k,
        );
        // The prior's counts added to this M-step's (the GPU starts its
        // chunk sums from them instead of zero: the same sum in another
        // order, within the parity tolerance).
        for (c, p) in counts.iter_mut().zip(&self.prior.counts) {
            *c += p;
        }
        let (log_confusion, accuracy) =
            confusion_normalise(&counts, &self.worker_n, k, rule, d.groups.workers_per_group);
        self.log_confusion = log_confusion;
        self.worker_accuracy = accuracy;
        self.counts = counts;
        Ok(())
    }

    fn e_step(&mut self) -> Result<f64> {
        Ok(self.e_step_sums().0)
    }

    fn e_and_m_step(&mut self, rule: ConfusionRule) -> Result<(f64, f64)> {
        let (ll, entropy) = self.e_step_sums();
        self.m_step(rule)?;
        let k = self.data.n_classes();
        let fit = fit_terms(&self.counts, &self.log_confusion, &self.log_priors[..k], k);
        Ok((ll, ll_reduce(&fit) + entropy))
    }

    fn mean_worker_accuracy(&mut self) -> Result<f32> {
        Ok(mean_worker_accuracy(
            &self.worker_accuracy,
            &self.data.worker_offsets,
        ))
    }

    fn read_posteriors(&mut self) -> Result<Array2<f32>> {
        let d = self.data;
        Ok(
            Array2::from_shape_vec((d.n_items(), d.n_classes()), self.posteriors.clone())
                .expect("shape"),
        )
    }

    fn take_posteriors(&mut self) -> Result<Array2<f32>> {
        let d = self.data;
        let posteriors = std::mem::take(&mut self.posteriors);
        Ok(Array2::from_shape_vec((d.n_items(), d.n_classes()), posteriors).expect("shape"))
    }

    fn read_params(&mut self) -> Result<ModelParams> {
        let d = self.data;
        let k = d.n_classes();
        Ok(ModelParams {
            class_priors: self.log_priors.iter().map(|l| l.exp()).collect(),
            confusion: confusion_from_log(&self.log_confusion, d.n_workers(), k),
        })
    }
}

/// Log priors for every item group: `log_priors` as given when it holds one
/// row per group, else its one row repeated.
pub fn tile_priors(log_priors: &[f32], data: &Packed) -> Vec<f32> {
    let (k, g) = (data.n_classes(), data.n_item_groups());
    if log_priors.len() == k * g {
        log_priors.to_vec()
    } else {
        log_priors.iter().copied().cycle().take(k * g).collect()
    }
}

/// Converts `[worker][given][true]` log-probabilities to `[worker][true][given]`
/// probabilities.
///
/// Rows are renormalised: `hds` keeps `E[log θ]`, whose exponentials sum
/// to a little under 1 (the normalised geometric mean is its point
/// estimate); for the other rules the rows already sum to 1.
pub fn confusion_from_log(log_confusion: &[f32], n_workers: usize, k: usize) -> Array3<f32> {
    let mut table = Array3::from_shape_fn((n_workers, k, k), |(w, t, l)| {
        log_confusion[(w * k + l) * k + t].exp()
    });
    for mut row in table.lanes_mut(ndarray::Axis(2)) {
        let sum: f32 = row.sum();
        if sum > 0.0 {
            row.mapv_inplace(|p| p / sum);
        }
    }
    table
}

impl SegBackend for CpuBackend {
    fn name(&self) -> String {
        Backend::name(self)
    }

    fn seg_session<'a>(&'a self, batch: &'a MaskBatch) -> Result<Box<dyn SegSession + 'a>> {
        Ok(Box::new(CpuSegSession {
            batch,
            mask_weight: vec![1; batch.mask_worker.len()],
            taps: vec![1],
            labels: vec![0; batch.output_pixels()],
            confidence: vec![0.0; batch.output_pixels()],
        }))
    }

    fn seg_host_bytes(&self, k: usize) -> SegHostBytes {
        SegHostBytes {
            // A class id and an f32 confidence per pixel, handed over at the end.
            per_pixel: 5,
            per_mask_byte: 0,
            // Votes, smoothed rows and STAPLE's posterior: K words per
            // pixel each, for a slice of images.
            per_largest_pixel: (SEG_IMAGES_PER_PASS * k * 4 * 3) as u64,
        }
    }
}

/// The output pixels of a run of images.
fn output_range(images: &[ImageSlot]) -> std::ops::Range<usize> {
    let start = images[0].output_start as usize;
    start..start + images.iter().map(|i| i.pixels()).sum::<usize>()
}

/// Images voted on at a time: vote maps are `K` words per pixel, so a
/// batch of thousands of large images is processed a slice at a time.
const SEG_IMAGES_PER_PASS: usize = 32;

/// The consensus in host memory; vote maps live only while a slice of
/// images is decided.
struct CpuSegSession<'a> {
    batch: &'a MaskBatch,
    mask_weight: Vec<u32>,
    taps: Vec<u32>,
    labels: Vec<u8>,
    confidence: Vec<f32>,
}

/// Output pixels of the largest slice of images decided at once.
fn largest_pass(b: &MaskBatch) -> usize {
    b.images
        .chunks(SEG_IMAGES_PER_PASS)
        .map(|s| s.iter().map(|i| i.pixels()).sum::<usize>())
        .max()
        .unwrap_or(0)
}

impl CpuSegSession<'_> {
    /// Runs `decide(first image, images, smoothed votes, labels, confidence)`
    /// on each slice of [`SEG_IMAGES_PER_PASS`] images: the slice's votes
    /// under the session's weights, smoothed with its taps, and the slice's
    /// part of the consensus. Two vote buffers for the largest slice are
    /// reused: fresh buffers per slice cost more in page faults than the
    /// smoothing itself.
    fn for_each_pass(
        &mut self,
        mut decide: impl FnMut(usize, &[ImageSlot], &[u32], &mut [u8], &mut [f32]),
    ) {
        let b = self.batch;
        let k = b.n_classes();
        let largest = largest_pass(b);
        let smooth = self.taps.len() > 1;
        let mut votes = vec![0u32; largest * k];
        let mut rows = vec![0u32; if smooth { largest * k } else { 0 }];
        for (pass, images) in b.images.chunks(SEG_IMAGES_PER_PASS).enumerate() {
            let n = images.iter().map(|i| i.pixels()).sum::<usize>() * k;
            let votes = &mut votes[..n];
            seg::seg_vote_into(images, &b.labels, &self.mask_weight, k, votes);
            if smooth {
                let rows = &mut rows[..n];
                seg::seg_smooth_into(images, votes, k, &self.taps, true, rows);
                seg::seg_smooth_into(images, rows, k, &self.taps, false, votes);
            }
            let pixels = output_range(images);
            decide(
                b.first_image as usize + pass * SEG_IMAGES_PER_PASS,
                images,
                votes,
                &mut self.labels[pixels.clone()],
                &mut self.confidence[pixels],
            );
        }
    }
}

impl SegSession for CpuSegSession<'_> {
    fn vote(&mut self, mask_weight: &[u32], taps: &[u32]) -> Result<()> {
        self.mask_weight = mask_weight.to_vec();
        self.taps = taps.to_vec();
        Ok(())
    }

    fn decide(&mut self, ties: TieBreak, seed: u32) -> Result<()> {
        let k = self.batch.n_classes();
        self.for_each_pass(|first, images, votes, labels, confidence| {
            seg::seg_argmax_into(images, first, votes, k, (ties, seed), labels, confidence);
        });
        Ok(())
    }

    fn staple_step(&mut self, mask_rater: &[u32], log_confusion: &[f32]) -> Result<Vec<f32>> {
        let b = self.batch;
        let k = b.n_classes();
        let mut posterior = vec![0f32; largest_pass(b) * k];
        let mut counts = Vec::with_capacity(b.mask_worker.len() * k * k);
        self.for_each_pass(|_, images, votes, labels, confidence| {
            let posterior = &mut posterior[..votes.len()];
            staple::staple_posterior_into(
                images,
                &b.labels,
                votes,
                mask_rater,
                log_confusion,
                k,
                posterior,
                labels,
                confidence,
            );
            staple::staple_counts(images, &b.labels, posterior, k, &mut counts);
        });
        Ok(counts)
    }

    fn agreement(&mut self) -> Result<Vec<u32>> {
        let b = self.batch;
        Ok(seg::seg_agreement(&b.images, &b.labels, &self.labels))
    }

    fn read_consensus(&mut self) -> Result<(Vec<u8>, Vec<f32>)> {
        // Handed over, not copied: at a thousand large images they are GBs.
        Ok((
            std::mem::take(&mut self.labels),
            std::mem::take(&mut self.confidence),
        ))
    }
}
