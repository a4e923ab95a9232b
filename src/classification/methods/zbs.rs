//! `zbs`: crowd-kit's ZeroBasedSkill. Skills start just above chance; each
//! step votes with them and moves each skill toward the worker's agreement
//! with that vote, the step size halved every 20 steps.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::result::Run;
use crate::classification::skill_vote::{self, host_consolidation};
use crate::classification::{Consolidation, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Zbs,
    name: "zbs",
    summary: "crowd-kit's ZeroBasedSkill: votes weighted by skills learnt from near zero",
    runs_on: RunsOn::Host,
    // crowd-kit's 100 steps; it has no stopping test.
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
    let votes = skill_vote::zero_based_skill_known(data, params.max_iter, &params.known);
    Ok(host_consolidation(
        data,
        params,
        votes,
        Run::fixed_rounds(params.max_iter),
    ))
}
