//! Twin of `shaders/vote_shares.wgsl`: vote counts to soft posteriors.

use rayon::prelude::*;

use super::ITEM_CHUNK;

/// Each item's vote shares; uniform where an item has no vote.
pub fn vote_shares(counts: &[u32], k: usize) -> Vec<f32> {
    let mut shares = vec![0f32; counts.len()];
    shares
        .par_chunks_mut(ITEM_CHUNK * k)
        .zip(counts.par_chunks(ITEM_CHUNK * k))
        .for_each(|(out, cnt)| {
            for (row, c) in out.chunks_mut(k).zip(cnt.chunks(k)) {
                let total: u32 = c.iter().sum();
                for (p, &v) in row.iter_mut().zip(c) {
                    *p = if total == 0 {
                        1.0 / k as f32
                    } else {
                        v as f32 / total as f32
                    };
                }
            }
        });
    shares
}
