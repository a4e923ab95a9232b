//! The span methods, one file each, and what they share: the parameters,
//! the result, and the support and agreement counts every method reports.

pub mod jaccard;
pub mod seq;
pub mod token_mv;

use crate::engine::pack::spans::SpanBatch;
use crate::error::{Error, Result};

/// How the workers' spans of a text are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpanMethod {
    /// A sequence model of each worker learnt by EM: every token's true BIO
    /// tag is a hidden Markov chain, and each worker's tag depends on the
    /// true tag and on the worker's own previous tag (Simpson & Gurevych's
    /// BSC-seq likelihood, fitted by EM to a MAP estimate), so a worker's
    /// recall, precision and habit of cutting entities short or long are
    /// learnt per label.
    #[default]
    Seq,
    /// Ground Truth's: spans clustered by character Jaccard similarity,
    /// boundaries by mode (else median), label by mode with seeded ties,
    /// a cluster kept when `quorum` of the text's workers are in it.
    Jaccard,
    /// Token-level plurality of the workers' BIO tags.
    TokenMv,
}

impl SpanMethod {
    /// Every span method, the default first.
    pub const ALL: [SpanMethod; 3] = [SpanMethod::Seq, SpanMethod::Jaccard, SpanMethod::TokenMv];

    /// The method named `name`.
    pub fn from_name(name: &str) -> Option<SpanMethod> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SpanMethod::Seq => "seq",
            SpanMethod::Jaccard => "jaccard",
            SpanMethod::TokenMv => "token-mv",
        }
    }

    /// One line for help texts.
    pub fn summary(self) -> &'static str {
        match self {
            SpanMethod::Seq => "Worker-aware sequence model (BSC-seq likelihood, EM): each worker's tag given the true BIO tag and the worker's previous tag (the default)",
            SpanMethod::Jaccard => "Ground Truth's: spans clustered by character Jaccard similarity, boundaries by mode else median, label by mode, kept at --quorum",
            SpanMethod::TokenMv => "Token-level plurality of the workers' BIO tags",
        }
    }
}

/// Default `seq` pseudo-count added to each worker's "tag = true tag" cell.
pub const SEQ_PRIOR_CORRECT: f64 = 2.0;
/// Default `seq` pseudo-count added to every other cell.
pub const SEQ_PRIOR_OTHER: f64 = 0.1;

/// Parameters of a span fit. [`SpanParams::new`] sets the defaults the CLI
/// uses; [`SpanParams::validate`] (run by every fit) checks them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpanParams {
    /// The method.
    pub method: SpanMethod,
    /// `seq`: most EM iterations.
    pub max_iter: usize,
    /// `seq`: stop when `|ΔLL| / |LL|` falls below this.
    pub tol: f64,
    /// `seq`: Dirichlet pseudo-count on the cell "the worker's tag is the
    /// true tag" of every row of every worker's table: a prior that workers
    /// beat chance.
    pub prior_correct: f64,
    /// `seq`: Dirichlet pseudo-count on every other cell.
    pub prior_other: f64,
    /// `jaccard`: share of the text's workers (those who answered it) a
    /// cluster needs to be kept; `token-mv` does not use it.
    pub quorum: f64,
    /// `jaccard`: two spans join one cluster when their character Jaccard
    /// similarity (shared characters / characters in either) is at least this.
    pub jaccard_threshold: f64,
    /// `jaccard`: seed of the random choice among tied labels.
    pub seed: u64,
    /// `seq`, `token-mv`: what a token is.
    pub tokens: crate::spans::tokens::Tokens,
    /// `seq`: the true tag chain obeys BIO (`I-L` only after `B-L` or
    /// `I-L`). Off by default: see the README's measurements.
    pub strict_bio: bool,
    /// `seq`: stop once the count of tokens whose most probable true tag
    /// changed in an iteration has not reached a new low for this many
    /// iterations in a row: the decisions have stopped settling and further
    /// iterations only trade them (0: stop on `tol` and `max_iter` only).
    pub patience: usize,
}

