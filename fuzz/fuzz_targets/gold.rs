//! Gold label files.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = accord::eval::read_gold_from(Path::new("gold.csv"), data);
});
