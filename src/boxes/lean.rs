//! `lean`: worker-aware box consolidation by EM, after Branson, Van Horn &
//! Perona, "Lean Crowdsourcing" (CVPR 2017).
//!
//! Candidate objects are clusters of boxes, at most one per worker. Each
//! candidate is latent: *absent* (a false positive), or a real object that
//! is *hard* or *easy* to see. A worker draws a box on a candidate of kind
//! `k` with their own probability `draw[w][k]` (so a worker's miss rate and
//! false-positive rate are learnt separately, and a careful worker's
//! silence counts against a candidate); the two kinds of real object let
//! objects differ in how many workers see them, which independent workers
//! alone cannot express. A worker's box edges are the object's plus
//! Gaussian noise of per-worker variance, in units of the object's size;
//! fused boxes are the inverse-variance weighted means of their members.
//! (A per-worker bias term was tried and dropped: on the pedestrian set it
//! pulled boxes toward the average worker's style and lowered the IoU with
//! the expert's boxes.) EM alternates with re-matching: each worker's boxes are
//! assigned to the kept objects by the Hungarian method, and unmatched
//! boxes become new candidates, until the matching stops changing or a
//! round changes more than half as many images as the round before (the
//! rest flip with every small move of the model).

use rayon::prelude::*;

use super::cluster::{
    cluster_answers, cluster_answers_into, iou, AnswerBoxes, Assigner, ClusterScratch, Clusters,
    Member,
};
use super::consolidator::{FusedBox, WorkerBoxStats};
use super::{BoxData, BoxParams, Rect};
use crate::maths::tie_draw;

/// Latent kinds of a candidate: absent, hard to see, easy to see.
const KINDS: usize = 3;
/// Pseudo-counts pulling each worker's draw rates to the crowd's, so a
/// worker with few answers is modelled like the average worker.
const POOL_STRENGTH: f64 = 4.0;
/// Prior of the localisation variance (size-normalised, per corner
/// coordinate) and its weight in coordinates.
const PRIOR_VARIANCE: f64 = 0.01;
const PRIOR_VARIANCE_WEIGHT: f64 = 8.0;
/// Most re-matching rounds.
const MAX_ROUNDS: usize = 10;

/// The learnt parameters.
#[derive(Debug, Clone)]
struct Model {
    draw: Vec<[f64; KINDS]>,
    variance: Vec<f64>,
    prior: [f64; KINDS],
    /// Which kinds are real objects: kind 0 never; another when its
    /// candidates hold, on average, boxes of at least 1.5 workers (halfway
    /// between one worker's lone box and two workers agreeing). A crowd
    /// with no real objects gives kinds of lone boxes, which are false
    /// positives whatever EM calls them.
    real: [bool; KINDS],
}

/// Every image's candidate objects, flat: image `i` holds candidates
/// `image_start[i]..image_start[i + 1]`, candidate `c` the members
/// `member_start[c]..member_start[c + 1]`. One allocation per array
/// instead of one per candidate keeps an EM pass a walk through memory.
#[derive(Debug, Default)]
struct Candidates {
    image_start: Vec<u32>,
    member_start: Vec<u32>,
    members: Vec<Member>,
    /// Each member's worker, looked up once rather than every pass.
    worker: Vec<u32>,
}

impl Candidates {
    /// No images yet.
    fn empty() -> Candidates {
        Candidates {
            image_start: vec![0],
            member_start: vec![0],
            members: Vec::new(),
            worker: Vec::new(),
        }
    }

    /// Appends an image with candidates `clusters`.
    fn push_image(&mut self, data: &BoxData, clusters: &[Vec<Member>]) {
        for members in clusters {
            self.members.extend_from_slice(members);
            self.worker.extend(
                members
                    .iter()
                    .map(|m| data.answer_worker[m.answer as usize]),
            );
            self.member_start.push(self.members.len() as u32);
        }
        self.image_start.push((self.member_start.len() - 1) as u32);
    }

    /// The images of `parts`, in order.
    fn concat(parts: Vec<Candidates>) -> Candidates {
        let mut out = Candidates::empty();
        out.image_start
            .reserve(parts.iter().map(|p| p.image_start.len() - 1).sum());
        out.member_start
            .reserve(parts.iter().map(|p| p.member_start.len() - 1).sum());
        out.members
            .reserve(parts.iter().map(|p| p.members.len()).sum());
        out.worker
            .reserve(parts.iter().map(|p| p.worker.len()).sum());
        for part in parts {
            let (c, m) = (out.member_start.len() as u32 - 1, out.members.len() as u32);
            out.image_start
                .extend(part.image_start[1..].iter().map(|&s| s + c));
            out.member_start
                .extend(part.member_start[1..].iter().map(|&s| s + m));
            out.members.extend_from_slice(&part.members);
            out.worker.extend_from_slice(&part.worker);
        }
        out
    }

