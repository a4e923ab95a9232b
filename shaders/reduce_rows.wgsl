// Sums rows of a [n_rows][width] array in blocks of 256 rows: workgroup g
// writes the column sums of its block to output row out_row + g. Applied
// repeatedly it reduces any number of rows to one (class priors: width K over
// posteriors; the log-likelihood: width 1 over the per-item terms).
//
// Sums are exact: each f32 is rounded once to a 64-bit fixed-point integer
// with frac_bits fractional bits, held as two u32 words (lo, hi), and added
// with carry. Integer addition is associative, so the total does not depend
// on the order of the tree, no compiler can reassociate it away (as it may do
// with float error-compensation tricks), and the CPU twin
// engine::backend::cpu::reduce_rows gives the same bits. Output rows are [width]
// (lo, hi) pairs; input is f32 bits when input_pairs == 0, else pairs.

struct Params {
    n_rows: u32,
    width: u32,
    out_row: u32,
    input_pairs: u32,
    frac_bits: u32,
    // First input row: the reduction covers rows in_row .. in_row + n_rows.
    in_row: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> output: array<u32>;

var<workgroup> lo: array<u32, 256>;
var<workgroup> hi: array<u32, 256>;

// round(x · 2^frac_bits) as a two's-complement 64-bit integer (lo, hi).
// The magnitude is split exactly (its 24 significant bits fall into the two
// words without rounding), then negated in integers.
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
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let g = wg.x + wg.y * groups.x;
    let row = g * 256u + lid;
    for (var c = 0u; c < params.width; c = c + 1u) {
        var v = vec2<u32>(0u, 0u);
        if (row < params.n_rows) {
            if (params.input_pairs == 0u) {
                v = to_fixed(bitcast<f32>(input[(params.in_row + row) * params.width + c]));
            } else {
                let at = ((params.in_row + row) * params.width + c) * 2u;
                v = vec2<u32>(input[at], input[at + 1u]);
            }
        }
        lo[lid] = v.x;
        hi[lid] = v.y;
        workgroupBarrier();
        for (var stride = 128u; stride > 0u; stride = stride / 2u) {
            if (lid < stride) {
                let s = add64(vec2<u32>(lo[lid], hi[lid]), vec2<u32>(lo[lid + stride], hi[lid + stride]));
                lo[lid] = s.x;
                hi[lid] = s.y;
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            let at = ((params.out_row + g) * params.width + c) * 2u;
            output[at] = lo[0];
            output[at + 1u] = hi[0];
        }
        workgroupBarrier();
    }
}
