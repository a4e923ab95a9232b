//! PNG masks: index PNGs, and RGB(A) PNGs through a colour map; a small
//! pixel limit so that a forged header cannot ask for gigabytes.
#![no_main]
use accord::segmentation::png_mask::{decode_mask, ColourMap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_mask(data, None, 1 << 20);
    let colours = ColourMap {
        classes: vec![
            ("BACKGROUND".into(), [255, 255, 255]),
            ("cat".into(), [255, 0, 0]),
        ],
    };
    let _ = decode_mask(data, Some(&colours), 1 << 20);
});
