//! `mv`: majority vote; confidence is the winning share.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::result::Run;
use crate::classification::{Consolidation, Params};
use crate::engine::backend::{Backend, ConfusionRule};
use crate::engine::pack::Packed;
use crate::error::Result;
use crate::maths::{name_key, tie_draw, TieBreak};

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Mv,
    name: "mv",
    summary: "Majority vote; confidence is the winning share",
    runs_on: RunsOn::Backend,
    max_iter: None,
    tol: None,
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: None,
    fit,
};

fn worker_table_rule(params: &Params) -> ConfusionRule {
    ConfusionRule::Full {
        smoothing: params.smoothing,
        prior_correct: 0.0,
    }
}

fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    _on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let k = data.n_classes();
    let mut session = backend.em_session(data)?;
    let counts = session.mv_counts()?;
    let tie_keys: Vec<u32> = match params.ties {
        TieBreak::Lowest => Vec::new(),
        TieBreak::Random => data.item_names.iter().map(name_key).collect(),
    };
    let (labels, confidence) = decide_votes(
        counts.as_slice().expect("standard layout"),
        k,
        params.ties,
        params.seed,
        &tie_keys,
    );
    session.init_posteriors_from_votes()?;
    session.m_step(worker_table_rule(params))?;
    let posteriors = session.read_posteriors()?;
    let model = session.read_params()?;
    Ok(Consolidation::new(
        data,
        params.method,
        labels,
        confidence,
        posteriors,
        model,
        Run::single_pass(),
    ))
}

/// Picks each item's most voted class, breaking ties by `ties`. A random
/// tie-break draws from the seed and the item's `tie_keys` entry (a hash
/// of its name: see [`name_key`]), so the order of the input rows cannot
/// change a label.
pub fn decide_votes(
    counts: &[u32],
    k: usize,
    ties: TieBreak,
    seed: u64,
    tie_keys: &[u32],
) -> (Vec<u32>, Vec<f32>) {
    let seed32 = (seed ^ (seed >> 32)) as u32;
    counts
        .chunks(k)
        .enumerate()
        .map(|(i, row)| {
            let total: u32 = row.iter().sum();
            let best = row.iter().copied().max().unwrap_or(0);
            let n_tied = row.iter().filter(|&&c| c == best).count() as u32;
            let pick = match ties {
                TieBreak::Lowest => 0,
                TieBreak::Random => tie_draw(seed32, tie_keys[i]) % n_tied,
            };
            let label = row
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == best)
                .nth(pick as usize)
                .map(|(c, _)| c as u32)
                .unwrap_or(0);
            let confidence = if total == 0 {
                0.0
            } else {
                best as f32 / total as f32
            };
            (label, confidence)
        })
        .unzip()
}
