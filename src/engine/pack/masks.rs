//! Segmentation masks packed for the kernels: one flat array of class ids
//! (one byte per pixel) holding, image after image, each of the image's
//! worker masks in turn, plus a small table per image. The same layout on
//! the host and (four pixels to a `u32`) on a device.

use crate::engine::pack::{Interner, Names};
use crate::error::{Error, Result};

/// Class ids are stored in one byte per pixel.
pub const MAX_SEGMENTATION_CLASSES: usize = 256;

/// Where one image's masks lie in [`MaskBatch::labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSlot {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Index of the image's first mask in [`MaskBatch::mask_worker`].
    pub first_mask: u32,
    /// The number of masks of the image.
    pub n_masks: u32,
    /// Offset of the image's first mask in [`MaskBatch::labels`]; mask `r`
    /// of the image starts at `pixel_start + r · width · height`.
    pub pixel_start: u64,
    /// Offset of the image's pixels in per-pixel outputs (votes, labels):
    /// the sum of the pixel counts of the images before it.
    pub output_start: u64,
}

impl ImageSlot {
    /// Pixels in one mask of the image: `width · height`.
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// Masks of many images by many workers.
#[derive(Debug, Clone, Default)]
pub struct MaskBatch {
    /// Image names, indexed by image id (first-seen order).
    pub image_names: Names,
    /// Worker names, indexed by worker id (first-seen order).
    pub worker_names: Names,
    /// Class names, indexed by the class ids in [`MaskBatch::labels`].
    pub class_names: Vec<String>,
    /// Where each image's masks lie, indexed by image id.
    pub images: Vec<ImageSlot>,
    /// The worker id of each mask, images in order, masks in input order.
    pub mask_worker: Vec<u32>,
    /// Class id of every pixel of every mask.
    pub labels: Vec<u8>,
    /// Index, in the whole run, of this batch's first image (0 when the
    /// batch is the whole run): random tie draws hash the run's image
    /// index, so a run consolidated batch by batch breaks ties as in one.
    pub first_image: u64,
    /// Index, in the whole run, of this batch's first mask (0 when the
    /// batch is the whole run): per-mask state (STAPLE's per-image
    /// tables) is indexed by it.
    pub first_mask: u64,
}

impl MaskBatch {
    /// The number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The number of distinct workers.
    pub fn n_workers(&self) -> usize {
        self.worker_names.len()
    }

    /// Pixels over all images (the length of per-pixel outputs).
    pub fn output_pixels(&self) -> usize {
        self.images
            .last()
            .map_or(0, |s| s.output_start as usize + s.pixels())
    }

    /// Mask `r` of image `image`.
    pub fn mask(&self, image: usize, r: usize) -> &[u8] {
        let slot = &self.images[image];
        let start = slot.pixel_start as usize + r * slot.pixels();
        &self.labels[start..start + slot.pixels()]
    }

    /// Bytes of mask pixels of images `images` (one per pixel per mask).
    pub fn mask_bytes(&self, images: std::ops::Range<usize>) -> u64 {
        self.images[images]
            .iter()
            .map(|s| s.pixels() as u64 * s.n_masks as u64)
            .sum()
    }

    /// A batch laid out for images of the given `(width, height, masks)`
    /// and masks by `mask_worker` (worker ids into `worker_names`), its
    /// pixels all class 0, for a reader to fill mask by mask
    /// ([`MaskBatch::masks_mut`]). `first_image` and `first_mask` place it
    /// in its run.
    pub fn laid_out(
        image_names: Names,
        worker_names: Names,
        class_names: Vec<String>,
        sizes: &[(u32, u32, u32)],
        mask_worker: Vec<u32>,
        (first_image, first_mask): (u64, u64),
    ) -> MaskBatch {
        let mut images = Vec::with_capacity(sizes.len());
        let (mut masks, mut pixel_start, mut output_start) = (0u32, 0u64, 0u64);
        for &(width, height, n_masks) in sizes {
            let pixels = width as u64 * height as u64;
            images.push(ImageSlot {
                width,
                height,
                first_mask: masks,
                n_masks,
                pixel_start,
                output_start,
            });
            masks += n_masks;
            pixel_start += pixels * n_masks as u64;
            output_start += pixels;
        }
        assert_eq!(masks as usize, mask_worker.len(), "one worker per mask");
        MaskBatch {
            image_names,
            worker_names,
            class_names,
            images,
            mask_worker,
            labels: vec![0; pixel_start as usize],
            first_image,
            first_mask,
        }
    }

