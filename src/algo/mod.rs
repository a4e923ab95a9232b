//! Consolidation methods. The EM loop and its stopping test are written once
//! ([`em`]); each method is a start and an M-step rule for it.

pub mod em;
pub mod glad;
pub mod kos;
pub mod mace;
pub mod mmsr;
pub mod numpy_random;
mod result;
pub mod segmentation;
pub mod skill_vote;
pub mod spectral;

pub use result::{Consolidation, StartUsed};

use crate::backend::{cpu::tie_draw, Backend, ConfusionRule};
use crate::error::{Error, Result};
use crate::pack::Packed;

/// A classification consolidation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Majority vote; confidence is the winning share.
    Mv,
    /// Dawid-Skene EM with a full confusion matrix per worker.
    Ds,
    /// Hierarchical Bayesian Dawid-Skene (the default): each worker's
    /// confusion rows get a Dirichlet prior centred on the population's
    /// confusion matrix, fitted by variational Bayes.
    #[default]
    Hds,
    /// Ground Truth's modified Dawid-Skene (priors on worker accuracy).
    Mds,
    /// One accuracy per worker, errors spread evenly ("one-coin" DS).
    OneCoin,
    /// crowd-kit's Wawa: votes weighted by agreement with majority vote.
    Wawa,
    /// crowd-kit's ZeroBasedSkill: votes weighted by skills learnt from near zero.
    Zbs,
    /// GLAD: worker ability and item difficulty, fitted by EM.
    Glad,
    /// MACE: each worker knows the answer or spams, fitted by variational Bayes.
    Mace,
    /// KOS: belief propagation on the item-worker graph (two classes only).
    Kos,
    /// M-MSR: worker reliabilities from a robust rank-one completion of their agreement.
    Mmsr,
}

impl Method {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Mv => "mv",
            Method::Ds => "ds",
            Method::Hds => "hds",
            Method::Mds => "mds",
            Method::OneCoin => "one-coin",
            Method::Wawa => "wawa",
            Method::Zbs => "zbs",
            Method::Glad => "glad",
            Method::Mace => "mace",
            Method::Kos => "kos",
            Method::Mmsr => "mmsr",
        }
    }

    /// Methods computed on the host whatever the backend: their steps are
    /// not the EM kernels'.
    pub fn is_host_side(self) -> bool {
        matches!(
            self,
            Method::Wawa | Method::Zbs | Method::Glad | Method::Mace | Method::Kos | Method::Mmsr
        )
    }
}

/// How majority vote breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// A seeded random choice among the tied classes (Ground Truth's rule).
    Random,
    /// The tied class that comes first in class order (crowd-kit's rule).
    #[default]
    Lowest,
}

/// How `ds` and `hds` start EM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
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

/// Parameters of a fit. Build with [`Params::new`], which sets each method's
/// defaults, then change fields.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Params {
    pub method: Method,
    /// Most EM iterations (E-steps).
    pub max_iter: usize,
    /// Stop when `|ΔLL| / |LL|` falls below this.
    pub tol: f64,
    /// Dirichlet smoothing added to every soft count (`ds`, `one-coin`).
    pub smoothing: f32,
    /// Pseudo-counts of a correct answer added to each diagonal cell of a
    /// worker's confusion counts (`ds`): a Dirichlet prior that workers do
    /// better than chance, which keeps workers with few annotations from
    /// getting extreme tables. 0 gives crowd-kit's plain Dawid-Skene. `hds`
    /// adds it to its prior too.
    pub prior_correct: f32,
    /// `hds`: pseudo-annotations per confusion row drawn toward the
    /// population's confusion matrix.
    pub prior_strength: f32,
    /// How `ds` and `hds` start.
    pub init: Init,
    /// Seed of majority vote's random tie-break.
    pub seed: u64,
    pub ties: TieBreak,
}

/// Default pseudo-count of a correct answer per true class for `ds`: one
/// imagined correct answer, the weakest prior that workers beat chance.
pub const DS_PRIOR_CORRECT: f32 = 1.0;

/// `hds`'s pseudo-annotations per confusion row spread as the population's
/// confusion: one, as much as the one correct answer the diagonal gets.
pub const HDS_PRIOR_STRENGTH: f32 = 1.0;

