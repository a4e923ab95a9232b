//! Twin of `shaders/log_priors.wgsl`: log class priors from fixed-point
//! column sums of the posteriors.

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
