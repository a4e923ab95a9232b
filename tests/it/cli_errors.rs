//! Bad input and bad usage: a clear message naming file and line, exit
//! code 2, and no output file.

use crate::support::*;

fn assert_no_output(dir: &std::path::Path) {
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out") || n.starts_with(".accord-"))
        .collect();
    assert!(
        names.is_empty(),
        "output or temp files left behind: {names:?}"
    );
}

fn fails_at(content: &[u8], name: &str, extra: &[&str], expected: &[&str]) {
    let dir = tmp();
    let input = file(dir.path(), name, content);
    let out = dir.path().join("out.csv");
    let mut args = vec!["consolidate", input.as_str(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let stderr = accord_bad_input(&args);
    for e in expected {
        assert!(stderr.contains(e), "stderr should contain {e:?}: {stderr}");
    }
    assert!(
        stderr.contains(name),
        "stderr should name the file: {stderr}"
    );
    assert_no_output(dir.path());
}

#[test]
fn ragged_line_names_the_line() {
    fails_at(
        b"item,worker,label\na,w,x\nb,w\n",
        "ragged.csv",
        &[],
        &["line 3", "expected 3 fields"],
    );
    fails_at(
        b"item,worker,label\na,w,x,extra\n",
        "extra.csv",
        &[],
        &["line 2", "found 4"],
    );
}

#[test]
fn bytes_that_are_not_utf8_name_the_line() {
    fails_at(
        b"item,worker,label\na,w,x\nb,w\xff\xfe,x\n",
        "latin.csv",
        &[],
        &["line 3", "not valid UTF-8"],
    );
    fails_at(
        b"{\"item\":\"a\",\"worker\":\"w\",\"label\":\"x\"}\n{\"item\":\"\xff\"}\n",
        "bad.jsonl",
        &[],
        &["line 2", "UTF-8"],
    );
}

#[test]
fn missing_header_and_empty_ids_are_errors() {
    fails_at(
        b"a,w,x\nb,w,y\n",
        "noheader.csv",
        &[],
        &["line 1", "header"],
    );
    fails_at(
        b"item,worker,label\na,,x\n",
        "empty.csv",
        &[],
        &["line 2", "empty worker id"],
    );
}

#[test]
fn label_outside_categories_names_the_line() {
    fails_at(
        b"item,worker,label\na,w,owl\nb,w,parrot\n",
        "birds.csv",
        &["--categories", "owl,falcon"],
        &["line 3", "\"parrot\"", "owl,falcon"],
    );
}

#[test]
fn empty_input_needs_categories() {
    fails_at(b"", "empty.csv", &[], &["line 1", "empty"]);
    fails_at(
        b"item,worker,label\n",
        "header_only.csv",
        &[],
        &["--categories"],
    );
    // With a label set, an empty input is a valid empty result.
    let dir = tmp();
    let input = file(dir.path(), "h.csv", "item,worker,label\n");
    let out = accord_ok(&["consolidate", &input, "-q", "--categories", "a,b"]);
    assert_eq!(out, "item,label,confidence\n");
}

#[test]
fn malformed_json_names_line_or_object() {
    fails_at(
        b"{\"item\":\"a\",\"worker\":\"w\",\"label\":\"x\"}\n{\"item\": \"a\",\n",
        "cut.jsonl",
        &[],
        &["line 2", "invalid JSON"],
    );
    fails_at(
        b"{\"item\":\"a\",\"worker\":\"w\"}\n",
        "nolabel.jsonl",
        &[],
        &["line 1", "missing field \"label\""],
    );
    fails_at(
        b"[{\"datasetObjectId\": \"1\", \"annotations\": [",
        "cut.json",
        &["--format", "gt-request"],
        &["line 1", "invalid JSON"],
    );
    fails_at(
        br#"[{"datasetObjectId": "7", "annotations": [{"workerId": "w", "annotationData": {"content": "{\"crowd-image-classifier\": {}}"}}]}]"#,
        "nolabel.json",
        &[],
        &["object 0", "\"7\"", "no classification label"],
    );
}

#[test]
fn output_may_not_be_the_input() {
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w,x\n");
    let stderr = accord_bad_input(&["consolidate", &input, "-o", &input]);
    assert!(stderr.contains("is the input file"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&input).unwrap(),
        "item,worker,label\na,w,x\n"
    );
}

#[test]
fn unknown_flag_and_bad_values_are_usage_errors() {
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w,x\n");
    accord_bad_input(&["consolidate", &input, "--no-such-flag"]);
    let stderr = accord_bad_input(&["consolidate", &input, "--max-iter", "0"]);
    assert!(stderr.contains("--max-iter"), "{stderr}");
}

#[test]
fn missing_input_file_is_a_clear_error() {
    let out = accord(&["consolidate", "/nonexistent/labels.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/labels.csv"), "{stderr}");
}

#[test]
fn help_documents_every_flag_with_defaults() {
    let help = accord_ok(&["consolidate", "--help"]);
    for flag in [
        "--format",
        "--categories",
        "--method",
        "--backend",
        "--max-iter",
        "--tol",
        "--smoothing",
        "--prior-correct",
        "--seed",
        "--ties",
        "--duplicates",
        "--out",
        "--out-format",
        "--posteriors",
        "--label-attribute",
        "--data-type",
        "--job-name",
        "--creation-date",
        "--workers-out",
        "--task",
        "--sigma",
        "--radius",
        "--confidence-maps",
        "--max-pixels",
        "--init",
        "--prior-strength",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(
        help.contains("[default: auto; segmentation: smooth-mv;"),
        "{help}"
    );
}

#[test]
fn fast_reader_counts_crlf_and_blank_lines_in_error_positions() {
    fails_at(
        b"item,worker,label\r\na,w,x\r\n\r\nb,w,y\r\n\nc,w\r\n",
        "crlf.csv",
        &[],
        &["line 6", "expected 3 fields as in the header, found 2"],
    );
    // And the same file without the bad line reads all records.
    let dir = tmp();
    let input = file(
        dir.path(),
        "ok.csv",
        "item,worker,label\r\na,w,x\r\n\r\nb,w,y\r\n\n",
    );
    let rows = csv_rows(&accord_ok(&["consolidate", &input, "-q"]));
    assert_eq!(rows.len(), 2);
}

/// Regression: `accord info | head` panicked in println! on the closed pipe.
#[test]
fn closed_stdout_is_not_an_error() {
    let birds = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/birds/labels.csv");
    for args in [
        vec!["info"],
        vec!["consolidate", birds, "--backend", "cpu", "-q"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write now fails with EPIPE
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "accord {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "accord {args:?}: {stderr}");
    }
}

#[test]
fn a_missing_output_folder_writes_nothing_and_stops_before_reading() {
    // Regression: `-o out.csv --workers-out nosuch/w.csv` exited 1 with
    // out.csv already written, after all the work.
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let out = dir.path().join("out.csv");
    for flag in ["--workers-out", "--review-out"] {
        let err = accord_bad_input(&[
            "consolidate",
            &input,
            "-o",
            out.to_str().unwrap(),
            flag,
            dir.path().join("nosuch/w.csv").to_str().unwrap(),
        ]);
        assert!(
            err.contains("the folder") && err.contains("does not exist"),
            "{err}"
        );
        assert!(!out.exists(), "{flag}: out.csv was written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".accord-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn error_messages_name_the_users_path_once() {
    // Regression: "No such file or directory (os error 2) at path
    // \"/tmp/.../.accord-SPLmu3.tmp\": No such file ..." and "Is a directory
    // (os error 21): Is a directory (os error 21)".
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let err = accord_bad_input(&["consolidate", &input, "-o", "nosuch/dir/out.csv"]);
    assert!(
        !err.contains(".accord-") && !err.contains("os error"),
        "{err}"
    );
    assert!(err.contains("nosuch/dir/out.csv"), "{err}");
    let err = accord_bad_input(&["consolidate", dir.path().to_str().unwrap()]);
    assert_eq!(err.matches("folder").count(), 1, "{err}");
    let out = accord(&[
        "consolidate",
        dir.path().join("missing.csv").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

#[test]
fn the_backend_notice_is_printed_only_with_verbose() {
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let quiet = accord(&[
        "consolidate",
        &input,
        "-o",
        dir.path().join("a.csv").to_str().unwrap(),
    ]);
    let verbose = accord(&[
        "consolidate",
        &input,
        "-v",
        "-o",
        dir.path().join("b.csv").to_str().unwrap(),
    ]);
    let (quiet, verbose) = (
        String::from_utf8_lossy(&quiet.stderr),
        String::from_utf8_lossy(&verbose.stderr),
    );
    assert!(!quiet.contains("using the CPU backend"), "{quiet}");
    // With -v the choice is explained (no adapter, or a software one).
    if accord::engine::backend::gpu::GpuBackend::new().map_or(true, |g| g.is_software()) {
        assert!(verbose.contains("using the CPU backend"), "{verbose}");
    }
    assert!(
        quiet.contains("1 annotation of 1 item by 1 worker, 1 class"),
        "{quiet}"
    );
}

#[test]
fn help_texts_name_each_commands_own_methods_and_group_flags() {
    // Regression: the top-level help called evaluate "Score consolidated
    // segmentation masks"; simulate and report listed segmentation methods;
    // consolidate's 200 lines of flags were in one list.
    let top = accord_ok(&["--help"]);
    let evaluate = top
        .lines()
        .find(|l| l.trim_start().starts_with("evaluate"))
        .unwrap();
    assert!(evaluate.contains("labels"), "{evaluate}");
    for command in ["simulate", "report"] {
        let help = accord_ok(&[command, "--help"]);
        for seg in ["smooth-mv", "staple"] {
            assert!(!help.contains(seg), "{command} --help lists {seg}");
        }
        assert!(help.contains("hds"), "{command}");
    }
    let consolidate = accord_ok(&["consolidate", "--help"]);
    for heading in [
        "Input:",
        "Method:",
        "Output:",
        "Ground Truth output:",
        "Segmentation:",
        "Reporting:",
    ] {
        assert!(
            consolidate.lines().any(|l| l == heading),
            "no {heading} heading"
        );
    }
    assert!(
        !consolidate.contains("(ds)\n"),
        "--prior-correct applies to hds too"
    );
}

#[test]
fn info_summarises_features_and_counts_threads_in_words() {
    // Regression: a 2,000-character Features dump, and "(1 threads)".
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .arg("info")
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(1 thread)"), "{text}");
    for line in text.lines() {
        assert!(
            line.len() < 300,
            "a {}-character line: {line:.80}...",
            line.len()
        );
    }
    if text.contains("features:") {
        let verbose = accord_ok(&["info", "--verbose"]);
        assert!(verbose.len() > text.len(), "--verbose lists every feature");
    }
}

#[test]
fn no_output_may_be_an_input_or_another_output_under_any_name() {
    // Regression: --workers-out ./out.csv beside -o out.csv, and --gold g.csv
    // -o g.csv, exited 0 with a file overwritten.
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let gold = file(dir.path(), "g.csv", "item,label\na,x\n");
    let out = dir.path().join("out.csv");
    let same = dir.path().join(".").join("out.csv");
    for extra in [
        vec!["--workers-out", same.to_str().unwrap()],
        vec!["--review-out", same.to_str().unwrap()],
        vec!["--skip-invalid", "--rejects", same.to_str().unwrap()],
    ] {
        let mut args = vec!["consolidate", &input, "-o", out.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let err = accord_bad_input(&args);
        assert!(err.contains("two outputs"), "{err}");
        assert!(!out.exists());
    }
    let err = accord_bad_input(&["consolidate", &input, "--gold", &gold, "-o", &gold]);
    assert!(err.contains("is the input file"), "{err}");
    assert_eq!(std::fs::read_to_string(&gold).unwrap(), "item,label\na,x\n");
}

#[test]
fn broken_csv_and_json_records_are_refused_with_their_line() {
    // Regressions: an unclosed quote at the end was read as a label; a
    // repeated header column and a repeated JSON key were resolved silently.
    let dir = tmp();
    let cases = [
        (
            "q.csv",
            "item,worker,label\ni1,w1,a\ni2,w2,\"ow",
            "line 3: a quoted field",
        ),
        (
            "h.csv",
            "item,worker,label,label\ni1,w1,a,b\n",
            "line 1: the header names \"label\" in more than one column",
        ),
        (
            "k.jsonl",
            "{\"item\": \"a\", \"worker\": \"w\", \"label\": \"x\", \"item\": \"b\"}\n",
            "line 1: invalid JSON: the key \"item\" appears twice",
        ),
    ];
    for (name, text, expected) in cases {
        let path = file(dir.path(), name, text);
        let err = accord_bad_input(&["consolidate", &path]);
        assert!(err.contains(expected), "{name}: {err}");
    }
    // A quote inside an unquoted field is text, as the csv crate reads it.
    let inches = file(dir.path(), "in.csv", "item,worker,label\ni1,w1,5\"\n");
    assert!(accord_ok(&["consolidate", &inches, "-q"]).contains("5\"\"\""));
}

#[test]
fn both_csv_readers_trim_fields_alike() {
    // Regression: the fast reader trimmed ASCII whitespace, the general one
    // (taken with --skip-invalid) Unicode whitespace: 6 classes or 2.
    let dir = tmp();
    let nbsp = "\u{a0}";
    let text = format!("item,worker,label\na,w1, x \nb,w1,x{nbsp}\nc,w2,\ty\n");
    let path = file(dir.path(), "in.csv", &text);
    let fast = accord_ok(&["consolidate", &path, "-q", "--posteriors"]);
    let general = accord_ok(&[
        "consolidate",
        &path,
        "-q",
        "--posteriors",
        "--skip-invalid",
        "--rejects",
        dir.path().join("r.csv").to_str().unwrap(),
    ]);
    assert_eq!(fast, general);
    assert_eq!(
        fast.lines().next().unwrap().matches("p_").count(),
        3,
        "{fast}"
    );
}

#[test]
fn a_huge_header_gives_a_short_message_that_says_what_was_cut() {
    // Regression: a 5.5 MB header line gave a 7.6 MB error message.
    let dir = tmp();
    let header = "x,".repeat(300_000);
    let path = file(dir.path(), "wide.csv", format!("{header}y\na,b\n"));
    let err = accord_bad_input(&["consolidate", &path]);
    assert!(err.len() < 5_000, "{} bytes", err.len());
    assert!(err.contains("more bytes cut"), "{err:.300}");
}

#[test]
fn a_closed_stdout_still_gets_the_worker_report_and_rejects_written() {
    // Regression: `| head -c1` ended the run with exit 0 before the rejects
    // file and worker report were written: a rejected record was recorded
    // nowhere.
    let dir = tmp();
    let input = file(
        dir.path(),
        "in.csv",
        "item,worker,label\na,w1,x\n,w2,y\nb,w1,y\n",
    );
    let workers = dir.path().join("w.csv");
    let rejects = dir.path().join("r.csv");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["consolidate", &input, "-q", "--skip-invalid", "--rejects"])
        .arg(&rejects)
        .arg("--workers-out")
        .arg(&workers)
        .stdout(writer)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        csv_rows(&std::fs::read_to_string(&rejects).unwrap()).len(),
        1
    );
    assert!(std::fs::read_to_string(&workers).unwrap().contains("w1"));
}

#[test]
fn a_folder_given_as_gold_or_predictions_says_so_with_exit_2() {
    // Regression: a directory as gold file said "expected a header".
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\n");
    let folder = dir.path().to_str().unwrap();
    let err = accord_bad_input(&["consolidate", &input, "--gold", folder, "-q"]);
    assert!(err.contains("is a folder"), "{err}");
    let err = accord_bad_input(&["evaluate", "--pred", folder, "--gold", &input]);
    assert!(err.contains("is a folder"), "{err}");
}

#[test]
fn every_command_refuses_an_output_onto_its_inputs_or_a_link_to_another_output() {
    // Regressions from the hostile corpus: report, simulate and evaluate
    // wrote over their gold or predictions; two outputs through a link;
    // a Lambda event's payload overwritten by -o.
    let dir = tmp();
    let input = file(
        dir.path(),
        "in.csv",
        "item,worker,label\na,w1,x\na,w2,x\nb,w1,y\n",
    );
    let gold = file(dir.path(), "gold.csv", "item,label\na,x\nb,y\n");
    let pred = file(dir.path(), "p.svg", "item,label\na,x\nb,y\n");
    for args in [
        vec![
            "report",
            &input,
            "--gold",
            &gold,
            "-o",
            &gold,
            "--repeats",
            "0",
        ],
        vec![
            "simulate",
            &input,
            "--gold",
            &pred,
            "--plot",
            &pred,
            "--repeats",
            "1",
        ],
        vec![
            "evaluate",
            "--pred",
            &pred,
            "--gold",
            &gold,
            "--plot-confusion",
            &pred,
        ],
    ] {
        let err = accord_bad_input(&args);
        assert!(err.contains("is the input file"), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(&gold).unwrap(),
        "item,label\na,x\nb,y\n"
    );
    let w = dir.path().join("w.csv");
    let link = dir.path().join("r.csv");
    std::os::unix::fs::symlink(&w, &link).unwrap();
    let err = accord_bad_input(&[
        "consolidate",
        &input,
        "-o",
        dir.path().join("o.csv").to_str().unwrap(),
        "--workers-out",
        w.to_str().unwrap(),
        "--review-out",
        link.to_str().unwrap(),
    ]);
    assert!(err.contains("two outputs"), "{err}");
    let request = file(dir.path(), "request.json", "[]");
    let event = file(
        dir.path(),
        "event.json",
        r#"{"version": "2018-10-16", "labelCategories": ["x"], "payload": {"s3Uri": "request.json"}}"#,
    );
    let err = accord_bad_input(&["consolidate", &event, "-o", &request]);
    assert!(err.contains("is the input file"), "{err}");
    assert_eq!(std::fs::read_to_string(&request).unwrap(), "[]");
}

#[test]
fn unbounded_counts_and_endless_devices_are_refused() {
    // Regressions: generate --workers u64::MAX panicked (capacity overflow),
    // --repeats u64::MAX too; /dev/zero as input ran out of memory.
    let dir = tmp();
    let input = file(dir.path(), "in.csv", "item,worker,label\na,w1,x\nb,w1,y\n");
    let gold = file(dir.path(), "gold.csv", "item,label\na,x\nb,y\n");
    let huge = "18446744073709551615";
    for args in [
        vec!["generate", "-o", "g", "--items", "100", "--workers", huge],
        vec!["generate", "-o", "g", "--items", "100", "--classes", huge],
        vec!["simulate", &input, "--gold", &gold, "--repeats", huge],
        vec![
            "report",
            &input,
            "--gold",
            &gold,
            "-o",
            "r.html",
            "--repeats",
            huge,
        ],
    ] {
        let err = accord_bad_input(&args);
        assert!(err.contains("is more than"), "{args:?}: {err}");
    }
    let err = accord_bad_input(&["consolidate", "/dev/zero", "--format", "csv"]);
    assert!(err.contains("is a device"), "{err}");
    let err = accord_bad_input(&["consolidate", &input, "--gold", "/dev/zero"]);
    assert!(err.contains("is a device"), "{err}");
}

#[test]
fn a_file_too_large_for_memory_is_refused_before_it_is_read() {
    // 200,000 annotations need at least 16 bytes each (3.2 MB) once packed;
    // ACCORD_MEMORY_LIMIT stands in for a machine with 1 MB. The refusal
    // comes from the file's size, before any reading (the fit's own check
    // would name items and classes instead).
    let dir = tmp();
    let mut csv = String::from("item,worker,label\n");
    for a in 0..200_000 {
        csv.push_str(&format!("item-{},w-{},{}\n", a / 5, a % 97, a % 3));
    }
    let input = file(dir.path(), "large.csv", csv.as_bytes());
    let out = dir.path().join("out.csv");
    let run = |limit: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(["consolidate", input.as_str(), "-o", out.to_str().unwrap()])
            .args(["--method", "mv"])
            .env("ACCORD_MEMORY_LIMIT", limit)
            .output()
            .unwrap()
    };
    let refused = run("1000000");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    for part in [
        "large.csv",
        "annotations (its size",
        "of memory is available",
        "split the input",
    ] {
        assert!(
            stderr.contains(part),
            "stderr should contain {part:?}: {stderr}"
        );
    }
    let estimate: u64 = stderr
        .split("about ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((180_000..=220_000).contains(&estimate), "{stderr}");
    assert_no_output(dir.path());
    // With room, the same file runs.
    let fine = run("2000000000");
    assert!(
        fine.status.success(),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
}
