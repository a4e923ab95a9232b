//! Tokens and BIO tags, for the methods that work token by token
//! (`token-mv`, `seq`).
//!
//! A text's tokens are its words, runs of non-whitespace characters
//! ([`Tokens::Words`], the default): a worker's span marks every word it
//! touches, so a selection that stops inside a word (`Russia` in
//! `Russian`, `U.S` in `U.S.`) counts as the whole word, and consolidated
//! spans are whole words. With [`Tokens::Boundaries`] the words are cut
//! again at every offset where some worker's span starts or ends, so every
//! worker's span is a whole number of tokens and the consolidated spans
//! can take any boundary a worker chose. Either way a span's leading or
//! trailing whitespace is part of no token, and a span of whitespace only
//! marks nothing.
//!
//! Tags: 0 is `O`; label `l` has `B` = `1 + 2l` and `I` = `2 + 2l`.

use crate::engine::pack::spans::SpanBatch;

/// What the token methods take as tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Tokens {
    /// Whitespace-separated words; a span marks every word it touches.
    #[default]
    Words,
    /// Words cut at every worker's span boundary; a span marks the tokens inside it.
    Boundaries,
}

/// The `B` tag of label `l`.
#[inline]
pub fn b_tag(label: u32) -> u16 {
    (1 + 2 * label) as u16
}

/// The label of an entity tag (`B` or `I`); `None` for `O`.
#[inline]
pub fn tag_label(tag: u16) -> Option<u32> {
    (tag != 0).then(|| (tag as u32 - 1) / 2)
}

/// Whether an entity tag is a `B`.
#[inline]
pub fn is_begin(tag: u16) -> bool {
    tag != 0 && (tag - 1) % 2 == 0
}

/// Every item's tokens and every response's tags, as CSR arrays.
#[derive(Debug, Clone, Default)]
pub struct Tagged {
    /// CSR by item into `token_start`/`token_end`.
    pub token_offsets: Vec<usize>,
    /// Each token's first code point.
    pub token_start: Vec<u32>,
    /// Each token's end (exclusive).
    pub token_end: Vec<u32>,
    /// Each response's tags start at `tag_offsets[r]`, one per token of its item.
    pub tag_offsets: Vec<usize>,
    /// The tags, response by response.
    pub tags: Vec<u16>,
}

impl Tagged {
    /// The tokens of item `i`.
    pub fn tokens(&self, i: usize) -> std::ops::Range<usize> {
        self.token_offsets[i]..self.token_offsets[i + 1]
    }

    /// The tags of response `r` (of an item with `n` tokens).
    pub fn tags_of(&self, r: usize, n: usize) -> &[u16] {
        &self.tags[self.tag_offsets[r]..self.tag_offsets[r] + n]
    }
}

