//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `accord` binary with `args`.
pub fn accord(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .output()
        .expect("run accord")
}

/// Runs `accord` and asserts success; returns stdout as text.
pub fn accord_ok(args: &[&str]) -> String {
    let out = accord(args);
    assert!(
        out.status.success(),
        "accord {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs `accord`, asserts exit code 2, and returns stderr.
pub fn accord_bad_input(args: &[&str]) -> String {
    let out = accord(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "accord {args:?} should fail with 2; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh temporary folder.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes `bytes` to `dir/name` and returns the path as a string.
pub fn file(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// `data`'s annotations as a long `item,worker,label` CSV, item by item.
pub fn labels_csv(data: &accord::engine::pack::Packed) -> String {
    let mut csv = String::from("item,worker,label\n");
    for i in 0..data.n_items() {
        for a in data.item_range(i) {
            csv.push_str(&format!(
                "{},{},{}\n",
                data.item_names.get(i),
                data.worker_names.get(data.item_worker[a] as usize),
                data.class_names[data.item_label[a] as usize]
            ));
        }
    }
    csv
}

/// Parses `item,label,confidence,...` CSV output into rows of fields.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The shared real datasets. The tests that call this are `#[ignore]`d
/// (the reason shows in the test summary) and run only when asked for
/// (`cargo test --release -- --ignored`, as CI does), so a missing folder is a failure with the
/// reason, not a silent pass.
pub fn shared_datasets() -> Option<PathBuf> {
    let dir = std::env::var_os("ACCORD_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    assert!(
        dir.is_dir(),
        "{} not found: set ACCORD_DATASETS to the folder of the real datasets",
        dir.display()
    );
    Some(dir)
}

/// A set drawn from the Dawid-Skene generator (`SynthSpec::numbered`),
/// packed, with its true classes.
pub fn synthetic_set(
    items: usize,
    workers: usize,
    k: usize,
    per_item: usize,
    seed: u64,
) -> (accord::engine::pack::Packed, Vec<u32>) {
    synthetic_from(&accord::synth::SynthSpec::numbered(
        items, workers, k, per_item, seed,
    ))
}

/// Generates `spec` and packs it, with the true classes.
pub fn synthetic_from(spec: &accord::synth::SynthSpec) -> (accord::engine::pack::Packed, Vec<u32>) {
    use accord::engine::pack::{pack, AnnotationBuilder, DuplicatePolicy};
    let mut b = AnnotationBuilder::with_categories(&spec.classes).unwrap();
    let mut truth = Vec::new();
    accord::synth::generate(
        spec,
        |_, c| {
            truth.push(c as u32);
            Ok(())
        },
        |i, w, l| {
            b.push(&format!("i{i}"), &format!("w{w}"), &l.to_string())
                .unwrap();
            Ok(())
        },
    )
    .unwrap();
    (pack(b.finish(), DuplicatePolicy::Keep).unwrap(), truth)
}

/// The cell shares ("0.27") a confusion heatmap SVG prints, in order.
pub fn heatmap_shares(svg: &str) -> Vec<f64> {
    svg.lines()
        .filter(|l| l.len() == 4 && l.as_bytes()[1] == b'.')
        .map(|l| l.parse().unwrap())
        .collect()
}

/// `accord generate ARGS` into `dir/data`: its labels and gold files.
pub fn generated(dir: &Path, args: &[&str]) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let mut all = vec!["generate", "--out", data.to_str().unwrap()];
    all.extend_from_slice(args);
    accord_ok(&all);
    (data.join("labels.csv"), data.join("gold.csv"))
}
