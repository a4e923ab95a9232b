//! `hds`: hierarchical Bayesian Dawid-Skene, fitted by
//! variational Bayes. Each worker's confusion rows get a Dirichlet prior
//! centred on the population's confusion matrix (`prior_strength`
//! pseudo-annotations per row, plus `prior_correct` on the diagonal).

use super::{Method, MethodInfo, RunsOn};
use crate::classification::em_fit::fit_initialised;
use crate::classification::params::HDS_PRIOR_CORRECT;
use crate::classification::{Consolidation, Params};
use crate::engine::backend::{Backend, ConfusionRule};
use crate::engine::em::MStepRule;
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Hds,
    name: "hds",
    summary: "Hierarchical Bayesian Dawid-Skene: each worker's confusion rows get a Dirichlet prior centred on the population's confusion matrix, fitted by variational Bayes",
    runs_on: RunsOn::Backend,
    max_iter: Some(100),
    tol: Some(1e-5),
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: HDS_PRIOR_CORRECT,
    em_rule: Some(rule),
    fit,
};

fn rule(params: &Params) -> MStepRule {
    MStepRule::Fixed(ConfusionRule::Hierarchical {
        strength: params.prior_strength,
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