/// Tokens of item `item` (code-point ranges).
pub fn tokenize(
    batch: &SpanBatch,
    item: usize,
    mode: Tokens,
    starts: &mut Vec<u32>,
    ends: &mut Vec<u32>,
) {
    let mut cuts: Vec<u32> = Vec::new();
    for r in batch.responses(item).filter(|_| mode == Tokens::Boundaries) {
        for s in batch.spans(r) {
            cuts.push(batch.span_start[s]);
            cuts.push(batch.span_end[s]);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut next_cut = cuts.iter().copied().peekable();
    let mut token: Option<u32> = None;
    let mut at = 0u32;
    for c in batch.texts[item].chars() {
        while next_cut.peek().is_some_and(|&k| k < at) {
            next_cut.next();
        }
        let cut_here = next_cut.peek() == Some(&at);
        if c.is_whitespace() {
            if let Some(s) = token.take() {
                starts.push(s);
                ends.push(at);
            }
        } else {
            if cut_here {
                if let Some(s) = token.take() {
                    starts.push(s);
                    ends.push(at);
                }
            }
            if token.is_none() {
                token = Some(at);
            }
        }
        at += 1;
    }
    if let Some(s) = token {
        starts.push(s);
        ends.push(at);
    }
}

/// Tokenizes every item and tags every response. A worker's spans that
/// overlap each other: the first (by start) keeps the shared tokens.
pub fn tag_all(batch: &SpanBatch, mode: Tokens) -> Tagged {
    use rayon::prelude::*;
    // Flat arrays per run of items (a few runs per thread), joined in
    // order: one allocation per run, not three per text (fresh pages are
    // dear).
    let runs: Vec<Tagged> = crate::spans::methods::token_mv::chunk_ranges(batch.n_items())
        .into_par_iter()
        .map(|items| {
            let mut part = Tagged::default();
            part.token_offsets.push(0);
            for i in items {
                let first = part.token_start.len();
                tokenize(batch, i, mode, &mut part.token_start, &mut part.token_end);
                let (starts, ends) = (&part.token_start[first..], &part.token_end[first..]);
                let n = starts.len();
                for r in batch.responses(i) {
                    let at = part.tags.len();
                    part.tag_offsets.push(at);
                    part.tags.resize(at + n, 0);
                    tag_response(batch, r, starts, ends, &mut part.tags[at..]);
                }
                part.token_offsets.push(part.token_start.len());
            }
            part
        })
        .collect();
    let mut out = Tagged {
        token_offsets: Vec::with_capacity(batch.n_items() + 1),
        tag_offsets: Vec::with_capacity(batch.n_responses()),
        token_start: Vec::with_capacity(runs.iter().map(|p| p.token_start.len()).sum()),
        token_end: Vec::with_capacity(runs.iter().map(|p| p.token_end.len()).sum()),
        tags: Vec::with_capacity(runs.iter().map(|p| p.tags.len()).sum()),
    };
    out.token_offsets.push(0);
    for part in runs {
        let (tokens, tags) = (out.token_start.len(), out.tags.len());
        out.token_offsets
            .extend(part.token_offsets[1..].iter().map(|o| o + tokens));
        out.tag_offsets
            .extend(part.tag_offsets.iter().map(|o| o + tags));
        out.token_start.extend_from_slice(&part.token_start);
        out.token_end.extend_from_slice(&part.token_end);
        out.tags.extend_from_slice(&part.tags);
    }
    out
}

/// Response `r`'s tags over the tokens `starts`/`ends`.
fn tag_response(batch: &SpanBatch, r: usize, starts: &[u32], ends: &[u32], row: &mut [u16]) {
    for s in batch.spans(r) {
        let (a, b, label) = (batch.span_start[s], batch.span_end[s], batch.span_label[s]);
        // The first token that ends after the span starts; with cuts at
        // every boundary it starts inside the span too.
        let first = ends.partition_point(|&t| t <= a);
        let mut began = false;
        for t in first..starts.len() {
            if starts[t] >= b {
                break;
            }
            if row[t] != 0 {
                // An earlier span of this worker holds the token.
                if began {
                    break;
                }
                continue;
            }
            row[t] = if began {
                b_tag(label) + 1
            } else {
                b_tag(label)
            };
            began = true;
        }
    }
}

/// Spans of a tag sequence as CoNLL reads it: `B-l` starts a span, `I-l`
/// continues a span of label `l` and otherwise starts one, `O` ends it.
/// Yields `(first token, end token exclusive, label)`.
pub fn decode(tags: &[u16], mut emit: impl FnMut(usize, usize, u32)) {
    let mut open: Option<(usize, u32)> = None;
    for (t, &tag) in tags.iter().enumerate() {
        match tag_label(tag) {
            None => {
                if let Some((s, l)) = open.take() {
                    emit(s, t, l);
                }
            }
            Some(l) => {
                let continues = !is_begin(tag) && open.is_some_and(|(_, ol)| ol == l);
                if !continues {
                    if let Some((s, ol)) = open.take() {
                        emit(s, t, ol);
                    }
                    open = Some((t, l));
                }
            }
        }
    }
    if let Some((s, l)) = open {
        emit(s, tags.len(), l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::spans::SpanBuilder;

    #[test]
    fn tokens_cut_at_whitespace_and_at_every_worker_boundary() {
        let mut b = SpanBuilder::new();
        let i = b.text("t", "Russian  troops , U.S.").unwrap();
        let r = b.response(i, "w").unwrap();
        let loc = b.label("LOC").unwrap();
        b.span(r, 0, 6, loc); // "Russia" inside "Russian"
        b.span(r, 18, 21, loc); // "U.S" without the final dot
        let batch = b.finish();
        let tagged = tag_all(&batch, Tokens::Boundaries);
        let toks: Vec<(u32, u32)> = tagged
            .tokens(0)
            .map(|t| (tagged.token_start[t], tagged.token_end[t]))
            .collect();
        assert_eq!(
            toks,
            [(0, 6), (6, 7), (9, 15), (16, 17), (18, 21), (21, 22)]
        );
        assert_eq!(tagged.tags_of(0, 6), [1, 0, 0, 0, 1, 0]);
        let words = tag_all(&batch, Tokens::Words);
        assert_eq!(words.token_end, [7, 15, 17, 22]);
        assert_eq!(
            words.tags_of(0, 4),
            [1, 0, 0, 1],
            "a span marks the words it touches"
        );
    }

    #[test]
    fn decoding_reads_bio_as_conlleval() {
        let mut got = Vec::new();
        // B-0 I-0 I-1 O I-0 B-0 B-0
        decode(&[1, 2, 4, 0, 2, 1, 1], |s, e, l| got.push((s, e, l)));
        assert_eq!(got, [(0, 2, 0), (2, 3, 1), (4, 5, 0), (5, 6, 0), (6, 7, 0)]);
    }
}
