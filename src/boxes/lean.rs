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
//! boxes become new candidates, until the matching stops changing.

use rayon::prelude::*;

use super::cluster::{assign, cluster_answers, iou, Clusters, Member};
use super::consolidator::{FusedBox, Kept, WorkerBoxStats};
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
/// Re-matching stops when it changes fewer than this share of the images.
const SETTLED_SHARE: f64 = 1e-3;

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

/// One candidate's posterior and fused box.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    post: [f64; KINDS],
    /// P(a real object): the posterior of the real kinds.
    real: f64,
    rect: Rect,
}

impl Candidate {
    fn exists(&self) -> f64 {
        self.real
    }
}

/// The outcome of a fit.
pub(crate) struct LeanFit {
    pub kept: Vec<Vec<Kept>>,
    pub workers: Vec<WorkerBoxStats>,
    pub iterations: usize,
    pub converged: bool,
    pub log_likelihood: f64,
}

/// Inverse-variance weighted mean of the members' boxes, and the weights.
fn fuse(members: &[Member], data: &BoxData, model: &Model) -> Rect {
    let (sum, total) = weighted_sum(members, data, model);
    Rect::from_corners(sum.map(|s| s / total))
}

/// Σ w·corners and Σ w over the members, w = 1 / their worker's variance.
fn weighted_sum(members: &[Member], data: &BoxData, model: &Model) -> ([f64; 4], f64) {
    let mut sum = [0.0f64; 4];
    let mut total = 0.0;
    for m in members {
        let w = 1.0 / model.variance[data.answer_worker[m.answer as usize] as usize];
        for (s, v) in sum.iter_mut().zip(data.boxes[m.bx as usize].corners()) {
            *s += w * v;
        }
        total += w;
    }
    (sum, total)
}

/// A box's offsets from the object, per corner coordinate, in object sizes.
fn residual(b: &Rect, object: &Rect) -> [f64; 4] {
    let (w, h) = (object.width().max(1.0), object.height().max(1.0));
    let (b, o) = (b.corners(), object.corners());
    [
        (b[0] - o[0]) / w,
        (b[1] - o[1]) / h,
        (b[2] - o[2]) / w,
        (b[3] - o[3]) / h,
    ]
}

