// Class priors from the posterior column sums, given by reduce_rows as
// fixed-point (lo, hi) pairs with frac_bits fractional bits:
// log(max(sum / n_items, floor)). One thread per class; one dispatch per
// item group, whose sums and log priors start at entry `base` (= group · K).
// CPU twin: engine::backend::cpu::log_priors.

const PROB_FLOOR: f32 = 1e-30;

struct Params {
    n_classes: u32,
    n_items: u32,
    frac_bits: u32,
    base: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sums: array<u32>;
@group(0) @binding(2) var<storage, read_write> log_priors: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = gid.x;
    if (c >= params.n_classes) {
        return;
    }
    var p = 1.0 / f32(params.n_classes);
    if (params.n_items > 0u) {
        let at = 2u * (params.base + c);
        let sum = f32(bitcast<i32>(sums[at + 1u])) * 4294967296.0 + f32(sums[at]);
        p = sum / exp2(f32(params.frac_bits)) / f32(params.n_items);
    }
    log_priors[params.base + c] = log(max(p, PROB_FLOOR));
}
