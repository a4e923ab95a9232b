//! Twin of `shaders/ds_m_step_segments.wgsl`: soft counts per segment of a
//! worker's annotations.

use rayon::prelude::*;

/// Twin of `ds_m_step_segments.wgsl`: per segment of a worker's annotations,
/// `partial[s][t][l] = Σ posterior[item][t]` in f32, in annotation order.
pub fn ds_m_step_segments(
    segment_start: &[u32],
    wk_item: &[u32],
    wk_label: &[u32],
    posteriors: &[f32],
    k: usize,
) -> Vec<f32> {
    let n_segments = segment_start.len().saturating_sub(1);
    let mut partial = vec![0f32; n_segments * k * k];
    partial
        .par_chunks_mut(k * k)
        .enumerate()
        .for_each(|(s, out)| {
            for t in 0..k {
                for a in segment_start[s] as usize..segment_start[s + 1] as usize {
                    let l = wk_label[a] as usize;
                    out[t * k + l] += posteriors[wk_item[a] as usize * k + t];
                }
            }
        });
    partial
}
