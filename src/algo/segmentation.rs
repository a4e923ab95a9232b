//! Consolidation of segmentation masks: per-pixel plurality, smoothed
//! plurality (Ground Truth's method), and votes weighted by each worker's
//! reliability learnt across the whole batch.

use crate::algo::TieBreak;
use crate::backend::cpu::seg::{Smoothing, MAX_PIXEL_WEIGHT};
use crate::backend::SegBackend;
use crate::error::{Error, Result};
use crate::pack::masks::MaskBatch;

/// How the masks of an image are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
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
}

impl SegMethod {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SegMethod::Mv => "mv",
            SegMethod::SmoothMv => "smooth-mv",
            SegMethod::Weighted => "weighted",
        }
    }
}

/// Parameters of a segmentation fit.
#[derive(Debug, Clone, PartialEq)]
pub struct SegParams {
    pub method: SegMethod,
    /// The neighbourhood of `smooth-mv` and `weighted`.
    pub smoothing: Smoothing,
    pub ties: TieBreak,
    pub seed: u32,
    /// Rounds of reliability re-estimation for `weighted`.
    pub max_iter: u32,
}

impl SegParams {
    pub fn new(method: SegMethod) -> Self {
        SegParams {
            method,
            smoothing: Smoothing::Gaussian { sigma: 1.0 },
            ties: TieBreak::Lowest,
            seed: 0,
            max_iter: 10,
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
    /// Per worker: the vote weight used last (1 for `mv` and `smooth-mv`).
    pub worker_weight: Vec<f64>,
    /// Reliability rounds run (1 for `mv` and `smooth-mv`).
    pub iterations: u32,
    pub converged: bool,
}

/// Consolidates `batch` on `backend`.
pub fn fit(
    batch: &MaskBatch,
    backend: &dyn SegBackend,
    params: &SegParams,
) -> Result<SegConsolidation> {
    let most_masks = batch.images.iter().map(|s| s.n_masks).max().unwrap_or(0);
    if most_masks > MAX_PIXEL_WEIGHT {
        return Err(Error::Limit(format!(
            "an image has {most_masks} masks; accord consolidates at most {MAX_PIXEL_WEIGHT} per image"
        )));
    }
    let taps = match params.method {
        SegMethod::Mv => vec![1],
        SegMethod::SmoothMv | SegMethod::Weighted => params.smoothing.taps(),
    };
    let mut session = backend.seg_session(batch)?;
    let n_workers = batch.n_workers();
    let mut worker_weight = vec![1.0f64; n_workers];
    let mut mask_weight = vec![1u32; batch.mask_worker.len()];
    session.vote(&mask_weight, &taps)?;
    session.decide(params.ties, params.seed)?;
    let mut agreement = session.agreement()?;
    let (mut iterations, mut converged) = (1, true);
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
    use crate::backend::cpu::CpuBackend;
    use crate::eval::SegScorer;
    use crate::pack::masks::{Mask, MaskBuilder};
    use crate::synth_seg::{sample, worker_habits, SegSpec};

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
        let iou = mean_ious(&[SegMethod::Mv, SegMethod::SmoothMv, SegMethod::Weighted]);
        assert!(
            iou[0] < iou[1] && iou[1] < iou[2],
            "mean IoU mv, smooth-mv, weighted: {iou:?}"
        );
    }
}
