// M-step, pass 2: adds each worker's segment sums into its soft counts.
// One thread per (run, true class t), where a run is one worker's segments
// in this chunk; each worker has at most one run per chunk and chunks are
// dispatched one after another, so no two threads write the same cell.
// CPU twin: engine::backend::cpu::ds_m_step_combine.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

struct Params {
    n_runs: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> run_start: array<u32>;
@group(0) @binding(2) var<storage, read> run_worker: array<u32>;
@group(0) @binding(3) var<storage, read> partial: array<f32>;
// [worker][true][given], cleared before the first chunk.
@group(0) @binding(4) var<storage, read_write> counts: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let id = gid.x + gid.y * groups.x * 256u;
    let r = id / K;
    let t = id % K;
    if (r >= params.n_runs) {
        return;
    }
    let out = (run_worker[r] * K + t) * K;
    for (var l = 0u; l < K; l = l + 1u) {
        var sum = 0.0;
        for (var s = run_start[r]; s < run_start[r + 1u]; s = s + 1u) {
            sum = sum + partial[(s * K + t) * K + l];
        }
        counts[out + l] = counts[out + l] + sum;
    }
}