    fn len(&self) -> usize {
        self.member_start.len() - 1
    }

    /// The candidates of `image`.
    fn of_image(&self, image: usize) -> std::ops::Range<usize> {
        self.image_start[image] as usize..self.image_start[image + 1] as usize
    }

    /// The member positions of candidate `c`.
    fn members_of(&self, c: usize) -> std::ops::Range<usize> {
        self.member_start[c] as usize..self.member_start[c + 1] as usize
    }

    /// These candidates with each image's replaced where `next` holds new
    /// ones (the other images' slices are copied as they are), written
    /// into `out`, whose buffers are reused: a round's fresh arrays would
    /// be pages the system must zero again.
    fn replace_into(&self, data: &BoxData, next: Vec<Option<Clusters>>, out: &mut Candidates) {
        out.image_start.clear();
        out.member_start.clear();
        out.members.clear();
        out.worker.clear();
        out.image_start.reserve(self.image_start.len());
        out.member_start.reserve(self.member_start.len());
        out.members.reserve(self.members.len());
        out.worker.reserve(self.worker.len());
        out.image_start.push(0);
        out.member_start.push(0);
        for (image, new) in next.into_iter().enumerate() {
            match new {
                Some(clusters) => {
                    for members in clusters {
                        out.members.extend_from_slice(&members);
                        out.worker.extend(
                            members
                                .iter()
                                .map(|m| data.answer_worker[m.answer as usize]),
                        );
                        out.member_start.push(out.members.len() as u32);
                    }
                }
                None => {
                    let range = self.of_image(image);
                    let (from, to) = (
                        self.member_start[range.start] as usize,
                        self.member_start[range.end] as usize,
                    );
                    let shift = out.members.len() as i64 - from as i64;
                    out.members.extend_from_slice(&self.members[from..to]);
                    out.worker.extend_from_slice(&self.worker[from..to]);
                    out.member_start.extend(
                        self.member_start[range.start + 1..=range.end]
                            .iter()
                            .map(|&m| (m as i64 + shift) as u32),
                    );
                }
            }
            out.image_start.push((out.member_start.len() - 1) as u32);
        }
    }

    /// Whether `image`'s candidates are exactly `clusters`.
    fn image_equals(&self, image: usize, clusters: &Clusters) -> bool {
        let range = self.of_image(image);
        range.len() == clusters.len()
            && range
                .zip(clusters)
                .all(|(c, members)| self.members[self.members_of(c)] == members[..])
    }
}

/// The outcome of a fit.
pub(crate) struct LeanFit {
    /// Per image, its kept boxes.
    pub objects: Vec<Vec<FusedBox>>,
    pub workers: Vec<WorkerBoxStats>,
    pub iterations: usize,
    pub converged: bool,
    pub log_likelihood: f64,
}

/// Σ w·corners and Σ w over candidate `c`'s members, w = their worker's
/// `precision` (1 / variance).
fn weighted_sum(
    c: usize,
    cands: &Candidates,
    data: &BoxData,
    precision: &[f64],
) -> ([f64; 4], f64) {
    let mut sum = [0.0f64; 4];
    let mut total = 0.0;
    for j in cands.members_of(c) {
        let w = precision[cands.worker[j] as usize];
        for (s, v) in sum
            .iter_mut()
            .zip(data.boxes[cands.members[j].bx as usize].corners())
        {
            *s += w * v;
        }
        total += w;
    }
    (sum, total)
}

/// Inverse-variance weighted mean of candidate `c`'s boxes.
fn fuse(c: usize, cands: &Candidates, data: &BoxData, precision: &[f64]) -> Rect {
    let (sum, total) = weighted_sum(c, cands, data, precision);
    Rect::from_corners(sum.map(|s| s / total))
}

/// The posteriors of one image's candidates into `post` and `real` (the
/// image's slots); returns their log-likelihood.
fn e_step_image(
    data: &BoxData,
    image: usize,
    cands: &Candidates,
    model: &Model,
    logs: &PassLogs,
    post: &mut [[f64; KINDS]],
    real: &mut [f64],
) -> f64 {
    // Every worker who answered and drew nothing on a candidate says "not
    // here": start from all silent, then switch the members.
    let mut silent = logs.prior;
    for a in data.answers(image) {
        add_into(
            &mut silent,
            &logs.workers[data.answer_worker[a] as usize].silent,
        );
    }
    let mut ll = 0.0;
    for (i, c) in cands.of_image(image).enumerate() {
        let mut l = silent;
        for j in cands.members_of(c) {
            add_into(&mut l, &logs.workers[cands.worker[j] as usize].drawn);
        }
        let max = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        // exp(0) is 1: the largest term needs no exp.
        let scaled = l.map(|v| if v == max { 1.0 } else { (v - max).exp() });
        let sum: f64 = scaled.iter().sum();
        ll += max + sum.ln();
        let p = scaled.map(|v| v / sum);
        post[i] = p;
        real[i] = (0..KINDS).filter(|&k| model.real[k]).map(|k| p[k]).sum();
    }
    ll
}

