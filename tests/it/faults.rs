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

/// Runs `mknod PATH c MAJOR MINOR`; `false` (printed) when not root.
fn private_device(path: &Path, major: u32, minor: u32) -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    if !root {
        eprintln!("skipped: making a device node needs root");
        return false;
    }
    let made = Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .status()
        .unwrap();
    assert!(made.success(), "mknod {}", path.display());
    true
}

#[test]
fn an_output_that_is_a_device_is_written_in_place_never_replaced() {
    // Regression: `-o /dev/null` as root replaced the machine's /dev/null
    // with a regular file (temp, then rename). Here on a private node.
    use std::os::unix::fs::FileTypeExt;
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\nb,w1,y\n");
    let null = dir.path().join("null");
    if !private_device(&null, 1, 3) {
        return;
    }
    accord_ok(&[
        "consolidate",
        &input,
        "-q",
        "-o",
        null.to_str().unwrap(),
        "--workers-out",
        null.to_str().unwrap().replace("null", "w.csv").as_str(),
    ]);
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "the device node was replaced: {kind:?}"
    );
    // A full disk (a copy of /dev/full) is an error, not a silent success.
    let full = dir.path().join("full");
    assert!(private_device(&full, 1, 7));
    let out = accord(&["consolidate", &input, "-q", "-o", full.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("No space left"), "{stderr}");
    assert!(std::fs::symlink_metadata(&full)
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn an_output_that_is_a_fifo_or_a_link_to_one_stays_what_it_is() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\nb,w1,y\n");
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let link = dir.path().join("stdout-like");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    accord_ok(&["consolidate", &input, "-q", "-o", link.to_str().unwrap()]);
    let text = reader.join().unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn outputs_follow_the_umask() {
    // Regression: outputs were 0644 whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let out = dir.path().join("out.csv");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077 && exec '{}' consolidate '{input}' -q -o '{}'",
            env!("CARGO_BIN_EXE_accord"),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

#[test]
fn a_pipe_as_input_is_read_once_and_whole() {
    // Regression: format detection read the first 4 KiB of a pipe, then
    // reopened it: 64 of 200 items silently gone.
    let dir = tmp();
    let mut text = String::from("{\"item\": \"i0\", \"worker\": \"w\", \"label\": \"x\"}\n");
    for i in 1..200 {
        text.push_str(&format!(
            "{{\"item\": \"i{i}\", \"worker\": \"w\", \"label\": \"x\"}}\n"
        ));
    }
    let src = file(dir.path(), "data.jsonl", &text);
    let out = dir.path().join("out.csv");
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' consolidate <(cat '{src}') -q -o '{}'",
            env!("CARGO_BIN_EXE_accord"),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 201);
}

#[test]
fn stderr_that_cannot_be_written_changes_nothing() {
    // Regression: `2>/dev/full` panicked (exit 101) and wrote no output.
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let out = dir.path().join("out.csv");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec '{}' consolidate '{input}' -o '{}' 2>/dev/full",
            env!("CARGO_BIN_EXE_accord"),
            out.display()
        ))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(out.exists());
}
