//! Text spans laid out for the span methods: items (texts) with their
//! responses (one per worker who answered, empty answers included) and each
//! response's spans, as CSR arrays of dense ids. Offsets are Unicode code
//! points, end exclusive; readers convert other units before pushing.

use super::{check_id, Interner, Names};
use crate::error::Result;

/// Spans by text and worker, ready for the span methods.
#[derive(Debug, Clone, Default)]
pub struct SpanBatch {
    /// Item (text) names, in first-seen order.
    pub item_names: Names,
    /// Worker names, in first-seen order.
    pub worker_names: Names,
    /// Label names, in label-id order (`categories` order, or sorted).
    pub label_names: Vec<String>,
    /// Each item's text.
    pub texts: Vec<String>,
    /// Each item's length in code points.
    pub text_chars: Vec<u32>,
    /// CSR by item: the responses of item `i` are
    /// `item_offsets[i]..item_offsets[i + 1]`.
    pub item_offsets: Vec<usize>,
    /// Each response's worker.
    pub response_worker: Vec<u32>,
    /// CSR by response: its spans are
    /// `response_offsets[r]..response_offsets[r + 1]`, sorted by start, end, label.
    pub response_offsets: Vec<usize>,
    /// Each span's first code point.
    pub span_start: Vec<u32>,
    /// Each span's end (exclusive).
    pub span_end: Vec<u32>,
    /// Each span's label id.
    pub span_label: Vec<u32>,
    /// Spans given twice by the same worker on the same text (kept once).
    pub repeated_spans: usize,
}

impl SpanBatch {
    /// Number of items (texts).
    pub fn n_items(&self) -> usize {
        self.texts.len()
    }

    /// Number of workers.
    pub fn n_workers(&self) -> usize {
        self.worker_names.len()
    }

    /// Number of labels.
    pub fn n_labels(&self) -> usize {
        self.label_names.len()
    }

    /// Number of responses (worker answers, empty ones included).
    pub fn n_responses(&self) -> usize {
        self.response_worker.len()
    }

    /// Number of spans.
    pub fn n_spans(&self) -> usize {
        self.span_start.len()
    }

    /// The responses of item `i`.
    pub fn responses(&self, i: usize) -> std::ops::Range<usize> {
        self.item_offsets[i]..self.item_offsets[i + 1]
    }

    /// The spans of response `r`.
    pub fn spans(&self, r: usize) -> std::ops::Range<usize> {
        self.response_offsets[r]..self.response_offsets[r + 1]
    }
}

/// One span of a response, as pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct PendingSpan {
    response: u32,
    start: u32,
    end: u32,
    label: u32,
}

/// Builds a [`SpanBatch`] from texts, responses and spans in any order.
#[derive(Debug, Default)]
pub struct SpanBuilder {
    items: Interner,
    workers: Interner,
    labels: Interner,
    categories_fixed: bool,
    texts: Vec<String>,
    text_chars: Vec<u32>,
    /// (item, worker) of each response, in first-seen order.
    responses: Vec<(u32, u32)>,
    response_of: hashbrown::HashMap<(u32, u32), u32>,
    spans: Vec<PendingSpan>,
}

impl SpanBuilder {
    /// A builder that learns the label set from the data (sorted at the end).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose label set is `categories`, in that order.
    pub fn with_categories(categories: &[String]) -> Result<Self> {
        Ok(Self {
            categories_fixed: true,
            labels: Interner::from_categories(categories)?,
            ..Self::default()
        })
    }

    /// Adds a text. The error is the problem only; readers add where.
    pub fn text(&mut self, item: &str, text: &str) -> std::result::Result<u32, String> {
        check_id("item", item)?;
        if self.items.get(item).is_some() {
            return Err(format!("item {item:?} has a text already"));
        }
        let id = self.items.intern(item);
        self.texts.push(text.to_owned());
        let chars = text.chars().count();
        self.text_chars.push(u32::try_from(chars).map_err(|_| {
            format!("the text of {item:?} has {chars} characters; at most 4294967295 are accepted")
        })?);
        Ok(id)
    }

    /// The id of an item whose text was added.
    pub fn item(&self, item: &str) -> Option<u32> {
        self.items.get(item)
    }

    /// The text of item `id`.
    pub fn text_of(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }

    /// Records that `worker` answered item `item` (possibly with no span);
    /// answering twice is one response.
    pub fn response(&mut self, item: u32, worker: &str) -> std::result::Result<u32, String> {
        check_id("worker", worker)?;
        let w = self.workers.intern(worker);
        let next = self.responses.len() as u32;
        let r = *self.response_of.entry((item, w)).or_insert(next);
        if r == next {
            self.responses.push((item, w));
        }
        Ok(r)
    }

    /// Whether `worker` has a response on `item` already.
    pub fn has_response(&self, item: u32, worker: &str) -> bool {
        self.workers
            .get(worker)
            .is_some_and(|w| self.response_of.contains_key(&(item, w)))
    }