/// A worker's log-probabilities, computed once per pass: of staying
/// silent on a candidate of each kind, and the log-odds of drawing it.
#[derive(Debug, Clone, Copy)]
struct WorkerLogs {
    silent: [f64; KINDS],
    drawn: [f64; KINDS],
}

/// The logs of one pass: every worker's, and the kinds' prior.
struct PassLogs {
    workers: Vec<WorkerLogs>,
    prior: [f64; KINDS],
}

fn pass_logs(model: &Model) -> PassLogs {
    PassLogs {
        workers: model
            .draw
            .iter()
            .map(|d| WorkerLogs {
                silent: d.map(|p| (1.0 - p).ln()),
                drawn: d.map(|p| p.ln() - (1.0 - p).ln()),
            })
            .collect(),
        prior: model.prior.map(f64::ln),
    }
}

/// Per-worker sufficient statistics of the M-step.
#[derive(Debug, Clone)]
struct Stats {
    drawn: Vec<[f64; KINDS]>,
    seen: Vec<[f64; KINDS]>,
    square_sum: Vec<f64>,
    real_boxes: Vec<f64>,
    kinds: [f64; KINDS],
    /// Σ posterior × boxes in the candidate, per kind.
    support: [f64; KINDS],
}

impl Stats {
    fn new(workers: usize) -> Stats {
        Stats {
            drawn: vec![[0.0; KINDS]; workers],
            seen: vec![[0.0; KINDS]; workers],
            square_sum: vec![0.0; workers],
            real_boxes: vec![0.0; workers],
            kinds: [0.0; KINDS],
            support: [0.0; KINDS],
        }
    }

    fn add(&mut self, other: &Stats) {
        for (a, b) in self.drawn.iter_mut().zip(&other.drawn) {
            add_into(a, b);
        }
        for (a, b) in self.seen.iter_mut().zip(&other.seen) {
            add_into(a, b);
        }
        for (a, b) in self.square_sum.iter_mut().zip(&other.square_sum) {
            *a += b;
        }
        for (a, b) in self.real_boxes.iter_mut().zip(&other.real_boxes) {
            *a += b;
        }
        add_into(&mut self.kinds, &other.kinds);
        add_into(&mut self.support, &other.support);
    }
}

