//! Twin of `shaders/seg_argmax.wgsl`: each pixel's winning class and its
//! share of the votes.

use rayon::prelude::*;

use crate::engine::pack::masks::ImageSlot;
use crate::maths::{pcg_hash, tie_draw, TieBreak};

/// Twin of `seg_argmax.wgsl`: each pixel's winning class and its share of
/// the pixel's votes. Ties go to the lowest class, or with
/// [`TieBreak::Random`] to a tied class drawn from the seed, the image (its
/// index in the batch: `first_image` for the first of `images`) and the
/// pixel. A pixel without votes gets class 0 and confidence 0.
pub fn seg_argmax(
    images: &[ImageSlot],
    first_image: usize,
    votes: &[u32],
    k: usize,
    ties: TieBreak,
    seed: u32,
) -> (Vec<u8>, Vec<f32>) {
    let n = votes.len() / k.max(1);
    let mut labels = vec![0u8; n];
    let mut confidence = vec![0f32; n];
    seg_argmax_into(
        images,
        first_image,
        votes,
        k,
        (ties, seed),
        &mut labels,
        &mut confidence,
    );
    (labels, confidence)
}

/// [`seg_argmax`] into `labels` and `confidence` (one per pixel of
/// `images`), so a caller deciding slice after slice writes in place.
pub fn seg_argmax_into(
    images: &[ImageSlot],
    first_image: usize,
    votes: &[u32],
    k: usize,
    (ties, seed): (TieBreak, u32),
    labels: &mut [u8],
    confidence: &mut [f32],
) {
    let base = images.first().map_or(0, |s| s.output_start) as usize;
    for (image, slot) in images.iter().enumerate() {
        let start = slot.output_start as usize - base;
        let range = start..start + slot.pixels();
        let image_seed = seed ^ pcg_hash((first_image + image) as u32);
        labels[range.clone()]
            .par_iter_mut()
            .zip(confidence[range.clone()].par_iter_mut())
            .enumerate()
            .for_each(|(p, (label, conf))| {
                let row = &votes[(range.start + p) * k..(range.start + p + 1) * k];
                let (class, share) = argmax_pixel(row, ties, image_seed, p as u32);
                *label = class;
                *conf = share;
            });
    }
}

/// One pixel of [`seg_argmax`].
fn argmax_pixel(row: &[u32], ties: TieBreak, image_seed: u32, pixel: u32) -> (u8, f32) {
    let mut best = 0u32;
    let mut tied = 0u32;
    let mut total = 0u64;
    for &v in row {
        total += v as u64;
        if v > best {
            best = v;
            tied = 1;
        } else if v == best {
            tied += 1;
        }
    }
    if total == 0 {
        return (0, 0.0);
    }
    let mut pick = match ties {
        TieBreak::Lowest => 0,
        TieBreak::Random => tie_draw(image_seed, pixel) % tied,
    };
    let mut class = 0;
    for (c, &v) in row.iter().enumerate() {
        if v == best {
            if pick == 0 {
                class = c;
                break;
            }
            pick -= 1;
        }
    }
    (class as u8, best as f32 / total as f32)
}
