//! Where a batched fit takes its masks from, and how a run is cut into
//! batches that fit a memory budget.
//!
//! A [`MaskSource`] knows every image's size and mask count up front and
//! hands out runs of images as [`MaskBatch`]es, decoded when asked: the fit
//! holds one batch at a time, so its memory follows the budget, not the
//! number of images. A [`MaskBatch`] already in memory is a source too.

use std::borrow::Cow;
use std::ops::Range;

use crate::engine::backend::SegBackend;
use crate::engine::pack::masks::MaskBatch;
use crate::engine::pack::Names;
use crate::error::{Error, Result};

/// The default memory budget of a batched fit: 512 MiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 512 << 20;

/// Masks of a run, image by image, handed out in batches.
pub trait MaskSource: Sync {
    /// Class names, indexed by class id.
    fn class_names(&self) -> &[String];

    /// Worker names, indexed by the worker ids in every batch's
    /// `mask_worker`.
    fn worker_names(&self) -> &Names;

    /// The number of images.
    fn n_images(&self) -> usize;

    /// Image `image`'s width, height and number of masks.
    fn image_size(&self, image: usize) -> (u32, u32, u32);

    /// Images `images` as a batch placed in the run (`first_image` is
    /// `images.start`, `first_mask` the number of masks before it), with
    /// the run's workers and classes.
    fn load(&self, images: Range<usize>) -> Result<Cow<'_, MaskBatch>>;
}

impl MaskSource for MaskBatch {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn worker_names(&self) -> &Names {
        &self.worker_names
    }

    fn n_images(&self) -> usize {
        self.images.len()
    }

    fn image_size(&self, image: usize) -> (u32, u32, u32) {
        let slot = &self.images[image];
        (slot.width, slot.height, slot.n_masks)
    }

    fn load(&self, images: Range<usize>) -> Result<Cow<'_, MaskBatch>> {
        if images == (0..self.images.len()) {
            Ok(Cow::Borrowed(self))
        } else {
            Ok(Cow::Owned(self.part(images)))
        }
    }
}

/// Runs of images, in order, each consolidated on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// The batches' images, in order, covering every image once.
    pub batches: Vec<Range<usize>>,
    /// The largest batch's estimated memory, in bytes.
    pub peak_bytes: u64,
}

impl BatchPlan {
    /// Every image in one batch.
    pub fn one_batch(source: &dyn MaskSource) -> BatchPlan {
        BatchPlan::fixed(source, source.n_images().max(1))
    }

    /// Batches of `images_per_batch` images (the last may hold fewer).
    pub fn fixed(source: &dyn MaskSource, images_per_batch: usize) -> BatchPlan {
        let n = source.n_images();
        let step = images_per_batch.max(1);
        BatchPlan {
            batches: (0..n).step_by(step).map(|s| s..(s + step).min(n)).collect(),
            peak_bytes: 0,
        }
    }

    /// Whether the run is consolidated in one piece.
    pub fn is_one_batch(&self) -> bool {
        self.batches.len() <= 1
    }
}

/// Bytes of one image in a batch on `backend`: its masks, what the session
/// holds per pixel and per mask byte, and the consensus handed to the
/// writer.
fn image_bytes(source: &dyn MaskSource, image: usize, backend: &dyn SegBackend) -> u64 {
    let (w, h, masks) = source.image_size(image);
    let pixels = w as u64 * h as u64;
    let per = backend.seg_host_bytes(source.class_names().len());
    let mask_bytes = pixels * masks as u64;
    mask_bytes * (1 + per.per_mask_byte) + pixels * per.per_pixel
}

/// Cuts `source` into batches whose estimated memory on `backend` stays
/// within `budget` bytes: images in order, as many to a batch as fit (at
/// least one, so an image larger than the budget is a batch of its own).
/// Errors when the fixed scratch of the largest image alone is more than
/// the budget.
pub fn plan_batches(
    source: &dyn MaskSource,
    backend: &dyn SegBackend,
    budget: u64,
) -> Result<BatchPlan> {
    let k = source.class_names().len();
    let largest = (0..source.n_images())
        .map(|i| {
            let (w, h, _) = source.image_size(i);
            w as u64 * h as u64
        })
        .max()
        .unwrap_or(0);
    let scratch = largest * backend.seg_host_bytes(k).per_largest_pixel;
    if scratch >= budget {
        return Err(Error::invalid_param(
            "memory_budget",
            format!(
                "{budget} bytes is less than the {scratch} bytes of vote scratch the largest image ({largest} pixels, {k} classes) needs: raise it"
            ),
        ));
    }
    let room = budget - scratch;
    let (mut batches, mut start, mut used, mut peak) = (Vec::new(), 0, 0u64, 0u64);
    for image in 0..source.n_images() {
        let bytes = image_bytes(source, image, backend);
        if image > start && used + bytes > room {
            batches.push(start..image);
            peak = peak.max(used);
            (start, used) = (image, 0);
        }
        used += bytes;
    }
    if source.n_images() > start || batches.is_empty() {
        batches.push(start..source.n_images());
        peak = peak.max(used);
    }
    Ok(BatchPlan {
        batches,
        peak_bytes: peak + scratch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backend::cpu::CpuBackend;
    use crate::engine::pack::masks::{Mask, MaskBuilder};

    fn batch(images: usize, side: u32, masks: usize) -> MaskBatch {
        let mut b = MaskBuilder::new(vec!["bg".into(), "fg".into()]).unwrap();
        let pixels = vec![1u8; (side * side) as usize];
        for i in 0..images {
            for r in 0..masks {
                b.push(Mask {
                    image: &format!("i{i}"),
                    worker: &format!("w{r}"),
                    width: side,
                    height: side,
                    pixels: &pixels,
                })
                .unwrap();
            }
        }
        b.finish()
    }

    #[test]
    fn batches_cover_every_image_in_order_within_the_budget() {
        let b = batch(10, 10, 3);
        // 100 pixels × (3 mask bytes + 5 session bytes) = 800 bytes an
        // image, and 100 × 32 × 2 × 12 bytes of scratch.
        let scratch = 100 * 32 * 2 * 12;
        let plan = plan_batches(&b, &CpuBackend, scratch + 2500).unwrap();
        assert_eq!(plan.batches, vec![0..3, 3..6, 6..9, 9..10]);
        assert_eq!(plan.peak_bytes, scratch + 2400);
        let plan = plan_batches(&b, &CpuBackend, scratch + 1).unwrap();
        assert_eq!(plan.batches.len(), 10, "at least one image a batch");
        let plan = plan_batches(&b, &CpuBackend, 1 << 30).unwrap();
        assert_eq!(plan.batches, vec![0..10]);
        let e = plan_batches(&b, &CpuBackend, 1000).unwrap_err().to_string();
        assert!(e.contains("`memory_budget`"), "{e}");
    }

    #[test]
    fn a_part_of_a_batch_is_placed_in_its_run() {
        let b = batch(5, 2, 2);
        let part = b.load(2..4).unwrap();
        assert_eq!((part.first_image, part.first_mask), (2, 4));
        assert_eq!(part.images.len(), 2);
        assert_eq!(part.image_names.get(0), "i2");
        assert_eq!(part.n_workers(), 2);
        assert_eq!(part.mask(1, 1), b.mask(3, 1));
        assert!(matches!(b.load(0..5).unwrap(), Cow::Borrowed(_)));
        assert_eq!(BatchPlan::fixed(&b, 2).batches, vec![0..2, 2..4, 4..5]);
    }
}