fn add_into<const N: usize>(a: &mut [f64; N], b: &[f64; N]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Adds one image's candidates (posteriors `post`, P(real) `real`) to the
/// M-step's statistics.
fn accumulate(
    stats: &mut Stats,
    data: &BoxData,
    image: usize,
    cands: &Candidates,
    post: &[[f64; KINDS]],
    real: &[f64],
    precision: &[f64],
) {
    let mut kinds = [0.0f64; KINDS];
    for (i, c) in cands.of_image(image).enumerate() {
        let (p, exists) = (&post[i], real[i]);
        let members = cands.members_of(c);
        add_into(&mut kinds, p);
        for (support, pk) in stats.support.iter_mut().zip(p) {
            *support += pk * members.len() as f64;
        }
        for j in members.clone() {
            add_into(&mut stats.drawn[cands.worker[j] as usize], p);
        }
        if members.len() < 2 {
            continue;
        }
        // Each box is measured against the fusion of the *other* boxes: a
        // worker's own box in the reference would shrink their residuals,
        // raise their weight, and so on until one worker decides every box.
        let (sum, total) = weighted_sum(c, cands, data, precision);
        for j in members {
            let w = cands.worker[j] as usize;
            let own = precision[w];
            let b = data.boxes[cands.members[j].bx as usize].corners();
            // The residual is in units of the reference's size (at least
            // one pixel), per corner coordinate; reciprocals keep the
            // divisions to three per box.
            let share = 1.0 / (total - own);
            let o = Rect::from_corners(std::array::from_fn(|q| (sum[q] - own * b[q]) * share));
            let inv_w = 1.0 / o.width().max(1.0);
            let inv_h = 1.0 / o.height().max(1.0);
            let o = o.corners();
            let r = [
                (b[0] - o[0]) * inv_w,
                (b[1] - o[1]) * inv_h,
                (b[2] - o[2]) * inv_w,
                (b[3] - o[3]) * inv_h,
            ];
            stats.square_sum[w] += exists * r.iter().map(|v| v * v).sum::<f64>();
            stats.real_boxes[w] += exists;
        }
    }
    for a in data.answers(image) {
        add_into(&mut stats.seen[data.answer_worker[a] as usize], &kinds);
    }
    add_into(&mut stats.kinds, &kinds);
}

/// The M-step; returns whether it re-ordered the kinds.
fn m_step(model: &mut Model, stats: &Stats) -> bool {
    let mut pool = [0.0f64; KINDS];
    for k in 0..KINDS {
        let drawn: f64 = stats.drawn.iter().map(|d| d[k]).sum();
        let seen: f64 = stats.seen.iter().map(|s| s[k]).sum();
        pool[k] = (drawn + 1.0) / (seen + 2.0);
    }
    for w in 0..model.draw.len() {
        model.draw[w] = std::array::from_fn(|k| {
            (stats.drawn[w][k] + POOL_STRENGTH * pool[k]) / (stats.seen[w][k] + POOL_STRENGTH)
        });
        let coords = 4.0 * stats.real_boxes[w];
        model.variance[w] = (stats.square_sum[w] + PRIOR_VARIANCE * PRIOR_VARIANCE_WEIGHT)
            / (coords + PRIOR_VARIANCE_WEIGHT);
    }
    let total: f64 = stats.kinds.iter().sum();
    for k in 0..KINDS {
        model.prior[k] = (stats.kinds[k] + 1.0) / (total + KINDS as f64);
    }
    // Keep kind 0 the one drawn least (absent), kind 2 the most (easy).
    let mut order = [0usize, 1, 2];
    order.sort_by(|&a, &b| pool[a].total_cmp(&pool[b]));
    let reordered = order != [0, 1, 2];
    if reordered {
        model.prior = order.map(|k| model.prior[k]);
        for d in &mut model.draw {
            *d = order.map(|k| d[k]);
        }
    }
    model.real = order.map(|k| stats.kinds[k] < 1e-9 || stats.support[k] / stats.kinds[k] >= 1.5);
    model.real[0] = false;
    reordered
}

/// Images per accumulation chunk: fixed chunks summed in order keep the
/// fit identical from run to run and across thread counts.
fn chunk_len(images: usize) -> usize {
    (images / 64).max(1024)
}

/// `values` cut at the candidate boundaries of each chunk of `chunk` images.
fn split_by_images<'v, T>(
    mut values: &'v mut [T],
    cands: &Candidates,
    chunk: usize,
) -> Vec<&'v mut [T]> {
    let images = cands.image_start.len() - 1;
    let mut parts = Vec::with_capacity(images.div_ceil(chunk));
    for start in (0..images).step_by(chunk) {
        let end = (start + chunk).min(images);
        let n = (cands.image_start[end] - cands.image_start[start]) as usize;
        let (part, rest) = values.split_at_mut(n);
        parts.push(part);
        values = rest;
    }
    parts
}

/// The E-step's output for every candidate, reused from pass to pass.
#[derive(Debug, Default)]
struct Posteriors {
    post: Vec<[f64; KINDS]>,
    /// P(a real object): the posterior of the real kinds.
    real: Vec<f64>,
    /// 1 / the variances the E-step saw: the fused boxes' weights.
    precision: Vec<f64>,
}

/// One EM pass over every image: the posteriors (into `out`), then the
/// new model. Returns the log-likelihood, and whether the M-step
/// re-ordered the kinds.
fn em_pass(
    data: &BoxData,
    cands: &Candidates,
    model: &mut Model,
    out: &mut Posteriors,
) -> (f64, bool) {
    let chunk = chunk_len(data.n_images());
    let logs = pass_logs(model);
    out.post.resize(cands.len(), [0.0; KINDS]);
    out.real.resize(cands.len(), 0.0);
    out.precision.clear();
    out.precision.extend(model.variance.iter().map(|v| 1.0 / v));
    let out_precision = &out.precision[..];
    let posts = split_by_images(&mut out.post, cands, chunk);
    let reals = split_by_images(&mut out.real, cands, chunk);
    let parts: Vec<(f64, Stats)> = posts
        .into_par_iter()
        .zip(reals)
        .enumerate()
        .map(|(ci, (post, real))| {
            let mut stats = Stats::new(data.workers.len());
            let mut ll = 0.0;
            let images = ci * chunk..((ci + 1) * chunk).min(data.n_images());
            let base = cands.image_start[images.start] as usize;
            for image in images {
                let range = cands.of_image(image);
                let at = range.start - base..range.end - base;
                let (p, r) = (&mut post[at.clone()], &mut real[at]);
                ll += e_step_image(data, image, cands, model, &logs, p, r);
                accumulate(&mut stats, data, image, cands, p, r, out_precision);
            }
            (ll, stats)
        })
        .collect();
    let mut stats = Stats::new(data.workers.len());
    let mut ll = 0.0;
    for (l, s) in parts {
        ll += l;
        stats.add(&s);
    }
    (ll, m_step(model, &stats))
}

