//! `wawa`: crowd-kit's Wawa. Majority vote, then votes weighted by each
//! worker's agreement with it; ties to the first class.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::result::Run;
use crate::classification::skill_vote::{self, host_consolidation};
use crate::classification::{Consolidation, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Wawa,
    name: "wawa",
    summary: "crowd-kit's Wawa: votes weighted by agreement with majority vote",
    runs_on: RunsOn::Host,
    max_iter: None,
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
    let votes = skill_vote::wawa_known(data, &params.known);
    Ok(host_consolidation(data, params, votes, Run::single_pass()))
}
