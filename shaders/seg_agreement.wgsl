// For each mask, the number of its pixels that carry the consensus label:
// one workgroup per mask, its threads striding over the pixels, then an
// exact integer tree sum in workgroup memory.
// CPU twin: engine::backend::cpu::seg::seg_agreement. Keep Params in sync with
// SegParams in src/engine/backend/gpu/params.rs; the mask table is built by
// backend::gpu::seg (3 u32 per mask).

// #include seg_params.wgsl
// Per mask: label_byte_start, output_start, pixels.
@group(0) @binding(1) var<storage, read> masks: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> consensus: array<u32>;
@group(0) @binding(4) var<storage, read_write> agreement: array<u32>;

var<workgroup> partial: array<u32, 256>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let m = wid.x + wid.y * groups.x;
    if (m >= params.n_masks) {
        return;
    }
    let byte_start = masks[m * 3u];
    let out_start = masks[m * 3u + 1u];
    let pixels = masks[m * 3u + 2u];
    var count = 0u;
    for (var i = li; i < pixels; i = i + 256u) {
        let byte = byte_start + i;
        let given = (labels[byte >> 2u] >> ((byte & 3u) * 8u)) & 255u;
        if (given == consensus[out_start + i]) {
            count = count + 1u;
        }
    }
    partial[li] = count;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (li < stride) {
            partial[li] = partial[li] + partial[li + stride];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        agreement[m] = partial[0];
    }
}
