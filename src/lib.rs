//! accord turns many noisy crowd annotations into one trustworthy label per
//! item.
//!
//! Data flows one way: **read → pack → fit (on a backend) → write**.
//!
//! ```
//! use accord::{algo, backend::cpu::CpuBackend, pack};
//!
//! // Two careful workers and one careless one label two images.
//! let triples = [
//!     ("img1", "ann", "owl"), ("img1", "bob", "owl"), ("img1", "cat", "falcon"),
//!     ("img2", "ann", "falcon"), ("img2", "bob", "falcon"), ("img2", "cat", "falcon"),
//! ];
//! let data = pack::pack_triples(&triples, None).unwrap();
//! let params = algo::Params::new(algo::Method::Ds);
//! let fit = algo::fit(&data, &CpuBackend, &params, &mut |_, _| {}).unwrap();
//! let names: Vec<&str> = fit.labels.iter().map(|&c| data.class_names[c as usize].as_str()).collect();
//! assert_eq!(names, ["owl", "falcon"]);
//! ```

pub mod algo;
pub mod backend;
pub mod bench;
pub mod error;
pub mod eval;
pub mod io;
pub mod memory;
pub mod metrics;
pub mod pack;
pub mod plot;
pub mod report;
pub mod review;
pub mod simulate;
pub mod synth;
pub mod synth_seg;

pub use error::{Error, Result};
