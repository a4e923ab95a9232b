//! `jaccard`, Ground Truth's named-entity consolidation: "clusters text
//! selections by Jaccard similarity and calculates selection boundaries
//! based on the mode, or the median if the mode isn't clear; the label
//! resolves to the most assigned entity label in the cluster, breaking ties
//! by random selection."
//!
//! Here: two spans of different workers on a text are linked when the
//! Jaccard similarity of their character ranges (shared characters over
//! characters in either) is at least `jaccard_threshold` (default 0.5); a
//! cluster is a connected set of links, whatever the labels. Its boundaries
//! are the most frequent `(start, end)` pair when one pair is strictly most
//! frequent, else the lower median start and the lower median end; its
//! label the most frequent label, ties drawn with `seed`. A cluster is kept
//! when at least `quorum` (default 0.5) of the workers who answered the
//! text have a span in it. Kept spans that still overlap are settled by
//! keeping the set with the most workers behind it (weighted interval
//! scheduling), so the output never overlaps. Confidence: the share of the
//! text's workers who gave the cluster's label.

use rayon::prelude::*;

use super::token_mv::chunk_ranges;
use super::{non_overlapping, SpanList, SpanParams};
use crate::engine::pack::spans::SpanBatch;
use crate::maths::{name_key, tie_draw};

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Ground Truth's clustering.
pub(crate) fn fit(batch: &SpanBatch, params: &SpanParams) -> SpanList {
    let parts: Vec<SpanList> = chunk_ranges(batch.n_items())
        .into_par_iter()
        .map(|items| {
            let mut list = SpanList::new(0);
            for i in items {
                consolidate_item(batch, params, i, &mut list);
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

fn consolidate_item(batch: &SpanBatch, params: &SpanParams, i: usize, list: &mut SpanList) {
    // (start, end, label, worker) of every span on the text, by start.
    let mut spans: Vec<(u32, u32, u32, u32)> = Vec::new();
    for r in batch.responses(i) {
        for s in batch.spans(r) {
            spans.push((
                batch.span_start[s],
                batch.span_end[s],
                batch.span_label[s],
                batch.response_worker[r],
            ));
        }
    }
    if spans.is_empty() {
        return;
    }
    spans.sort_unstable();
    let n = spans.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for a in 0..n {
        for b in a + 1..n {
            let (sa, ea, _, wa) = spans[a];
            let (sb, eb, _, wb) = spans[b];
            if sb >= ea {
                break; // sorted by start: no later span overlaps `a`
            }
            if wa == wb {
                continue;
            }
            let shared = ea.min(eb) - sb.max(sa);
            let either = ea.max(eb) - sa.min(sb);
            if shared as f64 >= params.jaccard_threshold * either as f64 {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut members: Vec<(usize, usize)> = (0..n).map(|k| (find(&mut parent, k), k)).collect();
    members.sort_unstable();
    let answered = batch.responses(i).len() as f64;
    let item_key = name_key(batch.item_names.get(i));
    // (start, end, label, workers, confidence) of the kept clusters.
    let mut kept: Vec<(u32, u32, u32, f64, f32)> = Vec::new();
    for cluster in members.chunk_by(|x, y| x.0 == y.0) {
        let mut workers: Vec<u32> = cluster.iter().map(|&(_, k)| spans[k].3).collect();
        workers.sort_unstable();
        workers.dedup();
        if (workers.len() as f64) < params.quorum * answered - 1e-9 {
            continue;
        }
        let mut pairs: Vec<(u32, u32)> = cluster
            .iter()
            .map(|&(_, k)| (spans[k].0, spans[k].1))
            .collect();
        pairs.sort_unstable();
        let (start, end) = match strict_mode(&pairs) {
            Some(p) => p,
            None => {
                let mut starts: Vec<u32> = pairs.iter().map(|p| p.0).collect();
                let mut ends: Vec<u32> = pairs.iter().map(|p| p.1).collect();
                starts.sort_unstable();
                ends.sort_unstable();
                (starts[(starts.len() - 1) / 2], ends[(ends.len() - 1) / 2])
            }
        };
        if start >= end {
            continue; // medians of disjoint pieces can cross; no span left
        }
        let mut labels: Vec<u32> = cluster.iter().map(|&(_, k)| spans[k].2).collect();
        labels.sort_unstable();
        let mut best: Vec<(u32, usize)> = Vec::new();
        for run in labels.chunk_by(|a, b| a == b) {
            match best.first() {
                Some(&(_, c)) if run.len() < c => {}
                Some(&(_, c)) if run.len() == c => best.push((run[0], c)),
                _ => best = vec![(run[0], run.len())],
            }
        }
        let draw = tie_draw(
            params.seed as u32,
            item_key ^ start.wrapping_mul(0x9E37_79B9),
        );
        let label = best[draw as usize % best.len()].0;
        let mut voters: Vec<u32> = cluster
            .iter()
            .filter(|&&(_, k)| spans[k].2 == label)
            .map(|&(_, k)| spans[k].3)
            .collect();
        voters.sort_unstable();
        voters.dedup();
        kept.push((
            start,
            end,
            label,
            workers.len() as f64,
            (voters.len() as f64 / answered) as f32,
        ));
    }
    kept.sort_by_key(|k| (k.0, k.1));
    let chosen = non_overlapping(&kept.iter().map(|k| (k.0, k.1, k.3)).collect::<Vec<_>>());
    for k in chosen {
        let (s, e, l, _, c) = kept[k];
        list.push(s, e, l, c);
    }
}

/// The most frequent value of sorted `values`, if strictly most frequent.
fn strict_mode(values: &[(u32, u32)]) -> Option<(u32, u32)> {
    let mut best: Option<((u32, u32), usize)> = None;
    let mut tied = false;
    for run in values.chunk_by(|a, b| a == b) {
        match best {
            Some((_, c)) if run.len() < c => {}
            Some((_, c)) if run.len() == c => tied = true,
            _ => {
                best = Some((run[0], run.len()));
                tied = false;
            }
        }
    }
    if tied {
        None
    } else {
        best.map(|b| b.0)
    }
}
