//! Shared maths and small types every layer uses: the tie-break hash and
//! rule, digamma, a max-shifted softmax, and the exact fixed-point sums the
//! GPU reductions compute. A leaf: it imports nothing from the crate, so no
//! arrow runs back up from the engine to the methods.

use rayon::prelude::*;

/// How a vote breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// A seeded random choice among the tied classes (Ground Truth's rule).
    Random,
    /// The tied class that comes first in class order (crowd-kit's rule).
    #[default]
    Lowest,
}

/// A 32-bit FNV-1a hash of an item's name: its key for random tie-breaks,
/// so the order of the input rows cannot change a label.
pub fn name_key(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// `out` := the probabilities whose logs are `log` up to a constant
/// (max-shifted before exponentiating).
pub fn softmax_into(log: &[f64], out: &mut [f64]) {
    let top = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (p, lp) in out.iter_mut().zip(log) {
        *p = (lp - top).exp();
    }
    let sum: f64 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= sum);
}

/// Fractional bits of the fixed-point sums of probabilities (class priors,
/// worker accuracies): values in [0, 1], up to 2^31 of them.
pub const PROB_FRAC_BITS: u32 = 32;
/// Fractional bits of the fixed-point sum of log-likelihood terms: a
/// resolution of 1e-6 per term, totals up to 8.8e12 in magnitude.
pub const LL_FRAC_BITS: u32 = 20;
/// Fractional bits of the fixed-point population counts (every worker's
/// soft counts summed per cell): totals up to 2^39.
pub const COUNT_FRAC_BITS: u32 = 24;

/// A 32-bit integer hash (PCG output permutation), identical in WGSL, used to
/// break ties reproducibly and independently of thread scheduling.
pub fn pcg_hash(x: u32) -> u32 {
    let state = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The tie-break draw of `item` under `seed`.
pub fn tie_draw(seed: u32, item: u32) -> u32 {
    pcg_hash(item ^ pcg_hash(seed))
}

/// A fixed-point (lo, hi) pair as f32, computed as the shaders do.
pub fn fixed_to_f32(lo: u32, hi: u32, frac_bits: u32) -> f32 {
    (hi as i32 as f32 * 4_294_967_296.0 + lo as f32) / (frac_bits as f32).exp2()
}

/// The digamma function ψ: the recurrence ψ(x) = ψ(x + 1) − 1/x up to
/// x ≥ 6, then the asymptotic series (error below 1e-7 there). The twin of
/// `confusion_normalise.wgsl`'s, which runs the same steps in f32.
pub fn digamma(x: f64) -> f64 {
    let mut x = x;
    let mut result = 0.0;
    while x < 6.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    result + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// ln Γ(x) for x > 0: the recurrence ln Γ(x) = ln Γ(x + 1) − ln x up to
/// x ≥ 10, then Stirling's series (error about 1e-12 there).
pub fn ln_gamma(x: f64) -> f64 {
    let mut x = x;
    let mut product = 1.0;
    while x < 10.0 {
        product *= x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    (x - 0.5) * x.ln() - x
        + 0.918_938_533_204_672_8
        + (1.0 / 12.0 - f * (1.0 / 360.0 - f * (1.0 / 1260.0 - f / 1680.0))) / x
        - product.ln()
}

/// `round(x · 2^frac_bits)` as a 64-bit integer, computed in f32 exactly as
/// `reduce_rows.wgsl` does.
pub fn to_fixed(x: f32, frac_bits: u32) -> i64 {
    let y = (x.abs() * (frac_bits as f32).exp2()).round_ties_even();
    let high = (y / 4_294_967_296.0).floor();
    let low = y - high * 4_294_967_296.0;
    let magnitude = ((high as u32 as i64) << 32) | low as u32 as i64;
    if x < 0.0 {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

/// A fixed-point (lo, hi) pair as a number.
pub fn fixed_value(lo: u32, hi: u32, frac_bits: u32) -> f64 {
    let v = ((hi as i32 as i64) << 32) | lo as i64;
    v as f64 / (frac_bits as f64).exp2()
}

/// The exact fixed-point sum of `values` (what repeated `reduce_rows`
/// passes give), as a number.
pub fn fixed_sum(values: &[f32], frac_bits: u32) -> f64 {
    from_fixed(fixed_sum_i64(values, frac_bits), frac_bits)
}

/// The number a fixed-point integer with `frac_bits` fraction bits stands for.
pub fn from_fixed(x: i64, frac_bits: u32) -> f64 {
    x as f64 / (frac_bits as f64).exp2()
}

/// The exact fixed-point sum as the 64-bit integer `reduce_rows.wgsl` holds.
pub fn fixed_sum_i64(values: &[f32], frac_bits: u32) -> i64 {
    values
        .par_iter()
        .map(|&x| to_fixed(x, frac_bits))
        .reduce(|| 0i64, i64::wrapping_add)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ln_gamma_matches_known_values() {
        use super::ln_gamma;
        assert!(ln_gamma(1.0).abs() < 1e-11);
        assert!(ln_gamma(2.0).abs() < 1e-11);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-11);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-11);
        assert!((ln_gamma(7.5) - 7.534_364_236_758_733).abs() < 1e-11);
        // Γ(x) ≈ 1/x near 0.
        assert!((ln_gamma(1e-6) + 1e-6f64.ln()).abs() < 1e-5);
    }
}
