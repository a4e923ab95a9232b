//! Mask manifests (JSON Lines naming PNG files), strict and skipping. The
//! manifest is written beside two small valid masks, `a.png` (3×2) and
//! `wide.png` (4×2), that its lines may name.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use accord::segmentation::read::read_mask_manifest;
use accord::io::Rejects;
use libfuzzer_sys::fuzz_target;

fn folder() -> &'static PathBuf {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("accord-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let masks = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/corpus/seg/masks");
        for name in ["a.png", "wide.png"] {
            std::fs::copy(format!("{masks}/{name}"), dir.join(name)).unwrap();
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let manifest = folder().join("manifest.jsonl");
    std::fs::write(&manifest, data).unwrap();
    for mut rejects in [Rejects::strict(), Rejects::skipping()] {
        let _ = read_mask_manifest(&manifest, None, 1 << 20, &mut rejects);
    }
});
