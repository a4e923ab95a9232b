// Posteriors := each item's vote shares (uniform when it has no vote); a
// known item (control task) gets one-hot on its known class instead.
// One thread per item. CPU twin: engine::backend::cpu::vote_shares (over mv_counts).

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

struct Params {
    n_items: u32,
    // 1 when known_class holds the chunk's known items, else it is not read.
    has_known: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> item_offsets: array<u32>;
@group(0) @binding(2) var<storage, read> item_label: array<u32>;
@group(0) @binding(3) var<storage, read_write> posteriors: array<f32>;
// Per item of the chunk: its known class + 1, or 0 when it is not known.
@group(0) @binding(4) var<storage, read> known_class: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= params.n_items) {
        return;
    }
    if (params.has_known != 0u) {
        let y1 = known_class[i];
        if (y1 != 0u) {
            for (var c = 0u; c < K; c = c + 1u) {
                posteriors[i * K + c] = select(0.0, 1.0, c + 1u == y1);
            }
            return;
        }
    }
    var row: array<u32, K>;
    let start = item_offsets[i];
    let end = item_offsets[i + 1u];
    for (var a = start; a < end; a = a + 1u) {
        row[item_label[a]] += 1u;
    }
    let total = end - start;
    for (var c = 0u; c < K; c = c + 1u) {
        if (total == 0u) {
            posteriors[i * K + c] = 1.0 / f32(K);
        } else {
            posteriors[i * K + c] = f32(row[c]) / f32(total);
        }
    }
}
