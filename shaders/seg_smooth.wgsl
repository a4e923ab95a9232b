// One separable smoothing pass over segmentation votes, along rows or (when
// params.along_rows is 0) along columns, one thread per (pixel, class): the
// vote map convolved with fixed-point taps, zero outside the image. Integer
// arithmetic (wrapping, like the twin), so both backends agree exactly.
// CPU twin: engine::backend::cpu::seg::seg_smooth. Keep Params in sync with
// SegParams in src/engine/backend/gpu/params.rs.

const K: u32 = 4u; // replaced by the number of classes when the pipeline is built

// #include seg_params.wgsl
// #include seg_images.wgsl
@group(0) @binding(2) var<storage, read> taps: array<u32>;
@group(0) @binding(3) var<storage, read> input: array<u32>;
@group(0) @binding(4) var<storage, read_write> output: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = gid.x + gid.y * groups.x * 256u;
    if (e >= params.n_pixels * K) {
        return;
    }
    let p = e / K;
    let c = e % K;
    let im = image_of(p) * 6u;
    let start = images[im];
    let w = images[im + 1u];
    let h = images[im + 2u];
    let local = p - start;
    let x = local % w;
    let y = local / w;
    let radius = i32(params.n_taps / 2u);
    var sum = 0u;
    for (var j = 0u; j < params.n_taps; j = j + 1u) {
        let d = i32(j) - radius;
        var source: u32;
        if (params.along_rows != 0u) {
            let n = i32(x) + d;
            if (n < 0 || n >= i32(w)) {
                continue;
            }
            source = y * w + u32(n);
        } else {
            let n = i32(y) + d;
            if (n < 0 || n >= i32(h)) {
                continue;
            }
            source = u32(n) * w + x;
        }
        sum = sum + taps[j] * input[(start + source) * K + c];
    }
    output[e] = sum;
}
