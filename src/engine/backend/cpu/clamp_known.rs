//! Twin of `shaders/clamp_known.wgsl`: known items' posteriors clamped to
//! their known class, and their log-likelihood terms extended by the
//! probability the model gave that class.

use crate::engine::backend::PROB_FLOOR;

/// For each known item `known_item[j]` with class `known_class[j]`: adds
/// `ln max(posterior[class], PROB_FLOOR)` to its log-likelihood term, then
/// sets its posterior row to one-hot on the class. Items index `posteriors`
/// (`[item][class]`, rows of `k`) and `ll_terms` (`[item]`).
pub fn clamp_known(
    known_item: &[u32],
    known_class: &[u32],
    k: usize,
    posteriors: &mut [f32],
    ll_terms: &mut [f32],
) {
    for (&i, &y) in known_item.iter().zip(known_class) {
        let (i, y) = (i as usize, y as usize);
        let row = &mut posteriors[i * k..(i + 1) * k];
        ll_terms[i] += row[y].max(PROB_FLOOR).ln();
        for (c, p) in row.iter_mut().enumerate() {
            *p = if c == y { 1.0 } else { 0.0 };
        }
    }
}
