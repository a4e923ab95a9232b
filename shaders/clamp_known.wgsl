// Known items (control tasks): each one's posterior := one-hot on its known
// class, and its log-likelihood term gains log p(known class | its answers),
// so the total is the log-likelihood of the answers and the known labels
// together (what EM with clamped posteriors increases). One thread per known
// item of the chunk; an item is known at most once, so no two threads write
// the same row. CPU twin: engine::backend::cpu::clamp_known.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built
const PROB_FLOOR: f32 = 1e-30;

struct Params {
    n_known: u32,
    _base: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> known_item: array<u32>;
@group(0) @binding(2) var<storage, read> known_class: array<u32>;
@group(0) @binding(3) var<storage, read_write> posteriors: array<f32>;
@group(0) @binding(4) var<storage, read_write> ll_terms: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let j = gid.x + gid.y * groups.x * 256u;
    if (j >= params.n_known) {
        return;
    }
    let i = known_item[j];
    let y = known_class[j];
    ll_terms[i] = ll_terms[i] + log(max(posteriors[i * K + y], PROB_FLOOR));
    for (var c = 0u; c < K; c = c + 1u) {
        posteriors[i * K + c] = select(0.0, 1.0, c == y);
    }
}
