//! The parameters of a classification fit, with each method's defaults.

use super::calibrate::Confidence;
use super::methods::Method;
use crate::engine::em::StopTest;
use crate::engine::pack::KnownClasses;
use crate::error::{Error, Result};
use crate::maths::TieBreak;

/// How `ds` and `hds` start EM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// From majority-vote posteriors (soft vote shares).
    #[default]
    Votes,
    /// From the spectral method's tables (Zhang et al. 2016); from votes
    /// where it cannot run (more than 32 classes, too few workers or items,
    /// singular moments).
    Spectral,
    /// Both, keeping the fit with the higher final log-likelihood.
    Best,
}

/// Parameters of a fit. Build with [`Params::new`], which sets the
/// method's defaults from its [`MethodInfo`](super::MethodInfo), then change
/// fields; [`Params::validate`] (run by every fit) checks them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Params {
    /// The method to fit.
    pub method: Method,
    /// Most iterations (EM's E-steps, or a host method's rounds).
    pub max_iter: usize,
    /// Stop when the method's objective changes by less than this (EM:
    /// `|ΔLL| / |LL|`); ignored by methods without a stopping test.
    pub tol: f64,
    /// EM's stopping test (the method's default; `ds` uses crowd-kit's).
    pub stop_test: StopTest,
    /// Dirichlet smoothing added to every soft count (`ds`, `one-coin`).
    pub smoothing: f32,
    /// Pseudo-counts of a correct answer added to each diagonal cell of a
    /// worker's confusion counts (`ds`, `hds`): a Dirichlet prior that
    /// workers do better than chance, which keeps workers with few
    /// annotations from getting extreme tables. 0 gives crowd-kit's plain
    /// Dawid-Skene.
    pub prior_correct: f32,
    /// `hds`: pseudo-annotations per confusion row drawn toward the
    /// population's confusion matrix.
    pub prior_strength: f32,
    /// How `ds` and `hds` start.
    pub init: Init,
    /// Seed of majority vote's random tie-break.
    pub seed: u64,
    /// How majority vote breaks ties.
    pub ties: TieBreak,
    /// Items whose class is known (control tasks), by dense id: clamped in
    /// every EM method, and given their known label in every method's
    /// output (see [`known`](super::known)). Empty by default; the front
    /// door fills it from names ([`Consolidator::known`](super::Consolidator::known)).
    #[serde(skip)]
    pub known: KnownClasses,
    /// What the front door reports as confidence: calibrated on held-out
    /// answers (the default) or the method's raw posterior (see
    /// [`calibrate`](super::calibrate)). The methods themselves ignore it.
    pub confidence: Confidence,
    /// Where every EM method starts and what prior its M-step adds: the
    /// workers of an earlier job's model (see [`job_model`](super::job_model)).
    /// Empty by default; the front door fills it from a model
    /// ([`Consolidator::workers_in`](super::Consolidator::workers_in)).
    #[serde(skip)]
    pub resume: std::sync::Arc<super::job_model::Resume>,
}

/// Default pseudo-count of a correct answer per true class for `hds`: one
/// imagined correct answer, the weakest prior that workers beat chance.
/// (`ds` defaults to 0, the plain Dawid-Skene model.)
pub const HDS_PRIOR_CORRECT: f32 = 1.0;

/// `hds`'s pseudo-annotations per confusion row spread as the population's
/// confusion: one, as much as the one correct answer the diagonal gets.
pub const HDS_PRIOR_STRENGTH: f32 = 1.0;

/// Ground Truth's prior worker accuracy for the modified Dawid-Skene.
pub const MDS_PRIOR_ACCURACY: f32 = 0.7;

/// Most iterations of methods whose table gives none (they do not iterate).
const NO_ITERATIONS: usize = 1;

impl Params {
    /// The defaults of `method`, from its table entry.
    pub fn new(method: Method) -> Self {
        let info = method.info();
        Params {
            method,
            max_iter: info.max_iter.unwrap_or(NO_ITERATIONS),
            tol: info.tol.unwrap_or(0.0),
            stop_test: info.stop_test,
            smoothing: 0.0,
            prior_correct: info.prior_correct,
            prior_strength: HDS_PRIOR_STRENGTH,
            init: Init::Votes,
            seed: 0,
            ties: TieBreak::Lowest,
            known: KnownClasses::default(),
            confidence: Confidence::default(),
            resume: Default::default(),
        }
    }

    /// The method `consolidate` uses when none is named.
    pub fn default_method() -> Method {
        Method::default()
    }

    /// Checks the values before a fit; the error names the field.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::invalid_param("max_iter", "must be at least 1"));
        }
        check_non_negative("tol", self.tol, self.tol.is_finite() && self.tol >= 0.0)?;
        for (name, value) in [
            ("prior_correct", self.prior_correct),
            ("prior_strength", self.prior_strength),
            ("smoothing", self.smoothing),
        ] {
            check_non_negative(name, value, value.is_finite() && value >= 0.0)?;
        }
        Ok(())
    }
}

fn check_non_negative(name: &'static str, value: impl std::fmt::Display, ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_param(
            name,
            format!("must be a finite number ≥ 0, not {value}"),
        ))
    }
}
