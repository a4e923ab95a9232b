//! Twin of `shaders/log_priors.wgsl`: log class priors from fixed-point
//! column sums of the posteriors.

use rayon::prelude::*;

use super::ITEM_CHUNK;
use crate::engine::backend::PROB_FLOOR;

/// Twin of `log_priors.wgsl`: `log(max(sum / n_items, floor))` per class from
/// fixed-point (lo, hi) column sums.
pub fn log_priors(sum_pairs: &[u32], n_items: usize, frac_bits: u32) -> Vec<f32> {
    let k = sum_pairs.len() / 2;
    (0..k)
        .map(|c| {
            let p = if n_items == 0 {
                1.0 / k as f32
            } else {
                let sum = (sum_pairs[2 * c + 1] as i32) as f32 * 4_294_967_296.0
                    + sum_pairs[2 * c] as f32;
                sum / (frac_bits as f32).exp2() / n_items as f32
            };
            p.max(PROB_FLOOR).ln()
        })
        .collect()
}

/// The mean posterior per class, summed in f64: the reference the GPU's
/// two stages (`reduce_rows`, then `log_priors`) approximate. The CPU
/// session uses it rather than their fixed-point form, whose f32 rounding
/// of each posterior measured further from the GPU's results on the saved
/// property cases, not closer.
pub fn class_priors(posteriors: &[f32], k: usize) -> Vec<f32> {
    let n_items = posteriors.len() / k;
    if n_items == 0 {
        return vec![1.0 / k as f32; k];
    }
    let sums = posteriors
        .par_chunks(ITEM_CHUNK * k)
        .map(|chunk| {
            let mut s = vec![0f64; k];
            for row in chunk.chunks(k) {
                for (acc, &p) in s.iter_mut().zip(row) {
                    *acc += p as f64;
                }
            }
            s
        })
        .reduce(
            || vec![0f64; k],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    sums.iter().map(|s| (s / n_items as f64) as f32).collect()
}
