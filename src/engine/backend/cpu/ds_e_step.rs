//! Twin of `shaders/ds_e_step.wgsl`: item posteriors from the confusion
//! tables and class priors, in f32 log space, known items clamped, and each
//! item's log-likelihood and entropy terms, summed exactly in fixed point as
//! the GPU's `reduce_rows` does.

use rayon::prelude::*;

use super::ITEM_CHUNK;
use crate::engine::backend::PROB_FLOOR;
use crate::engine::pack::ClassId;
use crate::maths::{fixed_sum, fixed_sum_i64, from_fixed, LL_FRAC_BITS};

/// What [`ds_e_step`] returns per item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EStepTerms {
    /// The log-likelihood term `log Σ_t p(t) Π p(l|t)`, plus, for a known
    /// item, `log max(q(known class), PROB_FLOOR)` of its posterior before
    /// the clamp.
    pub ll: Vec<f32>,
    /// The entropy `−Σ_t q(t) ln q(t)` of its posterior (0 for a known item,
    /// whose posterior is one-hot).
    pub entropy: Vec<f32>,
}

/// Twin of `ds_e_step.wgsl`: for each item, the log-posterior over its
/// annotations, normalised with log-sum-exp (max-shift); an item with
/// `known[i] = c + 1` is then clamped to one-hot on class `c` (`known`
/// empty, or 0 for an item: not known). Writes posteriors and returns each
/// item's log-likelihood and entropy terms.
pub fn ds_e_step(
    item_offsets: &[u32],
    item_worker: &[u32],
    item_label: &[ClassId],
    log_confusion: &[f32],
    log_priors: &[f32],
    known: &[u32],
    posteriors: &mut [f32],
) -> EStepTerms {
    let args = (
        item_offsets,
        item_worker,
        item_label,
        log_confusion,
        log_priors,
        known,
    );
    // Small K gets a copy with the row on the stack and the class loops
    // unrolled; the arithmetic and its order are those of the general one.
    match log_priors.len() {
        2 => e_step_fixed::<2>(args, posteriors),
        3 => e_step_fixed::<3>(args, posteriors),
        4 => e_step_fixed::<4>(args, posteriors),
        5 => e_step_fixed::<5>(args, posteriors),
        6 => e_step_fixed::<6>(args, posteriors),
        8 => e_step_fixed::<8>(args, posteriors),
        10 => e_step_fixed::<10>(args, posteriors),
        _ => e_step_general(args, posteriors),
    }
}

type EStepArgs<'a> = (
    &'a [u32],
    &'a [u32],
    &'a [ClassId],
    &'a [f32],
    &'a [f32],
    &'a [u32],
);

