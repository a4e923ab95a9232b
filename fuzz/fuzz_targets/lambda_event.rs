//! Ground Truth consolidation Lambda events (the payload is never read
//! here: only the event is parsed).
#![no_main]
use std::path::Path;

use accord::classification::read::lambda_event::{looks_like_event, parse_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_event(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_event(Path::new("jobs/event.json"), text);
    }
});
