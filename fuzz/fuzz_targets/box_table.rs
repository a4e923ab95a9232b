//! Box tables (CSV): the parallel fast reader must read every input as the
//! general `csv` crate reader does, rows, errors and rejects alike (a
//! difference or a panic is a finding).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    accord::boxes::assert_readers_agree(data);
});
