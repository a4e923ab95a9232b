//! `ds`: Dawid-Skene EM with a full confusion matrix per worker. By default
//! the plain model crowd-kit and the 1979 paper fit (maximum likelihood),
//! stopped by crowd-kit's test ([`StopTest::CrowdKitElbo`]); with
//! `prior_correct` or `smoothing` the M-step is the MAP estimate under a
//! Dirichlet prior of `prior_correct` on each diagonal cell plus `smoothing`
//! on every cell.
//!
//! [`StopTest::CrowdKitElbo`]: crate::engine::em::StopTest::CrowdKitElbo

use super::{Method, MethodInfo, RunsOn};
use crate::classification::em_fit::fit_initialised;
use crate::classification::{Consolidation, Params};
use crate::engine::backend::{Backend, ConfusionRule};
use crate::engine::em::MStepRule;
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Ds,
    name: "ds",
    summary: "Dawid-Skene EM with a full confusion matrix per worker",
    runs_on: RunsOn::Backend,
    max_iter: Some(100),
    tol: Some(1e-5),
    stop_test: crate::engine::em::StopTest::CrowdKitElbo,
    prior_correct: 0.0,
    em_rule: Some(rule),
    fit,
};

fn rule(params: &Params) -> MStepRule {
    MStepRule::Fixed(ConfusionRule::Full {
        smoothing: params.smoothing,
        prior_correct: params.prior_correct,
    })
}

fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    fit_initialised(data, backend, params, rule(params), on_iteration)
}
