//! `seq`, the default: a worker-aware sequence model fitted by EM.
//!
//! Each text is cut into tokens ([`crate::spans::tokens`]); each token has
//! a hidden true tag `z` (`O`, `B-l`, `I-l`) and the tags form a Markov
//! chain with learnt start and transition probabilities. A worker who
//! answered the text gives every token a tag `x` (`O` where the worker
//! marked nothing: a careful worker's silence counts), drawn from the
//! worker's table `P(x | z, x_prev)`, where `x_prev` is the worker's own tag
//! of the previous token. This is the likelihood of Simpson & Gurevych's
//! Bayesian sequence combination (BSC-seq, 2019); conditioning on the
//! worker's previous tag is what lets the model learn a worker's boundary
//! habits (ending entities a token early, splitting them, running on), on
//! top of the recall (`O` given an entity), precision (an entity given `O`)
//! and label confusions of each label. The same tables without `x_prev`
//! (HMM-Crowd's worker model, Nguyen et al., 2017) scored 0.706 exact-span
//! F1 on the shared CoNLL set against 0.762 with it, hence this choice.
//!
//! EM, MAP form: start from the workers' tag shares, then alternate
//! forward-backward over each text (E) and normalised expected counts plus
//! Dirichlet pseudo-counts (M): `prior_correct + prior_other` on the cell
//! `x = z` of every row, `prior_other` on the others; one per transition
//! cell. Stops when `|ΔLL| / |LL| <= tol`, after `max_iter` iterations, or
//! when the count of tokens whose most probable true tag changed has set no
//! new low for `patience` iterations (the decisions have settled as far as
//! they will; past that the loose chain drifts, see the README).
//! Output: the Viterbi path of each text, read as CoNLL spans (never
//! overlapping); a span's confidence is its posterior probability: that
//! its tokens carry exactly these tags and the next token does not continue
//! it.

use rayon::prelude::*;

use super::token_mv::chunk_ranges;
use super::{SpanList, SpanParams};
use crate::engine::pack::spans::SpanBatch;
use crate::spans::tokens::{decode, is_begin, tag_all, tag_label, Tagged};

/// A worker's (precision, recall) per label.
pub(crate) type LabelScores = (Vec<f32>, Vec<f32>);

/// What `seq` returns to [`super::fit`].
pub(crate) struct SeqOutput {
    pub spans: SpanList,
    /// Per worker: (precision, recall) per label, token-level, expected
    /// under the final posteriors.
    pub workers: Vec<LabelScores>,
    pub em: EmTrace,
}

/// How EM went: see the fields of the same names in
/// [`super::SpanConsolidation`].
pub(crate) struct EmTrace {
    pub iterations: usize,
    pub converged: bool,
    pub settled: bool,
    pub changed: Vec<u64>,
    pub log_likelihood: Vec<f64>,
}

impl EmTrace {
    /// The trace of a method without EM.
    pub fn one_pass() -> Self {
        EmTrace {
            iterations: 1,
            converged: true,
            settled: false,
            changed: Vec::new(),
            log_likelihood: Vec::new(),
        }
    }
}

/// The `patience` rule: counts the iterations since the fewest changed
/// decisions so far.
struct Settling {
    patience: usize,
    fewest: u64,
    since: usize,
}

impl Settling {
    fn new(patience: usize) -> Self {
        Settling {
            patience,
            fewest: u64::MAX,
            since: 0,
        }
    }

    /// Records an iteration's changed count; true when EM should stop.
    fn stalled(&mut self, changed: u64) -> bool {
        if changed < self.fewest {
            self.fewest = changed;
            self.since = 0;
        } else {
            self.since += 1;
        }
        self.patience > 0 && self.since >= self.patience
    }
}

/// Expected counts of one pass.
#[derive(Clone)]
struct Counts {
    /// `[worker][x_prev][x][z]`: z innermost, as the E-step reads it.
    emit: Vec<f64>,
    /// `[z_prev][z]`.
    trans: Vec<f64>,
    /// `[z]` of each text's first token.
    start: Vec<f64>,
    ll: f64,
    /// Tokens whose most probable true tag differs from the one the
    /// previous pass gave them.
    changed: u64,
}

