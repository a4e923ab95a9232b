//! Twin of `shaders/ds_m_step_combine.wgsl`: segment sums added into each
//! worker's soft counts.

/// Twin of `ds_m_step_combine.wgsl`: adds each run's segment sums (in f32,
/// segment order) into its worker's soft counts.
pub fn ds_m_step_combine(
    run_start: &[u32],
    run_worker: &[u32],
    partial: &[f32],
    counts: &mut [f32],
    k: usize,
) {
    for (r, &w) in run_worker.iter().enumerate() {
        for t in 0..k {
            for l in 0..k {
                let mut sum = 0f32;
                for s in run_start[r] as usize..run_start[r + 1] as usize {
                    sum += partial[(s * k + t) * k + l];
                }
                counts[(w as usize * k + t) * k + l] += sum;
            }
        }
    }
}