/// `exp(x)` for `x ≤ 0`, branch-free so the E-step's class loop vectorises:
/// Cody-Waite reduction `x = n·ln2 + r` with `|r| ≤ ln2/2`, a degree-6
/// polynomial for `exp(r)` (relative error about 2e-7, like libm's expf to
/// within a few ulp), and `2^n` built from the exponent bits. Below −87 (where
/// f32 leaves the normal range) it returns 0.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    let x = x.max(-87.0);
    // Round to nearest by adding and removing 1.5·2^23 (no libm call, so it
    // vectorises on baseline x86-64).
    const SHIFT: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67 + r * (0.041_666_52 + r * (0.008_333_6 + r * 0.001_394_4)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// Normalises one row of log-posteriors in place; returns its log-sum-exp
/// and the posterior's entropy. With `d_t` the shifted log-joint and
/// `e_t = exp(d_t)`, `H = ln s − Σ_t e_t·d_t / s`: no logarithm per class.
#[inline(always)]
fn normalise_row(row: &mut [f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    let mut ed = 0f32;
    for r in row.iter_mut() {
        let d = *r - max;
        *r = exp_nonpositive(d);
        sum += *r;
        ed += *r * d;
    }
    // One division, then products: five divisions per item cost more than
    // the rest of the normalisation.
    let inverse = 1.0 / sum;
    for r in row.iter_mut() {
        *r *= inverse;
    }
    let log_sum = sum.ln();
    (max + log_sum, log_sum - ed * inverse)
}

/// A known item's clamp (`known1` = class + 1, 0: not known): its
/// log-likelihood term gains the log-probability of its class, its
/// posterior becomes one-hot, its entropy 0.
#[inline(always)]
fn clamp(known1: u32, row: &mut [f32], ll: &mut f32, entropy: &mut f32) {
    if known1 == 0 {
        return;
    }
    let y = known1 as usize - 1;
    *ll += row[y].max(PROB_FLOOR).ln();
    for (c, p) in row.iter_mut().enumerate() {
        *p = if c == y { 1.0 } else { 0.0 };
    }
    *entropy = 0.0;
}

fn e_step_fixed<const K: usize>(args: EStepArgs, posteriors: &mut [f32]) -> EStepTerms {
    let (item_offsets, item_worker, item_label, log_confusion, log_priors, known) = args;
    let n_items = item_offsets.len() - 1;
    let priors: [f32; K] = log_priors.try_into().expect("K priors");
    let mut ll = vec![0f32; n_items];
    let mut entropy = vec![0f32; n_items];
    posteriors
        .par_chunks_mut(ITEM_CHUNK * K)
        .zip(ll.par_chunks_mut(ITEM_CHUNK))
        .zip(entropy.par_chunks_mut(ITEM_CHUNK))
        .enumerate()
        .for_each(|(chunk, ((post, ll_out), h_out))| {
            let first = chunk * ITEM_CHUNK;
            for (local, ((row, ll_i), h_i)) in post
                .chunks_exact_mut(K)
                .zip(ll_out.iter_mut())
                .zip(h_out.iter_mut())
                .enumerate()
            {
                let i = first + local;
                let mut lp = priors;
                let range = item_offsets[i] as usize..item_offsets[i + 1] as usize;
                for (&w, &l) in item_worker[range.clone()].iter().zip(&item_label[range]) {
                    let base = (w as usize * K + l as usize) * K;
                    let lc: &[f32; K] =
                        log_confusion[base..base + K].try_into().expect("K entries");
                    for t in 0..K {
                        lp[t] += lc[t];
                    }
                }
                (*ll_i, *h_i) = normalise_row(&mut lp);
                if let Some(&y1) = known.get(i) {
                    clamp(y1, &mut lp, ll_i, h_i);
                }
                row.copy_from_slice(&lp);
            }
        });
    EStepTerms { ll, entropy }
}

fn e_step_general(args: EStepArgs, posteriors: &mut [f32]) -> EStepTerms {
    let (item_offsets, item_worker, item_label, log_confusion, log_priors, known) = args;
    let k = log_priors.len();
    let n_items = item_offsets.len() - 1;
    let mut ll = vec![0f32; n_items];
    let mut entropy = vec![0f32; n_items];
    posteriors
        .par_chunks_mut(ITEM_CHUNK * k)
        .zip(ll.par_chunks_mut(ITEM_CHUNK))
        .zip(entropy.par_chunks_mut(ITEM_CHUNK))
        .enumerate()
        .for_each(|(chunk, ((post, ll_out), h_out))| {
            let first = chunk * ITEM_CHUNK;
            for (local, ((row, ll_i), h_i)) in post
                .chunks_mut(k)
                .zip(ll_out.iter_mut())
                .zip(h_out.iter_mut())
                .enumerate()
            {
                let i = first + local;
                row.copy_from_slice(log_priors);
                let range = item_offsets[i] as usize..item_offsets[i + 1] as usize;
                for (&w, &l) in item_worker[range.clone()].iter().zip(&item_label[range]) {
                    let base = (w as usize * k + l as usize) * k;
                    for (r, &lc) in row.iter_mut().zip(&log_confusion[base..base + k]) {
                        *r += lc;
                    }
                }
                (*ll_i, *h_i) = normalise_row(row);
                if let Some(&y1) = known.get(i) {
                    clamp(y1, row, ll_i, h_i);
                }
            }
        });
    EStepTerms { ll, entropy }
}

/// The total log-likelihood: the exact fixed-point sum that the GPU's
/// `reduce_rows` passes compute, so both backends see the same total for
/// the same terms.
pub fn ll_reduce(terms: &[f32]) -> f64 {
    fixed_sum(terms, LL_FRAC_BITS)
}

/// [`ll_reduce`]'s fixed-point integer: sums of blocks of terms add up to
/// the sum of all (wrapping addition is associative), so a caller may
/// reduce the terms a block at a time and never hold them all.
pub fn ll_fixed(terms: &[f32]) -> i64 {
    fixed_sum_i64(terms, LL_FRAC_BITS)
}

/// The number a sum of [`ll_fixed`] integers stands for.
pub fn ll_from_fixed(sum: i64) -> f64 {
    from_fixed(sum, LL_FRAC_BITS)
}
