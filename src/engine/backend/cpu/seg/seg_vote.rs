//! Twin of `shaders/seg_vote.wgsl`: weighted per-pixel votes.

use super::for_each_image_mut;
use crate::engine::pack::masks::ImageSlot;

/// Twin of `seg_vote.wgsl`: `votes[pixel][class] = Σ weight[mask]` over the
/// masks of the pixel's image that give it that class. `[pixels][K]`, the
/// pixels of `images` in order (their `output_start` counted from the first
/// of them, so any run of a batch's images can be voted on its own).
pub fn seg_vote(images: &[ImageSlot], labels: &[u8], mask_weight: &[u32], k: usize) -> Vec<u32> {
    let pixels: usize = images.iter().map(ImageSlot::pixels).sum();
    let mut votes = vec![0u32; pixels * k];
    seg_vote_into(images, labels, mask_weight, k, &mut votes);
    votes
}

/// [`seg_vote`] into `votes` (`[pixels][K]` of `images`, overwritten), so
/// a caller deciding slice after slice reuses one buffer.
pub fn seg_vote_into(
    images: &[ImageSlot],
    labels: &[u8],
    mask_weight: &[u32],
    k: usize,
    votes: &mut [u32],
) {
    votes.fill(0);
    for_each_image_mut(images, votes, k, |slot, out| {
        let pixels = slot.pixels();
        for r in 0..slot.n_masks as usize {
            let weight = mask_weight[slot.first_mask as usize + r];
            let start = slot.pixel_start as usize + r * pixels;
            for (p, &class) in labels[start..start + pixels].iter().enumerate() {
                out[p * k + class as usize] += weight;
            }
        }
    });
}
