//! The M-step's soft counts in one pass, each worker accumulated in f64:
//! the reference that the GPU's two passes (`ds_m_step_segments`, then
//! `ds_m_step_combine`, in f32 over segments cut to the device's limits)
//! approximate. The CPU session runs this fused form because the GPU's
//! segments depend on its binding limits; the two twins below are checked
//! against it step by step.

use rayon::prelude::*;

use crate::engine::pack::ClassId;

/// Soft counts `[worker][true][given]`, `C[t][l] = Σ posterior[item][t]` over
/// the worker's annotations with label l, accumulated in f64 per worker. The
/// GPU computes the same in two passes: [`ds_m_step_segments`](super::ds_m_step_segments)
/// then [`ds_m_step_combine`](super::ds_m_step_combine).
pub fn ds_m_step_counts(
    worker_offsets: &[u32],
    worker_item: &[u32],
    worker_label: &[ClassId],
    posteriors: &[f32],
    k: usize,
) -> Vec<f32> {
    let args = (worker_offsets, worker_item, worker_label, posteriors);
    match k {
        2 => m_step_fixed::<2>(args),
        3 => m_step_fixed::<3>(args),
        4 => m_step_fixed::<4>(args),
        5 => m_step_fixed::<5>(args),
        6 => m_step_fixed::<6>(args),
        8 => m_step_fixed::<8>(args),
        10 => m_step_fixed::<10>(args),
        _ => m_step_general(args, k),
    }
}

type MStepArgs<'a> = (&'a [u32], &'a [u32], &'a [ClassId], &'a [f32]);

fn m_step_fixed<const K: usize>(args: MStepArgs) -> Vec<f32> {
    let (worker_offsets, worker_item, worker_label, posteriors) = args;
    let n_workers = worker_offsets.len() - 1;
    let mut counts = vec![0f32; n_workers * K * K];
    counts
        .par_chunks_mut(K * K)
        .enumerate()
        .for_each(|(w, out)| {
            // f64 accumulators (the reference the GPU's f32 segment sums are
            // checked against), [given][true] so each annotation adds one row.
            let mut acc = [[0f64; K]; K];
            let range = worker_offsets[w] as usize..worker_offsets[w + 1] as usize;
            for (&i, &l) in worker_item[range.clone()].iter().zip(&worker_label[range]) {
                let post: &[f32; K] = posteriors[i as usize * K..(i as usize + 1) * K]
                    .try_into()
                    .expect("K");
                let row = &mut acc[l as usize];
                for t in 0..K {
                    row[t] += post[t] as f64;
                }
            }
            for t in 0..K {
                for l in 0..K {
                    out[t * K + l] = acc[l][t] as f32;
                }
            }
        });
    counts
}

fn m_step_general(args: MStepArgs, k: usize) -> Vec<f32> {
    let (worker_offsets, worker_item, worker_label, posteriors) = args;
    let n_workers = worker_offsets.len() - 1;
    let mut counts = vec![0f32; n_workers * k * k];
    counts
        .par_chunks_mut(k * k)
        .enumerate()
        .for_each(|(w, out)| {
            let mut acc = vec![0f64; k * k];
            let range = worker_offsets[w] as usize..worker_offsets[w + 1] as usize;
            for (&i, &l) in worker_item[range.clone()].iter().zip(&worker_label[range]) {
                let post = &posteriors[i as usize * k..(i as usize + 1) * k];
                for (t, &p) in post.iter().enumerate() {
                    acc[t * k + l as usize] += p as f64;
                }
            }
            out.iter_mut().zip(&acc).for_each(|(o, a)| *o = *a as f32);
        });
    counts
}
