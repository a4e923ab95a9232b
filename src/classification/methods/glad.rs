//! GLAD (Whitehill et al. 2009): worker ability α and item difficulty
//! β (easiness e^β); a worker is right with probability σ(α·e^β), and
//! spreads mistakes evenly. EM as crowd-kit fits it: uniform class priors,
//! N(1, 1) priors on α and β, each M-step at most 25 rounds of nonlinear
//! conjugate gradient (Polak-Ribière, Wolfe line search, gradient
//! tolerance 0.01), at most 100 rounds, stopping when the expected
//! log-likelihood per (annotation, class) gains less than 1e-5.

use super::{Method, MethodInfo, RunsOn};
use crate::classification::result::Run;
use crate::classification::skill_vote::{self, host_consolidation};
use crate::classification::{Consolidation, MethodState, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::{KnownClasses, Packed};
use crate::error::Result;
use crate::maths::softmax_into;

/// crowd-kit's defaults.
pub(super) const INFO: MethodInfo = MethodInfo {
    method: Method::Glad,
    name: "glad",
    summary: "GLAD: worker ability and item difficulty, fitted by EM",
    runs_on: RunsOn::Host,
    max_iter: Some(100),
    tol: Some(1e-5),
    stop_test: crate::engine::em::StopTest::RelativeLikelihood,
    prior_correct: 0.0,
    em_rule: None,
    fit,
};

fn fit(
    data: &Packed,
    _backend: &dyn Backend,
    params: &Params,
    on_iteration: &mut dyn FnMut(usize, f64),
) -> Result<Consolidation> {
    let (posteriors, run, x) = glad(
        data,
        params.max_iter,
        params.tol,
        &params.known,
        on_iteration,
    );
    let votes = skill_vote::from_posteriors(data, &posteriors);
    let mut fit = host_consolidation(data, params, votes, run);
    let (alpha, beta) = x.split_at(data.n_workers());
    fit.method_state = Some(MethodState::Glad {
        alpha: alpha.to_vec(),
        beta: beta.to_vec(),
    });
    Ok(fit)
}
const CG_ROUNDS: usize = 25;
const CG_GTOL: f64 = 0.01;

/// `log σ(x)`, stable for large |x|.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

struct Glad<'a> {
    data: &'a Packed,
    k: usize,
    /// The item of each annotation (item-major order).
    item_of: Vec<u32>,
    /// Items clamped to their known class after every E-step.
    known: &'a KnownClasses,
}

impl Glad<'_> {
    /// Posteriors `[item][class]` from abilities `x[..W]` and difficulties
    /// `x[W..]`.
    fn e_step(&self, x: &[f64]) -> Vec<f64> {
        let (k, d) = (self.k, self.data);
        let (alpha, beta) = x.split_at(d.n_workers());
        let wrong_share = ((k - 1).max(1) as f64).ln();
        let mut posteriors = vec![1.0 / k as f64; d.n_items() * k];
        let mut log = vec![0f64; k];
        for i in 0..d.n_items() {
            let range = d.item_range(i);
            if range.is_empty() {
                continue;
            }
            log.fill(0.0);
            for a in range {
                let z = alpha[d.item_worker[a] as usize] * beta[i].exp();
                let (right, wrong) = (log_sigmoid(z), log_sigmoid(-z) - wrong_share);
                let l = d.item_label[a] as usize;
                for (c, lp) in log.iter_mut().enumerate() {
                    *lp += if c == l { right } else { wrong };
                }
            }
            softmax_into(&log, &mut posteriors[i * k..(i + 1) * k]);
        }
        crate::classification::known::clamp_rows(&mut posteriors, k, self.known);
        posteriors
    }

    /// The expected complete log-likelihood Q with the N(1, 1) priors
    /// (without their constant), and its gradient.
    fn q_and_gradient(&self, posteriors: &[f64], x: &[f64], gradient: &mut [f64]) -> f64 {
        let (k, d) = (self.k, self.data);
        let n_workers = d.n_workers();
        let (alpha, beta) = x.split_at(n_workers);
        let wrong_share = ((k - 1).max(1) as f64).ln();
        gradient.fill(0.0);
        let mut q = 0.0;
        for a in 0..d.n_annotations() {
            let (i, w) = (self.item_of[a] as usize, d.item_worker[a] as usize);
            let easiness = beta[i].exp();
            let z = alpha[w] * easiness;
            let p_right = posteriors[i * k + d.item_label[a] as usize];
            q += p_right * log_sigmoid(z) + (1.0 - p_right) * (log_sigmoid(-z) - wrong_share);
            let slope = p_right - sigmoid(z);
            gradient[w] += slope * easiness;
            gradient[n_workers + i] += slope * z;
        }
        for (g, v) in gradient.iter_mut().zip(x) {
            q -= 0.5 * (v - 1.0) * (v - 1.0);
            *g -= v - 1.0;
        }
        q
    }
}

