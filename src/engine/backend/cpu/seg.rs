//! CPU twins of the segmentation shaders (`shaders/seg_*.wgsl`), and the
//! reference the GPU backend is tested against.
//!
//! Votes and smoothing are integer arithmetic, so both backends produce the
//! same vote maps bit for bit and the same labels: mask weights are small
//! integers, smoothing taps are fixed point with [`TAP_SCALE`], and
//! [`MAX_PIXEL_WEIGHT`] keeps two smoothing passes below 2^32.

use rayon::prelude::*;

use crate::engine::pack::masks::ImageSlot;
use crate::maths::TieBreak;
use crate::maths::{pcg_hash, tie_draw};

/// The taps of one smoothing pass sum to at most this.
pub const TAP_SCALE: u32 = 1024;

/// The most vote weight all masks of one pixel may carry together:
/// `4095 · 1024 · 1024 < 2^32`, so votes smoothed twice fit a `u32`.
pub const MAX_PIXEL_WEIGHT: u32 = 4095;

/// The neighbourhood that votes are smoothed over, in each direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// A Gaussian of this standard deviation (pixels), cut at 3σ.
    Gaussian { sigma: f32 },
    /// A box of `2·radius + 1` pixels.
    Box { radius: u32 },
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

/// Twin of `seg_smooth.wgsl`: one separable pass, each class's vote map
/// convolved with `taps` (centred) along rows, or along columns when
/// `along_rows` is false; zero outside the image.
pub fn seg_smooth(
    images: &[ImageSlot],
    votes: &[u32],
    k: usize,
    taps: &[u32],
    along_rows: bool,
) -> Vec<u32> {
    let mut out = vec![0u32; votes.len()];
    seg_smooth_into(images, votes, k, taps, along_rows, &mut out);
    out
}

/// [`seg_smooth`] into `out` (the length of `votes`, overwritten).
pub fn seg_smooth_into(
    images: &[ImageSlot],
    votes: &[u32],
    k: usize,
    taps: &[u32],
    along_rows: bool,
    out: &mut [u32],
) {
    let radius = (taps.len() / 2) as i64;
    let base = images.first().map_or(0, |s| s.output_start) as usize;
    out.fill(0);
    for_each_image_mut(images, out, k, |slot, out| {
        let (w, h) = (slot.width as i64, slot.height as i64);
        let row = w as usize * k;
        let input = &votes[(slot.output_start as usize - base) * k..][..slot.pixels() * k];
        // Each tap adds a shifted, scaled copy of the input: along rows a
        // shift within each row, along columns a whole row. Contiguous
        // slices, so the additions vectorise; integer sums, so the order
        // does not change the result.
        for (j, &tap) in taps.iter().enumerate() {
            let d = j as i64 - radius;
            if along_rows {
                let (lo, hi) = ((-d).max(0), (w - d).min(w));
                if lo >= hi {
                    continue;
                }
                let (lo, hi) = (lo as usize * k, hi as usize * k);
                let shift = d * k as i64;
                for y in 0..h as usize {
                    let dst = &mut out[y * row..][lo..hi];
                    let src = &input[y * row..]
                        [(lo as i64 + shift) as usize..(hi as i64 + shift) as usize];
                    add_scaled(dst, src, tap);
                }
            } else {
                for y in 0..h {
                    let from = y + d;
                    if from < 0 || from >= h {
                        continue;
                    }
                    let dst = &mut out[y as usize * row..][..row];
                    let src = &input[from as usize * row..][..row];
                    add_scaled(dst, src, tap);
                }
            }
        }
    });
}

/// `dst += tap · src`, wrapping like the shader's u32 arithmetic.
fn add_scaled(dst: &mut [u32], src: &[u32], tap: u32) {
    for (o, &i) in dst.iter_mut().zip(src) {
        *o = o.wrapping_add(tap.wrapping_mul(i));
    }
}

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
