//! Backends run the step-level operations that algorithms call.
//!
//! The EM loop and its convergence test live once, in `algo`; a backend only
//! runs the steps. An [`EmSession`] owns the packed data and the model state
//! (posteriors, class priors, confusion tables) where the backend keeps them:
//! host memory for the CPU, device buffers for a GPU. Between iterations only
//! the log-likelihood crosses back; posteriors and parameters are read once at
//! the end.

pub mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;

use ndarray::{Array2, Array3};

use crate::engine::pack::masks::MaskBatch;
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::Result;
use crate::maths::TieBreak;

/// Probabilities below this are floored before taking logs, so that a
/// class nobody chose gives a large negative log-probability instead of
/// `-inf` (which would turn sums into NaN on some devices).
pub const PROB_FLOOR: f32 = 1e-30;

/// Soft counts are clipped to at least this before normalising (as
/// crowd-kit's Dawid-Skene does), so an unseen (true, given) cell stays
/// positive.
pub const COUNT_FLOOR: f32 = 1e-10;

/// How the M-step turns a worker's soft counts `C[t][l]` (true class t,
/// given label l) into a confusion table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfusionRule {
    /// Dawid-Skene: each row `C[t][·] + smoothing`, plus `prior_correct` on
    /// the diagonal, normalised: the MAP estimate under a Dirichlet prior.
    Full {
        /// Pseudo-count added to every cell.
        smoothing: f32,
        /// Extra pseudo-count added to each diagonal (correct) cell.
        prior_correct: f32,
    },
    /// One accuracy per worker: `(trace(C) + smoothing) / (n + K·smoothing)`
    /// on the diagonal, the rest spread evenly over the other classes.
    OneCoin {
        /// Pseudo-count per class added to the worker's correct count.
        smoothing: f32,
    },
    /// Ground Truth's modified Dawid-Skene: `C += n·M(acc) + (n/2)·M(prior)`
    /// with `acc = trace(C)/n` and `M(a)` the matrix with `a` on the diagonal
    /// and `(1-a)/(K-1)` elsewhere; rows then normalised.
    Modified {
        /// The all-worker accuracy in `M(prior)`, in [0, 1].
        prior_accuracy: f32,
    },
    /// Hierarchical Dawid-Skene, variational: each worker's row `t` has the
    /// Dirichlet posterior `α = C[t][·] + strength·π[t][·] + prior_correct·[t = ·]`,
    /// where `π` is the population confusion (every worker's counts summed,
    /// rows normalised), so a worker with few annotations keeps close to the
    /// population; the E-step uses `E[log θ] = ψ(α) − ψ(Σα)` (IBCC).
    Hierarchical {
        /// Weight of the population confusion `π`, in pseudo-counts per row.
        strength: f32,
        /// Extra pseudo-count on each diagonal (correct) cell.
        prior_correct: f32,
    },
}

/// The parameters of a fitted model, read back once at the end.
#[derive(Debug, Clone)]
pub struct ModelParams {
    /// Class priors `[item group][class]` (see [`crate::engine::pack::Groups`]):
    /// length K for a single problem.
    pub class_priors: Vec<f32>,
    /// Confusion tables `[worker][true][given]`, rows summing to 1.
    pub confusion: Array3<f32>,
}

/// A backend: where the kernels run.
pub trait Backend: Send + Sync {
    /// A short human-readable name, e.g. `cpu (2 threads)` or the adapter.
    fn name(&self) -> String;

    /// Starts an EM session over `data`: uploads what the steps need.
    fn em_session<'a>(&'a self, data: &'a Packed) -> Result<Box<dyn EmSession + 'a>>;
}

/// A backend whose EM sessions clamp known items (see
/// [`EmSession::set_known`]) from the start: what every EM method runs on
/// when some items' classes are known, so the EM loop itself is unchanged.
pub struct WithKnown<'k> {
    /// The backend that runs the kernels.
    pub inner: &'k dyn Backend,
    /// The items to clamp.
    pub known: &'k KnownClasses,
}

impl Backend for WithKnown<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn em_session<'a>(&'a self, data: &'a Packed) -> Result<Box<dyn EmSession + 'a>> {
        let mut session = self.inner.em_session(data)?;
        session.set_known(self.known)?;
        Ok(session)
    }
}