/// EM passes over fixed candidates until the relative change of the
/// log-likelihood over one plain pass is within `tol` (or `max_iter`
/// passes). Returns the passes run, the last log-likelihood, and whether
/// the tolerance was met.
///
/// EM's tail here is linear and slow (each pass shrinks the change by only
/// ~0.9), so passes come in SQUAREM cycles (Varadhan & Roland 2008): two
/// plain passes θ0 → θ1 → θ2 give the step r = θ1 − θ0 and its change
/// v = θ2 − θ1 − r; the cycle jumps to θ0 − 2αr + α²v (α = −|r|/|v|, at
/// most −1, which is θ2) and runs one pass from there. A jump whose
/// log-likelihood falls below θ1's is dropped for θ2 and followed by a
/// plain pass (so the posteriors returned are never a dropped jump's). No
/// jump follows a cycle in which the M-step re-ordered the kinds, whose
/// parameters would then not line up. The jump is taken in unbounded
/// coordinates (logits of the draw rates, logs of variances and prior).
fn run_em(
    data: &BoxData,
    cands: &Candidates,
    model: &mut Model,
    out: &mut Posteriors,
    params: &BoxParams,
) -> (usize, f64, bool) {
    let mut passes = 0;
    let pass = |model: &mut Model, out: &mut Posteriors, passes: &mut usize| {
        *passes += 1;
        em_pass(data, cands, model, out)
    };
    let settled = |ll: f64, previous: f64| (ll - previous).abs() <= params.tol * ll.abs();
    let mut previous = f64::NEG_INFINITY;
    loop {
        let theta0 = Unbounded::of(model);
        let (ll0, reordered0) = pass(model, out, &mut passes);
        if settled(ll0, previous) || passes >= params.max_iter {
            return (passes, ll0, settled(ll0, previous));
        }
        let theta1 = Unbounded::of(model);
        let (ll1, reordered1) = pass(model, out, &mut passes);
        if settled(ll1, ll0) || passes >= params.max_iter {
            return (passes, ll1, settled(ll1, ll0));
        }
        previous = ll1;
        // A dropped jump needs one more pass from θ2.
        if reordered0 || reordered1 || passes + 2 > params.max_iter {
            continue;
        }
        let theta2 = model.clone();
        let Some(jump) = theta0.squarem_jump(&theta1, &Unbounded::of(model)) else {
            continue;
        };
        jump.write_into(model);
        let (ll_jump, _) = pass(model, out, &mut passes);
        if ll_jump.is_finite() && ll_jump >= ll1 {
            previous = ll_jump;
        } else {
            *model = theta2;
        }
        if passes >= params.max_iter {
            return (passes, previous, false);
        }
    }
}

/// A model's free parameters in unbounded coordinates, flat: the logits of
/// every draw rate, then the logs of every variance, then the logs of the
/// prior.
struct Unbounded(Vec<f64>);

impl Unbounded {
    fn of(model: &Model) -> Unbounded {
        let logit = |p: f64| (p / (1.0 - p)).ln();
        let mut v = Vec::with_capacity(model.draw.len() * (KINDS + 1) + KINDS);
        v.extend(model.draw.iter().flat_map(|d| d.map(logit)));
        v.extend(model.variance.iter().map(|x| x.ln()));
        v.extend(model.prior.map(f64::ln));
        Unbounded(v)
    }

    /// SQUAREM's extrapolation from three successive points (self = θ0),
    /// or `None` where the steps are too small to measure.
    fn squarem_jump(&self, theta1: &Unbounded, theta2: &Unbounded) -> Option<Unbounded> {
        let (t0, t1, t2) = (&self.0, &theta1.0, &theta2.0);
        let r: Vec<f64> = t1.iter().zip(t0).map(|(a, b)| a - b).collect();
        let v: Vec<f64> = (0..t0.len()).map(|i| t2[i] - t1[i] - r[i]).collect();
        let norm = |x: &[f64]| x.iter().map(|y| y * y).sum::<f64>().sqrt();
        let (nr, nv) = (norm(&r), norm(&v));
        if !(nr > 0.0 && nv > 0.0 && nr.is_finite() && nv.is_finite()) {
            return None;
        }
        let alpha = (-nr / nv).min(-1.0);
        Some(Unbounded(
            (0..t0.len())
                .map(|i| t0[i] - 2.0 * alpha * r[i] + alpha * alpha * v[i])
                .collect(),
        ))
    }

