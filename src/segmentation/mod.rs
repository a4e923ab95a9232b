//! Segmentation: one class per pixel from several workers' masks.
//!
//! Its formats ([`read`], [`write`], [`png_mask`]) and its methods
//! ([`methods`]: `mv`, `smooth-mv`, `weighted`, `staple`).

pub mod methods;
pub mod png_mask;
pub mod read;
pub mod write;

pub use methods::{fit, SegConsolidation, SegMethod, SegParams, StapleScope};