/// Ground Truth's prior worker accuracy for the modified Dawid-Skene.
pub const MDS_PRIOR_ACCURACY: f32 = 0.7;

impl Params {
    /// Defaults for `method`: `ds` and `one-coin` at most 100 iterations with
    /// tolerance 1e-5 (crowd-kit's); `mds` 20 epochs and 1e-8 (Ground
    /// Truth's).
    pub fn new(method: Method) -> Self {
        let (max_iter, tol) = match method {
            Method::Mds => (20, 1e-8),
            _ => (100, 1e-5),
        };
        Params {
            method,
            max_iter,
            tol,
            smoothing: 0.0,
            prior_correct: if matches!(method, Method::Ds | Method::Hds) {
                DS_PRIOR_CORRECT
            } else {
                0.0
            },
            prior_strength: HDS_PRIOR_STRENGTH,
            init: Init::Votes,
            seed: 0,
            ties: TieBreak::Lowest,
        }
    }

    /// The method `consolidate` uses when none is named.
    pub fn default_method() -> Method {
        Method::default()
    }

    /// Checks the values before a fit.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::Usage("--max-iter must be at least 1".into()));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::Usage(format!(
                "--tol must be a finite number ≥ 0, not {}",
                self.tol
            )));
        }
        if !(self.prior_correct.is_finite() && self.prior_correct >= 0.0) {
            return Err(Error::Usage(format!(
                "--prior-correct must be a finite number ≥ 0, not {}",
                self.prior_correct
            )));
        }
        if !(self.prior_strength.is_finite() && self.prior_strength >= 0.0) {
            return Err(Error::Usage(format!(
                "--prior-strength must be a finite number ≥ 0, not {}",
                self.prior_strength
            )));
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return Err(Error::Usage(format!(
                "--smoothing must be a finite number ≥ 0, not {}",
                self.smoothing
            )));
        }
        Ok(())
    }
}

/// Fits `params.method` on `data` with `backend`. `on_iteration` is called
/// after each E-step with the iteration number and log-likelihood.
pub fn fit(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    params.validate()?;
    match params.method {
        Method::Mv => majority_vote(data, backend, params),
        Method::Wawa => Ok(skill_voted(data, params.method, skill_vote::wawa(data))),
        Method::Zbs => Ok(skill_voted(
            data,
            params.method,
            skill_vote::zero_based_skill(data),
        )),
        Method::Mmsr => {
            let (skills, rounds) = mmsr::mmsr_skills(data)?;
            Ok(host_fit(
                data,
                params.method,
                skill_vote::weighted(data, skills),
                rounds,
            ))
        }
        Method::Glad => {
            let (posteriors, rounds) = glad::glad(data);
            Ok(host_fit(
                data,
                params.method,
                skill_vote::from_posteriors(data, &posteriors),
                rounds,
            ))
        }
        Method::Mace => {
            let (posteriors, rounds) = mace::mace(data);
            Ok(host_fit(
                data,
                params.method,
                skill_vote::from_posteriors(data, &posteriors),
                rounds,
            ))
        }
        Method::Kos => {
            let (posteriors, rounds) = kos::kos(data)?;
            let flat: Vec<f64> = posteriors.into_iter().flatten().collect();
            Ok(host_fit(
                data,
                params.method,
                skill_vote::from_posteriors(data, &flat),
                rounds,
            ))
        }
        Method::Ds => fit_initialised(
            data,
            backend,
            params,
            ConfusionRule::Full {
                smoothing: params.smoothing,
                prior_correct: params.prior_correct,
            },
            on_iteration,
        ),
        Method::Hds => fit_initialised(
            data,
            backend,
            params,
            ConfusionRule::Hierarchical {
                strength: params.prior_strength,
                prior_correct: params.prior_correct,
            },
            on_iteration,
        ),
        Method::OneCoin => em::fit_em(
            data,
            backend,
            params,
            em::Start::Votes,
            em::MStepRule::Fixed(ConfusionRule::OneCoin {
                smoothing: params.smoothing,
            }),
            on_iteration,
        ),
        Method::Mds => em::fit_em(
            data,
            backend,
            params,
            em::Start::Symmetric(MDS_PRIOR_ACCURACY),
            em::MStepRule::Modified,
            on_iteration,
        )
        .map(|mut c| {
            // Ground Truth reports confidence to two decimals.
            c.confidence
                .iter_mut()
                .for_each(|x| *x = (*x * 100.0).round() / 100.0);
            c
        }),
    }
}