/// Pseudo-counts carried into every M-step from an earlier job (see
/// `--workers-in`): each worker's past soft counts `[worker][true][given]`,
/// added to the counts the M-step sums from the posteriors before the
/// confusion rule normalises them, so they act as a Dirichlet prior whose
/// weight is the worker's past answers. The rule's own prior, the
/// hierarchical population table and the answer count `n` the one-coin and
/// modified rules divide by all see the sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerPrior {
    /// `[worker][true][given]`, workers as in the packed data (zeros for a
    /// worker the earlier job did not see); empty: no prior.
    pub counts: Vec<f32>,
}

impl WorkerPrior {
    /// Whether there is no prior.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Each worker's past answers: the sum of their counts (`k` classes).
    pub fn answers(&self, k: usize) -> Vec<f32> {
        self.counts.chunks(k * k).map(|c| c.iter().sum()).collect()
    }

    /// Each worker's annotations in `data` plus their past answers: the
    /// `n` of the confusion rules.
    pub fn worker_n(&self, data: &Packed) -> Vec<f32> {
        let past = self.answers(data.n_classes());
        (0..data.n_workers())
            .map(|w| data.worker_range(w).len() as f32 + past.get(w).copied().unwrap_or(0.0))
            .collect()
    }

    /// Errors unless the prior has one `k × k` table per worker of `data`.
    pub fn check(&self, data: &Packed) -> Result<()> {
        let k = data.n_classes();
        if self.counts.len() != data.n_workers() * k * k {
            return Err(crate::error::Error::Usage(format!(
                "the worker prior holds {} counts, not {} workers × {k} × {k}",
                self.counts.len(),
                data.n_workers()
            )));
        }
        if let Some(c) = self.counts.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
            return Err(crate::error::Error::Usage(format!(
                "the worker prior holds a count of {c}: counts are finite and at least 0"
            )));
        }
        Ok(())
    }
}

/// A backend whose EM sessions add a [`WorkerPrior`] to every M-step (see
/// [`EmSession::set_worker_prior`]).
pub struct WithWorkerPrior<'p> {
    /// The backend that runs the kernels.
    pub inner: &'p dyn Backend,
    /// The pseudo-counts.
    pub prior: &'p WorkerPrior,
}

impl Backend for WithWorkerPrior<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn em_session<'a>(&'a self, data: &'a Packed) -> Result<Box<dyn EmSession + 'a>> {
        self.prior.check(data)?;
        let mut session = self.inner.em_session(data)?;
        session.set_worker_prior(self.prior)?;
        Ok(session)
    }
}

/// The model state of one EM run, kept where the backend computes.
pub trait EmSession {
    /// Majority-vote counts: `[item][class]` number of votes.
    fn mv_counts(&mut self) -> Result<Array2<u32>>;

    /// Items whose class is known (control tasks): from now on the vote
    /// start and every E-step clamp their posteriors to one-hot on the known
    /// class (inside `vote_shares` and `ds_e_step`, before anything sums
    /// the posteriors), and the E-step's log-likelihood adds, per known
    /// item, the log-probability the model gave its known class before the
    /// clamp (so it is the log-likelihood of the answers and the known
    /// labels together). Empty: no clamping (the default).
    fn set_known(&mut self, known: &KnownClasses) -> Result<()>;

    /// From now on every M-step adds `prior`'s counts to the soft counts
    /// before the rule normalises them (see [`WorkerPrior`]); empty: none
    /// (the default). The caller has checked its shape.
    fn set_worker_prior(&mut self, prior: &WorkerPrior) -> Result<()>;

    /// Posteriors := each item's vote shares (soft majority vote); an item
    /// without votes gets uniform posteriors.
    fn init_posteriors_from_votes(&mut self) -> Result<()>;

    /// Parameters := the given log class priors (length K, used for every
    /// item group, or `[group][class]`) and log-confusion tables
    /// (`[worker][given][true]`).
    fn init_params(&mut self, log_priors: &[f32], log_confusion: &[f32]) -> Result<()>;

    /// Parameters := every worker with `accuracy` on the diagonal and the rest
    /// spread evenly; uniform class priors. (Ground Truth's start.)
    fn init_symmetric(&mut self, accuracy: f32, n_workers: usize, k: usize) -> Result<()> {
        let table = cpu::symmetric_log_table(accuracy, k);
        let all: Vec<f32> = std::iter::repeat_n(table, n_workers).flatten().collect();
        self.init_params(&vec![-(k as f32).ln(); k], &all)
    }

