// M-step, pass 1: soft counts of one segment of one worker's annotations
// (a worker's annotations are cut into segments of at most SEGMENT_LEN, so a
// prolific worker is spread over many threads). One thread per (segment,
// block of TB true classes) walks the segment once, reading each
// annotation's item and label once and the item's TB posteriors as one
// run, and accumulates C[t][l] += posterior[item][t] for its classes,
// without atomics. Each sum runs over the segment in annotation order, so
// the result does not depend on TB. CPU twin:
// engine::backend::cpu::ds_m_step_segments.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built
const TB: u32 = 4u; // replaced by the true classes per thread (see context::classes_per_thread)
const BLOCKS: u32 = (K + TB - 1u) / TB;
const ACC: u32 = TB * K;

struct Params {
    n_segments: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> segment_start: array<u32>;
@group(0) @binding(2) var<storage, read> wk_item: array<u32>;
@group(0) @binding(3) var<storage, read> wk_label: array<u32>;
@group(0) @binding(4) var<storage, read> posteriors: array<f32>;
// [segment][true][given]
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let id = gid.x + gid.y * groups.x * 256u;
    let s = id / BLOCKS;
    let t0 = (id % BLOCKS) * TB;
    if (s >= params.n_segments) {
        return;
    }
    let tn = min(TB, K - t0);
    // acc[tt * K + l]: class t0 + tt, given label l.
    var acc: array<f32, ACC>;
    for (var a = segment_start[s]; a < segment_start[s + 1u]; a = a + 1u) {
        let l = wk_label[a];
        let row = wk_item[a] * K + t0;
        for (var tt = 0u; tt < tn; tt = tt + 1u) {
            acc[tt * K + l] = acc[tt * K + l] + posteriors[row + tt];
        }
    }
    for (var tt = 0u; tt < tn; tt = tt + 1u) {
        for (var l = 0u; l < K; l = l + 1u) {
            partial[(s * K + t0 + tt) * K + l] = acc[tt * K + l];
        }
    }
}
