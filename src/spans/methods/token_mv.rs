//! `token-mv`: each token takes the plurality of the workers' BIO tags (a
//! worker who answered the text and marked nothing there votes `O`); ties
//! go to `O` when it is among them, else to the lowest tag. Spans are read
//! from the tags as CoNLL does. A span's confidence is the mean share of
//! the text's workers who voted its tags.

use rayon::prelude::*;

use super::SpanList;
use crate::engine::pack::spans::SpanBatch;
use crate::spans::tokens::{decode, tag_all, Tokens};

/// Token-level plurality.
pub(crate) fn fit(batch: &SpanBatch, tokens: Tokens) -> SpanList {
    let tagged = tag_all(batch, tokens);
    let n_tags = 2 * batch.n_labels() + 1;
    let chunks = chunk_ranges(batch.n_items());
    let parts: Vec<SpanList> = chunks
        .into_par_iter()
        .map(|items| {
            let mut list = SpanList::new(0);
            let mut counts = vec![0u32; n_tags];
            let (mut tags, mut share) = (Vec::new(), Vec::new());
            for i in items {
                let tokens = tagged.tokens(i);
                let n = tokens.len();
                let responses = batch.responses(i);
                let voters = responses.len().max(1) as f32;
                tags.clear();
                share.clear();
                for t in 0..n {
                    counts.iter_mut().for_each(|c| *c = 0);
                    for r in responses.clone() {
                        counts[tagged.tags_of(r, n)[t] as usize] += 1;
                    }
                    let top = *counts.iter().max().unwrap_or(&0);
                    let winner = if counts[0] == top {
                        0
                    } else {
                        counts.iter().position(|&c| c == top).unwrap_or(0)
                    };
                    tags.push(winner as u16);
                    share.push(top as f32 / voters);
                }
                if !responses.is_empty() {
                    let first = tokens.start;
                    decode(&tags, |s, e, l| {
                        let confidence = share[s..e].iter().sum::<f32>() / (e - s) as f32;
                        list.push(
                            tagged.token_start[first + s],
                            tagged.token_end[first + e - 1],
                            l,
                            confidence,
                        );
                    });
                }
                list.end_item();
            }
            list
        })
        .collect();
    let mut out = SpanList::new(batch.n_items());
    for part in parts {
        out.extend(part);
    }
    out
}

/// Item ranges for the threads: a few per thread, in order.
pub(crate) fn chunk_ranges(items: usize) -> Vec<std::ops::Range<usize>> {
    let chunks = (rayon::current_num_threads() * 4).min(items.max(1));
    let size = items.div_ceil(chunks).max(1);
    (0..items)
        .step_by(size)
        .map(|s| s..(s + size).min(items))
        .collect()
}
