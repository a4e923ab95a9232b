// Majority-vote counts: votes per [item][class], one thread per item.
// CPU twin: engine::backend::cpu::mv_counts. Keep Params in sync with
// CountParams in src/engine/backend/gpu/params.rs.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

struct Params {
    n_items: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> item_offsets: array<u32>;
@group(0) @binding(2) var<storage, read> item_label: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= params.n_items) {
        return;
    }
    var row: array<u32, K>;
    for (var a = item_offsets[i]; a < item_offsets[i + 1u]; a = a + 1u) {
        row[item_label[a]] += 1u;
    }
    for (var c = 0u; c < K; c = c + 1u) {
        counts[i * K + c] = row[c];
    }
}
