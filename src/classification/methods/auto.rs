//! `auto` (the default): chooses the model per dataset by the held-out
//! log-likelihood of the annotations (see [`chooser`]), then fits the chosen
//! candidate on all of them.
//!
//! [`chooser`]: crate::classification::chooser

use super::{Method, MethodInfo, RunsOn};
use crate::classification::chooser;
use crate::classification::{Consolidation, Params};
use crate::engine::backend::cpu::CpuBackend;
use crate::engine::backend::Backend;
use crate::engine::pack::Packed;
use crate::error::Result;

pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Auto,
    name: "auto",
    summary: "The default: chooses among ds, ds --prior-correct 1, hds, one-coin, mace and mv by the held-out log-likelihood of the annotations (5-fold), then fits the chosen one",
    runs_on: RunsOn::Backend,
    max_iter: None,
    tol: None,
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: None,
    fit,
};

fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    refuse_settings(params)?;
    // The choice is made on the CPU whatever the backend, so that both
    // backends choose the same model (their scores differ in the last bits).
    // With an earlier job's workers (`params.resume`) the EM candidates are
    // fitted from them, in the choice as in the final fit.
    let (candidate, choice) = chooser::choose_resumed(
        data,
        &CpuBackend,
        params.seed,
        &params.resume,
        &mut |_, _| {},
    )?;
    let mut candidate_params = candidate.params;
    candidate_params.ties = params.ties;
    // Control tasks clamp the final fit (the choice reads the answers only).
    candidate_params.known = params.known.clone();
    let mut fit = super::fit(data, backend, &candidate_params, on_iteration)?;
    fit.method = Method::Auto;
    fit.choice = Some(choice);
    Ok(fit)
}

/// `auto` fits each candidate with its own defaults: a setting meant for
/// one method is refused rather than silently ignored.
fn refuse_settings(params: &Params) -> Result<()> {
    let defaults = Params::new(Method::Auto);
    let changed = [
        ("max_iter", params.max_iter != defaults.max_iter),
        ("tol", params.tol != defaults.tol),
        ("smoothing", params.smoothing != defaults.smoothing),
        (
            "prior_correct",
            params.prior_correct != defaults.prior_correct,
        ),
        (
            "prior_strength",
            params.prior_strength != defaults.prior_strength,
        ),
        ("init", params.init != defaults.init),
    ];
    match changed.iter().find(|(_, c)| *c) {
        Some((name, _)) => Err(crate::error::Error::invalid_param(
            name,
            "is not used by `auto`, which fits each candidate with its own defaults: name a method to set it",
        )),
        None => Ok(()),
    }
}
