// Included by every segmentation shader (`// #include seg_params.wgsl`,
// expanded by backend::gpu::context::specialise): the uniform block, kept in
// sync with SegParams in src/engine/backend/gpu/params.rs.

struct Params {
    n_pixels: u32,
    n_images: u32,
    n_taps: u32,
    image_base: u32,
    seed: u32,
    random_ties: u32,
    n_masks: u32,
    along_rows: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
