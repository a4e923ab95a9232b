//! Classification: one label per item from several workers' labels.
//!
//! Start at [`Consolidator`]: parameters with the CLI's defaults, a checked
//! fit on the chosen backend, and [`Labels`] that speak in names.
//!
//! Its formats ([`read`], [`write`](mod@write)), its methods (one file each under
//! [`methods`], declared once in [`methods::METHODS`]), its result
//! ([`Consolidation`]) and the list of items worth more annotations
//! ([`review`]).

pub mod calibrate;
pub mod chooser;
mod consolidator;
mod em_fit;
pub mod job_model;
pub mod known;
pub mod methods;
pub mod numpy_random;
mod params;
pub mod partitioned;
pub mod read;
mod result;
pub mod review;
pub mod skill_vote;
pub mod spammer;
pub mod spectral;
pub mod write;

pub use calibrate::{Calibration, Confidence};
pub use consolidator::{Consolidator, ItemLabel, Labels, Resumed, SpammerDrop, WorkerModel};
pub use job_model::JobModel;
pub use known::{KnownEntry, KnownLabels, KnownReport, KnownTally};
pub use methods::{fit, Method, MethodInfo, RunsOn, METHODS};
pub use params::{Init, Params, HDS_PRIOR_CORRECT, HDS_PRIOR_STRENGTH, MDS_PRIOR_ACCURACY};
pub use result::{Consolidation, MethodState, Run, StartUsed};
