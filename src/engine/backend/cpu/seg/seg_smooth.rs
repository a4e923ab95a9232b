//! Twin of `shaders/seg_smooth.wgsl`: votes smoothed along rows, then
//! columns, with fixed-point taps.

use super::for_each_image_mut;
use crate::engine::pack::masks::ImageSlot;

/// Twin of `seg_smooth.wgsl`: one separable pass, each class's vote map
/// convolved with `taps` (centred) along rows, or along columns when
/// `along_rows` is false; zero outside the image.
pub fn seg_smooth(
    images: &[ImageSlot],
    votes: &[u32],
    k: usize,
    taps: &[u32],
    along_rows: bool,
) -> Vec<u32> {
    let mut out = vec![0u32; votes.len()];
    seg_smooth_into(images, votes, k, taps, along_rows, &mut out);
    out
}

/// [`seg_smooth`] into `out` (the length of `votes`, overwritten).
pub fn seg_smooth_into(
    images: &[ImageSlot],
    votes: &[u32],
    k: usize,
    taps: &[u32],
    along_rows: bool,
    out: &mut [u32],
) {
    let radius = (taps.len() / 2) as i64;
    let base = images.first().map_or(0, |s| s.output_start) as usize;
    out.fill(0);
    for_each_image_mut(images, out, k, |slot, out| {
        let (w, h) = (slot.width as i64, slot.height as i64);
        let row = w as usize * k;
        let input = &votes[(slot.output_start as usize - base) * k..][..slot.pixels() * k];
        // Each tap adds a shifted, scaled copy of the input: along rows a
        // shift within each row, along columns a whole row. Contiguous
        // slices, so the additions vectorise; integer sums, so the order
        // does not change the result.
        for (j, &tap) in taps.iter().enumerate() {
            let d = j as i64 - radius;
            if along_rows {
                let (lo, hi) = ((-d).max(0), (w - d).min(w));
                if lo >= hi {
                    continue;
                }
                let (lo, hi) = (lo as usize * k, hi as usize * k);
                let shift = d * k as i64;
                for y in 0..h as usize {
                    let dst = &mut out[y * row..][lo..hi];
                    let src = &input[y * row..]
                        [(lo as i64 + shift) as usize..(hi as i64 + shift) as usize];
                    add_scaled(dst, src, tap);
                }
            } else {
                for y in 0..h {
                    let from = y + d;
                    if from < 0 || from >= h {
                        continue;
                    }
                    let dst = &mut out[y as usize * row..][..row];
                    let src = &input[from as usize * row..][..row];
                    add_scaled(dst, src, tap);
                }
            }
        }
    });
}

/// `dst += tap · src`, wrapping like the shader's u32 arithmetic.
fn add_scaled(dst: &mut [u32], src: &[u32], tap: u32) {
    for (o, &i) in dst.iter_mut().zip(src) {
        *o = o.wrapping_add(tap.wrapping_mul(i));
    }
}
