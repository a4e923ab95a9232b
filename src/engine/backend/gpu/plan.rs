//! Splits packed annotations into chunks of items whose every buffer fits one
//! binding, and lays out each chunk's by-worker view as segments and runs for
//! the two-pass M-step. Pure host code, testable without a device.

use std::ops::Range;

use crate::engine::pack::Packed;
use crate::error::{Error, Result};

/// Most annotations one M-step thread sums: a worker with more is split into
/// several segments, combined in a second pass.
pub const SEGMENT_LEN: usize = 1024;

/// One chunk of consecutive items and everything its kernels read.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Global item range.
    pub items: Range<usize>,
    /// Global annotation range in the by-item CSR.
    pub annotations: Range<usize>,
    /// By-item offsets rebased to the chunk (length items + 1).
    pub item_offsets: Vec<u32>,
    /// The chunk's annotations grouped by worker (in worker order): each
    /// one's chunk-local item.
    pub wk_item: Vec<u32>,
    /// Each annotation's label, aligned with `wk_item`.
    pub wk_label: Vec<u32>,
    /// Segment s covers `wk_*[segment_start[s]..segment_start[s + 1]]`, one worker each.
    pub segment_start: Vec<u32>,
    /// Run r covers segments `run_start[r]..run_start[r + 1]`, all of worker `run_worker[r]`.
    pub run_start: Vec<u32>,
    /// Each run's global worker id, in increasing order.
    pub run_worker: Vec<u32>,
    /// The item group (see [`crate::engine::pack::Groups`]) all the chunk's
    /// items belong to.
    pub group: usize,
}

impl Chunk {
    /// Items in the chunk.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }
    /// Segments in the chunk (one fewer than `segment_start` holds).
    pub fn n_segments(&self) -> usize {
        self.segment_start.len() - 1
    }
    /// Runs in the chunk: the workers with annotations in it.
    pub fn n_runs(&self) -> usize {
        self.run_worker.len()
    }
}

