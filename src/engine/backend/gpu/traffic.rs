//! The traffic model of the EM kernels: the bytes each dispatch's loads and
//! stores request, from the sizes it is built with (items, annotations,
//! segments, runs, workers, K: the lengths of its bindings and its grid),
//! and the counters the context keeps of dispatches, submits and readbacks.
//!
//! Bytes are *logical*: every load and store a shader issues, as its code
//! reads, counted once per thread that issues it. A load several threads
//! make of the same address counts once per thread (caches may serve it);
//! workgroup memory and uniforms are not counted. Each model below follows
//! its shader line by line: change one, change the other.

use std::collections::BTreeMap;

/// Bytes one dispatch (or copy) requests from device memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes loaded.
    pub read: u64,
    /// Bytes stored.
    pub written: u64,
    /// Of `read`, the bytes loaded through an index (a row of log θ per
    /// annotation in the E-step, a posterior row per annotation in the
    /// M-step), where repeated addresses are the rule.
    pub gathered: u64,
}

impl Traffic {
    /// Loads plus stores.
    pub fn total(&self) -> u64 {
        self.read + self.written
    }

    fn add(&mut self, other: Traffic) {
        self.read += other.read;
        self.written += other.written;
        self.gathered += other.gathered;
    }

    fn minus(self, other: Traffic) -> Traffic {
        Traffic {
            read: self.read - other.read,
            written: self.written - other.written,
            gathered: self.gathered - other.gathered,
        }
    }
}

/// One stage's dispatches and their modelled bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCount {
    /// Compute dispatches (0 for a copy or clear).
    pub dispatches: u64,
    /// Their bytes.
    pub traffic: Traffic,
}

/// What the context has recorded since it was made: per stage (the shader's
/// name, or `clear_buffer`), and the submits and readbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuCounters {
    /// Per stage, in name order.
    pub stages: BTreeMap<&'static str, StageCount>,
    /// Command buffers submitted (each one waited for).
    pub submits: u64,
    /// Copies back to the host.
    pub readbacks: u64,
    /// Bytes copied back to the host.
    pub readback_bytes: u64,
}

impl GpuCounters {
    /// What was recorded after `earlier` (a snapshot of the same context).
    pub fn since(&self, earlier: &GpuCounters) -> GpuCounters {
        let mut stages = BTreeMap::new();
        for (name, now) in &self.stages {
            let before = earlier.stages.get(name).copied().unwrap_or_default();
            if now.dispatches > before.dispatches || now.traffic != before.traffic {
                stages.insert(
                    *name,
                    StageCount {
                        dispatches: now.dispatches - before.dispatches,
                        traffic: now.traffic.minus(before.traffic),
                    },
                );
            }
        }
        GpuCounters {
            stages,
            submits: self.submits - earlier.submits,
            readbacks: self.readbacks - earlier.readbacks,
            readback_bytes: self.readback_bytes - earlier.readback_bytes,
        }
    }

    /// Every stage's dispatches and bytes together.
    pub fn total(&self) -> StageCount {
        let mut all = StageCount::default();
        for s in self.stages.values() {
            all.dispatches += s.dispatches;
            all.traffic.add(s.traffic);
        }
        all
    }

    pub(crate) fn note(&mut self, stage: &'static str, dispatches: u64, traffic: Traffic) {
        let entry = self.stages.entry(stage).or_default();
        entry.dispatches += dispatches;
        entry.traffic.add(traffic);
    }
}

/// The least one DS iteration (E-step then M-step) can request with the
/// by-item E-step and by-worker M-step: each annotation's two ids once per
/// step (8 bytes each), one K-row of log θ per annotation (E) and one
/// posterior row per annotation (M), the item offsets once, the posteriors
/// written once, the tables written once, the priors. Returns (E, M).
pub fn ds_floor(items: u64, annotations: u64, workers: u64, k: u64) -> (u64, u64) {
    let e = 4 * (items + 1) + annotations * (8 + 4 * k) + items * 4 * k;
    let m = annotations * (8 + 4 * k) + workers * 4 * k * k + 4 * k;
    (e, m)
}

const U: u64 = 4; // bytes of a u32 or f32

/// ds_e_step.wgsl: each workgroup of 256 items loads the K log priors
/// once; one thread per item reads its two offsets (and, when the chunk
/// has known items, its known class) and per annotation its worker, label
/// and K log θ, and writes K posteriors; each workgroup writes its K + 2
/// sums (posteriors, log-likelihood, entropy) as pairs.
pub fn ds_e_step(items: u64, annotations: u64, k: u64, known: bool) -> Traffic {
    let blocks = items.div_ceil(256).max(1);
    let known = if known { items * U } else { 0 };
    Traffic {
        read: blocks * k * U + items * 2 * U + known + annotations * (2 * U + k * U),
        written: items * k * U + blocks * (k + 2) * 2 * U,
        gathered: annotations * k * U,
    }
}

/// vote_shares.wgsl: per item its two offsets and its labels (and its
/// known class, when the chunk has known items: an upper bound, a known
/// item's labels are not read); K shares out.
pub fn vote_shares(items: u64, annotations: u64, k: u64, known: bool) -> Traffic {
    let known = if known { items * U } else { 0 };
    Traffic {
        read: items * 2 * U + known + annotations * U,
        written: items * k * U,
        gathered: 0,
    }
}

