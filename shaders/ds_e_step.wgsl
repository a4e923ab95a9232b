// Dawid-Skene E-step, one thread per item: the log-posterior over the item's
// annotations, normalised by log-sum-exp with a max-shift; writes the
// posteriors and the item's log-likelihood term log Σ_t p(t) Π_a p(l_a | t).
// CPU twin: engine::backend::cpu::ds_e_step (same f32 operations in the same order).

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

struct Params {
    n_items: u32,
    // Where the chunk's item group's K log priors start in log_priors (a
    // chunk never spans two groups; 0 for a single problem).
    prior_base: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> item_offsets: array<u32>;
@group(0) @binding(2) var<storage, read> item_worker: array<u32>;
@group(0) @binding(3) var<storage, read> item_label: array<u32>;
// [worker][given][true]: one contiguous run of K per annotation.
@group(0) @binding(4) var<storage, read> log_confusion: array<f32>;
@group(0) @binding(5) var<storage, read> log_priors: array<f32>;
@group(0) @binding(6) var<storage, read_write> posteriors: array<f32>;
@group(0) @binding(7) var<storage, read_write> ll_terms: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= params.n_items) {
        return;
    }
    var lp: array<f32, K>;
    for (var t = 0u; t < K; t = t + 1u) {
        lp[t] = log_priors[params.prior_base + t];
    }
    for (var a = item_offsets[i]; a < item_offsets[i + 1u]; a = a + 1u) {
        let base = (item_worker[a] * K + item_label[a]) * K;
        for (var t = 0u; t < K; t = t + 1u) {
            lp[t] = lp[t] + log_confusion[base + t];
        }
    }
    var m = lp[0];
    for (var t = 1u; t < K; t = t + 1u) {
        m = max(m, lp[t]);
    }
    var s = 0.0;
    for (var t = 0u; t < K; t = t + 1u) {
        lp[t] = exp(lp[t] - m);
        s = s + lp[t];
    }
    let inverse = 1.0 / s;
    for (var t = 0u; t < K; t = t + 1u) {
        posteriors[i * K + t] = lp[t] * inverse;
    }
    ll_terms[i] = m + log(s);
}