impl SpanParams {
    /// `method` with the defaults: 50 iterations, tolerance 1e-5, patience
    /// 3, priors 2 and 0.1, quorum 0.5, Jaccard threshold 0.5, seed 0, word
    /// tokens.
    pub fn new(method: SpanMethod) -> Self {
        SpanParams {
            method,
            max_iter: 50,
            tol: 1e-5,
            prior_correct: SEQ_PRIOR_CORRECT,
            prior_other: SEQ_PRIOR_OTHER,
            quorum: 0.5,
            jaccard_threshold: 0.5,
            seed: 0,
            tokens: crate::spans::tokens::Tokens::Words,
            strict_bio: false,
            patience: 3,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(Error::invalid_param("max_iter", "must be at least 1"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(Error::invalid_param(
                "tol",
                format!("{} must be a number ≥ 0", self.tol),
            ));
        }
        if !(self.prior_correct.is_finite() && self.prior_correct >= 0.0) {
            return Err(Error::invalid_param(
                "prior_correct",
                format!("{} must be a number ≥ 0", self.prior_correct),
            ));
        }
        if !(self.prior_other.is_finite() && self.prior_other > 0.0) {
            return Err(Error::invalid_param(
                "prior_other",
                format!(
                    "{} must be a number > 0 (every tag keeps some probability)",
                    self.prior_other
                ),
            ));
        }
        if !(self.quorum > 0.0 && self.quorum <= 1.0) {
            return Err(Error::invalid_param(
                "quorum",
                format!(
                    "{} must be in (0, 1]: a share of the text's workers",
                    self.quorum
                ),
            ));
        }
        if !(self.jaccard_threshold > 0.0 && self.jaccard_threshold <= 1.0) {
            return Err(Error::invalid_param(
                "jaccard_threshold",
                format!("{} must be in (0, 1]", self.jaccard_threshold),
            ));
        }
        Ok(())
    }
}

/// What a fit learnt or measured about one worker.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkerSpanStats {
    /// Texts the worker answered.
    pub responses: usize,
    /// Spans the worker marked.
    pub spans: usize,
    /// Per label: the share of the worker's tokens (`seq`: the model's
    /// expected share) or spans (other methods: against the consolidated
    /// spans) that are right.
    pub precision: Vec<f32>,
    /// Per label: the share of the true (`seq`) or consolidated entity
    /// tokens / spans of that label, on texts the worker answered, that the
    /// worker marked.
    pub recall: Vec<f32>,
    /// Share of the worker's spans that overlap a consolidated span of the
    /// same label without matching its boundaries.
    pub boundary_error: f32,
}

/// A fit's result, by dense ids: each item's spans (sorted by start, never
/// overlapping), with confidence and support, and the workers' statistics.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpanConsolidation {
    /// The method that ran.
    pub method: SpanMethod,
    /// CSR by item into the span arrays.
    pub item_offsets: Vec<usize>,
    /// Each span's first code point.
    pub start: Vec<u32>,
    /// Each span's end (exclusive).
    pub end: Vec<u32>,
    /// Each span's label id.
    pub label: Vec<u32>,
    /// Confidence in the span, in [0, 1] (`seq`: the posterior probability
    /// that exactly this span, with this label, is an entity).
    pub confidence: Vec<f32>,
    /// Workers who marked exactly this span with this label.
    pub support: Vec<u32>,
    /// Per worker, in worker-id order.
    pub workers: Vec<WorkerSpanStats>,
    /// EM iterations run (`seq`), else 1.
    pub iterations: usize,
    /// Whether EM met `tol` (always true for the one-pass methods).
    pub converged: bool,
    /// Whether `seq` stopped because its decisions stopped settling
    /// (`patience`) before meeting `tol`.
    pub settled: bool,
    /// `seq`: per iteration, the tokens whose most probable true tag
    /// changed (every token with an answer, the first time).
    pub changed: Vec<u64>,
    /// The log-likelihood after each iteration (`seq`).
    pub log_likelihood: Vec<f64>,
}

impl SpanConsolidation {
    /// The spans of item `i`.
    pub fn spans(&self, i: usize) -> std::ops::Range<usize> {
        self.item_offsets[i]..self.item_offsets[i + 1]
    }

