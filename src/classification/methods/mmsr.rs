//! M-MSR (Ma & Olshevsky 2020, "Adversarial Crowdsourcing Through Robust
//! Rank-One Matrix Completion"), as crowd-kit implements it: the workers'
//! agreement matrix is completed as a rank-one `u·vᵀ` by trimmed-mean
//! fixed-point steps (dropping the F most extreme ratios on each side), the
//! signs of the resulting reliabilities come from the bipartite structure
//! of the signed agreement graph, and the labels are a vote weighted by the
//! log-odds skills. Starts from numpy seed 0 draws, as crowd-kit does.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::numpy_random::NumpyRandom;
use crate::classification::result::Run;
use crate::classification::skill_vote::{self, host_consolidation};
use crate::classification::{Consolidation, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Mmsr,
    name: "mmsr",
    summary: "M-MSR: worker reliabilities from a robust rank-one completion of their agreement",
    runs_on: RunsOn::Host,
    // crowd-kit's defaults.
    max_iter: Some(10_000),
    tol: Some(1e-10),
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: None,
    fit,
};

fn fit(
    data: &Packed,
    _backend: &dyn Backend,
    params: &Params,
    _on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let (skills, run) = mmsr_skills(data, params.max_iter, params.tol)?;
    let votes = skill_vote::weighted(data, skills);
    Ok(host_consolidation(data, params, votes, run))
}

/// Power-iteration rounds for the sign eigenvector (crowd-kit calls ARPACK).
const SIGN_ROUNDS: usize = 3_000;

/// Python's `y[start:]` and `y[:end]` for possibly negative or
/// out-of-range indices.
fn python_index(len: usize, index: i64) -> usize {
    if index < 0 {
        (len as i64 + index).max(0) as usize
    } else {
        (index as usize).min(len)
    }
}

/// crowd-kit's `_remove_largest_and_smallest_F_value`: sorts `x` and drops
/// the `f` smallest values below `a` and the `f` largest above it (all of
/// one side when it has fewer than `f`).
fn trim(mut x: Vec<f64>, f: i64, a: f64, n_tasks: usize) -> Vec<f64> {
    x.sort_by(f64::total_cmp);
    let mut y: Vec<f64> = if (x.iter().filter(|&&v| v < a).count() as i64) < f {
        x.into_iter().filter(|&v| v >= a).collect()
    } else {
        let start = python_index(x.len(), f);
        x[start..].to_vec()
    };
    let m = y.len() as i64;
    if (y.iter().filter(|&&v| v > a).count() as i64) < f {
        y.retain(|&v| v <= a);
    } else {
        y.truncate(python_index(y.len(), m - f));
    }
    if y.len() == 1 && y[0] == 0.0 {
        y[0] = 1.0 / (n_tasks as f64).sqrt();
    }
    y
}

/// Bytes per pair of workers: common-task and agreement counts, the
/// covariation, and the sign graph's adjacency.
const BYTES_PER_PAIR: u64 = 32;

/// One half-step of the completion: each `own[a]` := the trimmed mean of
/// `|C[a][b]| / other[b]` over the workers b sharing tasks with a. (The
/// tables are symmetric, so row a is also column a: crowd-kit's update of
/// v by columns and of u by rows are both this.)
fn trimmed_step(
    common: &[u32],
    covariation: &[f64],
    other: &[f64],
    own: &mut [f64],
    f: i64,
    n_tasks: usize,
) {
    let n = own.len();
    for (a, value) in own.iter_mut().enumerate() {
        let row = a * n..(a + 1) * n;
        let targets: Vec<f64> = common[row.clone()]
            .iter()
            .zip(&covariation[row])
            .zip(other)
            .filter(|((&c, _), _)| c > 0)
            .map(|((_, x), o)| x.abs() / o)
            .collect();
        let y = trim(targets, f, *value, n_tasks);
        if !y.is_empty() {
            *value = y.iter().sum::<f64>() / y.len() as f64;
        }
    }
}

