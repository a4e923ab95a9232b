//! Consolidation of segmentation masks: per-pixel plurality, smoothed
//! plurality (Ground Truth's method), votes weighted by each worker's
//! reliability learnt across the whole batch, and multi-class STAPLE.

use crate::engine::backend::cpu::seg::{Smoothing, MAX_PIXEL_WEIGHT};
use crate::engine::backend::SegBackend;
use crate::engine::pack::masks::MaskBatch;
use crate::error::{Error, Result};
use crate::maths::TieBreak;

/// How the masks of an image are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum SegMethod {
    /// Per-pixel plurality.
    Mv,
    /// Each worker's votes smoothed over a neighbourhood before the
    /// plurality (Ground Truth's behaviour).
    #[default]
    SmoothMv,
    /// Smoothed votes weighted by each worker's reliability: its agreement
    /// with the consensus over the whole batch, refined until it settles.
    Weighted,
    /// Multi-class STAPLE: EM over a class confusion table per worker (or
    /// per mask), with each pixel's smoothed votes as its prior.
    Staple,
}

/// Whose confusion table STAPLE learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum StapleScope {
    /// One table per worker, learnt from all the worker's masks.
    #[default]
    Shared,
    /// One table per mask: each image on its own, as SimpleITK's STAPLE.
    PerImage,
}

impl SegMethod {
    /// Every segmentation method, in the order help texts list them.
    pub const ALL: [SegMethod; 4] = [
        SegMethod::Mv,
        SegMethod::SmoothMv,
        SegMethod::Weighted,
        SegMethod::Staple,
    ];

    /// The method named `name`.
    pub fn from_name(name: &str) -> Option<SegMethod> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// One line for help texts.
    pub fn summary(self) -> &'static str {
        match self {
            SegMethod::Mv => "Per-pixel plurality",
            SegMethod::SmoothMv => "Votes smoothed over a neighbourhood (a Gaussian or a box) before the plurality (the default)",
            SegMethod::Weighted => "Smoothed votes weighted by each worker's reliability, learnt across the batch",
            SegMethod::Staple => "Multi-class STAPLE: a class confusion table per worker learnt by EM, smoothed votes as the prior",
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SegMethod::Mv => "mv",
            SegMethod::SmoothMv => "smooth-mv",
            SegMethod::Weighted => "weighted",
            SegMethod::Staple => "staple",
        }
    }
}

/// Parameters of a segmentation fit.
#[derive(Debug, Clone, PartialEq)]
pub struct SegParams {
    /// The consolidation method.
    pub method: SegMethod,
    /// The neighbourhood of `smooth-mv` and `weighted`.
    pub smoothing: Smoothing,
    /// How a pixel whose top classes tie is decided.
    pub ties: TieBreak,
    /// Seed of random tie-breaks.
    pub seed: u32,
    /// Rounds of reliability re-estimation for `weighted`, EM iterations
    /// for `staple`.
    pub max_iter: u32,
    /// `staple`: one confusion table per worker or per mask.
    pub scope: StapleScope,
    /// `staple` stops when no confusion probability moves more than this.
    pub tol: f64,
}

/// The widest smoothing reach, in pixels each way: wider would cost
/// memory and time for nothing (it is wider than most images).
pub const MAX_SMOOTHING_RADIUS: u32 = 1_000;

