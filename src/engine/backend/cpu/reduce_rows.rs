//! Twin of `shaders/reduce_rows.wgsl`: exact fixed-point column sums.

use rayon::prelude::*;

use super::ITEM_CHUNK;
use crate::maths::to_fixed;

/// Twin of `reduce_rows.wgsl`: the column sums of each block of 256 rows of
/// `input` (`[n][width]` f32, or `[n][width]` (lo, hi) pairs when
/// `input_pairs`), as exact fixed-point `[blocks][width]` (lo, hi) pairs.
pub fn reduce_rows(input: &[u32], width: usize, input_pairs: bool, frac_bits: u32) -> Vec<u32> {
    let per_row = if input_pairs { width * 2 } else { width };
    let n_rows = input.len() / per_row.max(1);
    let blocks = n_rows.div_ceil(256).max(1);
    let mut out = vec![0u32; blocks * width * 2];
    for g in 0..blocks {
        for c in 0..width {
            let mut sum = 0i64;
            for row in g * 256..((g + 1) * 256).min(n_rows) {
                sum = sum.wrapping_add(if input_pairs {
                    let at = (row * width + c) * 2;
                    ((input[at + 1] as i32 as i64) << 32) | input[at] as i64
                } else {
                    to_fixed(f32::from_bits(input[row * width + c]), frac_bits)
                });
            }
            out[(g * width + c) * 2] = sum as u32;
            out[(g * width + c) * 2 + 1] = (sum >> 32) as u32;
        }
    }
    out
}

/// The exact fixed-point sum of each column of `values` (`[n][width]`), as
/// (lo, hi) pairs: what repeated `reduce_rows` passes leave in their last
/// block.
pub fn reduce_columns(values: &[f32], width: usize, frac_bits: u32) -> Vec<u32> {
    (0..width)
        .flat_map(|c| {
            let total = values
                .par_chunks(width * ITEM_CHUNK)
                .map(|chunk| {
                    chunk
                        .chunks_exact(width)
                        .map(|row| to_fixed(row[c], frac_bits))
                        .fold(0i64, i64::wrapping_add)
                })
                .reduce(|| 0i64, i64::wrapping_add);
            [total as u32, (total >> 32) as u32]
        })
        .collect()
}
