//! accord's integration tests: one binary, one module per area.

mod boxes;
mod calibration;
mod cli_errors;
mod corpus;
mod datasets;
mod docs;
mod edge_cases;
mod evaluate;
mod faults;
mod formats;
mod gpu;
mod known;
mod methods;
mod multilabel;
mod parquet;
mod partitioned;
mod properties;
mod report;
mod seg_batches;
mod segmentation;
mod shaders;
mod spans;
mod support;
mod workers_in;