impl SegParams {
    /// Checks the values before a fit; the error names the field.
    pub fn validate(&self) -> Result<()> {
        match self.smoothing {
            Smoothing::Gaussian { sigma } if !(sigma.is_finite() && sigma >= 0.0) => Err(
                Error::invalid_param("sigma", format!("must be a finite number ≥ 0, not {sigma}")),
            ),
            Smoothing::Gaussian { sigma } if (3.0 * sigma).ceil() > MAX_SMOOTHING_RADIUS as f32 => {
                Err(Error::invalid_param(
                    "sigma",
                    format!(
                        "{sigma} reaches more than {MAX_SMOOTHING_RADIUS} pixels (3σ): at most {}",
                        MAX_SMOOTHING_RADIUS / 3
                    ),
                ))
            }
            Smoothing::Box { radius } if radius > MAX_SMOOTHING_RADIUS => {
                Err(Error::invalid_param(
                    "radius",
                    format!("{radius} is more than {MAX_SMOOTHING_RADIUS} pixels"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The defaults for `method`: Gaussian smoothing with σ = 1, ties to the
    /// lowest class, seed 0, 50 iterations for `staple` (else 10), shared
    /// confusion tables, tolerance 1e-4.
    pub fn new(method: SegMethod) -> Self {
        SegParams {
            method,
            smoothing: Smoothing::Gaussian { sigma: 1.0 },
            ties: TieBreak::Lowest,
            seed: 0,
            max_iter: if method == SegMethod::Staple { 50 } else { 10 },
            scope: StapleScope::Shared,
            tol: 1e-4,
        }
    }
}

/// The consensus of a batch.
#[derive(Debug, Clone)]
pub struct SegConsolidation {
    /// Class id per output pixel, images in batch order.
    pub labels: Vec<u8>,
    /// Winning share of the (smoothed, weighted) votes per output pixel.
    pub confidence: Vec<f32>,
    /// Mean pixel confidence per image.
    pub image_confidence: Vec<f64>,
    /// Per worker: share of its pixels that agree with the consensus.
    pub worker_agreement: Vec<f64>,
    /// Per worker: the vote weight used last (1 for `mv` and `smooth-mv`);
    /// for `staple`, the share of its pixels its confusion table expects
    /// to be right.
    pub worker_weight: Vec<f64>,
    /// Reliability rounds or EM iterations run (1 for `mv` and `smooth-mv`).
    pub iterations: u32,
    /// Whether the fit stopped by converging rather than at `max_iter`
    /// (always true for `mv` and `smooth-mv`).
    pub converged: bool,
}

/// Consolidates `batch` on `backend`.
pub fn fit(
    batch: &MaskBatch,
    backend: &dyn SegBackend,
    params: &SegParams,
) -> Result<SegConsolidation> {
    params.validate()?;
    let most_masks = batch.images.iter().map(|s| s.n_masks).max().unwrap_or(0);
    if most_masks > MAX_PIXEL_WEIGHT {
        return Err(Error::Limit(format!(
            "an image has {most_masks} masks; accord consolidates at most {MAX_PIXEL_WEIGHT} per image"
        )));
    }
    let taps = match params.method {
        SegMethod::Mv => vec![1],
        SegMethod::SmoothMv | SegMethod::Weighted | SegMethod::Staple => params.smoothing.taps(),
    };
    let mut session = backend.seg_session(batch)?;
    let n_workers = batch.n_workers();
    let mut worker_weight = vec![1.0f64; n_workers];
    let mut mask_weight = vec![1u32; batch.mask_worker.len()];
    session.vote(&mask_weight, &taps)?;
    let (mut iterations, mut converged) = (1, true);
    if params.method == SegMethod::Staple {
        let staple = staple(batch, session.as_mut(), params)?;
        (iterations, converged, worker_weight) =
            (staple.iterations, staple.converged, staple.worker_accuracy);
    } else {
        session.decide(params.ties, params.seed)?;
    }
    let mut agreement = session.agreement()?;
    if params.method == SegMethod::Weighted {
        converged = false;
        while iterations < params.max_iter.max(1) {
            worker_weight = reliability_weights(batch, &agreement);
            mask_weight = quantise(batch, &worker_weight, most_masks);
            session.vote(&mask_weight, &taps)?;
            session.decide(params.ties, params.seed)?;
            let next = session.agreement()?;
            iterations += 1;
            if next == agreement {
                converged = true;
                break;
            }
            agreement = next;
        }
    }
    let (labels, confidence) = session.read_consensus()?;
    let image_confidence = batch
        .images
        .iter()
        .map(|slot| {
            let pixels = &confidence[slot.output_start as usize..][..slot.pixels()];
            pixels.iter().map(|&c| c as f64).sum::<f64>() / slot.pixels().max(1) as f64
        })
        .collect();
    let (agree, seen) = per_worker(batch, &agreement);
    Ok(SegConsolidation {
        labels,
        confidence,
        image_confidence,
        worker_agreement: agree
            .iter()
            .zip(&seen)
            .map(|(&a, &n)| if n > 0 { a as f64 / n as f64 } else { 0.0 })
            .collect(),
        worker_weight,
        iterations,
        converged,
    })
}

/// What a STAPLE fit learnt besides the consensus.
struct StapleFit {
    iterations: u32,
    converged: bool,
    worker_accuracy: Vec<f64>,
}

/// Pseudo-count added to every cell of a rater's confusion counts, so that
/// a class a rater never drew keeps a small probability.
const STAPLE_PSEUDO_COUNT: f64 = 1.0;

/// Multi-class STAPLE on a session whose votes are set: EM from uniform
/// confusion tables, so the first E-step's posterior is the spatial prior
/// alone (soft smoothed majority vote); each M-step normalises the soft
/// counts per rater and true class. The session's consensus is the last
/// E-step's.
fn staple(
    batch: &MaskBatch,
    session: &mut dyn crate::engine::backend::SegSession,
    params: &SegParams,
) -> Result<StapleFit> {
    let k = batch.n_classes();
    let mask_rater: Vec<u32> = match params.scope {
        StapleScope::Shared => batch.mask_worker.clone(),
        StapleScope::PerImage => (0..batch.mask_worker.len() as u32).collect(),
    };
    let n_raters = match params.scope {
        StapleScope::Shared => batch.n_workers(),
        StapleScope::PerImage => batch.mask_worker.len(),
    };
    let table_bytes = (n_raters * k * k) as u64 * 4 + (batch.mask_worker.len() * k * k) as u64 * 4;
    if table_bytes > MAX_STAPLE_TABLE_BYTES {
        return Err(Error::Limit(format!(
            "staple needs {n_raters} confusion tables of {k}×{k} classes and {} masks' counts: {} MiB, above accord's {} MiB; use `staple_scope` shared or fewer classes",
            batch.mask_worker.len(),
            table_bytes >> 20,
            MAX_STAPLE_TABLE_BYTES >> 20
        )));
    }
    let mut log_confusion = vec![-(k as f32).ln(); n_raters * k * k];
    let mut confusion = vec![1.0 / k as f64; n_raters * k * k];
    let mut iterations = 0;
    loop {
        let counts = session.staple_step(&mask_rater, &log_confusion)?;
        iterations += 1;
        let rater_counts = sum_per_rater(&counts, &mask_rater, n_raters, k);
        let next = normalise_confusion(&rater_counts, k);
        let moved = next
            .iter()
            .zip(&confusion)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        confusion = next;
        log_confusion = confusion.iter().map(|&p| (p as f32).ln()).collect();
        let converged = moved < params.tol;
        if converged || iterations >= params.max_iter.max(1) {
            return Ok(StapleFit {
                iterations,
                converged,
                worker_accuracy: worker_accuracy(batch, &counts, k),
            });
        }
    }
}

/// Confusion tables and per-mask counts above this are refused.
const MAX_STAPLE_TABLE_BYTES: u64 = 1 << 30;

/// `[rater][given][true]` sums of the per-mask soft counts.
fn sum_per_rater(counts: &[f32], mask_rater: &[u32], n_raters: usize, k: usize) -> Vec<f64> {
    let mut sums = vec![0f64; n_raters * k * k];
    for (mask, table) in counts.chunks_exact(k * k).enumerate() {
        let rater = &mut sums[mask_rater[mask] as usize * k * k..][..k * k];
        for (s, &c) in rater.iter_mut().zip(table) {
            *s += c as f64;
        }
    }
    sums
}

/// M-step: `θ[given | true]` from `[rater][given][true]` soft counts plus
/// [`STAPLE_PSEUDO_COUNT`], in the same layout.
fn normalise_confusion(counts: &[f64], k: usize) -> Vec<f64> {
    let mut theta = vec![0f64; counts.len()];
    for (table, out) in counts
        .chunks_exact(k * k)
        .zip(theta.chunks_exact_mut(k * k))
    {
        for t in 0..k {
            let column: f64 = (0..k).map(|g| table[g * k + t]).sum::<f64>();
            let total = column + STAPLE_PSEUDO_COUNT * k as f64;
            for g in 0..k {
                out[g * k + t] = (table[g * k + t] + STAPLE_PSEUDO_COUNT) / total;
            }
        }
    }
    theta
}

/// Per worker: the posterior share of its pixels whose label is the true
/// class, from the last E-step's counts.
fn worker_accuracy(batch: &MaskBatch, counts: &[f32], k: usize) -> Vec<f64> {
    let mut right = vec![0f64; batch.n_workers()];
    let mut all = vec![0f64; batch.n_workers()];
    for (mask, table) in counts.chunks_exact(k * k).enumerate() {
        let w = batch.mask_worker[mask] as usize;
        right[w] += (0..k).map(|c| table[c * k + c] as f64).sum::<f64>();
        all[w] += table.iter().map(|&c| c as f64).sum::<f64>();
    }
    right
        .iter()
        .zip(&all)
        .map(|(&r, &a)| if a > 0.0 { r / a } else { 0.0 })
        .collect()
}

/// Per worker: (pixels agreeing with the consensus, pixels labelled).
fn per_worker(batch: &MaskBatch, agreement: &[u32]) -> (Vec<u64>, Vec<u64>) {
    let mut agree = vec![0u64; batch.n_workers()];
    let mut seen = vec![0u64; batch.n_workers()];
    for slot in &batch.images {
        for r in 0..slot.n_masks as usize {
            let mask = slot.first_mask as usize + r;
            let w = batch.mask_worker[mask] as usize;
            agree[w] += agreement[mask] as u64;
            seen[w] += slot.pixels() as u64;
        }
    }
    (agree, seen)
}

/// The weight of a worker who agrees with the consensus on a share `a` of
/// its pixels: the log-odds `ln((K−1)·a / (1−a))` of the one-coin model,
/// which makes a weighted vote the most likely label when errors are
/// spread evenly; 0 for a worker no better than chance. Shares are
/// smoothed by one pixel each way so that a perfect worker stays finite.
fn reliability_weights(batch: &MaskBatch, agreement: &[u32]) -> Vec<f64> {
    let k = batch.n_classes().max(2) as f64;
    let (agree, seen) = per_worker(batch, agreement);
    agree
        .iter()
        .zip(&seen)
        .map(|(&a, &n)| {
            let share = (a as f64 + 1.0) / (n as f64 + 2.0);
            ((k - 1.0) * share / (1.0 - share)).ln().max(0.0)
        })
        .collect()
}

/// Integer mask weights proportional to the worker weights, as fine as the
/// per-pixel budget allows. If no worker carries weight, all count equally.
fn quantise(batch: &MaskBatch, worker_weight: &[f64], most_masks: u32) -> Vec<u32> {
    let top = worker_weight.iter().copied().fold(0.0, f64::max);
    let levels = (MAX_PIXEL_WEIGHT / most_masks.max(1)) as f64;
    batch
        .mask_worker
        .iter()
        .map(|&w| {
            if top > 0.0 {
                (worker_weight[w as usize] / top * levels).round() as u32
            } else {
                1
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backend::cpu::CpuBackend;
    use crate::engine::pack::masks::{Mask, MaskBuilder};
    use crate::eval::SegScorer;
    use crate::synth::segmentation::{sample, worker_habits, SegSpec};

    /// Mean IoU of each method on generated scenes whose workers differ in
    /// skill.
    fn mean_ious(methods: &[SegMethod]) -> Vec<f64> {
        let spec = SegSpec {
            images: 12,
            width: 96,
            height: 64,
            workers: 5,
            classes: 4,
            shapes: 5,
            seed: 11,
        };
        let habits = worker_habits(&spec);
        let samples: Vec<_> = (0..spec.images)
            .map(|i| sample(&spec, &habits, i))
            .collect();
        let mut builder =
            MaskBuilder::new((0..spec.classes).map(|c| c.to_string()).collect()).unwrap();
        for (i, s) in samples.iter().enumerate() {
            for (r, mask) in s.masks.iter().enumerate() {
                builder
                    .push(Mask {
                        image: &format!("img-{i}"),
                        worker: &format!("w-{r}"),
                        width: spec.width,
                        height: spec.height,
                        pixels: mask,
                    })
                    .unwrap();
            }
        }
        let batch = builder.finish();
        methods
            .iter()
            .map(|&m| {
                let fit = fit(&batch, &CpuBackend, &SegParams::new(m)).unwrap();
                let mut scorer = SegScorer::new(spec.classes);
                for (slot, s) in batch.images.iter().zip(&samples) {
                    scorer.add(
                        &fit.labels[slot.output_start as usize..][..slot.pixels()],
                        &s.gold,
                    );
                }
                scorer.scores().mean_iou
            })
            .collect()
    }

    #[test]
    fn smoothing_beats_plain_votes_and_reliability_beats_smoothing() {
        let iou = mean_ious(&[
            SegMethod::Mv,
            SegMethod::SmoothMv,
            SegMethod::Weighted,
            SegMethod::Staple,
        ]);
        assert!(
            iou[0] < iou[1] && iou[1] < iou[2] && iou[1] < iou[3],
            "mean IoU mv, smooth-mv, weighted, staple: {iou:?}"
        );
    }

    #[test]
    fn staple_refuses_confusion_tables_beyond_the_limit_and_names_the_flag() {
        let mut builder = MaskBuilder::new((0..256).map(|c| c.to_string()).collect()).unwrap();
        for i in 0..2100 {
            builder
                .push(Mask {
                    image: &format!("img-{i}"),
                    worker: "w",
                    width: 1,
                    height: 1,
                    pixels: &[(i % 256) as u8],
                })
                .unwrap();
        }
        let batch = builder.finish();
        let mut params = SegParams::new(SegMethod::Staple);
        params.scope = StapleScope::PerImage;
        let err = fit(&batch, &CpuBackend, &params).unwrap_err().to_string();
        assert!(
            err.contains("2100 confusion tables of 256×256")
                && err.contains("`staple_scope` shared"),
            "{err}"
        );
        // One table for the one worker fits.
        params.scope = StapleScope::Shared;
        params.max_iter = 2;
        assert_eq!(
            fit(&batch, &CpuBackend, &params).unwrap().labels.len(),
            2100
        );
    }
}
