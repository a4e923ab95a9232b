// STAPLE E-step, one thread per output pixel: the posterior over the true
// class from the pixel's smoothed votes as prior (each class also gets
// PRIOR_FLOOR of their total) and the confusion table of each mask's
// rater; the consensus is the most probable class (lowest on a tie) and
// the confidence its probability.
// CPU twin: engine::backend::cpu::staple::staple_posterior_into. Keep Params in
// sync with SegParams in src/engine/backend/gpu/params.rs; the image table is
// built by backend::gpu::seg (6 u32 per image).

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built
// Twin of backend::cpu::staple::STAPLE_PRIOR_FLOOR.
const PRIOR_FLOOR: f32 = 0.01;

// #include seg_params.wgsl
// #include seg_images.wgsl
// Class ids, one byte per pixel, four to a word (little-endian).
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> votes: array<u32>;
// Per mask of the chunk: its rater's index into log_confusion.
@group(0) @binding(4) var<storage, read> mask_rater: array<u32>;
// [rater][given][true] log-probabilities.
@group(0) @binding(5) var<storage, read> log_confusion: array<f32>;
@group(0) @binding(6) var<storage, read_write> posterior: array<f32>;
@group(0) @binding(7) var<storage, read_write> consensus: array<u32>;
@group(0) @binding(8) var<storage, read_write> confidence: array<f32>;

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
    var post: array<f32, K>;
    var total = 0.0;
    for (var c = 0u; c < K; c = c + 1u) {
        total = total + f32(votes[p * K + c]);
    }
    for (var c = 0u; c < K; c = c + 1u) {
        post[c] = log(f32(votes[p * K + c]) + PRIOR_FLOOR * total);
    }
    for (var r = 0u; r < images[im + 3u]; r = r + 1u) {
        let given = class_at(images[im + 5u] + r * pixels + local);
        let row = (mask_rater[images[im + 4u] + r] * K + given) * K;
        for (var c = 0u; c < K; c = c + 1u) {
            post[c] = post[c] + log_confusion[row + c];
        }
    }
    var best = 0u;
    var top = post[0];
    for (var c = 1u; c < K; c = c + 1u) {
        if (post[c] > top) {
            best = c;
            top = post[c];
        }
    }
    var sum = 0.0;
    for (var c = 0u; c < K; c = c + 1u) {
        post[c] = exp(post[c] - top);
        sum = sum + post[c];
    }
    let inv = 1.0 / sum;
    for (var c = 0u; c < K; c = c + 1u) {
        posterior[p * K + c] = post[c] * inv;
    }
    consensus[p] = best;
    confidence[p] = post[best] * inv;
}
