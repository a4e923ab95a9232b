//! The front door for segmentation: parameters with the CLI's defaults, a
//! fit on the chosen backend (with `auto`'s retry on the CPU), and a result
//! that speaks in image, worker and class names.

use super::passes::{SegProgress, SegSink};
use super::source::{plan_batches, MaskSource, DEFAULT_MEMORY_BUDGET};
use super::{fit, fit_planned, SegConsolidation, SegMethod, SegParams, SegSummary, StapleScope};
use crate::engine::backend::cpu::seg::Smoothing;
#[cfg(feature = "gpu")]
use crate::engine::backend::gpu::GpuBackend;
use crate::engine::pack::masks::{Mask, MaskBatch, MaskBuilder};
use crate::engine::select::{BackendChoice, BackendRequest, Selected};
use crate::error::{Error, Result};
use crate::maths::TieBreak;

/// Consolidates segmentation masks: one class per pixel.
///
/// Defaults are the CLI's: `smooth-mv` with a Gaussian of σ = 1 pixel, on
/// the `auto` backend.
///
/// ```
/// use accord::engine::pack::masks::Mask;
/// use accord::engine::select::BackendChoice;
/// use accord::segmentation::{SegConsolidator, SegMethod};
///
/// // Three workers outline a 2×2 image with classes background and cat;
/// // the third marks one pixel differently.
/// let a = [0u8, 1, 0, 1];
/// let b = [0u8, 1, 0, 1];
/// let c = [0u8, 1, 1, 1];
/// let masks = [("img", "ann", &a), ("img", "bob", &b), ("img", "cat", &c)].map(
///     |(image, worker, pixels)| Mask { image, worker, width: 2, height: 2, pixels },
/// );
/// let classes = vec!["background".to_string(), "cat".to_string()];
/// let batch = SegConsolidator::batch(classes, masks).unwrap();
/// let result = SegConsolidator::new()
///     .method(SegMethod::Mv)
///     .backend(BackendChoice::Cpu)
///     .fit(&batch)
///     .unwrap();
/// assert_eq!(result.image_labels(&batch, 0), [0, 1, 0, 1]);
/// let (image, confidence) = result.images(&batch).next().unwrap();
/// assert_eq!(image, "img");
/// assert!(confidence > 0.8);
/// ```
///
/// A run too large for memory is consolidated from a [`MaskSource`] (a
/// mask manifest opened with [`crate::segmentation::manifest::MaskManifest`])
/// in batches that fit [`SegConsolidator::memory_budget`], its consensus
/// handed batch by batch to a [`SegSink`] (such as
/// [`crate::segmentation::write::SegWriter`]):
/// [`SegConsolidator::fit_source`].
#[derive(Clone)]
pub struct SegConsolidator {
    params: SegParams,
    backend: BackendRequest,
    memory_budget: u64,
}

impl std::fmt::Debug for SegConsolidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegConsolidator")
            .field("params", &self.params)
            .field("backend", &self.backend.choice)
            .field("memory_budget", &self.memory_budget)
            .finish()
    }
}

impl Default for SegConsolidator {
    fn default() -> Self {
        Self::new()
    }
}

impl SegConsolidator {
    /// `smooth-mv` with its defaults, on the `auto` backend.
    pub fn new() -> Self {
        Self::with_params(SegParams::new(SegMethod::default()))
    }