    /// Number of spans.
    pub fn n_spans(&self) -> usize {
        self.start.len()
    }
}

/// Spans being collected item by item.
#[derive(Debug, Default)]
pub(crate) struct SpanList {
    pub item_offsets: Vec<usize>,
    pub start: Vec<u32>,
    pub end: Vec<u32>,
    pub label: Vec<u32>,
    pub confidence: Vec<f32>,
}

impl SpanList {
    pub fn new(items: usize) -> Self {
        let mut item_offsets = Vec::with_capacity(items + 1);
        item_offsets.push(0);
        SpanList {
            item_offsets,
            ..Default::default()
        }
    }

    pub fn push(&mut self, start: u32, end: u32, label: u32, confidence: f32) {
        self.start.push(start);
        self.end.push(end);
        self.label.push(label);
        self.confidence.push(confidence);
    }

    pub fn end_item(&mut self) {
        self.item_offsets.push(self.start.len());
    }

    /// Appends another list's items.
    pub fn extend(&mut self, other: SpanList) {
        let base = self.start.len();
        self.item_offsets
            .extend(other.item_offsets.iter().skip(1).map(|o| o + base));
        self.start.extend(other.start);
        self.end.extend(other.end);
        self.label.extend(other.label);
        self.confidence.extend(other.confidence);
    }
}

/// Runs `params.method` on `batch`.
pub fn fit(batch: &SpanBatch, params: &SpanParams) -> Result<SpanConsolidation> {
    params.validate()?;
    if batch.n_labels() == 0 && batch.n_spans() > 0 {
        return Err(Error::Usage("spans without labels".into()));
    }
    let (list, model, em) = match params.method {
        SpanMethod::Seq => {
            let out = seq::fit(batch, params);
            (out.spans, Some(out.workers), out.em)
        }
        SpanMethod::Jaccard => (jaccard::fit(batch, params), None, seq::EmTrace::one_pass()),
        SpanMethod::TokenMv => (
            token_mv::fit(batch, params.tokens),
            None,
            seq::EmTrace::one_pass(),
        ),
    };
    let support = support(batch, &list);
    let mut workers = agreement(batch, &list);
    if let Some(model) = model {
        for (w, (precision, recall)) in workers.iter_mut().zip(model) {
            w.precision = precision;
            w.recall = recall;
        }
    }
    Ok(SpanConsolidation {
        method: params.method,
        item_offsets: list.item_offsets,
        start: list.start,
        end: list.end,
        label: list.label,
        confidence: list.confidence,
        support,
        workers,
        iterations: em.iterations,
        converged: em.converged,
        settled: em.settled,
        changed: em.changed,
        log_likelihood: em.log_likelihood,
    })
}

