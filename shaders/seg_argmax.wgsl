// Each pixel's winning class and its share of the votes, one thread per
// pixel. Ties: the lowest class, or (random_ties) a tied class drawn from
// the seed, the image and the pixel. A pixel without votes gets class 0 and
// confidence 0. CPU twin: engine::backend::cpu::seg::seg_argmax. Keep Params in sync
// with SegParams in src/engine/backend/gpu/params.rs.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

// #include seg_params.wgsl
// #include seg_images.wgsl
@group(0) @binding(2) var<storage, read> votes: array<u32>;
@group(0) @binding(3) var<storage, read_write> consensus: array<u32>;
@group(0) @binding(4) var<storage, read_write> confidence: array<f32>;

// Twin of maths::pcg_hash.
fn pcg_hash(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let p = gid.x + gid.y * groups.x * 256u;
    if (p >= params.n_pixels) {
        return;
    }
    var best = 0u;
    var tied = 0u;
    var total = 0u;
    for (var c = 0u; c < K; c = c + 1u) {
        let v = votes[p * K + c];
        total = total + v;
        if (v > best) {
            best = v;
            tied = 1u;
        } else if (v == best) {
            tied = tied + 1u;
        }
    }
    if (total == 0u) {
        consensus[p] = 0u;
        confidence[p] = 0.0;
        return;
    }
    let image = image_of(p);
    var pick = 0u;
    if (params.random_ties != 0u) {
        let image_seed = params.seed ^ pcg_hash(params.image_base + image);
        // tie_draw(image_seed, pixel in image)
        pick = pcg_hash((p - images[image * 6u]) ^ pcg_hash(image_seed)) % tied;
    }
    var winner = 0u;
    for (var c = 0u; c < K; c = c + 1u) {
        if (votes[p * K + c] == best) {
            if (pick == 0u) {
                winner = c;
                break;
            }
            pick = pick - 1u;
        }
    }
    consensus[p] = winner;
    confidence[p] = f32(best) / f32(total);
}
