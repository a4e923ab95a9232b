// Dawid-Skene E-step, one thread per item: the log-posterior over the item's
// annotations, normalised by log-sum-exp with a max-shift. A known item
// (control task) is then clamped to one-hot on its known class, and its
// log-likelihood term gains log p(known class | its answers) as the model
// gave it before the clamp, so the total is the log-likelihood of the
// answers and the known labels together. The posteriors are written; each
// item's log-likelihood term log Σ_t p(t) Π_a p(l_a | t) (+ the known
// term), its posteriors' entropy (crowd-kit's objective's entropy part, 0
// for a clamped item) and its posteriors are then summed over the
// workgroup's 256 items, exactly in fixed point, as reduce_rows's first
// pass does (same rounding, same output rows): the class priors, the
// log-likelihood and the entropy need no pass of their own over the items,
// and all of them see the clamped posteriors. CPU twins:
// engine::backend::cpu::ds_e_step (same f32 operations in the same order)
// and cpu::reduce_rows (the block sums).

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built
const PROB_FLOOR: f32 = 1e-30;

struct Params {
    n_items: u32,
    // Where the chunk's item group's K log priors start in log_priors (a
    // chunk never spans two groups; 0 for a single problem).
    prior_base: u32,
    // Fractional bits of the log-likelihood sums and of the posterior sums.
    ll_frac_bits: u32,
    prob_frac_bits: u32,
    // 1 when known_class holds the chunk's known items, else it is not read.
    has_known: u32,
    _pad0: u32,
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
// Per workgroup: the log-likelihood sum and the entropy sum, two (lo, hi)
// pairs.
@group(0) @binding(7) var<storage, read_write> ll_sums: array<u32>;
// Per workgroup: the K posterior column sums, (lo, hi) pairs.
@group(0) @binding(8) var<storage, read_write> prior_sums: array<u32>;
// Per item of the chunk: its known class + 1, or 0 when it is not known.
@group(0) @binding(9) var<storage, read> known_class: array<u32>;

var<workgroup> priors: array<f32, K>;
// The block sums run COLS columns at a time (fewer barriers), column c of
// row r at c * 256 + r. COLS is replaced when the pipeline is built, as
// many as the device's workgroup memory holds (see context::sum_columns).
const COLS: u32 = 7u;
var<workgroup> lo: array<u32, COLS * 256u>;
var<workgroup> hi: array<u32, COLS * 256u>;

// As reduce_rows.wgsl: round(x · 2^bits) as a two's-complement 64-bit
// integer (lo, hi).
fn to_fixed(x: f32, bits: u32) -> vec2<u32> {
    let y = round(abs(x) * exp2(f32(bits)));
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
    let i = g * 256u + lid;
    for (var t = lid; t < K; t = t + 256u) {
        priors[t] = log_priors[params.prior_base + t];
    }
    workgroupBarrier();
    let valid = i < params.n_items;
    var lp: array<f32, K>;
    var ll = 0.0;
    var h = 0.0;
    if (valid) {
        for (var t = 0u; t < K; t = t + 1u) {
            lp[t] = priors[t];
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
        // The entropy from the same pass: with d_t = lp_t − m and
        // e_t = exp(d_t), H = −Σ q_t ln q_t = ln s − Σ_t e_t d_t / s.
        var s = 0.0;
        var ed = 0.0;
        for (var t = 0u; t < K; t = t + 1u) {
            let d = lp[t] - m;
            lp[t] = exp(d);
            s = s + lp[t];
            ed = ed + lp[t] * d;
        }
        let inverse = 1.0 / s;
        for (var t = 0u; t < K; t = t + 1u) {
            lp[t] = lp[t] * inverse;
        }
        let log_s = log(s);
        ll = m + log_s;
        h = log_s - ed * inverse;
        var y1 = 0u;
        if (params.has_known != 0u) {
            y1 = known_class[i];
        }
        if (y1 != 0u) {
            let y = y1 - 1u;
            ll = ll + log(max(lp[y], PROB_FLOOR));
            for (var t = 0u; t < K; t = t + 1u) {
                lp[t] = select(0.0, 1.0, t == y);
            }
            h = 0.0;
        }
        for (var t = 0u; t < K; t = t + 1u) {
            posteriors[i * K + t] = lp[t];
        }
    }
    // Column c < K: posterior c; column K: the log-likelihood term; column
    // K + 1: the entropy.
    let first = g * 256u < params.n_items;
    for (var c0 = 0u; c0 < K + 2u; c0 = c0 + COLS) {
        let n_cols = min(COLS, K + 2u - c0);
        for (var j = 0u; j < n_cols; j = j + 1u) {
            let c = c0 + j;
            var v = vec2<u32>(0u, 0u);
            if (valid) {
                if (c < K) {
                    v = to_fixed(lp[c], params.prob_frac_bits);
                } else if (c == K) {
                    v = to_fixed(ll, params.ll_frac_bits);
                } else {
                    v = to_fixed(h, params.ll_frac_bits);
                }
            }
            lo[j * 256u + lid] = v.x;
            hi[j * 256u + lid] = v.y;
        }
        workgroupBarrier();
        for (var stride = 128u; stride > 0u; stride = stride / 2u) {
            if (lid < stride) {
                for (var j = 0u; j < n_cols; j = j + 1u) {
                    let at = j * 256u + lid;
                    let sum = add64(vec2<u32>(lo[at], hi[at]), vec2<u32>(lo[at + stride], hi[at + stride]));
                    lo[at] = sum.x;
                    hi[at] = sum.y;
                }
            }
            workgroupBarrier();
        }
        if (lid < n_cols && first) {
            let c = c0 + lid;
            if (c < K) {
                prior_sums[(g * K + c) * 2u] = lo[lid * 256u];
                prior_sums[(g * K + c) * 2u + 1u] = hi[lid * 256u];
            } else {
                let at = (g * 2u + c - K) * 2u;
                ll_sums[at] = lo[lid * 256u];
                ll_sums[at + 1u] = hi[lid * 256u];
            }
        }
        workgroupBarrier();
    }
}
