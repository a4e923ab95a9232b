//! What a person reads: figures ([`plot`], SVG or PNG), the
//! self-contained HTML page ([`html`]) and the report on a dataset
//! ([`dataset`]).

pub mod dataset;
pub mod html;
pub mod plot;

pub use dataset::{dataset_report, ExperimentBudget, ReportOptions, Step};
pub use html::{escape, HtmlPage};
