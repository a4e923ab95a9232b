// Segmentation votes, one thread per output pixel: votes[p][c] = Σ of the
// weights of the image's masks that give pixel p given c.
// CPU twin: engine::backend::cpu::seg::seg_vote. Keep Params in sync with SegParams
// in src/engine/backend/gpu/params.rs; the image table is built by
// backend::gpu::seg (6 u32 per image).

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

// #include seg_params.wgsl
// #include seg_images.wgsl
// Class ids, one byte per pixel, four to a word (little-endian).
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> mask_weight: array<u32>;
@group(0) @binding(4) var<storage, read_write> votes: array<u32>;

fn class_at(byte: u32) -> u32 {
    return (labels[byte >> 2u] >> ((byte & 3u) * 8u)) & 255u;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let p = gid.x + gid.y * groups.x * 256u;
    if (p >= params.n_pixels) {
        return;
    }
    let im = image_of(p) * 6u;
    let local = p - images[im];
    let pixels = images[im + 1u] * images[im + 2u];
    for (var c = 0u; c < K; c = c + 1u) {
        votes[p * K + c] = 0u;
    }
    for (var r = 0u; r < images[im + 3u]; r = r + 1u) {
        let given = class_at(images[im + 5u] + r * pixels + local);
        votes[p * K + given] += mask_weight[images[im + 4u] + r];
    }
}