/// Plans chunks so that every per-chunk buffer holds at most
/// `max_binding_bytes` bytes.
pub fn plan_chunks(data: &Packed, max_binding_bytes: u64) -> Result<Vec<Chunk>> {
    let k = data.n_classes() as u64;
    let max_elems = max_binding_bytes / 4;
    let global = data.n_workers() as u64 * k * k;
    if global > max_elems {
        return Err(Error::Limit(format!(
            "the confusion tables need workers × K × K × 4 = {} × {k} × {k} × 4 = {} bytes, over the GPU's \
             binding limit of {max_binding_bytes} bytes: use `backend` cpu",
            data.n_workers(),
            global * 4
        )));
    }
    // Item ranges, greedily: annotations, posteriors (items × K) and the
    // segment partial sums (segments × K × K) must fit.
    // A chunk never spans two item groups: its E-step reads one group's
    // priors.
    let block = data.groups.item_block(data.n_items());
    let workers = data.n_workers() as u64;
    let mut ranges = Vec::new();
    let mut start = 0usize;
    while start < data.n_items() || (ranges.is_empty() && data.n_items() == 0) {
        let mut end = start;
        let a0 = data.item_offsets[start.min(data.n_items())] as u64;
        let group_end = data.item_group_range(start / block).end;
        while end < group_end {
            let n = (end + 1 - start) as u64;
            let a = data.item_offsets[end + 1] as u64 - a0;
            // Each worker with annotations here has at most
            // ⌈its count / SEGMENT_LEN⌉ ≤ count / SEGMENT_LEN + 1 segments.
            let segments_bound = a.min(workers) + a / SEGMENT_LEN as u64 + 1;
            let fits = n < max_elems
                && a <= max_elems
                && n * k <= max_elems
                && segments_bound * k * k <= max_elems;
            if !fits {
                break;
            }
            end += 1;
        }
        if end == start && data.n_items() > 0 {
            return Err(Error::Limit(format!(
                "item {} alone has {} annotations, too many for the GPU's binding limit of {max_binding_bytes} \
                 bytes: use `backend` cpu",
                if start < data.item_names.len() {
                    format!("{:?}", &data.item_names[start])
                } else {
                    format!("#{start}")
                },
                data.item_range(start).len()
            )));
        }
        ranges.push(start..end);
        start = end;
        if data.n_items() == 0 {
            break;
        }
    }
    // Each chunk leaves K fixed-point (lo, hi) sums in one shared buffer.
    if ranges.len() as u64 * k * 2 > max_elems {
        return Err(Error::Limit(format!(
            "{} chunks of {k} sums do not fit the GPU's binding limit of {max_binding_bytes} bytes: \
             raise {} or use `backend` cpu",
            ranges.len(),
            super::MAX_BINDING_ENV
        )));
    }
    let mut chunks: Vec<Chunk> = ranges
        .into_iter()
        .map(|items| {
            let annotations =
                data.item_offsets[items.start] as usize..data.item_offsets[items.end] as usize;
            let base = data.item_offsets[items.start];
            Chunk {
                item_offsets: data.item_offsets[items.start..=items.end]
                    .iter()
                    .map(|o| o - base)
                    .collect(),
                group: items.start / block,
                items,
                annotations,
                wk_item: Vec::new(),
                wk_label: Vec::new(),
                segment_start: vec![0],
                run_start: vec![0],
                run_worker: Vec::new(),
            }
        })
        .collect();
    // Walk the by-worker CSR in worker order and deal each annotation to its
    // item's chunk: every chunk's list comes out grouped by worker.
    let chunk_starts: Vec<usize> = chunks.iter().map(|c| c.items.start).collect();
    let mut open_len = vec![0usize; chunks.len()]; // length of each chunk's open segment
    for w in 0..data.n_workers() {
        for a in data.worker_range(w) {
            let item = data.worker_item[a] as usize;
            let c = chunk_starts.partition_point(|&s| s <= item) - 1;
            let chunk = &mut chunks[c];
            let new_run = chunk.run_worker.last() != Some(&(w as u32));
            if new_run || open_len[c] == SEGMENT_LEN {
                if !chunk.wk_item.is_empty() {
                    chunk.segment_start.push(chunk.wk_item.len() as u32);
                }
                open_len[c] = 0;
                if new_run {
                    if !chunk.run_worker.is_empty() {
                        chunk.run_start.push(chunk.segment_start.len() as u32 - 1);
                    }
                    chunk.run_worker.push(w as u32);
                }
            }
            chunk.wk_item.push((item - chunk.items.start) as u32);
            chunk.wk_label.push(u32::from(data.worker_label[a]));
            open_len[c] += 1;
        }
    }
    for chunk in &mut chunks {
        if !chunk.wk_item.is_empty() {
            chunk.segment_start.push(chunk.wk_item.len() as u32);
            chunk.run_start.push(chunk.segment_start.len() as u32 - 1);
        }
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::pack_triples;

    #[test]
    fn segments_split_prolific_workers_and_runs_group_them() {
        let mut triples = Vec::new();
        for i in 0..2500 {
            triples.push((format!("i{i}"), "busy".to_string(), "x".to_string()));
        }
        triples.push(("i0".into(), "rare".into(), "y".into()));
        let data = pack_triples(&triples, None).unwrap();
        let chunks = plan_chunks(&data, 1 << 30).unwrap();
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert_eq!(c.segment_start, vec![0, 1024, 2048, 2500, 2501]);
        assert_eq!(c.run_start, vec![0, 3, 4]);
        assert_eq!(c.run_worker, vec![0, 1]);
    }

    #[test]
    fn small_bindings_give_many_chunks_covering_every_annotation_once() {
        let triples: Vec<(String, String, String)> = (0..500)
            .flat_map(|i| {
                (0..3).map(move |w| {
                    (
                        format!("i{i}"),
                        format!("w{}", (i + w) % 7),
                        format!("{}", (i * w) % 3),
                    )
                })
            })
            .collect();
        let data = pack_triples(&triples, None).unwrap();
        let chunks = plan_chunks(&data, 512).unwrap();
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        let total: usize = chunks.iter().map(|c| c.wk_item.len()).sum();
        assert_eq!(total, data.n_annotations());
        assert_eq!(chunks.last().unwrap().items.end, data.n_items());
        for c in &chunks {
            assert!(c.n_items() * 3 * 4 <= 512);
            assert_eq!(*c.segment_start.last().unwrap() as usize, c.wk_item.len());
        }
    }

    #[test]
    fn too_many_workers_for_a_binding_is_a_limit_error() {
        let data = pack_triples(&[("a", "w1", "x"), ("a", "w2", "y")], None).unwrap();
        let err = plan_chunks(&data, 16).unwrap_err().to_string();
        assert!(
            err.contains("binding limit") && err.contains("`backend` cpu"),
            "{err}"
        );
    }
}
