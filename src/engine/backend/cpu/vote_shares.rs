//! Twin of `shaders/vote_shares.wgsl`: vote counts to soft posteriors,
//! known items clamped.

use rayon::prelude::*;

use super::ITEM_CHUNK;

/// Each item's vote shares; uniform where an item has no vote; one-hot on
/// class `c` where `known[i] = c + 1` (`known` empty, or 0 for an item: not
/// known).
pub fn vote_shares(counts: &[u32], k: usize, known: &[u32]) -> Vec<f32> {
    let mut shares = vec![0f32; counts.len()];
    shares
        .par_chunks_mut(ITEM_CHUNK * k)
        .zip(counts.par_chunks(ITEM_CHUNK * k))
        .enumerate()
        .for_each(|(chunk, (out, cnt))| {
            let first = chunk * ITEM_CHUNK;
            for (local, (row, c)) in out.chunks_mut(k).zip(cnt.chunks(k)).enumerate() {
                let y1 = known.get(first + local).copied().unwrap_or(0);
                if y1 != 0 {
                    for (j, p) in row.iter_mut().enumerate() {
                        *p = if j + 1 == y1 as usize { 1.0 } else { 0.0 };
                    }
                    continue;
                }
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
