//! How strongly `hds` draws a worker's label tables toward that worker's
//! pooled table, chosen by the data.
//!
//! Each row `t` of worker w's table for label l is modelled as drawn from
//! `Dirichlet(s·π_w[t] + prior_correct·e_t)`, with `π_w` the worker's
//! table pooled over the *other* labels. The strength `s` is the value in
//! a fixed grid with the highest marginal (Dirichlet-multinomial)
//! likelihood of every worker's soft counts, the counts taken from the
//! vote shares EM starts from. Few labels alike within a worker give a
//! large `s` (pool); labels that differ give a small one.

use rayon::prelude::*;

use super::answers::Answers;
use crate::maths::ln_gamma;

/// Strengths tried: a geometric grid of pseudo-answers per row.
pub const STRENGTHS: [f32; 10] = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Dirichlet parameters are kept at least this (a cell the pooled table
/// never saw).
const ALPHA_FLOOR: f64 = 1e-3;

/// `ln B(α + c) − ln B(α)` for one row.
fn row_marginal(alpha: [f64; 2], counts: [f64; 2]) -> f64 {
    let (a, n) = (alpha[0] + alpha[1], counts[0] + counts[1]);
    ln_gamma(a) - ln_gamma(a + n)
        + (0..2)
            .map(|x| ln_gamma(alpha[x] + counts[x]) - ln_gamma(alpha[x]))
            .sum::<f64>()
}

/// The strength in [`STRENGTHS`] that best explains the workers' label
/// tables, from the soft counts under the vote shares `shares`
/// (`[item][label]`, the share of the item's workers who ticked it).
pub fn choose_strength(answers: &Answers, shares: &[f32], prior_correct: f32) -> f32 {
    let l = answers.n_labels();
    let w = answers.n_workers();
    // counts[w][l][t][a]: t = true (0 absent, 1 present), a = answered.
    let mut counts = vec![[[0f64; 2]; 2]; w * l];
    for r in 0..answers.n_responses() {
        let (i, worker) = (
            answers.response_item[r] as usize,
            answers.response_worker[r] as usize,
        );
        for label in 0..l {
            let p = shares[i * l + label] as f64;
            let a = answers.has(r, label) as usize;
            let c = &mut counts[worker * l + label];
            c[1][a] += p;
            c[0][a] += 1.0 - p;
        }
    }
    let pc = prior_correct as f64;
    let score = |s: f64| -> f64 {
        (0..w)
            .into_par_iter()
            .map(|worker| {
                let own = &counts[worker * l..(worker + 1) * l];
                let mut total = [[0f64; 2]; 2];
                for c in own {
                    for t in 0..2 {
                        for a in 0..2 {
                            total[t][a] += c[t][a];
                        }
                    }
                }
                let mut ll = 0.0;
                for c in own {
                    for t in 0..2 {
                        let rest = [total[t][0] - c[t][0], total[t][1] - c[t][1]];
                        let sum = rest[0] + rest[1];
                        let pooled = |a: usize| {
                            if sum > 1e-9 {
                                rest[a].max(0.0) / sum
                            } else {
                                0.5
                            }
                        };
                        let alpha = [0, 1].map(|a| {
                            (s * pooled(a) + if a == t { pc } else { 0.0 }).max(ALPHA_FLOOR)
                        });
                        ll += row_marginal(alpha, c[t]);
                    }
                }
                ll
            })
            .sum()
    };
    let mut best = (f64::NEG_INFINITY, STRENGTHS[0]);
    for &s in &STRENGTHS {
        let ll = score(s as f64);
        if ll > best.0 {
            best = (ll, s);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::Names;
    use crate::multilabel::AnswerStats;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// 1500 items, 60 workers (6 per item), 6 labels of prevalence 0.3.
    /// Each worker has one sensitivity and false-tick rate for every label
    /// (`alike`), or a fresh pair per label.
    fn draw(alike: bool) -> Answers {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (n, w, l) = (1500usize, 60usize, 6usize);
        let mut rates = Vec::new();
        for _ in 0..w {
            let base = (rng.gen_range(0.3..0.95), rng.gen_range(0.0..0.3));
            for _ in 0..l {
                rates.push(if alike {
                    base
                } else {
                    (rng.gen_range(0.3..0.95), rng.gen_range(0.0..0.3))
                });
            }
        }
        let (mut item, mut worker, mut ticked) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let truth: Vec<bool> = (0..l).map(|_| rng.gen_bool(0.3)).collect();
            for k in 0..6 {
                let who = (i * 7 + k * 11) % w;
                let mut set = 0u64;
                for (label, &holds) in truth.iter().enumerate() {
                    let (se, fp) = rates[who * l + label];
                    if rng.gen_bool(if holds { se } else { fp }) {
                        set |= 1 << label;
                    }
                }
                item.push(i as u32);
                worker.push(who as u32);
                ticked.push(set);
            }
        }
        let mut items = Names::default();
        (0..n).for_each(|i| items.push(&format!("i{i}")));
        let mut workers = Names::default();
        (0..w).for_each(|x| workers.push(&format!("w{x}")));
        Answers {
            items,
            workers,
            labels: (0..l).map(|x| x.to_string()).collect(),
            response_item: item,
            response_worker: worker,
            ticked,
            data_objects: vec![None; n],
            stats: AnswerStats::default(),
        }
    }

    #[test]
    fn alike_labels_pool_more_than_labels_that_differ() {
        let strength = |a: &Answers| {
            let (ticks, answered) = a.counts();
            let shares: Vec<f32> = ticks
                .iter()
                .enumerate()
                .map(|(at, &t)| t as f32 / answered[at / a.n_labels()].max(1) as f32)
                .collect();
            choose_strength(a, &shares, 1.0)
        };
        let (alike, differ) = (strength(&draw(true)), strength(&draw(false)));
        assert!(alike > differ, "alike {alike}, differ {differ}");
    }
}
