//! The method table: every classification method declared once, with its
//! name, where it runs, its defaults and its fit. The CLI's `--method`
//! values, `accord bench`, the tests and the examples all read this table.
//!
//! Adding a method: write `methods/<name>.rs` with a `pub(super) const INFO:
//! MethodInfo` and its fit, then add a [`Method`] variant and the `INFO` to
//! [`METHODS`] below. Nothing else changes (see ARCHITECTURE.md).

pub mod auto;
pub mod ds;
pub mod glad;
pub mod hds;
pub mod kos;
pub mod mace;
pub mod mds;
pub mod mmsr;
pub mod mv;
pub mod one_coin;
pub mod wawa;
pub mod zbs;

use super::{Consolidation, Params};
use crate::engine::backend::Backend;
use crate::engine::em::MStepRule;
use crate::engine::pack::Packed;
use crate::error::Result;

/// A classification consolidation method. Its name, defaults and fit are
/// in its [`MethodInfo`] (see [`Method::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The default: a model chosen per dataset by held-out likelihood.
    #[default]
    Auto,
    /// Majority vote.
    Mv,
    /// Dawid-Skene EM.
    Ds,
    /// Hierarchical Bayesian Dawid-Skene.
    Hds,
    /// Ground Truth's modified Dawid-Skene.
    Mds,
    /// One-coin Dawid-Skene.
    OneCoin,
    /// crowd-kit's Wawa.
    Wawa,
    /// crowd-kit's ZeroBasedSkill.
    Zbs,
    /// GLAD.
    Glad,
    /// MACE.
    Mace,
    /// KOS.
    Kos,
    /// M-MSR.
    Mmsr,
}

/// Where a method's arithmetic runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// The backend's kernels (CPU or GPU), so `Backend` choice matters.
    Backend,
    /// The host, whatever backend is chosen: its steps are not the EM
    /// kernels'.
    Host,
}

/// A method's fit: data, backend, parameters, and a callback after each
/// iteration with its number and the objective (log-likelihood for EM).
pub type FitFn =
    fn(&Packed, &dyn Backend, &Params, &mut dyn FnMut(usize, f64)) -> Result<Consolidation>;

/// Everything the crate knows about one method.
#[derive(Clone, Copy)]
pub struct MethodInfo {
    /// The variant.
    pub method: Method,
    /// The name on the command line and in outputs (`one-coin`).
    pub name: &'static str,
    /// One line for help texts.
    pub summary: &'static str,
    /// Backend kernels or the host.
    pub runs_on: RunsOn,
    /// Default most iterations; `None` for methods that do not iterate.
    pub max_iter: Option<usize>,
    /// Default stopping tolerance; `None` where the method has no stopping
    /// test (it runs its rounds, or stops only at `max_iter`).
    pub tol: Option<f64>,
    /// The EM stopping test (unused by the host-side methods).
    pub stop_test: crate::engine::em::StopTest,
    /// Default pseudo-count of a correct answer per confusion row.
    pub prior_correct: f32,
    /// For EM methods, the M-step rule under `params` (what `accord bench`
    /// times); `None` for the others.
    pub em_rule: Option<fn(&Params) -> MStepRule>,
    /// The fit.
    pub fit: FitFn,
}

impl std::fmt::Debug for MethodInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodInfo")
            .field("name", &self.name)
            .field("runs_on", &self.runs_on)
            .field("max_iter", &self.max_iter)
            .field("tol", &self.tol)
            .finish_non_exhaustive()
    }
}

/// Every classification method, in the order help texts list them.
pub const METHODS: &[MethodInfo] = &[
    auto::INFO,
    mv::INFO,
    ds::INFO,
    hds::INFO,
    mds::INFO,
    one_coin::INFO,
    wawa::INFO,
    zbs::INFO,
    glad::INFO,
    mace::INFO,
    kos::INFO,
    mmsr::INFO,
];

/// Every [`Method`], in [`METHODS`] order.
pub const ALL: [Method; METHODS.len()] = {
    let mut all = [Method::Auto; METHODS.len()];
    let mut i = 0;
    while i < METHODS.len() {
        all[i] = METHODS[i].method;
        i += 1;
    }
    all
};

impl Method {
    /// This method's entry in [`METHODS`].
    pub fn info(self) -> &'static MethodInfo {
        METHODS
            .iter()
            .find(|m| m.method == self)
            .expect("every method is in the table")
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The method named `name` (`hds`, `one-coin`, ...).
    pub fn from_name(name: &str) -> Option<Method> {
        METHODS.iter().find(|m| m.name == name).map(|m| m.method)
    }

    /// Methods computed on the host whatever the backend.
    pub fn is_host_side(self) -> bool {
        self.info().runs_on == RunsOn::Host
    }
}

#[cfg(feature = "cli")]
impl clap::ValueEnum for Method {
    fn value_variants<'a>() -> &'a [Self] {
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let info = self.info();
        Some(clap::builder::PossibleValue::new(info.name).help(info.summary))
    }
}

/// Fits `params.method` on `data` with `backend`. `on_iteration` is called
/// after each iteration with its number and objective (the log-likelihood
/// for EM methods).
pub fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    params.validate()?;
    let method_fit = params.method.info().fit;
    let mut fit = super::known::fit_with_known(method_fit, data, backend, params, on_iteration)?;
    if fit.ran_on.is_empty() {
        fit.ran_on = backend.name();
    }
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_in_the_table_once_with_a_unique_name() {
        for (i, info) in METHODS.iter().enumerate() {
            assert_eq!(info.method.info().name, info.name);
            assert_eq!(Method::from_name(info.name), Some(info.method));
            assert!(METHODS[i + 1..].iter().all(|o| o.name != info.name));
        }
        assert_eq!(ALL.len(), METHODS.len());
    }
}
