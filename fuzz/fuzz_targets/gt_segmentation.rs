//! Ground Truth segmentation requests (base64 PNGs inside JSON strings
//! inside JSON), strict and skipping.
#![no_main]
use std::path::Path;

use accord::segmentation::read::parse_gt_segmentation_request;
use accord::io::Rejects;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for mut rejects in [Rejects::strict(), Rejects::skipping()] {
        let _ = parse_gt_segmentation_request(
            Path::new("fuzz.json"),
            data,
            None,
            1 << 20,
            &mut rejects,
        );
    }
});
