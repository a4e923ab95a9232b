// Turns soft counts [worker][true][given] into log-confusion
// [worker][given][true] under the M-step rule, one thread per (worker, true
// class t); thread t = 0 also writes the worker's trace(C)/n. With
// `objective` set, each thread also writes its row's part of crowd-kit's
// objective (see fit_term).
// CPU twin: engine::backend::cpu::confusion_normalise. Keep Params in sync with
// NormaliseParams in src/engine/backend/gpu/params.rs.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built
const COUNT_FLOOR: f32 = 1e-10;
const PROB_FLOOR: f32 = 1e-30;
// ln of f64::EPSILON, where crowd-kit clips its probabilities.
const LN_EPS: f32 = -36.04365338911715;

struct Params {
    n_workers: u32,
    // 0: full Dawid-Skene, 1: one-coin, 2: Ground Truth's modified DS,
    // 3: hierarchical DS (variational)
    rule: u32,
    smoothing: f32,
    prior_correct: f32,
    prior_accuracy: f32,
    // rule 3: pseudo-annotations of the population confusion per row
    strength: f32,
    // rule 3: fractional bits of the population sums
    count_frac_bits: u32,
    // rule 3: workers per population block; block b's table is population
    // entries b·K·K .. (b+1)·K·K
    workers_per_group: u32,
    // 1: write fit_terms (crowd-kit's stopping test), 0: do not.
    objective: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> counts: array<f32>;
@group(0) @binding(2) var<storage, read> worker_n: array<f32>;
@group(0) @binding(3) var<storage, read_write> log_confusion: array<f32>;
@group(0) @binding(4) var<storage, read_write> accuracy: array<f32>;
// rule 3: each block of workers' counts summed per cell [block][true][given],
// as fixed-point (lo, hi) pairs from reduce_rows.
@group(0) @binding(5) var<storage, read> population: array<u32>;
// Item group 0's log class priors, the ones this M-step fitted.
@group(0) @binding(6) var<storage, read> log_priors: array<f32>;
// [worker][true]: the row's part of crowd-kit's objective.
@group(0) @binding(7) var<storage, read_write> fit_terms: array<f32>;

// Row t of worker w's part of crowd-kit's objective, the expected log joint
// of its annotations under the new tables: Σ_l C[t][l]·(ln θ[t][l] + ln p(t)),
// each log clipped at ln ε. The soft counts C are Σ q_i(t) over the worker's
// annotations labelled l, so the sum over workers and rows is
// Σ_annotations Σ_t q(t)·(ln θ[t][given] + ln p(t)) without a pass over the
// annotations. CPU twin: engine::backend::cpu::fit_terms.
fn fit_term(base: u32, t: u32) -> f32 {
    let prior = max(log_priors[t], LN_EPS);
    var f = 0.0;
    for (var l = 0u; l < K; l = l + 1u) {
        f = f + counts[base + t * K + l] * (max(log_confusion[base + l * K + t], LN_EPS) + prior);
    }
    return f;
}

// Digamma: the recurrence up to x >= 6, then the asymptotic series.
// CPU twin: maths::digamma.
fn digamma(x_in: f32) -> f32 {
    var x = x_in;
    var result = 0.0;
    loop {
        if (x >= 6.0) {
            break;
        }
        result = result - 1.0 / x;
        x = x + 1.0;
    }
    let f = 1.0 / (x * x);
    return result + log(x) - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))));
}

// Rule 3: writes E[log θ] = ψ(α) − ψ(Σα) of row t, with
// α = C + strength·π[t] + prior_correct on the diagonal.
fn hierarchical_row(base: u32, t: u32, block: u32) {
    var pop: array<f32, K>;
    var pop_sum = 0.0;
    let scale = exp2(f32(params.count_frac_bits));
    for (var l = 0u; l < K; l = l + 1u) {
        let at = 2u * (block * K * K + t * K + l);
        pop[l] = (f32(bitcast<i32>(population[at + 1u])) * 4294967296.0 + f32(population[at])) / scale;
        pop_sum = pop_sum + pop[l];
    }
    var alpha: array<f32, K>;
    var alpha_sum = 0.0;
    for (var l = 0u; l < K; l = l + 1u) {
        var share = 1.0 / f32(K);
        if (pop_sum > 0.0) {
            share = pop[l] / pop_sum;
        }
        var correct = 0.0;
        if (t == l) {
            correct = params.prior_correct;
        }
        alpha[l] = max(counts[base + t * K + l], COUNT_FLOOR) + params.strength * share + correct;
        alpha_sum = alpha_sum + alpha[l];
    }
    let digamma_sum = digamma(alpha_sum);
    for (var l = 0u; l < K; l = l + 1u) {
        log_confusion[base + l * K + t] = digamma(alpha[l]) - digamma_sum;
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let id = gid.x + gid.y * groups.x * 256u;
    let w = id / K;
    let t = id % K;
    if (w >= params.n_workers) {
        return;
    }
    let base = w * K * K;
    let n = worker_n[w];
    var trace = 0.0;
    for (var c = 0u; c < K; c = c + 1u) {
        trace = trace + counts[base + c * K + c];
    }
    var acc = 0.0;
    if (n > 0.0) {
        acc = trace / n;
    }
    if (t == 0u) {
        accuracy[w] = acc;
    }
    if (params.rule == 3u) {
        hierarchical_row(base, t, w / max(params.workers_per_group, 1u));
        if (params.objective != 0u) {
            fit_terms[w * K + t] = fit_term(base, t);
        }
        return;
    }
    let off_share = 1.0 / f32(max(K, 2u) - 1u);
    var row: array<f32, K>;
    for (var l = 0u; l < K; l = l + 1u) {
        let c = counts[base + t * K + l];
        if (params.rule == 0u) {
            var prior = 0.0;
            if (t == l) {
                prior = params.prior_correct;
            }
            row[l] = max(c, COUNT_FLOOR) + params.smoothing + prior;
        } else if (params.rule == 1u) {
            let a = clamp((trace + params.smoothing) / max(n + f32(K) * params.smoothing, COUNT_FLOOR), 0.0, 1.0);
            if (t == l) {
                row[l] = a;
            } else {
                row[l] = (1.0 - a) * off_share;
            }
        } else {
            let p = params.prior_accuracy;
            var own = (1.0 - acc) * off_share;
            var pop = (1.0 - p) * off_share;
            if (t == l) {
                own = acc;
                pop = p;
            }
            row[l] = max(c, COUNT_FLOOR) + n * own + 0.5 * n * pop;
        }
    }
    var row_sum = 0.0;
    for (var l = 0u; l < K; l = l + 1u) {
        row_sum = row_sum + row[l];
    }
    for (var l = 0u; l < K; l = l + 1u) {
        var p = 1.0 / f32(K);
        if (row_sum > 0.0) {
            p = row[l] / row_sum;
        }
        log_confusion[base + l * K + t] = log(max(p, PROB_FLOOR));
    }
    if (params.objective != 0u) {
        fit_terms[w * K + t] = fit_term(base, t);
    }
}
