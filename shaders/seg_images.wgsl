// Included by the segmentation shaders that map output pixels to images
// (`// #include seg_images.wgsl`): the image table built by
// backend::gpu::seg (6 u32 per image) and the search over it.

// Per image: output_start, width, height, n_masks, first_mask, label_byte_start.
@group(0) @binding(1) var<storage, read> images: array<u32>;

// The image holding output pixel p: the last whose output_start ≤ p.
fn image_of(p: u32) -> u32 {
    var lo = 0u;
    var hi = params.n_images;
    while (hi - lo > 1u) {
        let mid = (lo + hi) / 2u;
        if (images[mid * 6u] <= p) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}
