//! Reference kernels. Each `pub fn` is the CPU twin of `shaders/<name>.wgsl`.

use rayon::prelude::*;

use crate::engine::backend::{ConfusionRule, COUNT_FLOOR, PROB_FLOOR};
use crate::maths::{digamma, fixed_sum, pcg_hash, COUNT_FRAC_BITS, LL_FRAC_BITS};
use crate::maths::{fixed_sum_i64, fixed_to_f32, to_fixed};

/// Items per rayon task: large enough to amortise scheduling, small enough
/// to balance skewed rows.
const ITEM_CHUNK: usize = 4096;

/// Twin of `mv_counts.wgsl`: votes per `[item][class]`.
pub fn mv_counts(item_offsets: &[u32], item_label: &[u32], k: usize) -> Vec<u32> {
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

/// The log of the symmetric confusion table `M(a)` in `[given][true]` order.
pub fn symmetric_log_table(accuracy: f32, k: usize) -> Vec<f32> {
    let off = (1.0 - accuracy) / (k.max(2) - 1) as f32;
    let mut table = vec![off.max(PROB_FLOOR).ln(); k * k];
    for c in 0..k {
        table[c * k + c] = accuracy.max(PROB_FLOOR).ln();
    }
    table
}

/// The mean posterior per class, summed in f64. (The GPU computes the same
/// with `reduce_rows` and `log_priors`.)
pub fn class_priors(posteriors: &[f32], k: usize) -> Vec<f32> {
    let n_items = posteriors.len() / k;
    if n_items == 0 {
        return vec![1.0 / k as f32; k];
    }
    let sums = posteriors
        .par_chunks(ITEM_CHUNK * k)
        .map(|chunk| {
            let mut s = vec![0f64; k];
            for row in chunk.chunks(k) {
                for (acc, &p) in s.iter_mut().zip(row) {
                    *acc += p as f64;
                }
            }
            s
        })
        .reduce(
            || vec![0f64; k],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    sums.iter().map(|s| (s / n_items as f64) as f32).collect()
}

/// Soft counts `[worker][true][given]`, `C[t][l] = Σ posterior[item][t]` over
/// the worker's annotations with label l, accumulated in f64 per worker. The
/// GPU computes the same in two passes: [`ds_m_step_segments`] then
/// [`ds_m_step_combine`].
pub fn ds_m_step_counts(
    worker_offsets: &[u32],
    worker_item: &[u32],
    worker_label: &[u32],
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

type MStepArgs<'a> = (&'a [u32], &'a [u32], &'a [u32], &'a [f32]);

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

/// Twin of `confusion_normalise.wgsl`: turns soft counts `[worker][true][given]`
/// into log-confusion `[worker][given][true]` under `rule`, and returns each
/// worker's `trace(C)/n` too.
pub fn confusion_normalise(
    counts: &[f32],
    worker_offsets: &[u32],
    k: usize,
    rule: ConfusionRule,
) -> (Vec<f32>, Vec<f32>) {
    let n_workers = worker_offsets.len() - 1;
    let mut log_confusion = vec![0f32; n_workers * k * k];
    let mut accuracy = vec![0f32; n_workers];
    let population =
        matches!(rule, ConfusionRule::Hierarchical { .. }).then(|| population_confusion(counts, k));
    log_confusion
        .par_chunks_mut(k * k)
        .zip(accuracy.par_iter_mut())
        .enumerate()
        .for_each(|(w, (out, acc_out))| {
            let c = &counts[w * k * k..(w + 1) * k * k];
            let n = (worker_offsets[w + 1] - worker_offsets[w]) as f32;
            let trace: f32 = (0..k).map(|t| c[t * k + t]).sum();
            let acc = if n > 0.0 { trace / n } else { 0.0 };
            *acc_out = acc;
            let mut table = vec![0f32; k * k]; // [true][given] probabilities
            let off_share = 1.0 / (k.max(2) - 1) as f32;
            if let (
                ConfusionRule::Hierarchical {
                    strength,
                    prior_correct,
                },
                Some(pop),
            ) = (rule, &population)
            {
                hierarchical_log_table(c, pop, k, strength, prior_correct, out);
                return;
            }
            match rule {
                ConfusionRule::Full {
                    smoothing,
                    prior_correct,
                } => {
                    for t in 0..k {
                        for l in 0..k {
                            let prior = if t == l { prior_correct } else { 0.0 };
                            table[t * k + l] = c[t * k + l].max(COUNT_FLOOR) + smoothing + prior;
                        }
                    }
                }
                ConfusionRule::OneCoin { smoothing } => {
                    let a = (trace + smoothing) / (n + k as f32 * smoothing).max(COUNT_FLOOR);
                    let a = a.clamp(0.0, 1.0);
                    for t in 0..k {
                        for l in 0..k {
                            table[t * k + l] = if t == l { a } else { (1.0 - a) * off_share };
                        }
                    }
                }
                ConfusionRule::Hierarchical { .. } => unreachable!("handled above"),
                ConfusionRule::Modified { prior_accuracy } => {
                    let p = prior_accuracy;
                    for t in 0..k {
                        for l in 0..k {
                            let own = if t == l { acc } else { (1.0 - acc) * off_share };
                            let pop = if t == l { p } else { (1.0 - p) * off_share };
                            table[t * k + l] =
                                c[t * k + l].max(COUNT_FLOOR) + n * own + 0.5 * n * pop;
                        }
                    }
                }
            }
            for t in 0..k {
                let row_sum: f32 = table[t * k..(t + 1) * k].iter().sum();
                for l in 0..k {
                    let p = if row_sum > 0.0 {
                        table[t * k + l] / row_sum
                    } else {
                        1.0 / k as f32
                    };
                    out[l * k + t] = p.max(PROB_FLOOR).ln();
                }
            }
        });
    (log_confusion, accuracy)
}

/// The population confusion `[true][given]`: the soft counts of all workers
/// summed per cell (the exact fixed-point sum `reduce_rows.wgsl` computes,
/// turned back to f32 as `confusion_normalise.wgsl` does), rows normalised.
pub fn population_confusion(counts: &[f32], k: usize) -> Vec<f32> {
    let n_workers = counts.len() / (k * k).max(1);
    let mut cell = vec![0f32; n_workers];
    let sums: Vec<f32> = (0..k * k)
        .map(|at| {
            for (w, v) in cell.iter_mut().enumerate() {
                *v = counts[w * k * k + at];
            }
            let total = fixed_sum_i64(&cell, COUNT_FRAC_BITS);
            let (lo, hi) = (total as u32, (total >> 32) as u32);
            fixed_to_f32(lo, hi, COUNT_FRAC_BITS)
        })
        .collect();
    let mut population = vec![0f32; k * k];
    for t in 0..k {
        let row = &sums[t * k..(t + 1) * k];
        let total: f32 = row.iter().sum();
        for l in 0..k {
            population[t * k + l] = if total > 0.0 {
                row[l] / total
            } else {
                1.0 / k as f32
            };
        }
    }
    population
}

/// One worker's `E[log θ]` table under the hierarchical rule, written as
/// `out[given][true]` (see [`ConfusionRule::Hierarchical`]).
fn hierarchical_log_table(
    counts: &[f32],
    population: &[f32],
    k: usize,
    strength: f32,
    prior_correct: f32,
    out: &mut [f32],
) {
    for t in 0..k {
        let mut row_sum = 0f32;
        for l in 0..k {
            let correct = if t == l { prior_correct } else { 0.0 };
            row_sum +=
                counts[t * k + l].max(COUNT_FLOOR) + strength * population[t * k + l] + correct;
        }
        let digamma_sum = digamma(row_sum as f64);
        for l in 0..k {
            let correct = if t == l { prior_correct } else { 0.0 };
            let alpha =
                counts[t * k + l].max(COUNT_FLOOR) + strength * population[t * k + l] + correct;
            out[l * k + t] = (digamma(alpha as f64) - digamma_sum) as f32;
        }
    }
}

/// Twin of `ds_e_step.wgsl`: for each item, the log-posterior over its
/// annotations, normalised with log-sum-exp (max-shift). Writes posteriors
/// and returns each item's log-likelihood term `log Σ_t p(t) Π p(l|t)`.
pub fn ds_e_step(
    item_offsets: &[u32],
    item_worker: &[u32],
    item_label: &[u32],
    log_confusion: &[f32],
    log_priors: &[f32],
    posteriors: &mut [f32],
) -> Vec<f32> {
    let args = (
        item_offsets,
        item_worker,
        item_label,
        log_confusion,
        log_priors,
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

type EStepArgs<'a> = (&'a [u32], &'a [u32], &'a [u32], &'a [f32], &'a [f32]);

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

/// Normalises one row of log-posteriors in place; returns its log-sum-exp.
#[inline(always)]
fn normalise_row(row: &mut [f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for r in row.iter_mut() {
        *r = exp_nonpositive(*r - max);
        sum += *r;
    }
    // One division, then products: five divisions per item cost more than
    // the rest of the normalisation.
    let inverse = 1.0 / sum;
    for r in row.iter_mut() {
        *r *= inverse;
    }
    max + sum.ln()
}

fn e_step_fixed<const K: usize>(args: EStepArgs, posteriors: &mut [f32]) -> Vec<f32> {
    let (item_offsets, item_worker, item_label, log_confusion, log_priors) = args;
    let n_items = item_offsets.len() - 1;
    let priors: [f32; K] = log_priors.try_into().expect("K priors");
    let mut ll = vec![0f32; n_items];
    posteriors
        .par_chunks_mut(ITEM_CHUNK * K)
        .zip(ll.par_chunks_mut(ITEM_CHUNK))
        .enumerate()
        .for_each(|(chunk, (post, ll_out))| {
            let first = chunk * ITEM_CHUNK;
            for (local, (row, ll_i)) in post.chunks_exact_mut(K).zip(ll_out.iter_mut()).enumerate()
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
                *ll_i = normalise_row(&mut lp);
                row.copy_from_slice(&lp);
            }
        });
    ll
}

fn e_step_general(args: EStepArgs, posteriors: &mut [f32]) -> Vec<f32> {
    let (item_offsets, item_worker, item_label, log_confusion, log_priors) = args;
    let k = log_priors.len();
    let n_items = item_offsets.len() - 1;
    let mut ll = vec![0f32; n_items];
    posteriors
        .par_chunks_mut(ITEM_CHUNK * k)
        .zip(ll.par_chunks_mut(ITEM_CHUNK))
        .enumerate()
        .for_each(|(chunk, (post, ll_out))| {
            let first = chunk * ITEM_CHUNK;
            for (local, (row, ll_i)) in post.chunks_mut(k).zip(ll_out.iter_mut()).enumerate() {
                let i = first + local;
                row.copy_from_slice(log_priors);
                let range = item_offsets[i] as usize..item_offsets[i + 1] as usize;
                for (&w, &l) in item_worker[range.clone()].iter().zip(&item_label[range]) {
                    let base = (w as usize * k + l as usize) * k;
                    for (r, &lc) in row.iter_mut().zip(&log_confusion[base..base + k]) {
                        *r += lc;
                    }
                }
                *ll_i = normalise_row(row);
            }
        });
    ll
}

/// The total log-likelihood: the exact fixed-point sum that the GPU's
/// `reduce_rows` passes compute, so both backends see the same total for
/// the same terms.
pub fn ll_reduce(terms: &[f32]) -> f64 {
    fixed_sum(terms, LL_FRAC_BITS)
}

/// Twin of `ds_m_step_segments.wgsl`: per segment of a worker's annotations,
/// `partial[s][t][l] = Σ posterior[item][t]` in f32, in annotation order.
pub fn ds_m_step_segments(
    segment_start: &[u32],
    wk_item: &[u32],
    wk_label: &[u32],
    posteriors: &[f32],
    k: usize,
) -> Vec<f32> {
    let n_segments = segment_start.len().saturating_sub(1);
    let mut partial = vec![0f32; n_segments * k * k];
    partial
        .par_chunks_mut(k * k)
        .enumerate()
        .for_each(|(s, out)| {
            for t in 0..k {
                for a in segment_start[s] as usize..segment_start[s + 1] as usize {
                    let l = wk_label[a] as usize;
                    out[t * k + l] += posteriors[wk_item[a] as usize * k + t];
                }
            }
        });
    partial
}

/// Twin of `ds_m_step_combine.wgsl`: adds each run's segment sums (in f32,
/// segment order) into its worker's soft counts.
pub fn ds_m_step_combine(
    run_start: &[u32],
    run_worker: &[u32],
    partial: &[f32],
    counts: &mut [f32],
    k: usize,
) {
    for (r, &w) in run_worker.iter().enumerate() {
        for t in 0..k {
            for l in 0..k {
                let mut sum = 0f32;
                for s in run_start[r] as usize..run_start[r + 1] as usize {
                    sum += partial[(s * k + t) * k + l];
                }
                counts[(w as usize * k + t) * k + l] += sum;
            }
        }
    }
}

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

/// Twin of `log_priors.wgsl`: `log(max(sum / n_items, floor))` per class from
/// fixed-point (lo, hi) column sums.
pub fn log_priors(sum_pairs: &[u32], n_items: usize, frac_bits: u32) -> Vec<f32> {
    let k = sum_pairs.len() / 2;
    (0..k)
        .map(|c| {
            let p = if n_items == 0 {
                1.0 / k as f32
            } else {
                let sum = (sum_pairs[2 * c + 1] as i32) as f32 * 4_294_967_296.0
                    + sum_pairs[2 * c] as f32;
                sum / (frac_bits as f32).exp2() / n_items as f32
            };
            p.max(PROB_FLOOR).ln()
        })
        .collect()
}

/// Twin of `loop_probe.wgsl`: a hash chain of `iterations` steps. Returns
/// (hash, steps).
pub fn loop_probe(iterations: u32, seed: u32) -> (u32, u32) {
    let mut h = seed;
    for i in 0..iterations {
        h = pcg_hash(h ^ i);
    }
    (h, iterations)
}

/// The mean of `trace(C)/n` over workers with at least one annotation.
pub fn mean_worker_accuracy(accuracy: &[f32], worker_offsets: &[u32]) -> f32 {
    let (sum, n) = accuracy
        .iter()
        .enumerate()
        .filter(|(w, _)| worker_offsets[w + 1] > worker_offsets[*w])
        .fold((0f64, 0usize), |(s, n), (_, &a)| (s + a as f64, n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maths::{fixed_value, tie_draw};

    /// The Ground Truth blog's example: two workers of accuracy 0.6 say owl,
    /// one of accuracy 0.8 says falcon; uniform prior over two classes.
    #[test]
    fn e_step_reproduces_ground_truth_blog_bayes_example() {
        let k = 2;
        let mut log_conf = Vec::new();
        for acc in [0.6f32, 0.6, 0.8] {
            log_conf.extend(symmetric_log_table(acc, k));
        }
        // One item; workers 0 and 1 say owl (0), worker 2 says falcon (1).
        let mut post = vec![0.0; 2];
        let ll = ds_e_step(
            &[0, 3],
            &[0, 1, 2],
            &[0, 0, 1],
            &log_conf,
            &[0.5f32.ln(); 2],
            &mut post,
        );
        assert!((post[0] - 0.36).abs() < 1e-6, "P(owl) = {}", post[0]);
        // p = 0.5·0.6·0.6·0.2 + 0.5·0.4·0.4·0.8 = 0.036 + 0.064
        assert!((ll[0] - 0.1f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn m_step_counts_sum_posteriors_per_given_label() {
        // Worker 0 labelled item 0 as class 1 and item 1 as class 0.
        let post = vec![0.25, 0.75, 1.0, 0.0];
        let counts = ds_m_step_counts(&[0, 2], &[0, 1], &[1, 0], &post, 2);
        // C[t][l]: t=0,l=1 gets 0.25; t=1,l=1 gets 0.75; t=0,l=0 gets 1.0.
        assert_eq!(counts, vec![1.0, 0.25, 0.0, 0.75]);
    }

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H_9 − γ.
        let gamma = 0.577_215_664_901_532_9_f64;
        assert!((digamma(1.0) + gamma).abs() < 1e-9);
        assert!((digamma(0.5) + gamma + 2.0 * 2f64.ln()).abs() < 1e-9);
        let h9: f64 = (1..10).map(|n| 1.0 / n as f64).sum();
        assert!((digamma(10.0) - (h9 - gamma)).abs() < 1e-9);
        assert!((digamma(1e-6) + 1e6).abs() < 1.0);
    }

    #[test]
    fn hierarchical_rule_shrinks_a_sparse_worker_toward_the_population() {
        // K = 2. Worker 0: 100 annotations, right on 90 of each class.
        // Worker 1: one annotation, class 0 labelled 1.
        let counts = vec![90.0, 10.0, 10.0, 90.0, 0.0, 1.0, 0.0, 0.0];
        let population = population_confusion(&counts, 2);
        assert!(
            (population[0] - 90.0 / 101.0).abs() < 1e-6,
            "{population:?}"
        );
        assert!((population[3] - 0.9).abs() < 1e-6);
        let rule = ConfusionRule::Hierarchical {
            strength: 1.0,
            prior_correct: 1.0,
        };
        let (log_conf, _) = confusion_normalise(&counts, &[0, 200, 201], 2, rule);
        // [worker][given][true]: E[log θ] = ψ(α) − ψ(Σα).
        let row0: [f32; 2] = [90.0 + 90.0 / 101.0 + 1.0, 10.0 + 11.0 / 101.0];
        let expected = (digamma(row0[0] as f64) - digamma((row0[0] + row0[1]) as f64)) as f32;
        assert!((log_conf[0] - expected).abs() < 1e-5);
        // The sparse worker: α for true 0 is (0.89 + 1, 1 + 0.11): its one
        // mistake does not make it worse than chance on class 0.
        let p = |l: usize, t: usize| log_conf[4 + l * 2 + t].exp();
        assert!(p(0, 0) > p(1, 0), "{} vs {}", p(0, 0), p(1, 0));
        // Rows of exp(E[log θ]) sum to under 1 (Jensen).
        assert!(p(0, 0) + p(1, 0) < 1.0);
    }

    #[test]
    fn one_coin_spreads_errors_evenly() {
        let counts = vec![3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let (log_conf, acc) = confusion_normalise(
            &counts,
            &[0, 4],
            3,
            ConfusionRule::OneCoin { smoothing: 0.0 },
        );
        assert!((acc[0] - 0.75).abs() < 1e-6);
        let p = |l: usize, t: usize| log_conf[l * 3 + t].exp();
        assert!((p(0, 0) - 0.75).abs() < 1e-6 && (p(1, 0) - 0.125).abs() < 1e-6);
        assert!((p(2, 2) - 0.75).abs() < 1e-6);
    }

    #[test]
    fn segments_and_combine_equal_the_fused_counts() {
        // One worker with 3 annotations cut into segments [0,2) and [2,3).
        let post = vec![0.2, 0.8, 0.6, 0.4, 1.0, 0.0];
        let fused = ds_m_step_counts(&[0, 3], &[0, 1, 2], &[1, 0, 1], &post, 2);
        let partial = ds_m_step_segments(&[0, 2, 3], &[0, 1, 2], &[1, 0, 1], &post, 2);
        let mut counts = vec![0f32; 4];
        ds_m_step_combine(&[0, 2], &[0], &partial, &mut counts, 2);
        assert_eq!(counts, fused);
    }

    #[test]
    fn fixed_point_reduction_keeps_what_plain_f32_loses() {
        // 1 + 300 × 1e-6 − 2: plain f32 sums lose the small terms.
        let mut values = vec![1.0f32];
        values.extend(std::iter::repeat_n(1e-6f32, 300));
        values.push(-2.0);
        let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        let pairs = reduce_rows(&bits, 1, false, LL_FRAC_BITS);
        let total = reduce_rows(&pairs, 1, true, LL_FRAC_BITS);
        let sum = fixed_value(total[0], total[1], LL_FRAC_BITS);
        assert!(
            (sum - (-1.0 + 300.0 * 1e-6)).abs() < 301.0 / (1u64 << 20) as f64,
            "{sum}"
        );
        assert_eq!(sum, fixed_sum(&values, LL_FRAC_BITS));
    }

    #[test]
    fn exp_nonpositive_matches_libm() {
        let mut worst = 0f64;
        let mut x = 0f32;
        while x > -87.0 {
            let (fast, exact) = (exp_nonpositive(x) as f64, (x as f64).exp());
            worst = worst.max((fast - exact).abs() / exact);
            x -= 0.001_37;
        }
        assert!(worst < 4e-7, "relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-1000.0) < 1e-37);
    }

    #[test]
    fn tie_draw_is_a_pure_function() {
        assert_eq!(tie_draw(7, 11), tie_draw(7, 11));
        assert_ne!(tie_draw(7, 11), tie_draw(8, 11));
    }
}