    /// Sets `model`'s parameters to these (its `real` kinds unchanged);
    /// draw rates are kept off 0 and 1, the prior renormalised.
    fn write_into(&self, model: &mut Model) {
        let workers = model.draw.len();
        let (draws, rest) = self.0.split_at(workers * KINDS);
        let (variances, prior) = rest.split_at(workers);
        let sigmoid = |x: f64| (1.0 / (1.0 + (-x).exp())).clamp(1e-12, 1.0 - 1e-12);
        for (d, x) in model.draw.iter_mut().zip(draws.chunks_exact(KINDS)) {
            *d = std::array::from_fn(|k| sigmoid(x[k]));
        }
        for (var, x) in model.variance.iter_mut().zip(variances) {
            *var = x.exp().clamp(1e-12, 1e12);
        }
        let max = prior.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = prior.iter().map(|x| (x - max).exp()).collect();
        let total: f64 = e.iter().sum();
        model.prior = std::array::from_fn(|k| e[k] / total);
    }
}

/// The model's start: candidates drawn by at least half of the image's
/// workers taken as easy objects, lone boxes as absent, the rest as hard,
/// then one M-step (as Dawid-Skene starts from majority vote).
fn start_from_votes(data: &BoxData, cands: &Candidates, model: &mut Model) {
    let precision: Vec<f64> = model.variance.iter().map(|v| 1.0 / v).collect();
    let chunk = chunk_len(data.n_images());
    let starts: Vec<usize> = (0..data.n_images()).step_by(chunk).collect();
    // Fixed chunks summed in order, as in an EM pass.
    let parts: Vec<Stats> = starts
        .into_par_iter()
        .map(|start| {
            let mut stats = Stats::new(data.workers.len());
            let (mut post, mut real) = (Vec::new(), Vec::new());
            for image in start..(start + chunk).min(data.n_images()) {
                let answered = data.answers(image).len() as f64;
                post.clear();
                post.extend(cands.of_image(image).map(|c| {
                    let n = cands.members_of(c).len() as f64;
                    if n >= 0.5 * answered && n >= 2.0 {
                        [0.0, 0.0, 1.0]
                    } else if n < 2.0 {
                        [1.0, 0.0, 0.0]
                    } else {
                        [0.0, 1.0, 0.0]
                    }
                }));
                real.clear();
                real.extend(post.iter().map(|p| 1.0 - p[0]));
                accumulate(&mut stats, data, image, cands, &post, &real, &precision);
            }
            stats
        })
        .collect();
    let mut stats = Stats::new(data.workers.len());
    for part in &parts {
        stats.add(part);
    }
    m_step(model, &stats);
}

/// The fused box of every candidate, with the variances of the last
/// E-step, into `rects` (its buffer reused from round to round).
fn fused_boxes(data: &BoxData, cands: &Candidates, posteriors: &Posteriors, rects: &mut Vec<Rect>) {
    rects.clear();
    rects.par_extend(
        (0..cands.len())
            .into_par_iter()
            .map(|c| fuse(c, cands, data, &posteriors.precision)),
    );
}

/// Buffers one thread reuses from image to image while matching.
#[derive(Debug, Default)]
struct MatchScratch {
    objects: Vec<Rect>,
    leftovers: AnswerBoxes,
    assigner: Assigner,
}

/// Matches each answer's boxes to the image's kept objects (in
/// `scratch.objects`) again; boxes no object takes are clustered into new
/// candidates.
fn rematch(data: &BoxData, image: usize, threshold: f64, scratch: &mut MatchScratch) -> Clusters {
    let MatchScratch {
        objects,
        leftovers,
        assigner,
    } = scratch;
    let mut clusters: Clusters = vec![Vec::new(); objects.len()];
    leftovers.clear();
    for a in data.answers(image) {
        let own = data.answer_boxes(a);
        let chosen = assigner.assign(own.len(), objects.len(), threshold, |r, c| {
            iou(&data.boxes[own.start + r], &objects[c])
        });
        for (bx, &target) in own.clone().zip(chosen) {
            if let Some(c) = target {
                clusters[c].push(Member {
                    answer: a as u32,
                    bx: bx as u32,
                });
            }
        }
        let left = own.zip(chosen).filter(|(_, t)| t.is_none());
        leftovers.push(a as u32, left.map(|(bx, _)| bx as u32));
    }
    clusters.retain(|c| !c.is_empty());
    clusters.extend(cluster_answers(leftovers, &data.boxes, threshold, assigner));
    clusters
}