    /// M-step: class priors := mean posterior; confusion tables from the soft
    /// counts under `rule`.
    fn m_step(&mut self, rule: ConfusionRule) -> Result<()>;

    /// E-step: posteriors from the current parameters. Returns the marginal
    /// log-likelihood of all annotations (summed in f64).
    fn e_step(&mut self) -> Result<f64>;

    /// An E-step then an M-step under `rule`, with one read-back: returns
    /// the E-step's log-likelihood (as [`EmSession::e_step`]) and crowd-kit's
    /// objective of its posteriors `q` under the parameters the M-step
    /// fitted from them, not yet divided by the number of annotations:
    /// `Σ_annotations Σ_t q(t)·(ln θ[t][given] + ln p(t)) + Σ_items H(q)`
    /// (see [`crate::engine::em::crowdkit_objective`], its host-side
    /// reference). The first part is summed per worker from the M-step's
    /// soft counts, the entropy per item in the E-step, so nothing is read
    /// per item.
    fn e_and_m_step(&mut self, rule: ConfusionRule) -> Result<(f64, f64)>;

    /// Mean over workers with annotations of `trace(C)/n` from the last
    /// M-step's soft counts.
    fn mean_worker_accuracy(&mut self) -> Result<f32>;

    /// Reads the posteriors `[item][class]`.
    fn read_posteriors(&mut self) -> Result<Array2<f32>>;

    /// The posteriors as [`EmSession::read_posteriors`] gives them, as the
    /// session's last use: a session holding them in host memory hands its
    /// buffer over instead of copying it (at 20M items of 5 classes that
    /// copy is 400 MB at the fit's memory peak). Later reads are undefined.
    fn take_posteriors(&mut self) -> Result<Array2<f32>> {
        self.read_posteriors()
    }

    /// Reads the class priors and confusion tables.
    fn read_params(&mut self) -> Result<ModelParams>;
}

/// A backend that runs the segmentation steps.
pub trait SegBackend: Send + Sync {
    /// A short human-readable name, e.g. `cpu (2 threads)` or the adapter.
    fn name(&self) -> String;

    /// Starts a session over `batch`: uploads the masks.
    fn seg_session<'a>(&'a self, batch: &'a MaskBatch) -> Result<Box<dyn SegSession + 'a>>;

    /// The host memory a session over a batch of `k` classes holds beyond
    /// the batch's own masks: what batch planning counts.
    fn seg_host_bytes(&self, k: usize) -> SegHostBytes;
}

/// Host bytes a segmentation session holds, in terms of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegHostBytes {
    /// Per output pixel (consensus, confidence, their read-back).
    pub per_pixel: u64,
    /// Per byte of the batch's masks (copies made to upload them).
    pub per_mask_byte: u64,
    /// Per pixel of the largest image (vote scratch for a slice of images).
    pub per_largest_pixel: u64,
}

/// Vote maps and the consensus of one batch of masks, kept where the
/// backend computes. Steps run in the order vote → decide → agreement.
pub trait SegSession {
    /// Votes := each mask's one-hot labels times its weight (`[mask]`,
    /// at most [`cpu::seg::MAX_PIXEL_WEIGHT`] per pixel in all), summed per
    /// pixel, then smoothed along rows and columns with `taps` (one tap:
    /// no smoothing).
    fn vote(&mut self, mask_weight: &[u32], taps: &[u32]) -> Result<()>;

    /// Consensus := each pixel's winning class and its share of the votes.
    fn decide(&mut self, ties: TieBreak, seed: u32) -> Result<()>;

    /// For each mask, how many of its pixels carry the consensus label.
    fn agreement(&mut self) -> Result<Vec<u32>>;

    /// One STAPLE EM step. E: each pixel's posterior over the true class,
    /// from the votes of the last `vote` as its spatial prior (see
    /// [`cpu::staple`]) and the raters' confusion tables `log_confusion`
    /// (`[rater][given][true]`, log-probabilities; mask `m` is rated by
    /// `mask_rater[m]`). Consensus := each pixel's most probable class and
    /// its probability. Returns, per mask, the soft confusion counts
    /// `[mask][given][true]` that the M-step normalises.
    fn staple_step(&mut self, mask_rater: &[u32], log_confusion: &[f32]) -> Result<Vec<f32>>;

    /// Reads the consensus labels and per-pixel confidence, `[pixel]`; once,
    /// at the end (a session may hand over its buffers).
    fn read_consensus(&mut self) -> Result<(Vec<u8>, Vec<f32>)>;
}
