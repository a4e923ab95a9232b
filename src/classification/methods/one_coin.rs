//! `one-coin`: one accuracy per worker, errors spread evenly over the other
//! classes.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::em_fit::fit_em;
use crate::classification::{Consolidation, Params};
use crate::engine::backend::{Backend, ConfusionRule};
use crate::engine::em::{MStepRule, Start};
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::OneCoin,
    name: "one-coin",
    summary: "One accuracy per worker, errors spread evenly (\"one-coin\" DS)",
    runs_on: RunsOn::Backend,
    max_iter: Some(100),
    tol: Some(1e-5),
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: Some(rule),
    fit,
};

fn rule(params: &Params) -> MStepRule {
    MStepRule::Fixed(ConfusionRule::OneCoin {
        smoothing: params.smoothing,
    })
}

fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    fit_em(
        data,
        backend,
        params,
        Start::Votes,
        rule(params),
        on_iteration,
    )
}
