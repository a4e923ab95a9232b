//! Ground Truth NER requests: read (from a file, as the reader takes
//! paths), then consolidated by the default span method.
#![no_main]
use accord::spans::read::{read_gt_request, SpanReadOptions};
use accord::spans::SpanConsolidator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("accord-fuzz-spans-{}.json", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for skip_invalid in [false, true] {
        let options = SpanReadOptions { skip_invalid, ..SpanReadOptions::default() };
        if let Ok(input) = read_gt_request(&path, &options) {
            let _ = SpanConsolidator::new().fit_batch(input.batch);
        }
    }
});
