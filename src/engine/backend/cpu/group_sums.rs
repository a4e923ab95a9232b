//! Twin of `shaders/group_sums.wgsl`: exact fixed-point column sums of
//! blocks of consecutive rows.

use rayon::prelude::*;

use crate::maths::to_fixed;

/// Twin of `group_sums.wgsl`: for each block of `block` consecutive rows of
/// `input` (`[n][width]` f32), its column sums as exact fixed-point
/// `[blocks][width]` (lo, hi) pairs.
pub fn group_sums(input: &[f32], width: usize, block: usize, frac_bits: u32) -> Vec<u32> {
    let n_rows = input.len() / width.max(1);
    let groups = n_rows.div_ceil(block.max(1));
    let mut out = vec![0u32; groups * width * 2];
    out.par_chunks_mut(width * 2)
        .enumerate()
        .for_each(|(g, row_out)| {
            let rows = g * block..((g + 1) * block).min(n_rows);
            for c in 0..width {
                let sum = rows
                    .clone()
                    .map(|row| to_fixed(input[row * width + c], frac_bits))
                    .fold(0i64, i64::wrapping_add);
                row_out[2 * c] = sum as u32;
                row_out[2 * c + 1] = (sum >> 32) as u32;
            }
        });
    out
}
