//! CSV and TSV, fast and general readers, strict and skipping: any bytes
//! give annotations or an error, never a panic.
#![no_main]
use std::path::Path;

use accord::{classification::read::read_bytes, classification::read::InputFormat, classification::read::ReadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [InputFormat::Csv, InputFormat::Tsv] {
        for skip_invalid in [false, true] {
            let options = ReadOptions {
                skip_invalid,
                ..Default::default()
            };
            let _ = read_bytes(Path::new("fuzz.csv"), data, format, &options);
        }
    }
});
