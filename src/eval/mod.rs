//! Scoring without consolidating: labels against gold ([`gold`],
//! [`metrics`]), agreement without gold, and the annotator-count experiment
//! ([`simulate`]).

pub mod gold;
pub mod metrics;
pub mod simulate;

pub use gold::{gold_accuracy, read_gold, read_gold_from, SegScorer, SegScores};