/// Posteriors and fused boxes of one image's candidates, into `out`; returns
/// their log-likelihood.
fn e_step_image(
    data: &BoxData,
    image: usize,
    clusters: &Clusters,
    model: &Model,
    logs: &PassLogs,
    out: &mut Vec<Candidate>,
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
    out.clear();
    out.extend(clusters.iter().map(|members| {
        let mut l = silent;
        for m in members {
            add_into(
                &mut l,
                &logs.workers[data.answer_worker[m.answer as usize] as usize].drawn,
            );
        }
        let max = l.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let scaled = l.map(|v| (v - max).exp());
        let sum: f64 = scaled.iter().sum();
        ll += max + sum.ln();
        let post = scaled.map(|v| v / sum);
        Candidate {
            post,
            real: (0..KINDS).filter(|&k| model.real[k]).map(|k| post[k]).sum(),
            rect: fuse(members, data, model),
        }
    }));
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

fn accumulate(
    stats: &mut Stats,
    data: &BoxData,
    image: usize,
    clusters: &Clusters,
    candidates: &[Candidate],
    model: &Model,
) {
    let mut kinds = [0.0f64; KINDS];
    for (members, c) in clusters.iter().zip(candidates) {
        add_into(&mut kinds, &c.post);
        for k in 0..KINDS {
            stats.support[k] += c.post[k] * members.len() as f64;
        }
        let real = c.exists();
        for m in members {
            let w = data.answer_worker[m.answer as usize] as usize;
            add_into(&mut stats.drawn[w], &c.post);
        }
        if members.len() < 2 {
            continue;
        }
        // Each box is measured against the fusion of the *other* boxes: a
        // worker's own box in the reference would shrink their residuals,
        // raise their weight, and so on until one worker decides every box.
        let (sum, total) = weighted_sum(members, data, model);
        for m in members {
            let w = data.answer_worker[m.answer as usize] as usize;
            let own = 1.0 / model.variance[w];
            let b = data.boxes[m.bx as usize].corners();
            let others = Rect::from_corners(std::array::from_fn(|j| {
                (sum[j] - own * b[j]) / (total - own)
            }));
            let r = residual(&data.boxes[m.bx as usize], &others);
            stats.square_sum[w] += real * r.iter().map(|v| v * v).sum::<f64>();
            stats.real_boxes[w] += real;
        }
    }
    for a in data.answers(image) {
        add_into(&mut stats.seen[data.answer_worker[a] as usize], &kinds);
    }
    add_into(&mut stats.kinds, &kinds);
}

fn m_step(model: &mut Model, stats: &Stats) {
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
    if order != [0, 1, 2] {
        model.prior = order.map(|k| model.prior[k]);
        for d in &mut model.draw {
            *d = order.map(|k| d[k]);
        }
    }
    model.real = order.map(|k| stats.kinds[k] < 1e-9 || stats.support[k] / stats.kinds[k] >= 1.5);
    model.real[0] = false;
}

/// Images per accumulation chunk: fixed chunks summed in order keep the
/// fit identical from run to run and across thread counts.
fn chunk_len(images: usize) -> usize {
    (images / 64).max(1024)
}

/// One EM pass over every image: the posteriors (into `candidates`, whose
/// buffers are reused from pass to pass), then the new model. Returns the
/// log-likelihood.
fn em_pass(
    data: &BoxData,
    clusters: &[Clusters],
    model: &mut Model,
    candidates: &mut Vec<Vec<Candidate>>,
) -> f64 {
    let chunk = chunk_len(data.n_images());
    let logs = pass_logs(model);
    candidates.resize_with(data.n_images(), Vec::new);
    let parts: Vec<(f64, Stats)> = candidates
        .par_chunks_mut(chunk)
        .zip(clusters.par_chunks(chunk))
        .enumerate()
        .map(|(c, (out, group))| {
            let mut stats = Stats::new(data.workers.len());
            let mut ll = 0.0;
            for (i, (image_out, image_clusters)) in out.iter_mut().zip(group).enumerate() {
                let image = c * chunk + i;
                ll += e_step_image(data, image, image_clusters, model, &logs, image_out);
                accumulate(&mut stats, data, image, image_clusters, image_out, model);
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
    m_step(model, &stats);
    ll
}

/// The model's start: candidates drawn by at least half of the image's
/// workers taken as easy objects, lone boxes as absent, the rest as hard,
/// then one M-step (as Dawid-Skene starts from majority vote).
fn start_from_votes(data: &BoxData, clusters: &[Clusters], model: &mut Model) {
    let mut stats = Stats::new(data.workers.len());
    for (image, image_clusters) in clusters.iter().enumerate() {
        let answered = data.answers(image).len() as f64;
        let candidates: Vec<Candidate> = image_clusters
            .iter()
            .map(|members| {
                let n = members.len() as f64;
                let post = if n >= 0.5 * answered && n >= 2.0 {
                    [0.0, 0.0, 1.0]
                } else if n < 2.0 {
                    [1.0, 0.0, 0.0]
                } else {
                    [0.0, 1.0, 0.0]
                };
                Candidate {
                    post,
                    real: 1.0 - post[0],
                    rect: fuse(members, data, model),
                }
            })
            .collect();
        accumulate(&mut stats, data, image, image_clusters, &candidates, model);
    }
    m_step(model, &stats);
}

/// Matches each answer's boxes to the image's kept objects again; boxes no
/// object takes are clustered into new candidates.
fn rematch(
    data: &BoxData,
    image: usize,
    candidates: &[Candidate],
    keep: f64,
    threshold: f64,
) -> Clusters {
    let objects: Vec<Rect> = candidates
        .iter()
        .filter(|c| c.exists() >= keep)
        .map(|c| c.rect)
        .collect();
    let mut clusters: Clusters = vec![Vec::new(); objects.len()];
    let mut leftovers: Vec<(u32, Vec<u32>)> = Vec::new();
    for a in data.answers(image) {
        let own: Vec<u32> = data.answer_boxes(a).map(|b| b as u32).collect();
        let chosen = assign(own.len(), objects.len(), threshold, |r, c| {
            iou(&data.boxes[own[r] as usize], &objects[c])
        });
        let mut left = Vec::new();
        for (&bx, target) in own.iter().zip(chosen) {
            match target {
                Some(c) => clusters[c].push(Member {
                    answer: a as u32,
                    bx,
                }),
                None => left.push(bx),
            }
        }
        leftovers.push((a as u32, left));
    }
    clusters.retain(|c| !c.is_empty());
    clusters.extend(cluster_answers(&leftovers, &data.boxes, threshold));
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

/// Fits `lean` and returns the kept boxes and the worker estimates.
pub(crate) fn fit_lean(data: &BoxData, params: &BoxParams) -> LeanFit {
    let threshold = params.iou_threshold();
    let workers = data.workers.len();
    let mut model = Model {
        draw: vec![[0.05, 0.5, 0.95]; workers],
        variance: vec![PRIOR_VARIANCE; workers],
        prior: [1.0 / KINDS as f64; KINDS],
        real: [false, true, true],
    };
    // Candidates: boxes of all classes clustered across workers (the class
    // is voted per object afterwards).
    let mut clusters: Vec<Clusters> = (0..data.n_images())
        .into_par_iter()
        .map(|image| {
            let answers: Vec<(u32, Vec<u32>)> = data
                .answers(image)
                .map(|a| (a as u32, data.answer_boxes(a).map(|b| b as u32).collect()))
                .collect();
            cluster_answers(&answers, &data.boxes, threshold)
        })
        .collect();
    start_from_votes(data, &clusters, &mut model);
    let mut iterations = 0;
    let mut converged = false;
    let mut ll = f64::NEG_INFINITY;
    let mut candidates = Vec::new();
    for _round in 0..MAX_ROUNDS {
        let mut previous = f64::NEG_INFINITY;
        converged = false;
        for _ in 0..params.max_iter {
            ll = em_pass(data, &clusters, &mut model, &mut candidates);
            iterations += 1;
            if (ll - previous).abs() <= params.tol * ll.abs() {
                converged = true;
                break;
            }
            previous = ll;
        }
        let next: Vec<Clusters> = (0..data.n_images())
            .into_par_iter()
            .map(|image| {
                rematch(
                    data,
                    image,
                    &candidates[image],
                    params.min_confidence,
                    threshold,
                )
            })
            .collect();
        let changed = next.iter().zip(&clusters).filter(|(a, b)| a != b).count();
        if changed == 0 {
            break;
        }
        clusters = next;
        // The posteriors must describe the clusters returned.
        ll = em_pass(data, &clusters, &mut model, &mut candidates);
        iterations += 1;
        // A few images can flip between two matchings for ever; past the
        // first rounds, a change on under 0.1% of the images is settled.
        if (changed as f64) < SETTLED_SHARE * data.n_images() as f64 {
            break;
        }
    }
    let kept: Vec<Vec<Kept>> = clusters
        .par_iter()
        .zip(&candidates)
        .enumerate()
        .map(|(image, (image_clusters, cands))| {
            image_clusters
                .iter()
                .zip(cands)
                .enumerate()
                .filter(|(_, (_, c))| c.exists() >= params.min_confidence)
                .map(|(j, (members, c))| {
                    let key = (image as u32).wrapping_mul(0x9E37_79B9) ^ j as u32;
                    let (class, share) = vote_class(members, data, params.seed, key);
                    Kept {
                        fused: FusedBox {
                            rect: c.rect,
                            class,
                            confidence: c.exists() * share,
                            support: members.len() as u32,
                        },
                        members: members.clone(),
                    }
                })
                .collect()
        })
        .collect();
    let workers = worker_estimates(data, &clusters, &candidates, &model);
    LeanFit {
        kept,
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
    clusters: &[Clusters],
    candidates: &[Vec<Candidate>],
    model: &Model,
) -> Vec<WorkerBoxStats> {
    let mut real_boxes = vec![0.0f64; data.workers.len()];
    for (image_clusters, cands) in clusters.iter().zip(candidates) {
        for (members, c) in image_clusters.iter().zip(cands) {
            for m in members {
                real_boxes[data.answer_worker[m.answer as usize] as usize] += c.exists();
            }
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