/// GLAD's posteriors `[item][class]` (row-major) after at most `max_iter`
/// rounds, stopping when Q per (annotation, class) gains less than `tol`,
/// and the abilities then difficulties after the last M-step (as crowd-kit
/// keeps them: the posteriors are those of the E-step before it);
/// `on_round` gets each round's number and Q. The `known` items'
/// posteriors are clamped to their class after every E-step, so abilities
/// and difficulties are learnt from them.
pub fn glad(
    data: &Packed,
    max_iter: usize,
    tol: f64,
    known: &KnownClasses,
    on_round: &mut dyn FnMut(usize, f64),
) -> (Vec<f64>, Run, Vec<f64>) {
    let model = Glad {
        data,
        k: data.n_classes(),
        item_of: (0..data.n_items())
            .flat_map(|i| data.item_range(i).map(move |_| i as u32))
            .collect(),
        known,
    };
    let mut x = vec![1.0; data.n_workers() + data.n_items()];
    let rows = (data.n_annotations() * model.k).max(1) as f64;
    let mut gradient = vec![0f64; x.len()];
    let mut posteriors = model.e_step(&x);
    // crowd-kit compares the first per-row Q with the initial total, so the
    // first round never stops.
    let mut q = model.q_and_gradient(&posteriors, &x, &mut gradient) - prior_constant(x.len());
    let mut rounds = 0;
    let mut converged = false;
    for _ in 0..max_iter {
        rounds += 1;
        let last = q;
        posteriors = model.e_step(&x);
        // Maximise Q over (α, β): minimise −Q.
        let mut objective = |x: &[f64], g: &mut [f64]| {
            let q = model.q_and_gradient(&posteriors, x, g);
            g.iter_mut().for_each(|v| *v = -*v);
            -q
        };
        conjugate_gradient(&mut objective, &mut x, CG_ROUNDS, CG_GTOL);
        q = (model.q_and_gradient(&posteriors, &x, &mut gradient) - prior_constant(x.len())) / rows;
        on_round(rounds, q);
        if q - last < tol {
            converged = true;
            break;
        }
    }
    (posteriors, Run::rounds(rounds, converged), x)
}

/// `Σ log N(0; 0, 1)` over `n` parameters: the constant crowd-kit's Q
/// includes (it shifts Q but not its gains).
fn prior_constant(n: usize) -> f64 {
    0.5 * (2.0 * std::f64::consts::PI).ln() * n as f64
}