/// Each worker's skill: the log-odds weight of their vote, after at most
/// `max_rounds` completion steps (stopping when the rank-one estimate moves
/// less than `tol`), and how the steps ran. Refuses, with the numbers, worker counts whose pairwise tables
/// would not fit in memory.
pub fn mmsr_skills(data: &Packed, max_rounds: usize, tol: f64) -> Result<(Vec<f64>, Run)> {
    let n = data.n_workers();
    crate::engine::memory::check_fits(
        BYTES_PER_PAIR * (n as u64) * (n as u64),
        crate::engine::memory::available_bytes(),
        &format!("M-MSR's tables for {n} × {n} pairs of workers"),
        "choose another method (hds, glad or mace scale with the annotations)",
    )?;
    let k = data.n_classes().max(2) as f64;
    let n_tasks = (0..data.n_items())
        .filter(|&i| !data.item_range(i).is_empty())
        .count()
        .max(1);
    // Pairwise tasks in common and agreements.
    let mut common = vec![0u32; n * n];
    let mut agree = vec![0u32; n * n];
    for i in 0..data.n_items() {
        let range = data.item_range(i);
        let workers = &data.item_worker[range.clone()];
        let labels = &data.item_label[range];
        for (x, (&wa, &la)) in workers.iter().zip(labels).enumerate() {
            for (&wb, &lb) in workers[x + 1..].iter().zip(&labels[x + 1..]) {
                if wa == wb {
                    continue;
                }
                for (p, q) in [(wa, wb), (wb, wa)] {
                    let at = p as usize * n + q as usize;
                    common[at] += 1;
                    agree[at] += u32::from(la == lb);
                }
            }
        }
    }
    // Covariation, rescaled so chance agreement is 0; crowd-kit rescales
    // every entry, so pairs without common tasks (and the diagonal) read
    // −1/(K−1).
    let covariation: Vec<f64> = common
        .iter()
        .zip(&agree)
        .map(|(&c, &a)| {
            let share = if c > 0 { a as f64 / c as f64 } else { 0.0 };
            share * k / (k - 1.0) - 1.0 / (k - 1.0)
        })
        .collect();
    let sparsity = (0..n)
        .map(|j| (0..n).filter(|&i| common[i * n + j] > 0).count())
        .min()
        .unwrap_or(0) as i64;
    let f = sparsity / 2 - 1;

    let mut rng = NumpyRandom::new(0);
    let start: Vec<f64> = (0..n).map(|_| rng.random_sample()).collect();
    let (mut u, mut v) = (start.clone(), start);
    let mut rounds = 0;
    let mut converged = false;
    for _ in 0..max_rounds {
        rounds += 1;
        let (u_prev, v_prev) = (u.clone(), v.clone());
        trimmed_step(&common, &covariation, &u, &mut v, f, n_tasks);
        trimmed_step(&common, &covariation, &v, &mut u, f, n_tasks);
        let mut loss = 0.0;
        for i in 0..n {
            for j in 0..n {
                let d = u[i] * v[j] - u_prev[i] * v_prev[j];
                loss += d * d;
            }
        }
        if loss.sqrt() < tol {
            converged = true;
            break;
        }
    }
    let norm = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
    let scale = (norm(&u) / norm(&v)).sqrt();
    let magnitude: Vec<f64> = u.iter().map(|a| a / scale).collect();
    let signed = determine_signs(&covariation, n, &magnitude);
    let floor = 1.0 / (n_tasks as f64).sqrt();
    let skills = signed
        .iter()
        .map(|&x| {
            let x = x.min(1.0 - floor).max(-1.0 / (k - 1.0) + floor);
            let p = x * (k - 1.0) / k + 1.0 / k;
            (p * (k - 1.0) / (1.0 - p)).ln()
        })
        .collect();
    Ok((skills, Run::rounds(rounds, converged)))
}

