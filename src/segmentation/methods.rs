//! Consolidation of segmentation masks: per-pixel plurality, smoothed
//! plurality (Ground Truth's method), votes weighted by each worker's
//! reliability learnt across the whole batch, and multi-class STAPLE.

use super::passes::{
    BatchConsensus, PassSettings, PassTotals, Passes, Resident, SegProgress, SegSink, Step,
    Streamed, Want,
};
use super::source::{BatchPlan, MaskSource};
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

/// What a batched fit learnt about the run; the pixels went to its sink.
#[derive(Debug, Clone)]
pub struct SegSummary {
    /// Mean pixel confidence per image, in run order.
    pub image_confidence: Vec<f64>,
    /// Per worker: share of its pixels that agree with the consensus.
    pub worker_agreement: Vec<f64>,
    /// Per worker: the vote weight used last (see
    /// [`SegConsolidation::worker_weight`]).
    pub worker_weight: Vec<f64>,
    /// Reliability rounds or EM iterations run (1 for `mv` and `smooth-mv`).
    pub iterations: u32,
    /// Whether the fit stopped by converging rather than at `max_iter`.
    pub converged: bool,
    /// Batches the run was cut into.
    pub batches: usize,
    /// Passes made over the input (each batch loaded once a pass).
    pub passes: u32,
}

/// Consolidates `batch` on `backend`, in one piece.
pub fn fit(
    batch: &MaskBatch,
    backend: &dyn SegBackend,
    params: &SegParams,
) -> Result<SegConsolidation> {
    struct Collect(Vec<u8>, Vec<f32>);
    impl SegSink for Collect {
        fn batch(&mut self, c: BatchConsensus<'_>) -> Result<()> {
            if self.0.is_empty() {
                (self.0, self.1) = (c.labels, c.confidence);
            } else {
                self.0.extend(c.labels);
                self.1.extend(c.confidence);
            }
            Ok(())
        }
        fn restart(&mut self) -> Result<()> {
            (self.0, self.1) = (Vec::new(), Vec::new());
            Ok(())
        }
    }
    let mut collect = Collect(Vec::new(), Vec::new());
    let plan = BatchPlan::one_batch(batch);
    let summary = fit_planned(batch, &plan, backend, params, &mut collect, &mut |_| {})?;
    Ok(SegConsolidation {
        labels: collect.0,
        confidence: collect.1,
        image_confidence: summary.image_confidence,
        worker_agreement: summary.worker_agreement,
        worker_weight: summary.worker_weight,
        iterations: summary.iterations,
        converged: summary.converged,
    })
}

/// Consolidates `source` batch by batch as `plan` cuts it, on `backend`,
/// handing each batch's consensus to `sink` in run order and reporting
/// each pass to `progress`. `mv` and `smooth-mv` make one pass; `weighted`
/// and `staple` one per round or EM iteration (summing per-worker
/// statistics over the batches), then one more to write if they settled
/// before `max_iter`. With one batch, it is loaded once and kept. The
/// results are the same for every plan.
pub fn fit_planned(
    source: &dyn MaskSource,
    plan: &BatchPlan,
    backend: &dyn SegBackend,
    params: &SegParams,
    sink: &mut dyn SegSink,
    progress: &mut dyn FnMut(&SegProgress),
) -> Result<SegSummary> {
    params.validate()?;
    sink.restart()?;
    let n_images = source.n_images();
    let (mut most_masks, mut n_masks) = (0u32, 0usize);
    for i in 0..n_images {
        let masks = source.image_size(i).2;
        most_masks = most_masks.max(masks);
        n_masks += masks as usize;
    }
    if most_masks > MAX_PIXEL_WEIGHT {
        return Err(Error::Limit(format!(
            "an image has {most_masks} masks; accord consolidates at most {MAX_PIXEL_WEIGHT} per image"
        )));
    }
    let k = source.class_names().len();
    let n_workers = source.worker_names().len();
    let n_raters = match params.scope {
        StapleScope::Shared => n_workers,
        StapleScope::PerImage => n_masks,
    };
    if params.method == SegMethod::Staple {
        check_staple_tables(n_raters, k)?;
    }
    let taps = match params.method {
        SegMethod::Mv => vec![1],
        SegMethod::SmoothMv | SegMethod::Weighted | SegMethod::Staple => params.smoothing.taps(),
    };
    let settings = PassSettings {
        taps: &taps,
        ties: params.ties,
        seed: params.seed,
        scope: params.scope,
        n_workers,
        n_raters,
        k,
    };
    let max_passes = match params.method {
        SegMethod::Mv | SegMethod::SmoothMv => 1,
        SegMethod::Weighted | SegMethod::Staple => params.max_iter.max(1) + 1,
    };
    let method = MethodRun {
        params,
        n_workers,
        n_raters,
        k,
        most_masks,
    };
    let mut summary = if plan.is_one_batch() {
        let all = 0..n_images;
        let batch = source.load(all)?;
        let session = backend.seg_session(&batch)?;
        let mut passes = Resident {
            batch: &batch,
            session,
            settings,
            last: None,
            passes: 0,
            max_passes,
        };
        method.run(&mut passes, sink, progress)?
    } else {
        let mut passes = Streamed {
            source,
            batches: &plan.batches,
            backend,
            settings,
            passes: 0,
            max_passes,
        };
        method.run(&mut passes, sink, progress)?
    };
    summary.batches = plan.batches.len();
    Ok(summary)
}

