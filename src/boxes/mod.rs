//! Bounding boxes: many workers' boxes on each image become one set of
//! boxes per image, each with a class, a confidence and a support count.
//!
//! Data flows as in the other tasks: [`read`] builds a [`BoxData`]
//! (images, the workers who answered each, their boxes), the
//! [`BoxConsolidator`] front door runs a [`BoxMethod`], and [`write`](mod@write) gives
//! Ground Truth's object-detection manifest, the Lambda response, a CSV and
//! the worker report.
//!
//! ```
//! use accord::boxes::{BoxBuilder, BoxConsolidator, BoxMethod, Rect};
//!
//! // Three workers answer one image; two draw the same pedestrian, the
//! // third draws nothing ("no object here" is an answer too).
//! let mut data = BoxBuilder::new(None);
//! data.answer("img1", "ann").unwrap();
//! data.answer("img1", "bob").unwrap();
//! data.answer("img1", "cat").unwrap();
//! data.add_box("img1", "ann", "pedestrian", Rect::from_ltwh(10.0, 20.0, 30.0, 60.0)).unwrap();
//! data.add_box("img1", "bob", "pedestrian", Rect::from_ltwh(12.0, 21.0, 29.0, 58.0)).unwrap();
//! let data = data.finish();
//! let labels = BoxConsolidator::new(BoxMethod::IouMean).fit(&data).unwrap();
//! assert_eq!(labels.objects[0].len(), 1);
//! assert_eq!(labels.objects[0][0].support, 2);
//! ```

mod cluster;
mod consolidator;
mod data;
mod lean;
mod methods;
pub mod read;
mod rows;
mod vote;
pub mod write;

pub use cluster::{assign, iou};
pub use consolidator::{BoxConsolidator, BoxLabels, FusedBox, WorkerBoxStats};
pub use data::{BoxBuilder, BoxData, Rect, MAX_COORDINATE};
pub use methods::{BoxMethod, BoxParams};
pub use read::{read_boxes, BoxInput, BoxReadOptions};
/// For the fuzz target `box_table`: panics where the fast table reader and
/// the general one disagree.
#[cfg(fuzzing)]
#[doc(hidden)]
pub use rows::assert_readers_agree;
pub use write::{write_box_workers, write_boxes, BoxOutputFormat, BoxWriteOptions};
