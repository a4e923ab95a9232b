//! Segmentation: one class per pixel from several workers' masks.
//!
//! Start at [`SegConsolidator`]: parameters with the CLI's defaults and a
//! fit on the chosen backend.
//!
//! Its formats ([`read`], [`write`](mod@write), [`png_mask`]) and its methods
//! ([`methods`]: `mv`, `smooth-mv`, `weighted`, `staple`). Runs larger than
//! memory are consolidated in batches ([`source`]: where masks come from
//! and how a run is cut to a memory budget; [`passes`]: the passes over
//! them), with the same results as in one piece.

mod consolidator;
pub mod manifest;
pub mod methods;
pub mod passes;
pub mod png_mask;
pub mod read;
pub mod source;
pub mod write;

pub use consolidator::{SegConsolidator, SegLabels, SegRun};
pub use methods::{
    fit, fit_planned, SegConsolidation, SegMethod, SegParams, SegSummary, StapleScope,
};
pub use passes::{BatchConsensus, SegProgress, SegSink};
pub use source::{plan_batches, BatchPlan, MaskSource, DEFAULT_MEMORY_BUDGET};