impl Counts {
    fn zeros(workers: usize, s: usize) -> Self {
        Counts {
            emit: vec![0.0; workers * s * s * s],
            trans: vec![0.0; s * s],
            start: vec![0.0; s],
            ll: 0.0,
            changed: 0,
        }
    }

    fn add(&mut self, other: &Counts) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.emit, &other.emit);
        add(&mut self.trans, &other.trans);
        add(&mut self.start, &other.start);
        self.ll += other.ll;
        self.changed += other.changed;
    }
}

/// The parameters: logs of the workers' tables, transition and start
/// probabilities (and their logs, for Viterbi).
struct Model {
    s: usize,
    log_emit: Vec<f64>,
    trans: Vec<f64>,
    /// `trans` transposed: `[z][z_prev]`, so the backward pass runs over
    /// rows too.
    trans_t: Vec<f64>,
    start: Vec<f64>,
    /// Logs of `trans_t`, for Viterbi's maximum over previous tags.
    log_trans_t: Vec<f64>,
    log_start: Vec<f64>,
}

impl Model {
    fn from_counts(c: &Counts, s: usize, params: &SpanParams) -> Model {
        let mut log_emit = vec![0.0; c.emit.len()];
        // Each row is (worker, x_prev, ·, z) over x: gather, normalise.
        let rows = c.emit.len() / (s * s);
        for row in 0..rows {
            // row = worker * s + x_prev; cells at ((row * s) + x) * s + z.
            for z in 0..s {
                let cell = |x: usize| (row * s + x) * s + z;
                let prior =
                    |x: usize| params.prior_other + if x == z { params.prior_correct } else { 0.0 };
                let total: f64 = (0..s).map(|x| c.emit[cell(x)] + prior(x)).sum();
                for x in 0..s {
                    log_emit[cell(x)] = ((c.emit[cell(x)] + prior(x)) / total).ln();
                }
            }
        }
        // With `strict_bio` the true tags are valid BIO: `I-l` only after
        // `B-l` or `I-l`, never first; forbidden cells get no pseudo-count
        // and stay 0. Without it, `I-l` after anything else is a second way
        // to start an entity (CoNLL reads it so), with its own worker tables.
        let allowed = |y: Option<usize>, z: usize| match tag_label(z as u16) {
            Some(l) if params.strict_bio && !is_begin(z as u16) => {
                y.is_some_and(|y| tag_label(y as u16) == Some(l))
            }
            _ => true,
        };
        let mut trans = vec![0.0; s * s];
        for y in 0..s {
            let cell = |z: usize| {
                if allowed(Some(y), z) {
                    c.trans[y * s + z] + 1.0
                } else {
                    0.0
                }
            };
            let total: f64 = (0..s).map(cell).sum();
            for z in 0..s {
                trans[y * s + z] = cell(z) / total;
            }
        }
        let cell = |z: usize| {
            if allowed(None, z) {
                c.start[z] + 1.0
            } else {
                0.0
            }
        };
        let total: f64 = (0..s).map(cell).sum();
        let start: Vec<f64> = (0..s).map(|z| cell(z) / total).collect();
        let trans_t: Vec<f64> = (0..s * s).map(|k| trans[(k % s) * s + k / s]).collect();
        Model {
            s,
            log_emit,
            log_start: start.iter().map(|p| p.ln()).collect(),
            log_trans_t: trans_t.iter().map(|p| p.ln()).collect(),
            trans_t,
            trans,
            start,
        }
    }
}

/// Per-chunk buffers, reused text after text.
#[derive(Default)]
struct Scratch {
    log_em: Vec<f64>,
    em: Vec<f64>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    scale: Vec<f64>,
    gamma: Vec<f64>,
    /// Tokens where every worker says `O` after `O`: they share one
    /// emission row, computed once per text.
    quiet: Vec<bool>,
    quiet_row: Vec<f64>,
    quiet_em: Vec<f64>,
    next: Vec<f64>,
    /// `Σ_t α_t(y) em_{t+1}(z) β_{t+1}(z) / c_{t+1}` over every text of the
    /// chunk: times `A(y, z)`, the expected transition counts. `A` is the
    /// same for every text, so it multiplies the chunk's sum once.
    xi: Vec<f64>,
    quiet_gamma: Vec<f64>,
}

