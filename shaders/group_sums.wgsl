// Sums blocks of `block` consecutive rows of a [n_rows][width] f32 array:
// output row g is the column sums of rows g·block .. min((g+1)·block, n_rows),
// as exact 64-bit fixed-point (lo, hi) pairs with frac_bits fractional bits
// (the arithmetic of reduce_rows, so the sums do not depend on the order).
// One thread per (group, column). Multi-label hds: each worker's label
// tables summed into that worker's population table in one dispatch.
// CPU twin: engine::backend::cpu::group_sums. Keep Params in sync with
// GroupSumParams in src/engine/backend/gpu/params.rs.

struct Params {
    n_groups: u32,
    block: u32,
    width: u32,
    n_rows: u32,
    frac_bits: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<u32>;

// round(x · 2^frac_bits) as a two's-complement 64-bit integer (lo, hi), as
// in reduce_rows.wgsl.
fn to_fixed(x: f32) -> vec2<u32> {
    let y = round(abs(x) * exp2(f32(params.frac_bits)));
    let high = floor(y / 4294967296.0);
    let low = y - high * 4294967296.0;
    var v = vec2<u32>(u32(low), u32(high));
    if (x < 0.0) {
        let neg_low = ~v.x + 1u;
        v = vec2<u32>(neg_low, ~v.y + select(0u, 1u, neg_low == 0u));
    }
    return v;
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let low = a.x + b.x;
    let carry = select(0u, 1u, low < a.x);
    return vec2<u32>(low, a.y + b.y + carry);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let id = gid.x + gid.y * groups.x * 256u;
    if (id >= params.n_groups * params.width) {
        return;
    }
    let g = id / params.width;
    let c = id % params.width;
    let first = g * params.block;
    let last = min(first + params.block, params.n_rows);
    var sum = vec2<u32>(0u, 0u);
    for (var row = first; row < last; row = row + 1u) {
        sum = add64(sum, to_fixed(input[row * params.width + c]));
    }
    output[2u * id] = sum.x;
    output[2u * id + 1u] = sum.y;
}
