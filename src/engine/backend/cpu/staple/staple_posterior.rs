//! Twin of `shaders/staple_posterior.wgsl`: STAPLE's E-step.

use rayon::prelude::*;

use super::STAPLE_PRIOR_FLOOR;
use crate::engine::pack::masks::ImageSlot;

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