    /// Starts from `params` as they are.
    pub fn with_params(params: SegParams) -> Self {
        SegConsolidator {
            params,
            backend: BackendRequest::default(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }

    /// Packs in-memory masks into a batch (`classes` names the class ids
    /// the pixels hold). The error names the mask and its problem.
    pub fn batch<'a>(
        classes: Vec<String>,
        masks: impl IntoIterator<Item = Mask<'a>>,
    ) -> Result<MaskBatch> {
        let mut builder = MaskBuilder::new(classes)?;
        for (n, mask) in masks.into_iter().enumerate() {
            let (image, worker) = (mask.image.to_string(), mask.worker.to_string());
            builder.push(mask).map_err(|problem| {
                Error::invalid_param(
                    "masks",
                    format!("has a bad mask at index {n} ({image} by {worker}): {problem}"),
                )
            })?;
        }
        Ok(builder.finish())
    }

    /// Uses `method` with its defaults for the iteration limit.
    pub fn method(mut self, method: SegMethod) -> Self {
        let keep = self.params.clone();
        self.params = SegParams {
            smoothing: keep.smoothing,
            ties: keep.ties,
            seed: keep.seed,
            scope: keep.scope,
            tol: keep.tol,
            ..SegParams::new(method)
        };
        self
    }

    /// The neighbourhood of `smooth-mv`, `weighted` and `staple`.
    pub fn smoothing(mut self, smoothing: Smoothing) -> Self {
        self.params.smoothing = smoothing;
        self
    }

    /// The tie rule and the seed of its random draw.
    pub fn ties(mut self, ties: TieBreak, seed: u32) -> Self {
        self.params.ties = ties;
        self.params.seed = seed;
        self
    }

    /// Rounds of `weighted`, EM iterations of `staple`.
    pub fn max_iter(mut self, max_iter: u32) -> Self {
        self.params.max_iter = max_iter;
        self
    }

    /// Whose confusion table `staple` learns.
    pub fn staple_scope(mut self, scope: StapleScope) -> Self {
        self.params.scope = scope;
        self
    }

    /// Which backend runs the kernels.
    pub fn backend(mut self, choice: BackendChoice) -> Self {
        self.backend.choice = choice;
        self
    }

    /// Runs on this GPU backend (for instance one on the caller's device).
    #[cfg(feature = "gpu")]
    pub fn gpu(mut self, gpu: GpuBackend) -> Self {
        self.backend.gpu = Some(gpu);
        self.backend.choice = BackendChoice::Gpu;
        self
    }

    /// The memory [`SegConsolidator::fit_source`] plans its batches with,
    /// in bytes (default [`DEFAULT_MEMORY_BUDGET`], 512 MiB): masks, the
    /// backend's buffers and the consensus of one batch.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// The parameters a fit will use.
    pub fn params(&self) -> &SegParams {
        &self.params
    }

    /// Consolidates `batch`.
    pub fn fit(&self, batch: &MaskBatch) -> Result<SegLabels> {
        self.fit_on(self.backend.select()?, batch)
    }

    /// As [`SegConsolidator::fit`], on a backend the caller selected
    /// beforehand; the consolidator's own backend choice is not used.
    pub fn fit_on(&self, selected: Selected, batch: &MaskBatch) -> Result<SegLabels> {
        let ran = selected.run(|backend| fit(batch, backend, &self.params))?;
        Ok(SegLabels {
            fit: ran.value,
            backend: ran.backend,
            backend_notice: ran.notice,
            gpu_failure: ran.gpu_failure,
        })
    }
}

impl SegConsolidator {
    /// Consolidates `source` in batches that fit the memory budget, each
    /// batch's consensus to `sink` in run order, each pass reported to
    /// `progress`. The results equal [`SegConsolidator::fit`]'s on the same
    /// masks in one batch.
    pub fn fit_source(
        &self,
        source: &dyn MaskSource,
        sink: &mut dyn SegSink,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<SegRun> {
        self.fit_source_on(self.backend.select()?, source, sink, progress)
    }

    /// As [`SegConsolidator::fit_source`], on a backend the caller selected
    /// beforehand.
    pub fn fit_source_on(
        &self,
        selected: Selected,
        source: &dyn MaskSource,
        sink: &mut dyn SegSink,
        progress: &mut dyn FnMut(&SegProgress),
    ) -> Result<SegRun> {
        let ran = selected.run(|backend| {
            let plan = plan_batches(source, backend, self.memory_budget)?;
            fit_planned(source, &plan, backend, &self.params, sink, progress)
        })?;
        Ok(SegRun {
            summary: ran.value,
            backend: ran.backend,
            backend_notice: ran.notice,
            gpu_failure: ran.gpu_failure,
        })
    }
}

/// A batched segmentation run's summary with where it ran.
#[derive(Debug, Clone)]
pub struct SegRun {
    /// What the fit learnt; the pixels went to the sink.
    pub summary: SegSummary,
    /// The backend the fit finished on.
    pub backend: String,
    /// Why `auto` chose the CPU, when it did.
    pub backend_notice: Option<String>,
    /// The GPU error after which `auto` finished the fit on the CPU.
    pub gpu_failure: Option<String>,
}

/// A segmentation result with where it ran.
#[derive(Debug, Clone)]
pub struct SegLabels {
    /// The consensus, by dense ids.
    pub fit: SegConsolidation,
    /// The backend the fit finished on.
    pub backend: String,
    /// Why `auto` chose the CPU, when it did.
    pub backend_notice: Option<String>,
    /// The GPU error after which `auto` finished the fit on the CPU.
    pub gpu_failure: Option<String>,
}

impl SegLabels {
    /// The consensus class ids of image `image` of `batch`, row-major.
    pub fn image_labels<'a>(&'a self, batch: &MaskBatch, image: usize) -> &'a [u8] {
        let slot = &batch.images[image];
        &self.fit.labels[slot.output_start as usize..][..slot.pixels()]
    }

    /// Each image's name with its mean pixel confidence, in batch order.
    pub fn images<'a>(&'a self, batch: &'a MaskBatch) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        (0..batch.images.len())
            .map(move |i| (batch.image_names.get(i), self.fit.image_confidence[i]))
    }

    /// Each worker's name with its share of pixels agreeing with the
    /// consensus, in first-seen order.
    pub fn workers<'a>(
        &'a self,
        batch: &'a MaskBatch,
    ) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        (0..batch.n_workers())
            .map(move |w| (batch.worker_names.get(w), self.fit.worker_agreement[w]))
    }
}
