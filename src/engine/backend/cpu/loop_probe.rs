//! Twin of `shaders/loop_probe.wgsl`: a long hash chain that catches
//! drivers which cut shader loops short.

use crate::maths::pcg_hash;

/// Twin of `loop_probe.wgsl`: a hash chain of `iterations` steps. Returns
/// (hash, steps).
pub fn loop_probe(iterations: u32, seed: u32) -> (u32, u32) {
    let mut h = seed;
    for i in 0..iterations {
        h = pcg_hash(h ^ i);
    }
    (h, iterations)
}
