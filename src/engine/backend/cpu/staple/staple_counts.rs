//! Twin of `shaders/staple_counts.wgsl`: STAPLE's soft confusion counts.

use rayon::prelude::*;

use crate::engine::pack::masks::ImageSlot;

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
