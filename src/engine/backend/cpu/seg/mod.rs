//! CPU twins of the segmentation shaders (`shaders/seg_*.wgsl`), and the
//! reference the GPU backend is tested against.
//!
//! Votes and smoothing are integer arithmetic, so both backends produce the
//! same vote maps bit for bit and the same labels: mask weights are small
//! integers, smoothing taps are fixed point with [`TAP_SCALE`], and
//! [`MAX_PIXEL_WEIGHT`] keeps two smoothing passes below 2^32.

use rayon::prelude::*;

use crate::engine::pack::masks::ImageSlot;

mod seg_agreement;
mod seg_argmax;
mod seg_smooth;
mod seg_vote;

pub use seg_agreement::seg_agreement;
pub use seg_argmax::{seg_argmax, seg_argmax_into};
pub use seg_smooth::{seg_smooth, seg_smooth_into};
pub use seg_vote::{seg_vote, seg_vote_into};

/// The taps of one smoothing pass sum to at most this.
pub const TAP_SCALE: u32 = 1024;

/// The most vote weight all masks of one pixel may carry together:
/// `4095 · 1024 · 1024 < 2^32`, so votes smoothed twice fit a `u32`.
pub const MAX_PIXEL_WEIGHT: u32 = 4095;

/// The neighbourhood that votes are smoothed over, in each direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// A Gaussian of this standard deviation (pixels), cut at 3σ.
    Gaussian {
        /// Standard deviation in pixels; 0 or less means no smoothing.
        sigma: f32,
    },
    /// A box of `2·radius + 1` pixels.
    Box {
        /// Half-width in pixels, not counting the centre.
        radius: u32,
    },
}

impl Smoothing {
    /// The fixed-point taps of one separable pass, `2r + 1` of them, summing
    /// to at most [`TAP_SCALE`]; a single tap means no smoothing.
    pub fn taps(self) -> Vec<u32> {
        match self {
            Smoothing::Gaussian { sigma } if sigma > 0.0 => {
                let radius = (3.0 * sigma).ceil() as i64;
                let weights: Vec<f64> = (-radius..=radius)
                    .map(|d| (-(d * d) as f64 / (2.0 * sigma as f64 * sigma as f64)).exp())
                    .collect();
                let total: f64 = weights.iter().sum();
                let mut taps = weights
                    .iter()
                    // Floors keep the sum at most TAP_SCALE; every tap at
                    // least 1 so the kernel's reach is what σ says.
                    .map(|w| ((w / total) * TAP_SCALE as f64).floor().max(1.0) as u32)
                    .collect::<Vec<u32>>();
                // Tails raised to 1 may overshoot the scale: the centre gives way.
                let excess = taps.iter().sum::<u32>().saturating_sub(TAP_SCALE);
                taps[radius as usize] -= excess;
                taps
            }
            Smoothing::Gaussian { .. } => vec![1],
            Smoothing::Box { radius } => {
                let n = 2 * radius + 1;
                vec![(TAP_SCALE / n).max(1); n as usize]
            }
        }
    }
}

