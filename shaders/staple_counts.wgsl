// STAPLE soft confusion counts, one workgroup per (mask, true class t):
// counts[mask][given][t] = Σ posterior[p][t] over the mask's pixels p that
// it labelled `given`. Each thread sums a stride of pixels per `given`,
// then a tree sum in workgroup memory per `given`.
// CPU twin: engine::backend::cpu::staple::staple_counts. Keep Params in sync with
// SegParams in src/engine/backend/gpu/params.rs; the mask table is built by
// backend::gpu::seg (3 u32 per mask).

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

// #include seg_params.wgsl
// Per mask: label_byte_start, output_start, pixels.
@group(0) @binding(1) var<storage, read> masks: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> posterior: array<f32>;
@group(0) @binding(4) var<storage, read_write> counts: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let g = wid.x + wid.y * groups.x;
    if (g >= params.n_masks * K) {
        return;
    }
    let m = g / K;
    let t = g % K;
    let byte_start = masks[m * 3u];
    let out_start = masks[m * 3u + 1u];
    let pixels = masks[m * 3u + 2u];
    var sums: array<f32, K>;
    for (var i = li; i < pixels; i = i + 256u) {
        let byte = byte_start + i;
        let given = (labels[byte >> 2u] >> ((byte & 3u) * 8u)) & 255u;
        sums[given] = sums[given] + posterior[(out_start + i) * K + t];
    }
    for (var given = 0u; given < K; given = given + 1u) {
        partial[li] = sums[given];
        workgroupBarrier();
        for (var stride = 128u; stride > 0u; stride = stride / 2u) {
            if (li < stride) {
                partial[li] = partial[li] + partial[li + stride];
            }
            workgroupBarrier();
        }
        if (li == 0u) {
            counts[(m * K + given) * K + t] = partial[0];
        }
        workgroupBarrier();
    }
}
