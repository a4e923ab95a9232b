//! Twin of `shaders/vote_shares.wgsl`: vote counts to soft posteriors,
//! known items clamped.

use rayon::prelude::*;

use super::ITEM_CHUNK;

/// Each item's vote shares; uniform where an item has no vote; one-hot on
/// class `c` where `known[i] = c + 1` (`known` empty, or 0 for an item: not
/// known).
///
/// The counts' buffer becomes the shares' (a row's shares are written as
/// f32 bits over its counts once their total is known), so the start never
/// holds both: at 20M items of 5 classes that is 400 MB less at a fit's
/// memory peak.
pub fn vote_shares(counts: Vec<u32>, k: usize, known: &[u32]) -> Vec<f32> {
    let mut cells = counts;
    cells
        .par_chunks_mut(ITEM_CHUNK * k)
        .enumerate()
        .for_each(|(chunk, rows)| {
            let first = chunk * ITEM_CHUNK;
            for (local, row) in rows.chunks_mut(k).enumerate() {
                let y1 = known.get(first + local).copied().unwrap_or(0);
                if y1 != 0 {
                    for (j, cell) in row.iter_mut().enumerate() {
                        *cell = if j + 1 == y1 as usize { 1f32 } else { 0f32 }.to_bits();
                    }
                    continue;
                }
                let total: u32 = row.iter().sum();
                for cell in row.iter_mut() {
                    let share = if total == 0 {
                        1.0 / k as f32
                    } else {
                        *cell as f32 / total as f32
                    };
                    *cell = share.to_bits();
                }
            }
        });
    // Same size and alignment: the collect reuses the allocation.
    cells.into_iter().map(f32::from_bits).collect()
}