/// crowd-kit's `_sign_determination_valid`: workers whose covariation row
/// sums to non-zero are nodes of a graph whose negative pairs are edges and
/// whose positive pairs are paths through a new middle node; the
/// eigenvector of the random walk nearest eigenvalue −1 splits it in two,
/// and the larger side is taken as positive. Other workers get 0.
fn determine_signs(covariation: &[f64], n: usize, magnitude: &[f64]) -> Vec<f64> {
    let valid: Vec<usize> = (0..n)
        .filter(|&i| covariation[i * n..(i + 1) * n].iter().sum::<f64>() != 0.0)
        .collect();
    let k = valid.len();
    let sign = |a: usize, b: usize| {
        let c = covariation[valid[a] * n + valid[b]];
        if c > 0.0 {
            1
        } else if c < 0.0 {
            -1
        } else {
            0
        }
    };
    // Positive pairs (upper triangle): each a middle node joined to both.
    let mut middle: Vec<(usize, usize)> = Vec::new();
    let mut negative: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut positive_of: Vec<Vec<usize>> = vec![Vec::new(); k];
    for a in 0..k {
        for b in 0..k {
            match sign(a, b) {
                -1 => negative[a].push(b),
                1 if a <= b => {
                    positive_of[a].push(middle.len());
                    if a != b {
                        positive_of[b].push(middle.len());
                    }
                    middle.push((a, b));
                }
                _ => {}
            }
        }
    }
    let degree: Vec<f64> = (0..k)
        .map(|a| (negative[a].len() + positive_of[a].len()) as f64)
        .chain(middle.iter().map(|_| 2.0))
        .collect();
    // Power iteration on I − D^{-1/2} A D^{-1/2} (symmetric, eigenvalues in
    // [0, 2]): its top eigenvector y gives the walk's eigenvector
    // D^{-1/2} y for the eigenvalue nearest −1.
    let total = k + middle.len();
    let inv_sqrt: Vec<f64> = degree
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    let mut rng = NumpyRandom::new(1);
    let mut y: Vec<f64> = (0..total).map(|_| rng.random_sample() - 0.5).collect();
    let mut next = vec![0f64; total];
    for _ in 0..SIGN_ROUNDS {
        let scaled: Vec<f64> = y.iter().zip(&inv_sqrt).map(|(a, b)| a * b).collect();
        for a in 0..k {
            let mut s: f64 = negative[a].iter().map(|&b| scaled[b]).sum();
            s += positive_of[a].iter().map(|&p| scaled[k + p]).sum::<f64>();
            next[a] = y[a] - inv_sqrt[a] * s;
        }
        for (p, &(a, b)) in middle.iter().enumerate() {
            let s = if a == b {
                2.0 * scaled[a]
            } else {
                scaled[a] + scaled[b]
            };
            next[k + p] = y[k + p] - inv_sqrt[k + p] * s;
        }
        let length = next.iter().map(|a| a * a).sum::<f64>().sqrt();
        if length == 0.0 {
            break;
        }
        for (yi, ni) in y.iter_mut().zip(&next) {
            *yi = ni / length;
        }
    }
    let side: Vec<f64> = (0..k)
        .map(|a| (y[a] * inv_sqrt[a]).signum() * f64::from(y[a] != 0.0))
        .collect();
    let majority = side.iter().sum::<f64>().signum();
    let mut signed = vec![0f64; n];
    for (a, &worker) in valid.iter().enumerate() {
        signed[worker] = majority * magnitude[worker] * side[a];
    }
    signed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_follows_python_slicing() {
        // F = 1: drop the smallest below a and the largest above it.
        assert_eq!(trim(vec![3.0, 1.0, 2.0, 5.0], 1, 2.5, 100), vec![2.0, 3.0]);
        // F = −1 (sparse data): crowd-kit's y[-1:] keeps only the largest.
        assert_eq!(trim(vec![3.0, 1.0, 2.0], -1, 2.5, 100), vec![3.0]);
        // A single zero becomes 1/sqrt(n_tasks).
        assert_eq!(trim(vec![0.0], 0, 1.0, 100), vec![0.1]);
    }
}
