//! Every shader compiles and validates without a GPU (naga, as wgpu would
//! run it), and every shader has a CPU twin of the same name.

use std::path::Path;

use accord::engine::backend::gpu::{specialise, SHADERS};

/// Files under shaders/ that are pieces included by others, not stages.
const INCLUDED_PIECES: [&str; 2] = ["seg_params", "seg_images"];

fn shader_files() -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|n| !INCLUDED_PIECES.contains(&n.as_str()))
            .collect();
    names.sort();
    names
}

#[test]
fn every_shader_parses_and_validates_for_several_class_counts() {
    for name in SHADERS {
        for k in [2, 5, 64] {
            let source = specialise(name, k);
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{name} (K = {k}): {}", e.emit_to_string(&source)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::empty(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name} (K = {k}): {}", e.emit_to_string(&source)));
        }
    }
}

#[test]
fn every_shader_file_is_a_pipeline_with_a_cpu_twin_file_of_its_name() {
    let mut listed: Vec<String> = SHADERS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(shader_files(), listed, "shaders/ and gpu::SHADERS disagree");
    let cpu = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine/backend/cpu");
    for name in SHADERS {
        let file = format!("{name}.rs");
        let found = [
            cpu.join(&file),
            cpu.join("seg").join(&file),
            cpu.join("staple").join(&file),
        ]
        .iter()
        .any(|p| p.is_file());
        assert!(
            found,
            "{name}.wgsl has no CPU twin file {file} under {}",
            cpu.display()
        );
    }
}