/// A method's rounds over the passes of one fit.
struct MethodRun<'p> {
    params: &'p SegParams,
    n_workers: usize,
    n_raters: usize,
    k: usize,
    most_masks: u32,
}

impl MethodRun<'_> {
    fn run(
        &self,
        passes: &mut dyn Passes,
        sink: &mut dyn SegSink,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<SegSummary> {
        let params = self.params;
        let max_iter = params.max_iter.max(1);
        let agreement_only = Want {
            agreement: true,
            counts: false,
        };
        let (step, written, worker_weight, iterations, converged) = match params.method {
            SegMethod::Mv | SegMethod::SmoothMv => {
                let step = Step::Vote(vec![1; self.n_workers]);
                let out = passes.run(&step, agreement_only, Some(sink), progress)?;
                (step, Some(out), vec![1.0; self.n_workers], 1, true)
            }
            SegMethod::Weighted => {
                // A pass known to be the last writes as it goes.
                let mut step = Step::Vote(vec![1; self.n_workers]);
                let last = max_iter == 1;
                let out =
                    passes.run(&step, agreement_only, last.then_some(&mut *sink), progress)?;
                let mut agreement = out.agreement;
                let (mut agree, mut seen) = (out.agree, out.seen);
                let mut written = last.then_some(PassTotals {
                    image_confidence: out.image_confidence,
                    ..Default::default()
                });
                let mut worker_weight = vec![1.0f64; self.n_workers];
                let (mut iterations, mut converged) = (1, false);
                while iterations < max_iter {
                    worker_weight = reliability_weights(&agree, &seen, self.k);
                    step = Step::Vote(quantise(&worker_weight, self.most_masks));
                    let last = iterations + 1 == max_iter;
                    let next =
                        passes.run(&step, agreement_only, last.then_some(&mut *sink), progress)?;
                    iterations += 1;
                    let settled = next.agreement == agreement;
                    (agreement, agree, seen) = (next.agreement, next.agree, next.seen);
                    if last {
                        written = Some(PassTotals {
                            image_confidence: next.image_confidence,
                            agree: agree.clone(),
                            seen: seen.clone(),
                            ..Default::default()
                        });
                    }
                    if settled {
                        converged = true;
                        break;
                    }
                }
                if let Some(w) = written.as_mut().filter(|w| w.agree.is_empty()) {
                    (w.agree, w.seen) = (agree, seen);
                }
                (step, written, worker_weight, iterations, converged)
            }
            SegMethod::Staple => {
                let fit = self.staple(passes, sink, progress)?;
                (
                    fit.step,
                    fit.written,
                    fit.worker_accuracy,
                    fit.iterations,
                    fit.converged,
                )
            }
        };
        // A loop that settled before `max_iter` writes in one more pass
        // (free with one batch: its session holds the consensus).
        let written = match written {
            Some(w) => w,
            None => passes.run(&step, agreement_only, Some(sink), progress)?,
        };
        Ok(SegSummary {
            image_confidence: written.image_confidence,
            worker_agreement: written
                .agree
                .iter()
                .zip(&written.seen)
                .map(|(&a, &n)| if n > 0 { a as f64 / n as f64 } else { 0.0 })
                .collect(),
            worker_weight,
            iterations,
            converged,
            batches: 0,
            passes: passes.passes(),
        })
    }

    /// Multi-class STAPLE: EM from uniform confusion tables, so the first
    /// E-step's posterior is the spatial prior alone (soft smoothed
    /// majority vote); each M-step normalises the soft counts, summed over
    /// the batches, per rater and true class. The consensus is the last
    /// E-step's.
    fn staple(
        &self,
        passes: &mut dyn Passes,
        sink: &mut dyn SegSink,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<StapleFit> {
        let (k, params) = (self.k, self.params);
        let max_iter = params.max_iter.max(1);
        let mut log_confusion = vec![-(k as f32).ln(); self.n_raters * k * k];
        let mut confusion = vec![1.0 / k as f64; self.n_raters * k * k];
        let mut iterations = 0;
        loop {
            let step = Step::Staple(log_confusion);
            let last = iterations + 1 == max_iter;
            let want = Want {
                agreement: last,
                counts: true,
            };
            let out = passes.run(&step, want, last.then_some(&mut *sink), progress)?;
            iterations += 1;
            let next = normalise_confusion(&out.rater_counts, k);
            let moved = next
                .iter()
                .zip(&confusion)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            confusion = next;
            let converged = moved < params.tol;
            if converged || last {
                let worker_accuracy = out
                    .worker_right
                    .iter()
                    .zip(&out.worker_all)
                    .map(|(&r, &a)| if a > 0.0 { r / a } else { 0.0 })
                    .collect();
                return Ok(StapleFit {
                    iterations,
                    converged,
                    worker_accuracy,
                    written: last.then_some(out),
                    step,
                });
            }
            log_confusion = confusion.iter().map(|&p| (p as f32).ln()).collect();
        }
    }
}

/// What a STAPLE fit learnt besides the consensus.
struct StapleFit {
    iterations: u32,
    converged: bool,
    worker_accuracy: Vec<f64>,
    /// The last pass's sums, when it wrote the consensus.
    written: Option<PassTotals>,
    /// The last E-step, whose consensus is the result.
    step: Step,
}

/// Pseudo-count added to every cell of a rater's confusion counts, so that
/// a class a rater never drew keeps a small probability.
const STAPLE_PSEUDO_COUNT: f64 = 1.0;

/// Bytes STAPLE keeps per confusion cell of a rater: the log table (f32),
/// the table, the next one and the soft counts (f64).
const STAPLE_BYTES_PER_CELL: u64 = 4 + 8 + 8 + 8;

/// Refuses confusion tables beyond [`MAX_STAPLE_TABLE_BYTES`].
fn check_staple_tables(n_raters: usize, k: usize) -> Result<()> {
    let table_bytes = (n_raters * k * k) as u64 * STAPLE_BYTES_PER_CELL;
    if table_bytes > MAX_STAPLE_TABLE_BYTES {
        return Err(Error::Limit(format!(
            "staple needs {n_raters} confusion tables of {k}×{k} classes: {} MiB, above accord's {} MiB; use `staple_scope` shared or fewer classes",
            table_bytes >> 20,
            MAX_STAPLE_TABLE_BYTES >> 20
        )));
    }
    Ok(())
}

/// Confusion tables above this are refused.
const MAX_STAPLE_TABLE_BYTES: u64 = 1 << 30;

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

/// The weight of a worker who agrees with the consensus on a share `a` of
/// its pixels: the log-odds `ln((K−1)·a / (1−a))` of the one-coin model,
/// which makes a weighted vote the most likely label when errors are
/// spread evenly; 0 for a worker no better than chance. Shares are
/// smoothed by one pixel each way so that a perfect worker stays finite.
fn reliability_weights(agree: &[u64], seen: &[u64], k: usize) -> Vec<f64> {
    let k = k.max(2) as f64;
    agree
        .iter()
        .zip(seen)
        .map(|(&a, &n)| {
            let share = (a as f64 + 1.0) / (n as f64 + 2.0);
            ((k - 1.0) * share / (1.0 - share)).ln().max(0.0)
        })
        .collect()
}

/// Integer worker weights proportional to `worker_weight`, as fine as the
/// per-pixel budget allows for images of up to `most_masks` masks. If no
/// worker carries weight, all count equally.
fn quantise(worker_weight: &[f64], most_masks: u32) -> Vec<u32> {
    let top = worker_weight.iter().copied().fold(0.0, f64::max);
    let levels = (MAX_PIXEL_WEIGHT / most_masks.max(1)) as f64;
    worker_weight
        .iter()
        .map(|&w| {
            if top > 0.0 {
                (w / top * levels).round() as u32
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
