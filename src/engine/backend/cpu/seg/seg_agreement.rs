//! Twin of `shaders/seg_agreement.wgsl`: per mask, the pixels that carry
//! the consensus label.

use rayon::prelude::*;

use crate::engine::pack::masks::ImageSlot;

/// Twin of `seg_agreement.wgsl`: for each mask of `images`, the number of
/// its pixels that carry the consensus label (`consensus` holds the pixels
/// of `images`, from the first of them).
pub fn seg_agreement(images: &[ImageSlot], labels: &[u8], consensus: &[u8]) -> Vec<u32> {
    let base = images.first().map_or(0, |s| s.output_start) as usize;
    let mut agree = Vec::new();
    for slot in images {
        let pixels = slot.pixels();
        let out = &consensus[slot.output_start as usize - base..][..pixels];
        let mut counts = vec![0u32; slot.n_masks as usize];
        counts.par_iter_mut().enumerate().for_each(|(r, count)| {
            let start = slot.pixel_start as usize + r * pixels;
            *count = labels[start..start + pixels]
                .iter()
                .zip(out)
                .filter(|(a, b)| a == b)
                .count() as u32;
        });
        agree.extend(counts);
    }
    agree
}