/// The class most members gave; ties broken by a seeded draw. Returns the
/// class and its share of the members.
fn vote_class(members: &[Member], data: &BoxData, seed: u32, key: u32) -> (u32, f64) {
    let mut counts: Vec<(u32, u32)> = Vec::new();
    for m in members {
        let class = data.box_class[m.bx as usize];
        match counts.iter_mut().find(|(c, _)| *c == class) {
            Some(entry) => entry.1 += 1,
            None => counts.push((class, 1)),
        }
    }
    counts.sort_unstable();
    let top = counts.iter().map(|c| c.1).max().unwrap_or(0);
    let tied: Vec<u32> = counts.iter().filter(|c| c.1 == top).map(|c| c.0).collect();
    let class = tied[(tie_draw(seed, key) as usize) % tied.len()];
    (class, top as f64 / members.len().max(1) as f64)
}

/// The first candidates (boxes of all classes clustered across workers;
/// the class is voted per object afterwards) and the model started from
/// their votes.
fn start(data: &BoxData, threshold: f64) -> (Candidates, Model) {
    let workers = data.workers.len();
    let mut model = Model {
        draw: vec![[0.05, 0.5, 0.95]; workers],
        variance: vec![PRIOR_VARIANCE; workers],
        prior: [1.0 / KINDS as f64; KINDS],
        real: [false, true, true],
    };
    // Images in fixed chunks, each clustered into flat arrays with
    // buffers reused from image to image, then joined in order.
    let chunk = chunk_len(data.n_images());
    let starts: Vec<usize> = (0..data.n_images()).step_by(chunk).collect();
    let parts: Vec<Candidates> = starts
        .into_par_iter()
        .map(|start| {
            let (mut answers, mut assigner) = (AnswerBoxes::default(), Assigner::default());
            let mut scratch = ClusterScratch::default();
            let mut part = Candidates::empty();
            for image in start..(start + chunk).min(data.n_images()) {
                answers.clear();
                for a in data.answers(image) {
                    answers.push(a as u32, data.answer_boxes(a).map(|b| b as u32));
                }
                let clusters = cluster_answers_into(
                    &answers,
                    &data.boxes,
                    threshold,
                    &mut assigner,
                    &mut scratch,
                );
                part.push_image(data, clusters);
            }
            part
        })
        .collect();
    let cands = Candidates::concat(parts);
    start_from_votes(data, &cands, &mut model);
    (cands, model)
}

/// Fits `lean` and returns the kept boxes and the worker estimates.
pub(crate) fn fit_lean(data: &BoxData, params: &BoxParams) -> LeanFit {
    let threshold = params.iou_threshold();
    let (mut cands, mut model) = start(data, threshold);
    let mut posteriors = Posteriors::default();
    let (mut iterations, mut ll, mut converged) =
        run_em(data, &cands, &mut model, &mut posteriors, params);
    // Rounds of re-matching and EM. They end when the matching stops
    // changing, or stops settling: once a round changes more than half as
    // many images as the one before, what is left is the few images whose
    // matching flips with every small move of the model.
    let mut previous_changed = usize::MAX;
    let (mut rects, mut spare) = (Vec::new(), Candidates::default());
    for _round in 0..MAX_ROUNDS {
        fused_boxes(data, &cands, &posteriors, &mut rects);
        let next: Vec<Option<Clusters>> = (0..data.n_images())
            .into_par_iter()
            .map_init(MatchScratch::default, |scratch, image| {
                scratch.objects.clear();
                scratch.objects.extend(
                    cands
                        .of_image(image)
                        .filter(|&c| posteriors.real[c] >= params.min_confidence)
                        .map(|c| rects[c]),
                );
                let clusters = rematch(data, image, threshold, scratch);
                (!cands.image_equals(image, &clusters)).then_some(clusters)
            })
            .collect();
        let changed = next.iter().filter(|n| n.is_some()).count();
        if changed == 0 || 2 * changed > previous_changed {
            break;
        }
        previous_changed = changed;
        cands.replace_into(data, next, &mut spare);
        std::mem::swap(&mut cands, &mut spare);
        let (passes, l, c) = run_em(data, &cands, &mut model, &mut posteriors, params);
        (iterations, ll, converged) = (iterations + passes, l, c);
    }
    drop(spare);
    fused_boxes(data, &cands, &posteriors, &mut rects);
    let objects: Vec<Vec<FusedBox>> = (0..data.n_images())
        .into_par_iter()
        .map(|image| {
            let first = cands.of_image(image).start;
            cands
                .of_image(image)
                .filter(|&c| posteriors.real[c] >= params.min_confidence)
                .map(|c| {
                    let members = &cands.members[cands.members_of(c)];
                    let key = (image as u32).wrapping_mul(0x9E37_79B9) ^ (c - first) as u32;
                    let (class, share) = vote_class(members, data, params.seed, key);
                    FusedBox {
                        rect: rects[c],
                        class,
                        confidence: posteriors.real[c] * share,
                        support: members.len() as u32,
                    }
                })
                .collect()
        })
        .collect();
    let workers = worker_estimates(data, &cands, &posteriors, &model);
    LeanFit {
        objects,
        workers,
        iterations,
        converged,
        log_likelihood: ll,
    }
}