/// Picks each item's most voted class, breaking ties by `ties`. A random
/// tie-break draws from the seed and the item's `tie_keys` entry (a hash
/// of its name: see [`name_key`]), so the order of the input rows cannot
/// change a label.
pub fn decide_votes(
    counts: &[u32],
    k: usize,
    ties: TieBreak,
    seed: u64,
    tie_keys: &[u32],
) -> (Vec<u32>, Vec<f32>) {
    let seed32 = (seed ^ (seed >> 32)) as u32;
    counts
        .chunks(k)
        .enumerate()
        .map(|(i, row)| {
            let total: u32 = row.iter().sum();
            let best = row.iter().copied().max().unwrap_or(0);
            let n_tied = row.iter().filter(|&&c| c == best).count() as u32;
            let pick = match ties {
                TieBreak::Lowest => 0,
                TieBreak::Random => tie_draw(seed32, tie_keys[i]) % n_tied,
            };
            let label = row
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == best)
                .nth(pick as usize)
                .map(|(c, _)| c as u32)
                .unwrap_or(0);
            let confidence = if total == 0 {
                0.0
            } else {
                best as f32 / total as f32
            };
            (label, confidence)
        })
        .unzip()
}

fn skill_voted(data: &Packed, method: Method, v: skill_vote::SkillVote) -> Consolidation {
    let iterations = if method == Method::Zbs {
        skill_vote::ZBS_STEPS
    } else {
        1
    };
    host_fit(data, method, v, iterations)
}

/// EM under `rule` from the start `params.init` names; `best` fits from
/// both starts and keeps the higher final log-likelihood.
fn fit_initialised(
    data: &Packed,
    backend: &dyn Backend,
    params: &Params,
    rule: ConfusionRule,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let m_rule = em::MStepRule::Fixed(rule);
    let from_votes = |on: &mut dyn FnMut(usize, f64)| {
        em::fit_em(data, backend, params, em::Start::Votes, m_rule, on)
    };
    let spectral = match params.init {
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
    let start = em::Start::Given {
        log_priors: &log_priors,
        log_confusion: &log_confusion,
    };
    let mut from_spectral = em::fit_em(data, backend, params, start, m_rule, on_iteration)?;
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

/// A host-side method's result as a consolidation.
fn host_fit(
    data: &Packed,
    method: Method,
    v: skill_vote::SkillVote,
    iterations: usize,
) -> Consolidation {
    Consolidation::new(
        data,
        method,
        v.labels,
        v.confidence,
        v.posteriors,
        v.model,
        Vec::new(),
        iterations,
        true,
    )
}

/// `out` := the probabilities whose logs are `log` up to a constant
/// (max-shifted before exponentiating).
pub(crate) fn softmax_into(log: &[f64], out: &mut [f64]) {
    let top = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for (p, lp) in out.iter_mut().zip(log) {
        *p = (lp - top).exp();
    }
    let sum: f64 = out.iter().sum();
    out.iter_mut().for_each(|p| *p /= sum);
}

/// A 32-bit FNV-1a hash of an item's name: its key for random tie-breaks.
pub fn name_key(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

fn majority_vote(data: &Packed, backend: &dyn Backend, params: &Params) -> Result<Consolidation> {
    let k = data.n_classes();
    let mut session = backend.em_session(data)?;
    let counts = session.mv_counts()?;
    let tie_keys: Vec<u32> = match params.ties {
        TieBreak::Lowest => Vec::new(),
        TieBreak::Random => data.item_names.iter().map(name_key).collect(),
    };
    let (labels, confidence) = decide_votes(
        counts.as_slice().expect("standard layout"),
        k,
        params.ties,
        params.seed,
        &tie_keys,
    );
    // The worker tables of majority vote are one M-step on the vote shares.
    session.init_posteriors_from_votes()?;
    session.m_step(ConfusionRule::Full {
        smoothing: params.smoothing,
        prior_correct: 0.0,
    })?;
    let posteriors = session.read_posteriors()?;
    let model = session.read_params()?;
    Ok(Consolidation::new(
        data,
        params.method,
        labels,
        confidence,
        posteriors,
        model,
        Vec::new(),
        1,
        true,
    ))
}
