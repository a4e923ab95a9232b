//! Twin of `shaders/mv_counts.wgsl`: majority-vote counts.

use rayon::prelude::*;

use super::ITEM_CHUNK;
use crate::engine::pack::ClassId;

/// Twin of `mv_counts.wgsl`: votes per `[item][class]`.
pub fn mv_counts(item_offsets: &[u32], item_label: &[ClassId], k: usize) -> Vec<u32> {
    let n_items = item_offsets.len() - 1;
    let mut counts = vec![0u32; n_items * k];
    counts
        .par_chunks_mut(ITEM_CHUNK * k)
        .enumerate()
        .for_each(|(chunk, out)| {
            let first = chunk * ITEM_CHUNK;
            for (local, row) in out.chunks_mut(k).enumerate() {
                let i = first + local;
                for &l in &item_label[item_offsets[i] as usize..item_offsets[i + 1] as usize] {
                    row[l as usize] += 1;
                }
            }
        });
    counts
}
