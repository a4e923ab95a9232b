//! `mds`: Ground Truth's modified Dawid-Skene, as AWS's consolidation
//! notebook gives it: a prior worker accuracy of 0.7, symmetric starting
//! tables, per-worker smoothing toward the worker's and the population's
//! accuracy, confidence rounded to two decimals.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::em_fit::fit_em;
use crate::classification::params::MDS_PRIOR_ACCURACY;
use crate::classification::{Consolidation, Params};
use crate::engine::backend::Backend;
use crate::engine::em::{MStepRule, Start};
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Mds,
    name: "mds",
    summary: "Ground Truth's modified Dawid-Skene (priors on worker accuracy)",
    runs_on: RunsOn::Backend,
    max_iter: Some(20),
    tol: Some(1e-8),
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: Some(|_| RULE),
    fit,
};

const RULE: MStepRule = MStepRule::Modified {
    initial_accuracy: MDS_PRIOR_ACCURACY,
};

/// Ground Truth's start: every worker at the prior accuracy.
pub(crate) const START: Start<'static> = Start::Symmetric(MDS_PRIOR_ACCURACY);

fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let mut c = fit_em(data, backend, params, START, RULE, on_iteration)?;
    round_confidence(&mut c.confidence);
    Ok(c)
}

/// Ground Truth reports confidence to two decimals.
pub(crate) fn round_confidence(confidence: &mut [f32]) {
    confidence
        .iter_mut()
        .for_each(|x| *x = (*x * 100.0).round() / 100.0);
}
