//! Segmentation: one class per pixel from several workers' masks.
//!
//! Start at [`SegConsolidator`]: parameters with the CLI's defaults and a
//! fit on the chosen backend.
//!
//! Its formats ([`read`], [`write`](mod@write), [`png_mask`]) and its methods
//! ([`methods`]: `mv`, `smooth-mv`, `weighted`, `staple`).

mod consolidator;
pub mod methods;
pub mod png_mask;
pub mod read;
pub mod write;

pub use consolidator::{SegConsolidator, SegLabels};
pub use methods::{fit, SegConsolidation, SegMethod, SegParams, StapleScope};