/// Whether response `r` holds exactly `(start, end, label)` (its spans are sorted).
pub(crate) fn marked(batch: &SpanBatch, r: usize, start: u32, end: u32, label: u32) -> bool {
    let range = batch.spans(r);
    let key = (start, end, label);
    let (s, e, l) = (
        &batch.span_start[range.clone()],
        &batch.span_end[range.clone()],
        &batch.span_label[range],
    );
    let (mut lo, mut hi) = (0usize, s.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if (s[mid], e[mid], l[mid]) < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let at = lo;
    at < s.len() && (s[at], e[at], l[at]) == key
}

/// For each consolidated span, the workers who marked exactly it.
fn support(batch: &SpanBatch, list: &SpanList) -> Vec<u32> {
    use rayon::prelude::*;
    (0..batch.n_items())
        .into_par_iter()
        .with_min_len(1024)
        .flat_map_iter(|i| {
            (list.item_offsets[i]..list.item_offsets[i + 1]).map(move |k| {
                batch
                    .responses(i)
                    .filter(|&r| marked(batch, r, list.start[k], list.end[k], list.label[k]))
                    .count() as u32
            })
        })
        .collect()
}

/// Each worker's spans against the consolidated ones: per-label precision
/// and recall of exact matches, and the share of near misses.
fn agreement(batch: &SpanBatch, list: &SpanList) -> Vec<WorkerSpanStats> {
    let l = batch.n_labels().max(1);
    // Per worker: [label] matched, marked, consolidated-on-answered; near misses.
    let mut matched = vec![0u64; batch.n_workers() * l];
    let mut given = vec![0u64; batch.n_workers() * l];
    let mut truth = vec![0u64; batch.n_workers() * l];
    let mut near = vec![0u64; batch.n_workers()];
    let mut responses = vec![0usize; batch.n_workers()];
    for i in 0..batch.n_items() {
        let cons = list.item_offsets[i]..list.item_offsets[i + 1];
        for r in batch.responses(i) {
            let w = batch.response_worker[r] as usize;
            responses[w] += 1;
            for k in cons.clone() {
                truth[w * l + list.label[k] as usize] += 1;
            }
            for s in batch.spans(r) {
                let (a, b, lab) = (batch.span_start[s], batch.span_end[s], batch.span_label[s]);
                given[w * l + lab as usize] += 1;
                let mut exact = false;
                let mut overlap = false;
                for k in cons.clone() {
                    if list.label[k] != lab || list.start[k] >= b || a >= list.end[k] {
                        continue;
                    }
                    if list.start[k] == a && list.end[k] == b {
                        exact = true;
                    } else {
                        overlap = true;
                    }
                }
                if exact {
                    matched[w * l + lab as usize] += 1;
                } else if overlap {
                    near[w] += 1;
                }
            }
        }
    }
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            f32::NAN
        } else {
            a as f32 / b as f32
        }
    };
    (0..batch.n_workers())
        .map(|w| {
            let spans: u64 = given[w * l..(w + 1) * l].iter().sum();
            WorkerSpanStats {
                responses: responses[w],
                spans: spans as usize,
                precision: (0..batch.n_labels())
                    .map(|c| ratio(matched[w * l + c], given[w * l + c]))
                    .collect(),
                recall: (0..batch.n_labels())
                    .map(|c| ratio(matched[w * l + c], truth[w * l + c]))
                    .collect(),
                boundary_error: ratio(near[w], spans),
            }
        })
        .collect()
}

/// The indices of a heaviest set of pairwise non-overlapping intervals
/// `(start, end, weight)` (weighted interval scheduling), in start order.
/// Ties keep the earlier-ending choice.
pub(crate) fn non_overlapping(intervals: &[(u32, u32, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by_key(|&k| (intervals[k].1, intervals[k].0));
    let ends: Vec<u32> = order.iter().map(|&k| intervals[k].1).collect();
    let mut best = vec![0.0f64; order.len() + 1];
    let mut take = vec![false; order.len() + 1];
    for (n, &k) in order.iter().enumerate() {
        let (s, _, w) = intervals[k];
        let before = ends[..n].partition_point(|&e| e <= s);
        let with = best[before] + w;
        if with > best[n] {
            best[n + 1] = with;
            take[n + 1] = true;
        } else {
            best[n + 1] = best[n];
        }
    }
    let mut chosen = Vec::new();
    let mut n = order.len();
    while n > 0 {
        if take[n] {
            let k = order[n - 1];
            chosen.push(k);
            n = ends[..n - 1].partition_point(|&e| e <= intervals[k].0);
        } else {
            n -= 1;
        }
    }
    chosen.sort_by_key(|&k| (intervals[k].0, intervals[k].1));
    chosen
}

#[cfg(test)]
mod tests {
    use super::non_overlapping;

    #[test]
    fn interval_scheduling_takes_the_heaviest_compatible_set() {
        // [0,5) w2 overlaps [3,8) w3 and [6,9) w2 overlaps [3,8) too.
        let iv = [(0, 5, 2.0), (3, 8, 3.0), (6, 9, 2.0)];
        assert_eq!(non_overlapping(&iv), [0, 2]);
        assert_eq!(non_overlapping(&[(0, 5, 1.0), (0, 5, 2.0)]), [1]);
        assert!(non_overlapping(&[]).is_empty());
    }
}