    /// Every mask's pixels, mutable, masks in order (images in order, an
    /// image's masks in turn): what a reader decodes into.
    pub fn masks_mut(&mut self) -> Vec<&mut [u8]> {
        let mut out = Vec::with_capacity(self.mask_worker.len());
        let mut rest = self.labels.as_mut_slice();
        for slot in &self.images {
            for _ in 0..slot.n_masks {
                let (mask, tail) = rest.split_at_mut(slot.pixels());
                out.push(mask);
                rest = tail;
            }
        }
        out
    }

    /// A copy of images `images` as a batch of their own, placed in this
    /// one's run; the workers and classes stay the whole batch's.
    pub fn part(&self, images: std::ops::Range<usize>) -> MaskBatch {
        let slots = &self.images[images.clone()];
        let Some(first) = slots.first() else {
            return MaskBatch {
                worker_names: self.worker_names.clone(),
                class_names: self.class_names.clone(),
                first_image: self.first_image + images.start as u64,
                first_mask: self.first_mask + self.mask_worker.len() as u64,
                ..Default::default()
            };
        };
        let mut image_names = Names::default();
        for i in images.clone() {
            image_names.push(self.image_names.get(i));
        }
        let masks = first.first_mask as usize
            ..first.first_mask as usize + slots.iter().map(|s| s.n_masks as usize).sum::<usize>();
        let bytes = first.pixel_start as usize
            ..(first.pixel_start + self.mask_bytes(images.clone())) as usize;
        let sizes: Vec<(u32, u32, u32)> = slots
            .iter()
            .map(|s| (s.width, s.height, s.n_masks))
            .collect();
        let mut part = MaskBatch::laid_out(
            image_names,
            self.worker_names.clone(),
            self.class_names.clone(),
            &sizes,
            self.mask_worker[masks.clone()].to_vec(),
            (
                self.first_image + images.start as u64,
                self.first_mask + masks.start as u64,
            ),
        );
        part.labels.copy_from_slice(&self.labels[bytes]);
        part
    }
}

/// One mask as a reader found it.
pub struct Mask<'a> {
    /// Name of the image the mask is of.
    pub image: &'a str,
    /// Name of the worker who drew it.
    pub worker: &'a str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Class ids, row-major, `width · height` of them.
    pub pixels: &'a [u8],
}

/// Collects masks (grouped by image or not) and lays them out by image.
#[derive(Debug, Default)]
pub struct MaskBuilder {
    images: Interner,
    workers: Interner,
    class_names: Vec<String>,
    per_image: Vec<PendingImage>,
}

/// An image's size and its masks as (worker, pixels), until `finish`.
#[derive(Debug)]
struct PendingImage {
    size: (u32, u32),
    masks: Vec<(u32, Vec<u8>)>,
}

impl MaskBuilder {
    /// A builder for masks whose class ids index `class_names`.
    pub fn new(class_names: Vec<String>) -> Result<Self> {
        if class_names.is_empty() || class_names.len() > MAX_SEGMENTATION_CLASSES {
            return Err(Error::Limit(format!(
                "{} segmentation classes; accord stores class ids in one byte, so 1 to {MAX_SEGMENTATION_CLASSES} are accepted",
                class_names.len()
            )));
        }
        Ok(MaskBuilder {
            class_names,
            ..Default::default()
        })
    }

