//! Named-entity spans: one set of labelled character ranges per text from
//! several workers' selections.
//!
//! Start at [`SpanConsolidator`]: parameters with the CLI's defaults, a
//! checked fit, a result that speaks in item, worker and label names.
//! Offsets are Unicode code points, end exclusive, throughout; readers
//! convert UTF-16 offsets ([`read::OffsetUnit`]) on the way in and writers
//! back on the way out.
//!
//! Its formats ([`read`], [`write`](mod@write)), its tokens
//! ([`tokens`]) and its methods ([`methods`]: `seq`, the default,
//! `jaccard`, `token-mv`). Every method runs on the host.

mod consolidator;
pub mod methods;
pub mod read;
pub mod tokens;
pub mod write;

pub use consolidator::{SpanConsolidator, SpanLabels, TextSpan};
pub use methods::{fit, SpanConsolidation, SpanMethod, SpanParams, WorkerSpanStats};
