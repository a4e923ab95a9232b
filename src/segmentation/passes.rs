//! Passes over a run of masks, batch by batch: what the methods' loops
//! (`methods.rs`) run each round. One batch stays loaded, with its session,
//! from the first pass to the last; several are loaded, fitted and dropped
//! in turn on every pass, so only one is in memory at a time. Both do the
//! same per-batch work (`run_batch`), and every sum over batches is taken
//! in run order, so the results are the same however the run is cut.

use std::ops::Range;

use crate::engine::backend::{SegBackend, SegSession};
use crate::engine::pack::masks::MaskBatch;
use crate::error::Result;
use crate::maths::TieBreak;

use super::methods::StapleScope;
use super::source::MaskSource;

/// One batch's consensus, handed to a [`SegSink`] in run order.
#[derive(Debug)]
pub struct BatchConsensus<'a> {
    /// The batch (its images, in run order from `first_image`).
    pub batch: &'a MaskBatch,
    /// Class id per output pixel of the batch.
    pub labels: Vec<u8>,
    /// Winning share of the votes per output pixel of the batch.
    pub confidence: Vec<f32>,
    /// Mean pixel confidence per image of the batch.
    pub image_confidence: &'a [f64],
}

/// Where a batched fit sends the consensus, batch after batch.
pub trait SegSink {
    /// Takes one batch's consensus; batches come in run order.
    fn batch(&mut self, consensus: BatchConsensus<'_>) -> Result<()>;

    /// Forgets every batch taken so far: the fit starts again (on the CPU,
    /// after `auto`'s GPU failed).
    fn restart(&mut self) -> Result<()>;
}

/// What a batched fit is doing, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegProgress {
    /// Passes over the input begun so far (1 for the first).
    pub pass: u32,
    /// The most passes the fit may make.
    pub max_passes: u32,
    /// Whether this pass writes the consensus.
    pub writes: bool,
    /// Images of this pass done.
    pub images_done: usize,
    /// Images in the run.
    pub images: usize,
}

/// What one pass computes per batch.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// Votes weighted per worker (`[worker]`), then the plurality.
    Vote(Vec<u32>),
    /// Votes of weight 1 as the prior, then a STAPLE E-step with these
    /// log-confusion tables (`[rater][given][true]`).
    Staple(Vec<f32>),
}

/// What a pass sums over batches besides running its step.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Want {
    /// Per-mask agreement with the consensus.
    pub agreement: bool,
    /// STAPLE's soft counts, summed per rater.
    pub counts: bool,
}

/// The per-pass settings every batch shares.
pub(super) struct PassSettings<'p> {
    pub taps: &'p [u32],
    pub ties: TieBreak,
    pub seed: u32,
    pub scope: StapleScope,
    pub n_workers: usize,
    pub n_raters: usize,
    pub k: usize,
}

/// A pass's sums over the run.
#[derive(Debug, Default)]
pub(super) struct PassTotals {
    /// Per mask of the run: pixels carrying the consensus label.
    pub agreement: Vec<u32>,
    /// Per worker: pixels agreeing with the consensus, pixels labelled.
    pub agree: Vec<u64>,
    pub seen: Vec<u64>,
    /// `[rater][given][true]` soft counts.
    pub rater_counts: Vec<f64>,
    /// Per worker: posterior mass on its right labels, and all of it.
    pub worker_right: Vec<f64>,
    pub worker_all: Vec<f64>,
    /// Per image (when the pass wrote): mean pixel confidence.
    pub image_confidence: Vec<f64>,
}

impl PassTotals {
    fn new(settings: &PassSettings, want: Want) -> Self {
        let cells = if want.counts {
            settings.n_raters * settings.k * settings.k
        } else {
            0
        };
        let workers = if want.counts { settings.n_workers } else { 0 };
        PassTotals {
            agree: vec![0; settings.n_workers],
            seen: vec![0; settings.n_workers],
            rater_counts: vec![0.0; cells],
            worker_right: vec![0.0; workers],
            worker_all: vec![0.0; workers],
            ..Default::default()
        }
    }
}

/// Passes over a run.
pub(super) trait Passes {
    /// Runs `step` over every batch, summing what `want` asks; with a sink,
    /// also hands it each batch's consensus.
    fn run(
        &mut self,
        step: &Step,
        want: Want,
        sink: Option<&mut dyn SegSink>,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<PassTotals>;

    /// Passes begun so far.
    fn passes(&self) -> u32;
}

/// One batch for the whole fit: loaded once, its session kept, so a step
/// asked for again right after itself (the write after a loop settled) is
/// not recomputed.
pub(super) struct Resident<'a> {
    pub batch: &'a MaskBatch,
    pub session: Box<dyn SegSession + 'a>,
    pub settings: PassSettings<'a>,
    pub last: Option<Step>,
    pub passes: u32,
    pub max_passes: u32,
}