    /// The id of a label: looked up in the fixed categories, or interned.
    pub fn label(&mut self, label: &str) -> std::result::Result<u32, String> {
        if label.is_empty() {
            return Err("empty label".into());
        }
        if self.categories_fixed {
            self.labels.get(label).ok_or_else(|| {
                format!(
                    "label {label:?} is not one of `categories` ({})",
                    self.labels.names().to_vec().join(",")
                )
            })
        } else {
            Ok(self.labels.intern(label))
        }
    }

    /// Checks a span's code-point offsets against item `item`'s text.
    pub fn check_offsets(
        &self,
        item: u32,
        start: u64,
        end: u64,
    ) -> std::result::Result<(), String> {
        let len = self.text_chars[item as usize] as u64;
        if start >= end {
            return Err(format!(
                "start {start} is not before end {end} (end is exclusive; a span holds at least one character)"
            ));
        }
        if end > len {
            return Err(format!(
                "end {end} is beyond the text, which has {len} characters"
            ));
        }
        Ok(())
    }

    /// Adds a span (code points, checked with [`SpanBuilder::check_offsets`])
    /// to response `response`.
    pub fn span(&mut self, response: u32, start: u32, end: u32, label: u32) {
        self.spans.push(PendingSpan {
            response,
            start,
            end,
            label,
        });
    }

    /// Lays the data out by item, response and span.
    pub fn finish(self) -> SpanBatch {
        let n_items = self.texts.len();
        // Labels sorted unless fixed by `categories`.
        let names: Vec<String> = self.labels.names().to_vec();
        let (label_names, remap): (Vec<String>, Vec<u32>) = if self.categories_fixed {
            let ids = (0..names.len() as u32).collect();
            (names, ids)
        } else {
            let mut order: Vec<usize> = (0..names.len()).collect();
            order.sort_by(|&a, &b| names[a].cmp(&names[b]));
            let mut remap = vec![0u32; names.len()];
            for (new, &old) in order.iter().enumerate() {
                remap[old] = new as u32;
            }
            (order.iter().map(|&i| names[i].clone()).collect(), remap)
        };
        // Responses grouped by item, in first-seen order within an item.
        let mut order: Vec<u32> = (0..self.responses.len() as u32).collect();
        order.sort_by_key(|&r| self.responses[r as usize].0);
        let mut new_id = vec![0u32; self.responses.len()];
        for (new, &old) in order.iter().enumerate() {
            new_id[old as usize] = new as u32;
        }
        let mut item_offsets = vec![0usize; n_items + 1];
        for &(item, _) in &self.responses {
            item_offsets[item as usize + 1] += 1;
        }
        for i in 0..n_items {
            item_offsets[i + 1] += item_offsets[i];
        }
        let response_worker: Vec<u32> = order
            .iter()
            .map(|&r| self.responses[r as usize].1)
            .collect();
        let mut spans: Vec<PendingSpan> = self
            .spans
            .into_iter()
            .map(|s| PendingSpan {
                response: new_id[s.response as usize],
                label: remap[s.label as usize],
                ..s
            })
            .collect();
        spans.sort_unstable();
        let before = spans.len();
        spans.dedup();
        let repeated_spans = before - spans.len();
        let mut response_offsets = vec![0usize; response_worker.len() + 1];
        for s in &spans {
            response_offsets[s.response as usize + 1] += 1;
        }
        for r in 0..response_worker.len() {
            response_offsets[r + 1] += response_offsets[r];
        }
        SpanBatch {
            item_names: self.items.into_names(),
            worker_names: self.workers.into_names(),
            label_names,
            texts: self.texts,
            text_chars: self.text_chars,
            item_offsets,
            response_worker,
            response_offsets,
            span_start: spans.iter().map(|s| s.start).collect(),
            span_end: spans.iter().map(|s| s.end).collect(),
            span_label: spans.iter().map(|s| s.label).collect(),
            repeated_spans,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_group_by_item_and_spans_sort_and_dedupe() {
        let mut b = SpanBuilder::new();
        let a = b.text("a", "Paris is in France").unwrap();
        let c = b.text("c", "Bob").unwrap();
        let r1 = b.response(a, "w1").unwrap();
        let r2 = b.response(c, "w2").unwrap();
        let r3 = b.response(a, "w2").unwrap();
        assert_eq!(b.response(a, "w1").unwrap(), r1);
        let loc = b.label("LOC").unwrap();
        let per = b.label("PER").unwrap();
        b.span(r1, 12, 18, loc);
        b.span(r1, 0, 5, loc);
        b.span(r1, 0, 5, loc);
        b.span(r2, 0, 3, per);
        let _ = r3;
        assert!(b.check_offsets(a, 5, 5).is_err());
        assert!(b.check_offsets(a, 0, 19).is_err());
        let batch = b.finish();
        assert_eq!(batch.item_offsets, [0, 2, 3]);
        assert_eq!(batch.repeated_spans, 1);
        assert_eq!(batch.spans(0), 0..2);
        assert_eq!(batch.span_start[..2], [0, 12]);
        assert_eq!(batch.spans(1), 2..2, "w2 answered a with no span");
        assert_eq!(batch.label_names, ["LOC", "PER"]);
    }
}
