//! Ground Truth classification requests, strict and skipping, with and
//! without a fixed label set.
#![no_main]
use std::path::Path;

use accord::{classification::read::read_bytes, classification::read::InputFormat, classification::read::ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for skip_invalid in [false, true] {
        let options = ReadOptions {
            skip_invalid,
            categories: skip_invalid.then(|| vec!["a".into(), "b".into()]),
            ..Default::default()
        };
        let _ = read_bytes(
            Path::new("fuzz.json"),
            data,
            InputFormat::GtRequest,
            &options,
        );
    }
});
