//! Ground Truth bounding-box requests: read, then consolidated by the
//! default and by Ground Truth's method (a panic in either is a finding).
#![no_main]
use std::path::Path;

use accord::boxes::read::{parse_gt_box_request, BoxReadOptions};
use accord::boxes::{BoxConsolidator, BoxMethod};
use accord::io::Rejects;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("request.json");
    for mut rejects in [Rejects::strict(), Rejects::skipping()] {
        if let Ok(boxes) = parse_gt_box_request(path, data, &BoxReadOptions::default(), &mut rejects) {
            for method in [BoxMethod::Lean, BoxMethod::IouMean] {
                let _ = BoxConsolidator::new(method).fit(&boxes);
            }
        }
    }
});