/// Minimises `f` from `x` by Polak-Ribière conjugate gradient with a
/// strong-Wolfe line search (c1 = 1e-4, c2 = 0.4, as scipy's `fmin_cg`),
/// at most `rounds` rounds, stopping when the largest gradient entry is
/// at most `gtol`.
fn conjugate_gradient(
    f: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    x: &mut [f64],
    rounds: usize,
    gtol: f64,
) {
    let n = x.len();
    let mut g = vec![0f64; n];
    let mut value = f(x, &mut g);
    let mut previous_value = value + norm(&g) / 2.0;
    let mut direction: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut trial = vec![0f64; n];
    let mut trial_g = vec![0f64; n];
    for _ in 0..rounds {
        if g.iter().fold(0f64, |m, v| m.max(v.abs())) <= gtol {
            return;
        }
        let mut slope: f64 = dot(&g, &direction);
        if slope > -0.01 * dot(&g, &g) {
            // Not enough of a descent direction (scipy's sigma_3 test):
            // restart along the gradient.
            direction.iter_mut().zip(&g).for_each(|(d, v)| *d = -v);
            slope = dot(&g, &direction);
        }
        // scipy's first trial step: from the last decrease, at most 1; 1
        // when that is not positive.
        let guess = 1.01 * 2.0 * (value - previous_value) / slope;
        let first = if guess > 0.0 { guess.min(1.0) } else { 1.0 };
        let Some(step) = wolfe_step(
            f,
            x,
            value,
            &direction,
            slope,
            first,
            &mut trial,
            &mut trial_g,
        ) else {
            return;
        };
        for (xi, di) in x.iter_mut().zip(&direction) {
            *xi += step.0 * di;
        }
        previous_value = value;
        value = step.1;
        // Polak-Ribière, clipped at 0 (a restart).
        let numerator: f64 = trial_g
            .iter()
            .zip(&g)
            .map(|(new, old)| new * (new - old))
            .sum();
        let beta = (numerator / dot(&g, &g)).max(0.0);
        g.copy_from_slice(&trial_g);
        for (d, gi) in direction.iter_mut().zip(&g) {
            *d = -gi + beta * *d;
        }
    }
}

/// The minimiser of the cubic matching values and slopes at both ends of
/// a bracket (Nocedal & Wright, 3.59), or the midpoint when it falls
/// outside the bracket's middle 80%.
fn cubic_step(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
    let (xa, fa, ga) = a;
    let (xb, fb, gb) = b;
    let d1 = ga + gb - 3.0 * (fa - fb) / (xa - xb);
    let root = d1 * d1 - ga * gb;
    let (lo, hi) = (xa.min(xb), xa.max(xb));
    let margin = 0.1 * (hi - lo);
    if root >= 0.0 && fb.is_finite() {
        let d2 = (xb - xa).signum() * root.sqrt();
        let x = xb - (xb - xa) * (gb + d2 - d1) / (gb - ga + 2.0 * d2);
        if x.is_finite() && x > lo + margin && x < hi - margin {
            return x;
        }
    }
    0.5 * (xa + xb)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// A step along `direction` meeting the strong Wolfe conditions (Nocedal &
/// Wright, algorithms 3.5 and 3.6); `trial_g` holds the gradient there.
/// Returns the step and the value there, or `None` when none is found.
#[allow(clippy::too_many_arguments)]
fn wolfe_step(
    f: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    x: &[f64],
    value: f64,
    direction: &[f64],
    slope: f64,
    first: f64,
    trial: &mut [f64],
    trial_g: &mut [f64],
) -> Option<(f64, f64)> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.4;
    let mut at = |step: f64, trial: &mut [f64], trial_g: &mut [f64]| {
        for ((t, xi), di) in trial.iter_mut().zip(x).zip(direction) {
            *t = xi + step * di;
        }
        let v = f(trial, trial_g);
        (v, dot(trial_g, direction))
    };
    // The bracket's ends: (step, value, slope); `high` unset until found.
    let mut low = (0.0, value, slope);
    let mut high: Option<(f64, f64, f64)> = None;
    let mut step = first;
    for _ in 0..40 {
        let (v, s) = at(step, trial, trial_g);
        let sufficient = v.is_finite() && v <= value + C1 * step * slope;
        if !sufficient || v >= low.1 {
            high = Some((step, v, s));
        } else if s.abs() <= -C2 * slope {
            return Some((step, v));
        } else {
            if s * (high.map_or(step, |h| h.0) - low.0) >= 0.0 {
                high = Some(low);
            }
            low = (step, v, s);
        }
        step = match high {
            // Zoom: the cubic through both ends, kept inside the bracket.
            Some(h) => cubic_step(low, h),
            None => step * 2.0,
        };
    }
    let low = low.0;
    // Accept a step that at least decreases the value.
    (low > 0.0).then(|| {
        let (v, _) = at(low, trial, trial_g);
        (low, v)
    })
}