/// Forward-backward over item `i`; fills `scratch` (gamma included, and
/// adds the text's transition sums to `scratch.xi`) and returns the
/// log-likelihood of the workers' tags. `None` for a text without tokens
/// or answers. Inlined into its callers so that each gets the loops for its
/// own tag count.
#[inline(always)]
fn forward_backward<const S: usize>(
    batch: &SpanBatch,
    tagged: &Tagged,
    model: &Model,
    i: usize,
    sc: &mut Scratch,
) -> Option<f64> {
    let s = dim::<S>(model.s);
    let tokens = tagged.tokens(i);
    let n = tokens.len();
    let responses = batch.responses(i);
    if n == 0 || responses.is_empty() {
        return None;
    }
    // Which tokens some worker marks (or follows a mark of).
    sc.quiet.clear();
    sc.quiet.resize(n, true);
    for r in responses.clone() {
        for (t, &x) in tagged.tags_of(r, n).iter().enumerate() {
            if x != 0 {
                sc.quiet[t] = false;
                if t + 1 < n {
                    sc.quiet[t + 1] = false;
                }
            }
        }
    }
    sc.log_em.clear();
    sc.log_em.resize(n * s, 0.0);
    // The shared row of the quiet tokens.
    sc.quiet_row.clear();
    sc.quiet_row.resize(s, 0.0);
    for r in responses.clone() {
        let w = batch.response_worker[r] as usize;
        let base = (w * s * s) * s;
        let row = &model.log_emit[base..base + s];
        sc.quiet_row.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        let tags = tagged.tags_of(r, n);
        let mut prev = 0usize;
        for (t, &x) in tags.iter().enumerate() {
            if !sc.quiet[t] {
                let base = ((w * s + prev) * s + x as usize) * s;
                let row = &model.log_emit[base..base + s];
                let out = &mut sc.log_em[t * s..(t + 1) * s];
                out.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            prev = x as usize;
        }
    }
    let quiet_top = sc
        .quiet_row
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    sc.quiet_em.clear();
    sc.quiet_em
        .extend(sc.quiet_row.iter().map(|v| (v - quiet_top).exp()));
    sc.em.resize(n * s, 0.0);
    let mut ll = 0.0;
    for t in 0..n {
        if sc.quiet[t] {
            sc.log_em[t * s..(t + 1) * s].copy_from_slice(&sc.quiet_row);
            sc.em[t * s..(t + 1) * s].copy_from_slice(&sc.quiet_em);
            ll += quiet_top;
            continue;
        }
        let row = &sc.log_em[t * s..(t + 1) * s];
        let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        ll += top;
        for (e, v) in sc.em[t * s..(t + 1) * s].iter_mut().zip(row) {
            *e = (v - top).exp();
        }
    }
    sc.alpha.resize(n * s, 0.0);
    sc.scale.resize(n, 0.0);
    let em = &sc.em[..n * s];
    let alpha = &mut sc.alpha[..n * s];
    for z in 0..s {
        alpha[z] = model.start[z] * em[z];
    }
    // The scales' product, its log taken only when it gets small: every
    // scale is at most 1 (α sums to 1, rows of A too, em at most 1).
    let mut product = 1.0f64;
    for t in 0..n {
        if t > 0 {
            let (done, rest) = alpha.split_at_mut(t * s);
            let prev = &done[(t - 1) * s..];
            let cur = &mut rest[..s];
            cur.fill(0.0);
            for (&ay, row) in prev.iter().zip(model.trans.chunks_exact(s)) {
                cur.iter_mut().zip(row).for_each(|(c, a)| *c += ay * a);
            }
            let e = &em[t * s..(t + 1) * s];
            cur.iter_mut().zip(e).for_each(|(c, e)| *c *= e);
        }
        let a = &mut alpha[t * s..(t + 1) * s];
        let c: f64 = a.iter().sum();
        sc.scale[t] = c;
        let inv = 1.0 / c;
        a.iter_mut().for_each(|v| *v *= inv);
        if c < 1e-100 {
            ll += c.ln();
        } else {
            product *= c;
            if product < 1e-150 {
                ll += product.ln();
                product = 1.0;
            }
        }
    }
    ll += product.ln();
    // Backward, with each token's posterior and the transition sums on
    // the way: `next` is what both the β recursion and ξ need.
    sc.beta.resize(n * s, 0.0);
    sc.gamma.resize(n * s, 0.0);
    sc.next.resize(s, 0.0);
    sc.xi.resize(s * s, 0.0);
    let beta = &mut sc.beta[..n * s];
    let gamma = &mut sc.gamma[..n * s];
    beta[(n - 1) * s..].fill(1.0);
    for t in (0..n).rev() {
        if t + 1 < n {
            let inv = 1.0 / sc.scale[t + 1];
            let next = &mut sc.next[..s];
            let (e, b) = (
                &em[(t + 1) * s..(t + 2) * s],
                &beta[(t + 1) * s..(t + 2) * s],
            );
            for ((v, e), b) in next.iter_mut().zip(e).zip(b) {
                *v = e * b * inv;
            }
            let a = &alpha[t * s..(t + 1) * s];
            for (&ay, row) in a.iter().zip(sc.xi.chunks_exact_mut(s)) {
                row.iter_mut().zip(&*next).for_each(|(x, v)| *x += ay * v);
            }
            let cur = &mut beta[t * s..(t + 1) * s];
            cur.fill(0.0);
            for (&nz, col) in next.iter().zip(model.trans_t.chunks_exact(s)) {
                cur.iter_mut().zip(col).for_each(|(c, a)| *c += a * nz);
            }
        }
        let (a, b) = (&alpha[t * s..(t + 1) * s], &beta[t * s..(t + 1) * s]);
        let g = &mut gamma[t * s..(t + 1) * s];
        let mut total = 0.0;
        for ((g, a), b) in g.iter_mut().zip(a).zip(b) {
            *g = a * b;
            total += *g;
        }
        let inv = 1.0 / total;
        g.iter_mut().for_each(|v| *v *= inv);
    }
    Some(ll)
}

/// Adds item `i`'s expected start and emission counts (after
/// [`forward_backward`]) to `c`.
#[inline(always)]
fn accumulate<const S: usize>(
    batch: &SpanBatch,
    tagged: &Tagged,
    model: &Model,
    i: usize,
    sc: &mut Scratch,
    c: &mut Counts,
) {
    let s = dim::<S>(model.s);
    let n = tagged.tokens(i).len();
    for z in 0..s {
        c.start[z] += sc.gamma[z];
    }
    // Emissions: the quiet tokens' posteriors summed once per text.
    sc.quiet_gamma.clear();
    sc.quiet_gamma.resize(s, 0.0);
    for t in (0..n).filter(|&t| sc.quiet[t]) {
        let g = &sc.gamma[t * s..(t + 1) * s];
        sc.quiet_gamma.iter_mut().zip(g).for_each(|(a, g)| *a += g);
    }
    for r in batch.responses(i) {
        let w = batch.response_worker[r] as usize;
        let base = (w * s * s) * s;
        let cell = &mut c.emit[base..base + s];
        cell.iter_mut()
            .zip(&sc.quiet_gamma)
            .for_each(|(a, g)| *a += g);
        let mut prev = 0usize;
        for (t, &x) in tagged.tags_of(r, n).iter().enumerate() {
            if !sc.quiet[t] {
                let base = ((w * s + prev) * s + x as usize) * s;
                let (cell, g) = (&mut c.emit[base..base + s], &sc.gamma[t * s..(t + 1) * s]);
                cell.iter_mut().zip(g).for_each(|(a, g)| *a += g);
            }
            prev = x as usize;
        }
    }
}

/// Adds `gamma` (one row of `s` per token) to each worker's emission counts.
fn add_emissions(
    batch: &SpanBatch,
    tagged: &Tagged,
    s: usize,
    i: usize,
    gamma: &[f64],
    c: &mut Counts,
) {
    let n = tagged.tokens(i).len();
    for r in batch.responses(i) {
        let w = batch.response_worker[r] as usize;
        let mut prev = 0usize;
        for (t, &x) in tagged.tags_of(r, n).iter().enumerate() {
            let base = ((w * s + prev) * s + x as usize) * s;
            c.emit[base..base + s]
                .iter_mut()
                .zip(&gamma[t * s..(t + 1) * s])
                .for_each(|(a, g)| *a += g);
            prev = x as usize;
        }
    }
}

/// The first M-step's counts: each token's true tag distributed as the
/// shares of the workers' tags; transitions as products of neighbours'.
fn vote_counts(batch: &SpanBatch, tagged: &Tagged, s: usize) -> Counts {
    let parts: Vec<Counts> = chunk_ranges(batch.n_items())
        .into_par_iter()
        .map(|items| {
            let mut c = Counts::zeros(batch.n_workers(), s);
            let mut gamma = Vec::new();
            for i in items {
                let n = tagged.tokens(i).len();
                let responses = batch.responses(i);
                if n == 0 || responses.is_empty() {
                    continue;
                }
                gamma.clear();
                gamma.resize(n * s, 1e-3);
                for r in responses.clone() {
                    for (t, &x) in tagged.tags_of(r, n).iter().enumerate() {
                        gamma[t * s + x as usize] += 1.0;
                    }
                }
                for t in 0..n {
                    let g = &mut gamma[t * s..(t + 1) * s];
                    let total: f64 = g.iter().sum();
                    g.iter_mut().for_each(|v| *v /= total);
                }
                c.start
                    .iter_mut()
                    .zip(&gamma[..s])
                    .for_each(|(a, g)| *a += g);
                for t in 1..n {
                    for y in 0..s {
                        for z in 0..s {
                            c.trans[y * s + z] += gamma[(t - 1) * s + y] * gamma[t * s + z];
                        }
                    }
                }
                add_emissions(batch, tagged, s, i, &gamma, &mut c);
            }
            c
        })
        .collect();
    sum(parts, batch.n_workers(), s)
}

fn sum(parts: Vec<Counts>, workers: usize, s: usize) -> Counts {
    let mut total = Counts::zeros(workers, s);
    for p in &parts {
        total.add(p);
    }
    total
}

/// The tag count: `S` when the caller chose a constant (so loops over
/// tags have a length the compiler knows), else `dynamic`.
#[inline(always)]
fn dim<const S: usize>(dynamic: usize) -> usize {
    if S == 0 {
        dynamic
    } else {
        S
    }
}

/// [`e_pass_with`] with the tag count fixed at compile time for 1 to 6
/// labels (3 to 13 tags), the sizes that matter for speed.
fn e_pass(batch: &SpanBatch, tagged: &Tagged, model: &Model, top: &mut [u16]) -> Counts {
    match model.s {
        3 => e_pass_with::<3>(batch, tagged, model, top),
        5 => e_pass_with::<5>(batch, tagged, model, top),
        7 => e_pass_with::<7>(batch, tagged, model, top),
        9 => e_pass_with::<9>(batch, tagged, model, top),
        11 => e_pass_with::<11>(batch, tagged, model, top),
        13 => e_pass_with::<13>(batch, tagged, model, top),
        _ => e_pass_with::<0>(batch, tagged, model, top),
    }
}

/// One E-step over every text with `model`: the next M-step's counts.
/// `top` holds each token's most probable true tag (`u16::MAX` before the
/// first pass); the pass updates it and counts the tokens that changed.
fn e_pass_with<const S: usize>(
    batch: &SpanBatch,
    tagged: &Tagged,
    model: &Model,
    top: &mut [u16],
) -> Counts {
    let s = model.s;
    let chunks = chunk_ranges(batch.n_items());
    // Each chunk's items own a contiguous run of tokens.
    let mut slices = Vec::with_capacity(chunks.len());
    let mut rest = top;
    for items in &chunks {
        let n = tagged.token_offsets[items.end] - tagged.token_offsets[items.start];
        let (mine, after) = rest.split_at_mut(n);
        slices.push(mine);
        rest = after;
    }
    let parts: Vec<Counts> = chunks
        .into_par_iter()
        .zip(slices)
        .map(|(items, top)| chunk_pass::<S>(batch, tagged, model, items, top))
        .collect();
    sum(parts, batch.n_workers(), s)
}

/// The E-step over one chunk of texts; `top` is the chunk's tokens' slice.
fn chunk_pass<const S: usize>(
    batch: &SpanBatch,
    tagged: &Tagged,
    model: &Model,
    items: std::ops::Range<usize>,
    top: &mut [u16],
) -> Counts {
    let s = dim::<S>(model.s);
    let mut c = Counts::zeros(batch.n_workers(), s);
    let mut sc = Scratch::default();
    let base = tagged.token_offsets[items.start];
    for i in items {
        if let Some(ll) = forward_backward::<S>(batch, tagged, model, i, &mut sc) {
            c.ll += ll;
            accumulate::<S>(batch, tagged, model, i, &mut sc, &mut c);
            let first = tagged.token_offsets[i] - base;
            for (t, g) in sc.gamma.chunks_exact(s).enumerate() {
                let best = most_probable(g);
                if top[first + t] != best {
                    top[first + t] = best;
                    c.changed += 1;
                }
            }
        }
    }
    // ξ times A: the expected transition counts.
    for (k, x) in sc.xi.iter().enumerate() {
        c.trans[k] += x * model.trans[k];
    }
    c
}

/// The index of the largest entry (the first of equals).
fn most_probable(g: &[f64]) -> u16 {
    let mut best = 0;
    for (z, &p) in g.iter().enumerate() {
        if p > g[best] {
            best = z;
        }
    }
    best as u16
}

/// Fits the model and decodes every text.
pub(crate) fn fit(batch: &SpanBatch, params: &SpanParams) -> SeqOutput {
    let tagged = tag_all(batch, params.tokens);
    let s = 2 * batch.n_labels() + 1;
    let mut model = Model::from_counts(&vote_counts(batch, &tagged, s), s, params);
    let mut log_likelihood = Vec::new();
    let mut changed = Vec::new();
    let (mut converged, mut settled) = (false, false);
    let mut settling = Settling::new(params.patience);
    // Each token's most probable true tag at the last E-step.
    let mut top = vec![u16::MAX; tagged.token_start.len()];
    for _ in 0..params.max_iter {
        let counts = e_pass(batch, &tagged, &model, &mut top);
        let ll = counts.ll;
        converged = log_likelihood
            .last()
            .is_some_and(|&prev: &f64| (ll - prev).abs() <= params.tol * ll.abs());
        settled = !converged && settling.stalled(counts.changed);
        log_likelihood.push(ll);
        changed.push(counts.changed);
        model = Model::from_counts(&counts, s, params);
        if converged || settled {
            break;
        }
    }
    let (spans, workers) = decode_all(batch, &tagged, &model);
    SeqOutput {
        spans,
        workers,
        em: EmTrace {
            iterations: log_likelihood.len(),
            converged,
            settled,
            changed,
            log_likelihood,
        },
    }
}

/// Viterbi paths, span confidences and the workers' expected token scores.
fn decode_all(batch: &SpanBatch, tagged: &Tagged, model: &Model) -> (SpanList, Vec<LabelScores>) {
    match model.s {
        3 => decode_all_with::<3>(batch, tagged, model),
        5 => decode_all_with::<5>(batch, tagged, model),
        7 => decode_all_with::<7>(batch, tagged, model),
        9 => decode_all_with::<9>(batch, tagged, model),
        11 => decode_all_with::<11>(batch, tagged, model),
        13 => decode_all_with::<13>(batch, tagged, model),
        _ => decode_all_with::<0>(batch, tagged, model),
    }
}

/// [`decode_all`] with the tag count `S` fixed (0: taken from the model).
fn decode_all_with<const S: usize>(
    batch: &SpanBatch,
    tagged: &Tagged,
    model: &Model,
) -> (SpanList, Vec<LabelScores>) {
    let s = dim::<S>(model.s);
    let k = batch.n_labels() + 1; // O, then each label
    let parts: Vec<(SpanList, Vec<f64>)> = chunk_ranges(batch.n_items())
        .into_par_iter()
        .map(|items| {
            let mut list = SpanList::new(0);
            // [worker][true class][given class], token-level.
            let mut scores = vec![0.0f64; batch.n_workers() * k * k];
            let mut sc = Scratch::default();
            let (mut v, mut back, mut path, mut truth) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for i in items {
                if forward_backward::<S>(batch, tagged, model, i, &mut sc).is_none() {
                    list.end_item();
                    continue;
                }
                let n = tagged.tokens(i).len();
                viterbi::<S>(model, &sc.log_em, n, &mut v, &mut back, &mut path);
                let first = tagged.tokens(i).start;
                decode(&path, |a, b, l| {
                    list.push(
                        tagged.token_start[first + a],
                        tagged.token_end[first + b - 1],
                        l,
                        span_posterior(model, &sc, &path, a, b) as f32,
                    );
                });
                list.end_item();
                // Expected true class of each token.
                truth.clear();
                truth.resize(n * k, 0.0);
                for t in 0..n {
                    for z in 0..s {
                        let class = tag_label(z as u16).map_or(0, |l| l as usize + 1);
                        truth[t * k + class] += sc.gamma[t * s + z];
                    }
                }
                for r in batch.responses(i) {
                    let w = batch.response_worker[r] as usize;
                    for (t, &x) in tagged.tags_of(r, n).iter().enumerate() {
                        let given = tag_label(x).map_or(0, |l| l as usize + 1);
                        for class in 0..k {
                            scores[(w * k + class) * k + given] += truth[t * k + class];
                        }
                    }
                }
            }
            (list, scores)
        })
        .collect();
    let mut list = SpanList::new(batch.n_items());
    let mut scores = vec![0.0f64; batch.n_workers() * k * k];
    for (part, sc) in parts {
        list.extend(part);
        scores.iter_mut().zip(sc).for_each(|(a, b)| *a += b);
    }
    let workers = (0..batch.n_workers())
        .map(|w| {
            let cell = |t: usize, g: usize| scores[(w * k + t) * k + g];
            let ratio = |a: f64, b: f64| if b > 0.0 { (a / b) as f32 } else { f32::NAN };
            let precision = (1..k)
                .map(|l| ratio(cell(l, l), (0..k).map(|t| cell(t, l)).sum()))
                .collect();
            let recall = (1..k)
                .map(|l| ratio(cell(l, l), (0..k).map(|g| cell(l, g)).sum()))
                .collect();
            (precision, recall)
        })
        .collect();
    (list, workers)
}

/// The most probable tag path of a text of `n` tokens, into `path`.
fn viterbi<const S: usize>(
    model: &Model,
    log_em: &[f64],
    n: usize,
    v: &mut Vec<f64>,
    back: &mut Vec<u16>,
    path: &mut Vec<u16>,
) {
    let s = dim::<S>(model.s);
    v.clear();
    v.resize(2 * s, 0.0);
    back.clear();
    back.resize(n * s, 0);
    for z in 0..s {
        v[z] = model.log_start[z] + log_em[z];
    }
    for t in 1..n {
        let (prev, cur) = v.split_at_mut(s);
        for z in 0..s {
            let mut best = (f64::NEG_INFINITY, 0usize);
            let into_z = &model.log_trans_t[z * s..(z + 1) * s];
            for (y, (p, a)) in prev.iter().zip(into_z).enumerate() {
                let score = p + a;
                if score > best.0 {
                    best = (score, y);
                }
            }
            cur[z] = best.0 + log_em[t * s + z];
            back[t * s + z] = best.1 as u16;
        }
        prev.copy_from_slice(cur);
    }
    let mut z = (0..s)
        .max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    path.clear();
    path.resize(n, 0);
    for t in (0..n).rev() {
        path[t] = z as u16;
        if t > 0 {
            z = back[t * s + z] as usize;
        }
    }
}

/// Posterior probability that tokens `a..b` carry `path[a..b]` and token
/// `b` (if any) does not continue the span.
fn span_posterior(model: &Model, sc: &Scratch, path: &[u16], a: usize, b: usize) -> f64 {
    let s = model.s;
    let n = path.len();
    let mut p = sc.alpha[a * s + path[a] as usize];
    for t in a + 1..b {
        let (y, z) = (path[t - 1] as usize, path[t] as usize);
        p *= model.trans[y * s + z] * sc.em[t * s + z] / sc.scale[t];
    }
    if b < n {
        let y = path[b - 1] as usize;
        let inside = path[b - 1] as usize
            + if crate::spans::tokens::is_begin(path[b - 1]) {
                1
            } else {
                0
            };
        let mut tail = 0.0;
        for z in 0..s {
            if z == inside {
                continue;
            }
            tail += model.trans[y * s + z] * sc.em[b * s + z] * sc.beta[b * s + z] / sc.scale[b];
        }
        p *= tail;
    }
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::spans::SpanBuilder;

    /// Texts with and without answers and tokens, more than one chunk's worth.
    fn mixed_batch() -> SpanBatch {
        let mut b = SpanBuilder::new();
        let per = b.label("PER").unwrap();
        for t in 0..200 {
            let item = b
                .text(
                    &format!("t{t}"),
                    match t % 4 {
                        0 => "Ada wrote to Bob today",
                        1 => "",
                        2 => "nobody answered this one",
                        _ => "Carl met Dana and Eve",
                    },
                )
                .unwrap();
            if t % 4 == 2 {
                continue;
            }
            for w in 0..3 {
                let r = b.response(item, &format!("w{w}")).unwrap();
                if t % 4 != 1 && (t + w) % 3 != 0 {
                    b.span(r, 0, 3, per);
                }
            }
        }
        b.finish()
    }

    #[test]
    fn a_pass_with_the_same_model_changes_no_decision() {
        let batch = mixed_batch();
        let params = SpanParams::new(crate::spans::SpanMethod::Seq);
        let tagged = tag_all(&batch, params.tokens);
        let s = 2 * batch.n_labels() + 1;
        let model = Model::from_counts(&vote_counts(&batch, &tagged, s), s, &params);
        let mut top = vec![u16::MAX; tagged.token_start.len()];
        let first = e_pass(&batch, &tagged, &model, &mut top);
        // Every token of an answered text, once: 100 texts of 5 words.
        assert_eq!(first.changed, 500);
        let unanswered = top.iter().filter(|&&t| t == u16::MAX).count();
        assert_eq!(
            unanswered,
            50 * 4,
            "the unanswered texts' tokens stay unset"
        );
        let again = e_pass(&batch, &tagged, &model, &mut top);
        assert_eq!(again.changed, 0);
        // Each token's tag sits at its own text's position: "Ada" is
        // marked by two of three workers on the texts that have it.
        for i in (0..batch.n_items()).filter(|i| i % 4 == 0) {
            let t = tagged.tokens(i).start;
            assert!(is_begin(top[t]), "text {i}: {:?}", &top[t..t + 5]);
            assert_eq!(top[t + 1], 0);
        }
    }

    #[test]
    fn settling_stops_after_patience_iterations_without_a_new_low() {
        let mut rule = Settling::new(3);
        let stops: Vec<bool> = [1000, 50, 60, 40, 45, 41, 40, 39, 39, 39, 39]
            .iter()
            .map(|&c| rule.stalled(c))
            .collect();
        // 40 at the 4th; 45, 41, 40 set no new low; 39 would have.
        assert_eq!(stops.iter().position(|&s| s), Some(6));
        let mut rule = Settling::new(3);
        let stops: Vec<bool> = [9, 8, 8, 8, 8].iter().map(|&c| rule.stalled(c)).collect();
        assert_eq!(stops, [false, false, false, false, true]);
        // 0 turns the rule off.
        let mut off = Settling::new(0);
        assert!((0..100).all(|_| !off.stalled(5)));
    }
}