impl Passes for Resident<'_> {
    fn run(
        &mut self,
        step: &Step,
        want: Want,
        sink: Option<&mut dyn SegSink>,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<PassTotals> {
        self.passes += 1;
        let mut report = SegProgress {
            pass: self.passes,
            max_passes: self.max_passes,
            writes: sink.is_some(),
            images_done: 0,
            images: self.batch.images.len(),
        };
        progress(&report);
        let mut totals = PassTotals::new(&self.settings, want);
        // The session holds this step's consensus already.
        let again = !want.counts && self.last.as_ref() == Some(step);
        run_batch(
            self.batch,
            self.session.as_mut(),
            &self.settings,
            (step, want, !again),
            &mut totals,
            sink,
        )?;
        self.last = Some(step.clone());
        report.images_done = report.images;
        progress(&report);
        Ok(totals)
    }

    fn passes(&self) -> u32 {
        self.passes
    }
}

/// Several batches: each pass loads, fits and drops them in turn.
pub(super) struct Streamed<'a> {
    pub source: &'a dyn MaskSource,
    pub batches: &'a [Range<usize>],
    pub backend: &'a dyn SegBackend,
    pub settings: PassSettings<'a>,
    pub passes: u32,
    pub max_passes: u32,
}

impl Passes for Streamed<'_> {
    fn run(
        &mut self,
        step: &Step,
        want: Want,
        mut sink: Option<&mut dyn SegSink>,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<PassTotals> {
        self.passes += 1;
        let mut report = SegProgress {
            pass: self.passes,
            max_passes: self.max_passes,
            writes: sink.is_some(),
            images_done: 0,
            images: self.source.n_images(),
        };
        progress(&report);
        let mut totals = PassTotals::new(&self.settings, want);
        for range in self.batches {
            let batch = self.source.load(range.clone())?;
            let mut session = self.backend.seg_session(&batch)?;
            run_batch(
                &batch,
                session.as_mut(),
                &self.settings,
                (step, want, true),
                &mut totals,
                sink.as_deref_mut(),
            )?;
            report.images_done = range.end;
            progress(&report);
        }
        Ok(totals)
    }

    fn passes(&self) -> u32 {
        self.passes
    }
}

/// Each mask's rater: its worker (tables shared across the run) or the
/// mask itself, by its index in the run.
pub(super) fn mask_raters(batch: &MaskBatch, scope: StapleScope) -> Vec<u32> {
    match scope {
        StapleScope::Shared => batch.mask_worker.clone(),
        StapleScope::PerImage => (0..batch.mask_worker.len() as u64)
            .map(|m| (batch.first_mask + m) as u32)
            .collect(),
    }
}

/// One batch of a pass: its step (unless `compute` is false: the session
/// holds it), then the sums asked for and the consensus to the sink.
fn run_batch(
    batch: &MaskBatch,
    session: &mut dyn SegSession,
    settings: &PassSettings,
    (step, want, compute): (&Step, Want, bool),
    totals: &mut PassTotals,
    sink: Option<&mut (dyn SegSink + '_)>,
) -> Result<()> {
    let k = settings.k;
    if compute {
        let mask_weight: Vec<u32> = match step {
            Step::Vote(worker_weight) => batch
                .mask_worker
                .iter()
                .map(|&w| worker_weight[w as usize])
                .collect(),
            Step::Staple(_) => vec![1; batch.mask_worker.len()],
        };
        session.vote(&mask_weight, settings.taps)?;
        match step {
            Step::Vote(_) => session.decide(settings.ties, settings.seed)?,
            Step::Staple(log_confusion) => {
                let raters = mask_raters(batch, settings.scope);
                let counts = session.staple_step(&raters, log_confusion)?;
                if want.counts {
                    // In run order, mask by mask: the f64 sums are the
                    // same however the run is cut.
                    for (mask, table) in counts.chunks_exact(k * k).enumerate() {
                        let rater =
                            &mut totals.rater_counts[raters[mask] as usize * k * k..][..k * k];
                        for (s, &c) in rater.iter_mut().zip(table) {
                            *s += c as f64;
                        }
                        let w = batch.mask_worker[mask] as usize;
                        totals.worker_right[w] +=
                            (0..k).map(|c| table[c * k + c] as f64).sum::<f64>();
                        totals.worker_all[w] += table.iter().map(|&c| c as f64).sum::<f64>();
                    }
                }
            }
        }
    }
    if want.agreement {
        let agreement = session.agreement()?;
        for slot in &batch.images {
            for r in 0..slot.n_masks as usize {
                let mask = slot.first_mask as usize + r;
                let w = batch.mask_worker[mask] as usize;
                totals.agree[w] += agreement[mask] as u64;
                totals.seen[w] += slot.pixels() as u64;
            }
        }
        totals.agreement.extend(agreement);
    }
    if let Some(sink) = sink {
        let (labels, confidence) = session.read_consensus()?;
        let image_confidence: Vec<f64> = batch
            .images
            .iter()
            .map(|slot| {
                let start = (slot.output_start - batch.images[0].output_start) as usize;
                let pixels = &confidence[start..][..slot.pixels()];
                pixels.iter().map(|&c| c as f64).sum::<f64>() / slot.pixels().max(1) as f64
            })
            .collect();
        sink.batch(BatchConsensus {
            batch,
            labels,
            confidence,
            image_confidence: &image_confidence,
        })?;
        totals.image_confidence.extend(image_confidence);
    }
    Ok(())
}