/// mv_counts.wgsl: as vote_shares, K counts out.
pub fn mv_counts(items: u64, annotations: u64, k: u64) -> Traffic {
    vote_shares(items, annotations, k, false)
}

/// reduce_rows.wgsl: each of `rows` rows' `width` values (an f32, or a
/// fixed-point pair of two u32) in; one pair per column per 256 rows out.
pub fn reduce_rows(rows: u64, width: u64, pairs_in: bool) -> Traffic {
    let each = if pairs_in { 2 * U } else { U };
    Traffic {
        read: rows * width * each,
        written: rows.div_ceil(256).max(1) * width * 2 * U,
        gathered: 0,
    }
}

/// group_sums.wgsl: every row's `width` f32 in; one pair per column per
/// group out.
pub fn group_sums(rows: u64, width: u64, groups: u64) -> Traffic {
    Traffic {
        read: rows * width * U,
        written: groups * width * 2 * U,
        gathered: 0,
    }
}

/// ds_m_step_segments.wgsl: one thread per (segment, block of `tb` true
/// classes) reads the segment's two bounds and, per annotation, its item,
/// label and the item's posteriors for its classes; the K × K partial
/// counts of each segment are written once.
pub fn ds_m_step_segments(segments: u64, annotations: u64, k: u64, tb: u64) -> Traffic {
    let blocks = k.div_ceil(tb.max(1));
    Traffic {
        read: segments * blocks * 2 * U + annotations * (blocks * 2 * U + k * U),
        written: segments * k * k * U,
        gathered: annotations * k * U,
    }
}

/// ds_m_step_combine.wgsl: one thread per (run, t) reads the run's worker
/// and two bounds, then per given class l the run's partial sums and the
/// count it adds to, which it writes.
pub fn ds_m_step_combine(runs: u64, segments: u64, k: u64) -> Traffic {
    Traffic {
        read: runs * k * 3 * U + segments * k * k * U + runs * k * k * U,
        written: runs * k * k * U,
        gathered: 0,
    }
}

/// confusion_normalise.wgsl: one thread per (worker, t) reads the worker's
/// n, its K diagonal counts and row t (under the hierarchical rule, also
/// row t of its population table as K pairs); writes K log θ, and thread
/// t = 0 the accuracy. With `objective` (crowd-kit's stopping test) each
/// thread then reads its log prior, row t's K counts and the K log θ it
/// wrote again, and writes its fit term.
pub fn confusion_normalise(workers: u64, k: u64, hierarchical: bool, objective: bool) -> Traffic {
    let population = if hierarchical { k * 2 * U } else { 0 };
    let (fit_read, fit_written) = if objective {
        (U + 2 * k * U, U)
    } else {
        (0, 0)
    };
    Traffic {
        read: workers * k * (U + 2 * k * U + population + fit_read),
        written: workers * (k * k * U + U + k * fit_written),
        gathered: 0,
    }
}

/// log_priors.wgsl: K pairs in, K log priors out (per item group).
pub fn log_priors(k: u64) -> Traffic {
    Traffic {
        read: k * 2 * U,
        written: k * U,
        gathered: 0,
    }
}

/// A clear of `bytes` bytes on the device.
pub fn clear(bytes: u64) -> Traffic {
    Traffic {
        read: 0,
        written: bytes,
        gathered: 0,
    }
}

/// A buffer-to-buffer copy of `bytes`.
pub fn copy(bytes: u64) -> Traffic {
    Traffic {
        read: bytes,
        written: bytes,
        gathered: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_keeps_only_what_changed() {
        let mut before = GpuCounters::default();
        before.note("a", 1, ds_e_step(10, 50, 3, false));
        before.submits = 2;
        let mut after = before.clone();
        after.note("b", 2, reduce_rows(300, 1, false));
        after.submits = 3;
        after.readbacks = 1;
        let d = after.since(&before);
        assert_eq!(d.stages.len(), 1);
        assert_eq!(d.stages["b"].dispatches, 2);
        assert_eq!(d.stages["b"].traffic.read, 1200);
        assert_eq!(d.stages["b"].traffic.written, 2 * 8);
        assert_eq!((d.submits, d.readbacks), (1, 1));
    }

    #[test]
    fn e_step_model_counts_what_the_shader_loads() {
        // 2 items, 3 annotations, K = 2: one workgroup's 2 priors, offsets
        // 2×2, per annotation worker + label + 2 log θ; 2×2 posteriors and
        // one workgroup's 4 pairs out. Known items add one class per item.
        let t = ds_e_step(2, 3, 2, false);
        assert_eq!(t.read, 4 * (2 + 2 * 2 + 3 * (2 + 2)));
        assert_eq!(t.written, 4 * (2 * 2 + 4 * 2));
        assert_eq!(t.gathered, 4 * 3 * 2);
        assert_eq!(ds_e_step(2, 3, 2, true).read, t.read + 4 * 2);
    }

    #[test]
    fn segments_model_reads_ids_once_per_class_block() {
        // K = 10 in one block: 8 bytes of ids and 40 of posteriors per
        // annotation; in 10 blocks of one class, the ids ten times.
        let one = ds_m_step_segments(1, 100, 10, 10);
        let ten = ds_m_step_segments(1, 100, 10, 1);
        assert_eq!(one.read, 8 + 100 * 48);
        assert_eq!(ten.read, 10 * 8 + 100 * (80 + 40));
        assert_eq!(one.written, ten.written);
    }
}
