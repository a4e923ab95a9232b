//! I/O plumbing every task shares: atomic outputs, the rejects file of
//! `--skip-invalid`, a byte-counting reader for progress, and the parallel
//! readers' pieces taken in order (`in_order`). Task formats
//! live with their task (`classification::read`, `segmentation::read`).

pub(crate) mod atomic;
pub(crate) mod decimal;
pub mod ground_truth;
pub(crate) mod in_order;
pub(crate) mod mapped;
mod progress;
mod rejects;

pub use atomic::{
    check_output_path, commit_all, file_identity, remove_pending, remove_pending_and_exit,
    write_atomic, AtomicFile, OutputSet,
};
pub use progress::CountingReader;
pub use rejects::{write_rejects, write_rejects_to, Reject, Rejects};
