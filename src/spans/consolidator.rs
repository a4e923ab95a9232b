//! The front door for spans: parameters with the CLI's defaults, a checked
//! fit, and a result that speaks in names.

use super::{fit, SpanConsolidation, SpanMethod, SpanParams};
use crate::engine::pack::spans::{SpanBatch, SpanBuilder};
use crate::error::{Error, Result};

/// Consolidates named-entity spans: one set of labelled spans per text.
///
/// Defaults are the CLI's: `seq`, 50 iterations, quorum 0.5 (`jaccard`).
///
/// ```
/// use accord::spans::{SpanConsolidator, SpanMethod};
///
/// // Three workers read one text; two mark "Ada Lovelace", one only "Ada".
/// let text = "Ada Lovelace wrote in London";
/// let texts = [("t1", text)];
/// let spans = [
///     ("t1", "w1", 0, 12, "PER"), ("t1", "w1", 22, 28, "LOC"),
///     ("t1", "w2", 0, 12, "PER"), ("t1", "w2", 22, 28, "LOC"),
///     ("t1", "w3", 0, 3, "PER"),
/// ];
/// let answered = [("t1", "w1"), ("t1", "w2"), ("t1", "w3")];
/// let labels = SpanConsolidator::new()
///     .method(SpanMethod::TokenMv)
///     .fit(texts, answered, spans)
///     .unwrap();
/// let found: Vec<(&str, u32, u32, &str)> = labels
///     .spans()
///     .map(|s| (s.item, s.start, s.end, s.label))
///     .collect();
/// assert_eq!(found, [("t1", 0, 12, "PER"), ("t1", 22, 28, "LOC")]);
/// ```
#[derive(Debug, Clone)]
pub struct SpanConsolidator {
    params: SpanParams,
    categories: Option<Vec<String>>,
}

impl Default for SpanConsolidator {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanConsolidator {
    /// The default method (`seq`) with its defaults.
    pub fn new() -> Self {
        Self::with_params(SpanParams::new(SpanMethod::default()))
    }

    /// Starts from `params` as they are.
    pub fn with_params(params: SpanParams) -> Self {
        SpanConsolidator {
            params,
            categories: None,
        }
    }

    /// Uses `method` (the other parameters stay).
    pub fn method(mut self, method: SpanMethod) -> Self {
        self.params.method = method;
        self
    }

    /// `seq`: most EM iterations.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.params.max_iter = max_iter;
        self
    }

    /// `seq`: stopping tolerance on `|ΔLL| / |LL|`.
    pub fn tol(mut self, tol: f64) -> Self {
        self.params.tol = tol;
        self
    }

    /// `seq`: make the true tag chain obey BIO (`I-L` only after `B-L` or `I-L`).
    pub fn strict_bio(mut self, strict: bool) -> Self {
        self.params.strict_bio = strict;
        self
    }

    /// `seq`: iterations without a new low in changed decisions before EM
    /// stops (0: off).
    pub fn patience(mut self, patience: usize) -> Self {
        self.params.patience = patience;
        self
    }

    /// `jaccard`: the share of a text's workers a cluster needs.
    pub fn quorum(mut self, quorum: f64) -> Self {
        self.params.quorum = quorum;
        self
    }

    /// `jaccard`: the similarity at which two spans join a cluster.
    pub fn jaccard_threshold(mut self, threshold: f64) -> Self {
        self.params.jaccard_threshold = threshold;
        self
    }

    /// `jaccard`: seed of the random choice among tied labels.
    pub fn seed(mut self, seed: u64) -> Self {
        self.params.seed = seed;
        self
    }

    /// The label set, in this order, for [`SpanConsolidator::fit`]; any
    /// other label is an error. Without it the labels found, sorted.
    pub fn categories(mut self, categories: Vec<String>) -> Self {
        self.categories = Some(categories);
        self
    }

    /// The parameters a fit will use.
    pub fn params(&self) -> &SpanParams {
        &self.params
    }

    /// Consolidates data held in memory: `texts` as `(item, text)`,
    /// `answered` as `(item, worker)` for every answer (empty ones too) and
    /// `spans` as `(item, worker, start, end, label)`, offsets in code
    /// points, end exclusive. A span implies its worker answered.
    pub fn fit<'a>(
        &self,
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
        answered: impl IntoIterator<Item = (&'a str, &'a str)>,
        spans: impl IntoIterator<Item = (&'a str, &'a str, u32, u32, &'a str)>,
    ) -> Result<SpanLabels> {
        self.params.validate()?;
        let mut b = match &self.categories {
            Some(c) => SpanBuilder::with_categories(c)?,
            None => SpanBuilder::new(),
        };
        let bad = |what: &str, n: usize, problem: String| {
            Error::invalid_param("spans", format!("has a bad {what} at index {n}: {problem}"))
        };
        for (n, (item, text)) in texts.into_iter().enumerate() {
            b.text(item, text).map_err(|p| bad("text", n, p))?;
        }
        let item_of = |b: &SpanBuilder, item: &str, what: &str, n: usize| {
            b.item(item)
                .ok_or_else(|| bad(what, n, format!("no text for item {item:?}")))
        };
        for (n, (item, worker)) in answered.into_iter().enumerate() {
            let i = item_of(&b, item, "answer", n)?;
            b.response(i, worker).map_err(|p| bad("answer", n, p))?;
        }
        for (n, (item, worker, start, end, label)) in spans.into_iter().enumerate() {
            let i = item_of(&b, item, "span", n)?;
            b.check_offsets(i, start as u64, end as u64)
                .map_err(|p| bad("span", n, p))?;
            let l = b.label(label).map_err(|p| bad("span", n, p))?;
            let r = b.response(i, worker).map_err(|p| bad("span", n, p))?;
            b.span(r, start, end, l);
        }
        self.fit_batch(b.finish())
    }

    /// Consolidates a batch a reader built.
    pub fn fit_batch(&self, batch: SpanBatch) -> Result<SpanLabels> {
        let fit = fit(&batch, &self.params)?;
        Ok(SpanLabels { batch, fit })
    }
}

/// A span result with the input's names.
#[derive(Debug, Clone)]
pub struct SpanLabels {
    /// The input, as packed.
    pub batch: SpanBatch,
    /// The fit, by dense ids.
    pub fit: SpanConsolidation,
}

/// One consolidated span, in names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextSpan<'a> {
    /// The text's id.
    pub item: &'a str,
    /// First code point.
    pub start: u32,
    /// End (exclusive), in code points.
    pub end: u32,
    /// The label.
    pub label: &'a str,
    /// Confidence, in [0, 1].
    pub confidence: f32,
    /// Workers who marked exactly this span.
    pub support: u32,
    /// Workers who answered the text.
    pub answered: usize,
}

impl SpanLabels {
    /// Every consolidated span, text by text, by start.
    pub fn spans(&self) -> impl Iterator<Item = TextSpan<'_>> + '_ {
        (0..self.batch.n_items()).flat_map(move |i| self.spans_of(i))
    }

    /// The spans of item `i` (an id in [`SpanBatch::item_names`] order).
    pub fn spans_of(&self, i: usize) -> impl Iterator<Item = TextSpan<'_>> + '_ {
        let f = &self.fit;
        f.spans(i).map(move |k| TextSpan {
            item: self.batch.item_names.get(i),
            start: f.start[k],
            end: f.end[k],
            label: &self.batch.label_names[f.label[k] as usize],
            confidence: f.confidence[k],
            support: f.support[k],
            answered: self.batch.responses(i).len(),
        })
    }
}
