//! EM methods as classification fits: the engine's EM run turned into a
//! [`Consolidation`], and the choice of start (`--init`) for `ds` and `hds`.

use super::result::Run;
use super::{spectral, Consolidation, Init, Params, StartUsed};
use crate::engine::backend::{Backend, WithWorkerPrior};
use crate::engine::em::{self, argmax_rows, EmFit, MStepRule, Start, Stopping};
use crate::engine::pack::Packed;
use crate::error::Result;

/// The start an EM method's fit uses with `init = votes`: `mds`'s own
/// symmetric tables, the vote shares for the others.
pub(crate) fn fit_start(method: super::Method) -> Start<'static> {
    match method {
        super::Method::Mds => super::methods::mds::START,
        _ => Start::Votes,
    }
}

/// Runs EM from `start` under `m_rule` and labels each item with its most
/// probable class. With `params.resume` (an earlier job's workers) EM
/// starts from its tables instead and every M-step adds its counts.
pub(crate) fn fit_em(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    start: Start<'_>,
    m_rule: MStepRule,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let stopping = Stopping {
        max_iter: params.max_iter,
        tol: params.tol,
        test: params.stop_test,
    };
    if params.resume.is_empty() {
        let fit = em::run_em(data, backend, stopping, start, m_rule, on_iteration)?;
        return Ok(consolidation(data, params, fit));
    }
    let resume = &params.resume;
    // The modified rule's population accuracy carries over as the tables do.
    let m_rule = match (m_rule, resume.population_accuracy) {
        (MStepRule::Modified { .. }, Some(accuracy)) => MStepRule::Modified {
            initial_accuracy: accuracy,
        },
        (rule, _) => rule,
    };
    let start = Start::Given {
        log_priors: &resume.log_priors,
        log_confusion: &resume.log_confusion,
    };
    let with_prior = WithWorkerPrior {
        inner: backend,
        prior: &resume.prior,
    };
    let fit = em::run_em(data, &with_prior, stopping, start, m_rule, on_iteration)?;
    Ok(consolidation(data, params, fit))
}

fn consolidation(data: &Packed, params: &Params, fit: EmFit) -> Consolidation {
    let (labels, confidence) = argmax_rows(
        fit.posteriors.as_slice().expect("standard layout"),
        data.n_classes(),
    );
    let run = Run {
        iterations: fit.log_likelihood.len(),
        converged: fit.converged,
        has_stopping_test: true,
        log_likelihood: fit.log_likelihood,
    };
    Consolidation::new(
        data,
        params.method,
        labels,
        confidence,
        fit.posteriors,
        fit.model,
        run,
    )
}

/// EM under `m_rule` from the start `params.init` names; `best` fits from
/// both starts and keeps the higher final log-likelihood.
pub(crate) fn fit_initialised(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    m_rule: MStepRule,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let from_votes =
        |on: &mut dyn FnMut(usize, f64)| fit_em(data, backend, params, Start::Votes, m_rule, on);
    let spectral = match params.init {
        // A resumed fit starts from the earlier job's tables (in `fit_em`).
        _ if !params.resume.is_empty() => None,
        Init::Votes => None,
        Init::Spectral | Init::Best => spectral::spectral_start(data),
    };
    let Some((log_priors, log_confusion)) = spectral else {
        let mut fit = from_votes(on_iteration)?;
        if params.init != Init::Votes {
            fit.start = StartUsed::SpectralUnavailable;
        }
        return Ok(fit);
    };
    let start = Start::Given {
        log_priors: &log_priors,
        log_confusion: &log_confusion,
    };
    let mut from_spectral = fit_em(data, backend, params, start, m_rule, on_iteration)?;
    from_spectral.start = StartUsed::Spectral;
    if params.init == Init::Spectral {
        return Ok(from_spectral);
    }
    let mut from_votes = from_votes(&mut |_, _| {})?;
    from_votes.start = StartUsed::VotesBetter;
    let final_ll = |c: &Consolidation| {
        c.log_likelihood
            .last()
            .copied()
            .unwrap_or(f64::NEG_INFINITY)
    };
    Ok(if final_ll(&from_spectral) > final_ll(&from_votes) {
        from_spectral
    } else {
        from_votes
    })
}
