//! KOS (Karger, Oh & Shah 2011), binary only: belief propagation on the
//! item–worker graph. Messages `x(i→w) = Σ_{w'≠w} A(i,w')·y(w'→i)` and
//! `y(w→i) = Σ_{i'≠i} A(i',w)·x(i'→w)`, with answers `A = ±1`, start from
//! reliabilities drawn as crowd-kit draws them (N(1, 1), numpy seed 0);
//! the label is the sign of `Σ_w A(i,w)·y(w→i)`. As in crowd-kit, 100
//! rounds, stopping early before a message would pass 1e300.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::numpy_random::NumpyRandom;
use crate::classification::result::Run;
use crate::classification::skill_vote::{self, host_consolidation};
use crate::classification::{Consolidation, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::Packed;
use crate::error::{Error, Result};

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Kos,
    name: "kos",
    summary: "KOS: belief propagation on the item-worker graph (two classes only)",
    runs_on: RunsOn::Host,
    // crowd-kit's 100 rounds; KOS stops only before its messages overflow.
    max_iter: Some(100),
    tol: None,
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
    let (posteriors, rounds) = kos(data, params.max_iter)?;
    let flat: Vec<f64> = posteriors.into_iter().flatten().collect();
    let votes = skill_vote::from_posteriors(data, &flat);
    Ok(host_consolidation(
        data,
        params,
        votes,
        Run::fixed_rounds(rounds),
    ))
}

const LIMIT: f64 = 1e300;

/// `[item][class]` posteriors (one-hot: KOS gives signs, not
/// probabilities) and the rounds run.
pub fn kos(data: &Packed, max_rounds: usize) -> Result<(Vec<[f64; 2]>, usize)> {
    if data.n_classes() != 2 {
        return Err(Error::Usage(format!(
            "`method` kos is for two classes; these annotations have {}",
            data.n_classes()
        )));
    }
    let n = data.n_annotations();
    // Annotation a = position in the item-major arrays; its answer ±1.
    let answer: Vec<f64> = data
        .item_label
        .iter()
        .map(|&l| if l == 0 { 1.0 } else { -1.0 })
        .collect();
    // The same annotation's position in the worker-major arrays.
    let mut worker_pos = vec![0usize; n];
    {
        let mut next: Vec<usize> = (0..data.n_workers())
            .map(|w| data.worker_offsets[w] as usize)
            .collect();
        for i in 0..data.n_items() {
            for a in data.item_range(i) {
                let w = data.item_worker[a] as usize;
                worker_pos[a] = next[w];
                next[w] += 1;
            }
        }
    }
    let mut rng = NumpyRandom::new(0);
    let mut reliability: Vec<f64> = (0..n).map(|_| rng.normal(1.0, 1.0)).collect();
    let mut inferred = vec![0f64; n];
    let mut rounds = 0;
    'rounds: for _ in 0..max_rounds {
        // Items: x(i→w) = Σ over the item's other annotations.
        for i in 0..data.n_items() {
            let range = data.item_range(i);
            let total: f64 = range.clone().map(|a| answer[a] * reliability[a]).sum();
            if total.abs() > LIMIT {
                break 'rounds;
            }
            for a in range {
                inferred[a] = total - answer[a] * reliability[a];
            }
        }
        // Workers: y(w→i) = Σ over the worker's other annotations.
        let mut by_worker = vec![0f64; n];
        for a in 0..n {
            by_worker[worker_pos[a]] = answer[a] * inferred[a];
        }
        let mut worker_total = vec![0f64; data.n_workers()];
        for (w, total) in worker_total.iter_mut().enumerate() {
            *total = by_worker[data.worker_range(w)].iter().sum();
            if total.abs() > LIMIT {
                break 'rounds;
            }
        }
        for a in 0..n {
            let w = data.item_worker[a] as usize;
            reliability[a] = worker_total[w] - answer[a] * inferred[a];
        }
        rounds += 1;
    }
    let posteriors = (0..data.n_items())
        .map(|i| {
            let score: f64 = data.item_range(i).map(|a| answer[a] * reliability[a]).sum();
            if score >= 0.0 {
                [1.0, 0.0]
            } else {
                [0.0, 1.0]
            }
        })
        .collect();
    Ok((posteriors, rounds))
}
