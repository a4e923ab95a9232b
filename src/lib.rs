//! accord turns many noisy crowd annotations into one trustworthy label per
//! item.
//!
//! Data flows one way: **read → pack → fit (on a backend) → write**, once
//! per task, over one shared engine. See `ARCHITECTURE.md` for the layers.
//!
//! ```
//! use accord::{classification, engine::backend::cpu::CpuBackend, engine::pack};
//!
//! // Two careful workers and one careless one label two images.
//! let triples = [
//!     ("img1", "ann", "owl"), ("img1", "bob", "owl"), ("img1", "cat", "falcon"),
//!     ("img2", "ann", "falcon"), ("img2", "bob", "falcon"), ("img2", "cat", "falcon"),
//! ];
//! let data = pack::pack_triples(&triples, None).unwrap();
//! let params = classification::Params::new(classification::Method::Ds);
//! let fit = classification::fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
//! let names: Vec<&str> = fit.labels.iter().map(|&c| data.class_names[c as usize].as_str()).collect();
//! assert_eq!(names, ["owl", "falcon"]);
//! ```

#![deny(missing_docs)]

pub mod bench;
pub mod boxes;
pub mod classification;
pub mod engine;
pub mod error;
pub mod eval;
pub mod io;
pub mod maths;
pub mod multilabel;
#[cfg(feature = "plot")]
pub mod report;
pub mod segmentation;
pub mod spans;
pub mod synth;

pub use error::{Error, Result};
