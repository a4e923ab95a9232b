//! Multi-label classification: every item may have any number of labels,
//! and each (item, label) gets a calibrated confidence.
//!
//! Readers take Ground Truth's multi-select requests or a long table of
//! ticked labels with a table of responses ([`read`]); the methods are
//! majority vote per label and Dawid-Skene per label, plain (`ds`) or with
//! each worker's label tables drawn toward that worker's pooled table
//! (`hds`, the default). The EM methods run every label's binary problem
//! side by side in one run of the engine's EM loop (see
//! [`crate::engine::pack::binary`]), so the GPU backend fits all labels in
//! one pass. The front door is [`MultiLabelConsolidator`].

mod answers;
pub mod calibrate;
mod consolidator;
pub mod decide;
pub mod methods;
pub mod read;
pub mod strength;
pub mod write;

pub use answers::{AnswerStats, Answers, AnswersBuilder, ResponseKind};
pub use consolidator::{MultiLabelConsolidator, MultiLabels, MultiParams};
pub use decide::Decision;
pub use methods::{MultiFit, MultiMethod};
