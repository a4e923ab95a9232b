//! Faults: an interrupt or a failing disk leaves no half-written output.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::*;

/// Names in `dir` other than `keep`.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[test]
fn an_interrupt_leaves_a_complete_output_or_none() {
    let dir = tmp();
    accord_ok(&[
        "generate",
        "--items",
        "300000",
        "--workers",
        "500",
        "--out",
        dir.path().join("data").to_str().unwrap(),
    ]);
    let input = dir.path().join("data/labels.csv");
    let mut interrupted = 0;
    // Interrupts at several moments: reading, fitting, writing, or after.
    for delay_ms in [150, 400, 700, 1000, 1400, 2000] {
        let out = dir.path().join("out.csv");
        let _ = std::fs::remove_file(&out);
        let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(["consolidate", input.to_str().unwrap(), "--backend", "cpu"])
            .args(["--posteriors", "-q", "-o", out.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        match status.code() {
            Some(130) => {
                interrupted += 1;
                // Interrupted before the outputs were renamed into place:
                // none; after (while printing the summary): all, complete.
                if out.exists() {
                    let text = std::fs::read_to_string(&out).unwrap();
                    assert_eq!(
                        text.lines().count(),
                        300_001,
                        "interrupted at {delay_ms} ms and left a partial out.csv"
                    );
                }
            }
            Some(0) => {
                let text = std::fs::read_to_string(&out).unwrap();
                assert_eq!(
                    text.lines().count(),
                    300_001,
                    "a finished run wrote every item"
                );
            }
            other => panic!("exit {other:?} after an interrupt at {delay_ms} ms"),
        }
        let left = leftovers(dir.path(), &["data", "out.csv"]);
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
    assert!(
        interrupted > 0,
        "no run was interrupted: make the input larger"
    );
}

/// Runs accord where no file may grow beyond `blocks` blocks of 512 bytes,
/// as on a disk that fills up.
fn with_small_disk(blocks: u32, args: &[&str], dir: &Path) -> std::process::Output {
    // `trap '' XFSZ`: the write fails with EFBIG instead of killing accord.
    let script = format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\"");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_no_file() {
    let dir = tmp();
    accord_ok(&[
        "generate",
        "--items",
        "20000",
        "--out",
        dir.path().join("data").to_str().unwrap(),
    ]);
    let output = with_small_disk(
        64,
        &[
            "consolidate",
            "data/labels.csv",
            "--backend",
            "cpu",
            "--posteriors",
            "-o",
            "out.csv",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write out.csv"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(leftovers(dir.path(), &["data"]), Vec::<String>::new());
}

#[test]
fn a_segmentation_folder_is_all_or_nothing() {
    let dir = tmp();
    accord_ok(&[
        "generate",
        "--task",
        "segmentation",
        "--images",
        "6",
        "--size",
        "128x128",
        "--out",
        dir.path().join("data").to_str().unwrap(),
    ]);
    let output = with_small_disk(
        2,
        &[
            "consolidate",
            "--task",
            "segmentation",
            "data/annotations.jsonl",
            "--backend",
            "cpu",
            "--confidence-maps",
            "-o",
            "seg",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert_eq!(leftovers(dir.path(), &["data"]), Vec::<String>::new());
    // With room, the folder appears whole.
    accord_ok(&[
        "consolidate",
        "--task",
        "segmentation",
        dir.path().join("data/annotations.jsonl").to_str().unwrap(),
        "--backend",
        "cpu",
        "-q",
        "-o",
        dir.path().join("seg").to_str().unwrap(),
    ]);
    assert!(dir.path().join("seg/output.manifest").exists());
    assert_eq!(
        leftovers(dir.path(), &["data", "seg"]),
        Vec::<String>::new()
    );
}
