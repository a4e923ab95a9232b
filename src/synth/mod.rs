//! Generated data with gold: classification labels from the Dawid-Skene
//! model ([`classification`]) and segmentation scenes with worker masks
//! ([`segmentation`]), for tests, benchmarks and demos.

pub mod boxes;
pub mod classification;
pub mod multilabel;
pub mod segmentation;
pub mod spans;

pub use classification::*;