/// Each worker's recall (P(drawing a real object)), precision (the
/// expected share of their boxes on real objects) and localisation error.
fn worker_estimates(
    data: &BoxData,
    cands: &Candidates,
    posteriors: &Posteriors,
    model: &Model,
) -> Vec<WorkerBoxStats> {
    let mut real_boxes = vec![0.0f64; data.workers.len()];
    for c in 0..cands.len() {
        for j in cands.members_of(c) {
            real_boxes[cands.worker[j] as usize] += posteriors.real[c];
        }
    }
    let mut answers = vec![0u32; data.workers.len()];
    let mut boxes = vec![0u32; data.workers.len()];
    for a in 0..data.n_answers() {
        let w = data.answer_worker[a] as usize;
        answers[w] += 1;
        boxes[w] += data.answer_boxes(a).len() as u32;
    }
    let real: f64 = (1..KINDS)
        .filter(|&k| model.real[k])
        .map(|k| model.prior[k])
        .sum();
    (0..data.workers.len())
        .map(|w| {
            let d = &model.draw[w];
            let drawn: f64 = (1..KINDS)
                .filter(|&k| model.real[k])
                .map(|k| model.prior[k] * d[k])
                .sum();
            WorkerBoxStats {
                answers: answers[w],
                boxes: boxes[w],
                recall: if real > 0.0 { drawn / real } else { f64::NAN },
                precision: if boxes[w] > 0 {
                    real_boxes[w] / boxes[w] as f64
                } else {
                    f64::NAN
                },
                localisation_error: model.variance[w].sqrt(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::boxes::{generate_boxes, BoxSpec};

    /// The first EM of a fit, from the same start, with plain passes until
    /// `tol` (the loop `run_em` replaced) and with `run_em`'s cycles.
    fn first_em_both_ways(spec: &BoxSpec) -> ((usize, f64), (usize, f64)) {
        let synth = generate_boxes(spec).unwrap();
        let data = synth.to_data(spec.width, spec.height);
        let params = BoxParams::new(crate::boxes::BoxMethod::Lean);
        let (cands, first) = start(&data, params.iou_threshold());

        let (mut plain, mut out) = (first.clone(), Posteriors::default());
        let mut previous = f64::NEG_INFINITY;
        let mut passes = 0;
        let plain_ll = loop {
            passes += 1;
            let (ll, _) = em_pass(&data, &cands, &mut plain, &mut out);
            if (ll - previous).abs() <= params.tol * ll.abs() || passes == 1000 {
                break ll;
            }
            previous = ll;
        };
        let mut fast = first;
        let (fast_passes, fast_ll, converged) = run_em(
            &data,
            &cands,
            &mut fast,
            &mut Posteriors::default(),
            &params,
        );
        assert!(converged);
        ((passes, plain_ll), (fast_passes, fast_ll))
    }

    #[test]
    fn accelerated_em_keeps_to_max_iter_with_finite_posteriors() {
        let spec = BoxSpec {
            images: 300,
            seed: 4,
            ..BoxSpec::default()
        };
        let data = generate_boxes(&spec)
            .unwrap()
            .to_data(spec.width, spec.height);
        for max_iter in 1..=8 {
            let params = BoxParams {
                max_iter,
                ..BoxParams::new(crate::boxes::BoxMethod::Lean)
            };
            let fit = fit_lean(&data, &params);
            assert!(fit.log_likelihood.is_finite(), "max_iter {max_iter}");
            let kept: usize = fit.objects.iter().map(Vec::len).sum();
            assert!(kept > 0, "max_iter {max_iter}: no box kept");
            for b in fit.objects.iter().flatten() {
                assert!(b.confidence.is_finite(), "max_iter {max_iter}");
            }
        }
    }

    #[test]
    fn accelerated_em_settles_in_fewer_passes_at_least_as_high() {
        for (seed, classes) in [(1, 1), (2, 1), (3, 3)] {
            let spec = BoxSpec {
                images: 800,
                classes,
                seed,
                ..BoxSpec::default()
            };
            let ((plain, plain_ll), (fast, fast_ll)) = first_em_both_ways(&spec);
            assert!(
                fast < plain,
                "seed {seed}: {fast} passes vs plain EM's {plain}"
            );
            // Both stop on the same relative change; the accelerated one
            // is no lower (up to that tolerance).
            assert!(
                fast_ll >= plain_ll - 1e-6 * plain_ll.abs(),
                "seed {seed}: log-likelihood {fast_ll} vs plain EM's {plain_ll}"
            );
        }
    }
}