/// Runs `f(slot, image's part of out)` for every image, in parallel over
/// images; `out` holds `k` values per output pixel.
fn for_each_image_mut(
    images: &[ImageSlot],
    out: &mut [u32],
    k: usize,
    f: impl Fn(&ImageSlot, &mut [u32]) + Sync,
) {
    let mut parts = Vec::with_capacity(images.len());
    let mut rest = out;
    for slot in images {
        let (part, tail) = rest.split_at_mut(slot.pixels() * k);
        parts.push((slot, part));
        rest = tail;
    }
    parts.into_par_iter().for_each(|(slot, part)| f(slot, part));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::masks::{Mask, MaskBatch, MaskBuilder};
    use crate::maths::TieBreak;

    fn batch(masks: &[(&str, &str, u32, u32, &[u8])], k: usize) -> MaskBatch {
        let mut b = MaskBuilder::new((0..k).map(|c| c.to_string()).collect()).unwrap();
        for &(image, worker, width, height, pixels) in masks {
            b.push(Mask {
                image,
                worker,
                width,
                height,
                pixels,
            })
            .unwrap();
        }
        b.finish()
    }

    #[test]
    fn votes_are_weighted_counts_per_pixel_and_class() {
        let b = batch(
            &[
                ("a", "w1", 2, 1, &[0, 1]),
                ("a", "w2", 2, 1, &[1, 1]),
                ("a", "w3", 2, 1, &[0, 2]),
                ("b", "w1", 1, 1, &[2]),
            ],
            3,
        );
        let votes = seg_vote(&b.images, &b.labels, &[1, 2, 1, 5], 3);
        assert_eq!(votes, vec![2, 2, 0, 0, 3, 1, 0, 0, 5]);
        let (labels, confidence) = seg_argmax(&b.images, 0, &votes, 3, TieBreak::Lowest, 0);
        assert_eq!(labels, vec![0, 1, 2]);
        assert_eq!(confidence, vec![0.5, 0.75, 1.0]);
        assert_eq!(
            seg_agreement(&b.images, &b.labels, &labels),
            vec![2, 1, 1, 1]
        );
        // The second image alone gives the same as its part of the batch.
        let votes_b = seg_vote(&b.images[1..], &b.labels, &[1, 2, 1, 5], 3);
        assert_eq!(votes_b, vec![0, 0, 5]);
        let (labels_b, _) = seg_argmax(&b.images[1..], 1, &votes_b, 3, TieBreak::Lowest, 0);
        assert_eq!(seg_agreement(&b.images[1..], &b.labels, &labels_b), vec![1]);
    }

    #[test]
    fn taps_are_symmetric_and_within_the_fixed_point_budget() {
        for sigma in [0.5f32, 1.0, 2.5, 10.0] {
            let taps = Smoothing::Gaussian { sigma }.taps();
            assert_eq!(taps.len(), 2 * (3.0 * sigma).ceil() as usize + 1);
            assert!(taps.iter().sum::<u32>() <= TAP_SCALE, "σ = {sigma}");
            assert!(taps.iter().eq(taps.iter().rev()), "σ = {sigma}");
            assert!(taps.iter().all(|&t| t >= 1));
        }
        assert_eq!(Smoothing::Gaussian { sigma: 0.0 }.taps(), vec![1]);
        assert_eq!(Smoothing::Box { radius: 1 }.taps(), vec![341; 3]);
    }

    #[test]
    fn one_vote_smoothed_twice_is_the_outer_product_of_the_taps() {
        let mut pixels = [0u8; 25];
        pixels[12] = 1;
        let b = batch(&[("a", "w", 5, 5, &pixels)], 2);
        let votes = seg_vote(&b.images, &b.labels, &[1], 2);
        let taps = [1, 2, 1];
        let rows = seg_smooth(&b.images, &votes, 2, &taps, true);
        let both = seg_smooth(&b.images, &rows, 2, &taps, false);
        for y in 0..5i64 {
            for x in 0..5i64 {
                let tap = |d: i64| {
                    if d.abs() > 1 {
                        0
                    } else {
                        taps[(d + 1) as usize]
                    }
                };
                let expected = tap(x - 2) * tap(y - 2);
                assert_eq!(both[((y * 5 + x) * 2 + 1) as usize], expected, "({x}, {y})");
            }
        }
        // Class 0 is everywhere else. A corner keeps (2 + 1)² of the 4²
        // tap mass (the rest falls outside the image); the centre has all
        // of it but its own pixel's 2·2.
        assert_eq!(both[0], 9);
        assert_eq!(both[12 * 2], 12);
    }

    #[test]
    fn random_ties_are_seeded_and_reach_every_tied_class() {
        let pixels: Vec<u8> = (0..400).map(|p| (p % 2) as u8).collect();
        let flipped: Vec<u8> = pixels.iter().map(|&c| 1 - c).collect();
        let b = batch(
            &[("a", "w1", 20, 20, &pixels), ("a", "w2", 20, 20, &flipped)],
            2,
        );
        let votes = seg_vote(&b.images, &b.labels, &[1, 1], 2);
        let (lowest, _) = seg_argmax(&b.images, 0, &votes, 2, TieBreak::Lowest, 7);
        assert!(lowest.iter().all(|&c| c == 0));
        let (first, conf) = seg_argmax(&b.images, 0, &votes, 2, TieBreak::Random, 7);
        let (again, _) = seg_argmax(&b.images, 0, &votes, 2, TieBreak::Random, 7);
        let (other, _) = seg_argmax(&b.images, 0, &votes, 2, TieBreak::Random, 8);
        assert_eq!(first, again);
        assert_ne!(first, other);
        let ones = first.iter().filter(|&&c| c == 1).count();
        assert!((140..260).contains(&ones), "{ones} of 400");
        assert!(conf.iter().all(|&c| c == 0.5));
    }
}