    /// Adds one mask. Errors (as a problem to report with the caller's
    /// location) when its size differs from the image's other masks or a
    /// pixel holds a class id out of range.
    pub fn push(&mut self, mask: Mask) -> std::result::Result<(), String> {
        let expected = mask.width as usize * mask.height as usize;
        if mask.pixels.len() != expected {
            return Err(format!(
                "mask has {} pixels, not {}×{} = {expected}",
                mask.pixels.len(),
                mask.width,
                mask.height
            ));
        }
        let k = self.class_names.len();
        if let Some(&bad) = mask.pixels.iter().find(|&&c| c as usize >= k) {
            return Err(format!(
                "pixel class id {bad} is out of range: there are {k} classes"
            ));
        }
        let image = self.images.intern(mask.image) as usize;
        let worker = self.workers.intern(mask.worker);
        if image == self.per_image.len() {
            self.per_image.push(PendingImage {
                size: (mask.width, mask.height),
                masks: Vec::new(),
            });
        }
        let PendingImage { size, masks } = &mut self.per_image[image];
        if *size != (mask.width, mask.height) {
            return Err(format!(
                "mask of image {:?} by {:?} is {}×{}, but the image's other masks are {}×{}",
                mask.image, mask.worker, mask.width, mask.height, size.0, size.1
            ));
        }
        masks.push((worker, mask.pixels.to_vec()));
        Ok(())
    }

    /// Lays the masks out image after image.
    pub fn finish(self) -> MaskBatch {
        let total: usize = self
            .per_image
            .iter()
            .map(|p| p.masks.iter().map(|(_, m)| m.len()).sum::<usize>())
            .sum();
        let mut batch = MaskBatch {
            image_names: self.images.into_names(),
            worker_names: self.workers.into_names(),
            class_names: self.class_names,
            labels: Vec::with_capacity(total),
            ..Default::default()
        };
        let mut output_start = 0u64;
        for PendingImage {
            size: (width, height),
            masks,
        } in self.per_image
        {
            batch.images.push(ImageSlot {
                width,
                height,
                first_mask: batch.mask_worker.len() as u32,
                n_masks: masks.len() as u32,
                pixel_start: batch.labels.len() as u64,
                output_start,
            });
            output_start += width as u64 * height as u64;
            for (worker, pixels) in masks {
                batch.mask_worker.push(worker);
                batch.labels.extend_from_slice(&pixels);
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask<'a>(image: &'a str, worker: &'a str, w: u32, h: u32, pixels: &'a [u8]) -> Mask<'a> {
        Mask {
            image,
            worker,
            width: w,
            height: h,
            pixels,
        }
    }

    #[test]
    fn masks_are_grouped_by_image_in_first_seen_order() {
        let mut b = MaskBuilder::new(vec!["bg".into(), "cat".into()]).unwrap();
        b.push(mask("a", "w1", 2, 1, &[0, 1])).unwrap();
        b.push(mask("b", "w1", 1, 1, &[1])).unwrap();
        b.push(mask("a", "w2", 2, 1, &[1, 1])).unwrap();
        let batch = b.finish();
        assert_eq!(batch.images.len(), 2);
        assert_eq!(batch.mask_worker, vec![0, 1, 0]);
        assert_eq!(batch.mask(0, 1), &[1, 1]);
        assert_eq!(batch.mask(1, 0), &[1]);
        assert_eq!(batch.images[1].output_start, 2);
        assert_eq!(batch.output_pixels(), 3);
    }

    #[test]
    fn a_mask_of_the_wrong_size_or_class_is_refused() {
        let mut b = MaskBuilder::new(vec!["bg".into(), "cat".into()]).unwrap();
        b.push(mask("a", "w1", 2, 1, &[0, 1])).unwrap();
        let e = b.push(mask("a", "w2", 1, 2, &[0, 1])).unwrap_err();
        assert!(e.contains("1×2") && e.contains("2×1"), "{e}");
        let e = b.push(mask("a", "w2", 2, 1, &[0, 2])).unwrap_err();
        assert!(e.contains("class id 2"), "{e}");
        let e = b.push(mask("a", "w2", 2, 1, &[0])).unwrap_err();
        assert!(e.contains("not 2×1"), "{e}");
    }
}
