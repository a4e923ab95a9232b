//! Scoring without consolidating: labels against gold ([`gold`],
//! [`metrics`]), agreement without gold, and the annotator-count experiment
//! ([`simulate`]).

pub mod boxes;
pub mod gold;
pub mod metrics;
pub mod multilabel;
pub mod predictions;
pub mod segmentation;
pub mod simulate;
pub mod spans;
mod table;

pub use gold::{
    gold_accuracy, packed_gold_accuracy, read_gold, read_gold_counted, read_gold_from, Gold,
    PackedGold, SegScorer, SegScores,
};
pub use metrics::{score_predictions, PredictionScores};
pub use predictions::{read_predictions, Prediction, PredictionFormat, Predictions};
