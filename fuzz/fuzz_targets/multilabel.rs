//! Multi-label inputs (a selections CSV or a Ground Truth multi-select
//! request, detected as `consolidate` does): read from a file, then
//! consolidated by the default method.
#![no_main]
use accord::multilabel::read::{read, MultiReadOptions};
use accord::multilabel::MultiLabelConsolidator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("accord-fuzz-multilabel-{}.csv", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for skip_invalid in [false, true] {
        let options = MultiReadOptions { skip_invalid, ..MultiReadOptions::default() };
        if let Ok(input) = read(&path, &options) {
            let _ = MultiLabelConsolidator::new().fit(input.answers);
        }
    }
});
