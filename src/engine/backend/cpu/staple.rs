//! CPU twins of the STAPLE shaders (`shaders/staple_posterior.wgsl`,
//! `shaders/staple_counts.wgsl`): the E-step of multi-class STAPLE
//! (Warfield, Zou & Wells 2004) with a spatial prior from the smoothed
//! votes, and the soft confusion counts its M-step normalises.
//!
//! Raters are indexed per mask through `mask_rater`, so one confusion table
//! can serve one mask (STAPLE per image) or all masks of a worker (shared
//! across the batch).

use rayon::prelude::*;

use crate::engine::pack::masks::ImageSlot;

/// Share of a pixel's smoothed votes that every class gets in its prior on
/// top of its own: a class that no worker drew nearby stays possible, at
/// about 1 : 100 against a unanimous neighbourhood.
pub const STAPLE_PRIOR_FLOOR: f32 = 0.01;

/// Twin of `staple_posterior.wgsl`. For each pixel of `images`: the prior
/// `votes[p][t] + floor · Σ votes[p]` (the votes of the pixel's
/// neighbourhood), times `Π_r θ_r[t][given_r(p)]` over the image's masks,
/// normalised: the posterior over the true class, `[pixel][K]`. The
/// consensus is the most probable class (the lowest on a tie) and the
/// confidence its probability. `log_confusion` is `[rater][given][true]`.
#[allow(clippy::too_many_arguments)]
pub fn staple_posterior_into(
    images: &[ImageSlot],
    labels: &[u8],
    votes: &[u32],
    mask_rater: &[u32],
    log_confusion: &[f32],
    k: usize,
    posterior: &mut [f32],
    consensus: &mut [u8],
    confidence: &mut [f32],
) {
    let base = images.first().map_or(0, |s| s.output_start) as usize;
    for slot in images {
        let start = slot.output_start as usize - base;
        let pixels = slot.pixels();
        let tables: Vec<&[f32]> = (0..slot.n_masks as usize)
            .map(|r| {
                let rater = mask_rater[slot.first_mask as usize + r] as usize;
                &log_confusion[rater * k * k..][..k * k]
            })
            .collect();
        posterior[start * k..][..pixels * k]
            .par_chunks_mut(k)
            .zip(consensus[start..start + pixels].par_iter_mut())
            .zip(confidence[start..start + pixels].par_iter_mut())
            .enumerate()
            .for_each(|(p, ((post, label), conf))| {
                let prior = &votes[(start + p) * k..][..k];
                let total = prior.iter().map(|&v| v as f32).sum::<f32>();
                for (w, &v) in post.iter_mut().zip(prior) {
                    *w = (v as f32 + STAPLE_PRIOR_FLOOR * total).ln();
                }
                for (r, table) in tables.iter().enumerate() {
                    let given = labels[slot.pixel_start as usize + r * pixels + p] as usize;
                    for (w, &l) in post.iter_mut().zip(&table[given * k..][..k]) {
                        *w += l;
                    }
                }
                let (best, top) =
                    post.iter()
                        .enumerate()
                        .fold(
                            (0, f32::NEG_INFINITY),
                            |(b, m), (c, &w)| {
                                if w > m {
                                    (c, w)
                                } else {
                                    (b, m)
                                }
                            },
                        );
                let mut sum = 0.0f32;
                for w in post.iter_mut() {
                    *w = (*w - top).exp();
                    sum += *w;
                }
                let inv = 1.0 / sum;
                for w in post.iter_mut() {
                    *w *= inv;
                }
                *label = best as u8;
                *conf = post[best];
            });
    }
}

/// Twin of `staple_counts.wgsl`: for each mask of `images`, its soft
/// confusion counts `[given][true]`: the posterior mass of each true class
/// over the mask's pixels that it labelled `given`. Appended to `counts`
/// mask after mask (`K·K` each).
pub fn staple_counts(
    images: &[ImageSlot],
    labels: &[u8],
    posterior: &[f32],
    k: usize,
    counts: &mut Vec<f32>,
) {
    let base = images.first().map_or(0, |s| s.output_start) as usize;
    for slot in images {
        let pixels = slot.pixels();
        let post = &posterior[(slot.output_start as usize - base) * k..][..pixels * k];
        let per_mask: Vec<Vec<f32>> = (0..slot.n_masks as usize)
            .into_par_iter()
            .map(|r| {
                let given = &labels[slot.pixel_start as usize + r * pixels..][..pixels];
                // f64 sums: a running f32 sum over a million pixels would
                // drift from the shader's tree sum.
                let mut table = vec![0f64; k * k];
                for (&g, w) in given.iter().zip(post.chunks_exact(k)) {
                    for (cell, &x) in table[g as usize * k..][..k].iter_mut().zip(w) {
                        *cell += x as f64;
                    }
                }
                table.into_iter().map(|c| c as f32).collect()
            })
            .collect();
        counts.extend(per_mask.into_iter().flatten());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::masks::{Mask, MaskBuilder};

    #[test]
    fn posterior_is_the_normalised_product_of_prior_and_confusion() {
        let mut b = MaskBuilder::new(vec!["a".into(), "b".into()]).unwrap();
        for (worker, pixels) in [("w1", [0u8, 1]), ("w2", [1, 1])] {
            b.push(Mask {
                image: "i",
                worker,
                width: 2,
                height: 1,
                pixels: &pixels,
            })
            .unwrap();
        }
        let b = b.finish();
        // Prior votes 3:1 at pixel 0, 0:4 at pixel 1.
        let votes = [3u32, 1, 0, 4];
        // Rater 0 right 90%, rater 1 right 60%; [given][true].
        let theta = |right: f32| [right.ln(), (1. - right).ln(), (1. - right).ln(), right.ln()];
        let log_confusion: Vec<f32> = [theta(0.9), theta(0.6)].concat();
        let (mut post, mut labels, mut conf) = (vec![0.0; 4], vec![0; 2], vec![0.0; 2]);
        staple_posterior_into(
            &b.images,
            &b.labels,
            &votes,
            &[0, 1],
            &log_confusion,
            2,
            &mut post,
            &mut labels,
            &mut conf,
        );
        let floor = STAPLE_PRIOR_FLOOR as f64 * 4.0;
        // Pixel 0: w1 says a (0.9 vs 0.1), w2 says b (0.4 vs 0.6).
        let a = (3.0 + floor) * 0.9 * 0.4;
        let bb = (1.0 + floor) * 0.1 * 0.6;
        assert!((post[0] as f64 - a / (a + bb)).abs() < 1e-6, "{post:?}");
        assert_eq!(labels, vec![0, 1]);
        assert_eq!(conf[0], post[0]);
        assert!((post[2] + post[3] - 1.0).abs() < 1e-6);

        let mut counts = Vec::new();
        staple_counts(&b.images, &b.labels, &post, 2, &mut counts);
        // Mask 0 labelled pixel 0 `a` and pixel 1 `b`: row `given` holds
        // that pixel's posterior.
        assert_eq!(counts.len(), 2 * 4);
        assert_eq!(&counts[0..2], &post[0..2]);
        assert_eq!(&counts[2..4], &post[2..4]);
        // Mask 1 labelled both `b`.
        assert_eq!(&counts[4..6], &[0.0, 0.0]);
        assert!((counts[6] - (post[0] + post[2])).abs() < 1e-6);
    }
}
