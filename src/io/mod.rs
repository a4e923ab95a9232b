//! I/O plumbing every task shares: atomic outputs, the rejects file of
//! `--skip-invalid`, and a byte-counting reader for progress. Task formats
//! live with their task (`classification::read`, `segmentation::read`).

pub(crate) mod atomic;
pub mod ground_truth;
mod progress;
mod rejects;

pub use atomic::{remove_pending, write_atomic, AtomicFile};
pub use progress::CountingReader;
pub use rejects::{write_rejects, Reject, Rejects};
