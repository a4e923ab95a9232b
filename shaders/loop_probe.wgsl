// A driver check: one invocation runs a loop of `iterations` steps of a hash
// chain. Drivers that silently cut long loops short (Debian 12's Mesa 22
// stops near 65,535 iterations) give a different value than the CPU twin
// engine::backend::cpu::loop_probe, and the test fails.

struct Params {
    iterations: u32,
    seed: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> result: array<u32>;

fn pcg_hash(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(1)
fn main() {
    var h = params.seed;
    var steps = 0u;
    for (var i = 0u; i < params.iterations; i = i + 1u) {
        h = pcg_hash(h ^ i);
        steps = steps + 1u;
    }
    result[0] = h;
    result[1] = steps;
}
