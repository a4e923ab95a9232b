//! The bad-input corpus (`tests/corpus`, written by `make_corpus.py`): every
//! reader, every kind of damage. Each case must fail with exit code 2, a
//! message naming the file, the line or object and the problem, and no
//! output; with `--skip-invalid`, record-level damage must instead land in
//! the rejects file, one row per bad record, and the run succeed.

use std::path::{Path, PathBuf};

use crate::support::*;

struct Case {
    file: &'static str,
    args: &'static [&'static str],
    /// Substrings of the error: where, then what.
    expect: &'static [&'static str],
    /// Rejects under `--skip-invalid`; `None`: the file as a whole is bad.
    skipped: Option<usize>,
}

const fn case(
    file: &'static str,
    args: &'static [&'static str],
    expect: &'static [&'static str],
    skipped: Option<usize>,
) -> Case {
    Case {
        file,
        args,
        expect,
        skipped,
    }
}

const SEG: &[&str] = &["--task", "segmentation"];

const CASES: &[Case] = &[
    case(
        "csv/truncated_line.csv",
        &[],
        &["line 5", "expected 3 fields"],
        Some(1),
    ),
    case(
        "csv/missing_column.csv",
        &[],
        &["line 3", "found 2"],
        Some(1),
    ),
    case("csv/extra_column.csv", &[], &["line 3", "found 4"], Some(1)),
    case(
        "csv/unclosed_quote.csv",
        &[],
        &["line 3", "expected 3 fields"],
        // The ragged record, and the quote never closed.
        Some(2),
    ),
    case(
        "csv/embedded_newline_then_short.csv",
        &[],
        &["line 3", "found 2"],
        Some(1),
    ),
    case(
        "csv/empty_item.csv",
        &[],
        &["line 3", "empty item id"],
        Some(1),
    ),
    case(
        "csv/empty_worker_quoted.csv",
        &[],
        &["line 2", "empty worker id"],
        Some(1),
    ),
    case("csv/long_id.csv", &[], &["line 3", "70000 bytes"], Some(1)),
    case(
        "csv/not_utf8.csv",
        &[],
        &["line 3", "not valid UTF-8"],
        Some(1),
    ),
    case(
        "csv/label_outside_categories.csv",
        &["--categories", "a,b"],
        &["line 3", "\"zebra\" is not one of --categories"],
        Some(1),
    ),
    case("csv/no_header.csv", &[], &["line 1", "header"], None),
    case("csv/empty.csv", &[], &["line 1", "empty"], None),
    case(
        "csv/header_only_bom_crlf.csv",
        &[],
        &["no annotation", "--categories"],
        None,
    ),
    case(
        "tsv/missing_column.tsv",
        &[],
        &["line 3", "found 2"],
        Some(1),
    ),
    case(
        "tsv/not_utf8.tsv",
        &[],
        &["line 3", "not valid UTF-8"],
        Some(1),
    ),
    case(
        "jsonl/truncated_object.jsonl",
        &[],
        &["line 2", "invalid JSON"],
        Some(1),
    ),
    case(
        "jsonl/not_an_object.jsonl",
        &[],
        &["line 2", "expected a JSON object"],
        Some(1),
    ),
    case(
        "jsonl/missing_field.jsonl",
        &[],
        &["line 2", "missing field \"worker\""],
        Some(1),
    ),
    case("jsonl/float_id.jsonl", &[], &["line 2", "not 1.5"], Some(1)),
    case(
        "jsonl/nan_literal.jsonl",
        &[],
        &["line 2", "invalid JSON"],
        Some(1),
    ),
    case(
        "jsonl/deeply_nested.jsonl",
        &[],
        &["line 2", "recursion limit"],
        Some(1),
    ),
    case(
        "jsonl/not_utf8.jsonl",
        &[],
        &["line 2", "not valid UTF-8"],
        Some(1),
    ),
    case(
        "gt/array_cut_short.json",
        &[],
        &["line 1", "EOF while parsing"],
        None,
    ),
    case(
        "gt/content_not_json.json",
        &[],
        &[
            "object 1 (datasetObjectId \"1\")",
            "annotation 0",
            "content is not valid JSON",
        ],
        Some(1),
    ),
    case(
        "gt/missing_id.json",
        &[],
        &["object 1", "missing datasetObjectId"],
        Some(1),
    ),
    case(
        "gt/repeated_id.json",
        &[],
        &["object 1", "repeats an earlier object"],
        Some(1),
    ),
    case(
        "gt/not_an_array.json",
        &["--format", "gt-request"],
        &["JSON array"],
        None,
    ),
    case("gt/deeply_nested.json", &[], &["recursion limit"], None),
    case(
        "csv/ok_bom_crlf.csv",
        &["--gold", "tests/corpus/gold/missing_column.csv"],
        &["missing_column.csv", "line 3"],
        None,
    ),
    case(
        "seg/gt_bad_base64.json",
        SEG,
        &["object 0", "annotation 1 (worker w2)", "not valid base64"],
        Some(1),
    ),
    case(
        "seg/gt_colour_outside_map.json",
        SEG,
        &["annotation 1", "#0000ff", "not in the colour map"],
        Some(1),
    ),
    case(
        "seg/gt_negative_size.json",
        SEG,
        &["annotation 1", "width must be a positive integer"],
        Some(1),
    ),
    case(
        "seg/gt_truncated_png.json",
        SEG,
        &["annotation 1", "not a readable PNG"],
        Some(1),
    ),
    case(
        "seg/mismatched_size.jsonl",
        SEG,
        &["line 3", "4×2", "3×2"],
        Some(1),
    ),
    case(
        "seg/missing_mask_file.jsonl",
        SEG,
        &["line 3", "nowhere.png"],
        Some(1),
    ),
    case(
        "seg/missing_worker.jsonl",
        SEG,
        &["line 3", "worker id"],
        Some(1),
    ),
    case(
        "seg/not_png.jsonl",
        SEG,
        &["line 3", "not a readable PNG"],
        Some(1),
    ),
    case(
        "seg/oversized_png.jsonl",
        SEG,
        &["line 3", "60000×60000", "--max-pixels"],
        Some(1),
    ),
    case(
        "seg/truncated_png.jsonl",
        SEG,
        &["line 3", "not a readable PNG"],
        Some(1),
    ),
];

fn corpus(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(file)
}

/// `consolidate FILE ARGS -o OUT [more]`; returns the output's path and
/// the run.
fn run(case: &Case, dir: &Path, more: &[&str]) -> (PathBuf, std::process::Output) {
    let input = corpus(case.file);
    let out = dir.join("out");
    let mut args = vec![
        "consolidate",
        input.to_str().unwrap(),
        "--backend",
        "cpu",
        "-o",
    ];
    args.push(out.to_str().unwrap());
    args.extend_from_slice(case.args);
    args.extend_from_slice(more);
    // Relative paths in the cases (--gold) are from the crate root.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run accord");
    (out, output)
}

#[test]
fn every_bad_input_fails_clearly_with_nothing_written() {
    for case in CASES {
        let dir = tmp();
        let (out, output) = run(case, dir.path(), &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{}: {stderr}", case.file);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.file);
        // (The --gold case names the gold file, in its `expect`.)
        assert!(
            stderr.contains(case.file) || case.args.contains(&"--gold"),
            "{}: the error names the file: {stderr}",
            case.file
        );
        for e in case.expect {
            assert!(
                stderr.contains(e),
                "{}: expected {e:?} in {stderr}",
                case.file
            );
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            left.is_empty(),
            "{}: left {left:?} ({})",
            case.file,
            out.display()
        );
    }
}

#[test]
fn skip_invalid_sends_each_bad_record_to_the_rejects_file() {
    for case in CASES {
        let dir = tmp();
        let (out, output) = run(case, dir.path(), &["--skip-invalid"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", case.file);
        let Some(expected) = case.skipped else {
            assert_eq!(output.status.code(), Some(2), "{}: {stderr}", case.file);
            continue;
        };
        assert!(output.status.success(), "{}: {stderr}", case.file);
        let rejects = if case.args == SEG {
            out.join("rejects.csv")
        } else {
            dir.path().join("out.rejects.csv")
        };
        let mut reader = csv::Reader::from_path(&rejects).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), expected, "{}: {rows:?}", case.file);
        let where_ = case.expect[0];
        assert!(
            rows.iter()
                .any(|r| r[0].contains(where_) || r[1].contains(where_)),
            "{}: rejects {rows:?} should say {where_:?}",
            case.file
        );
        assert!(
            stderr.contains(&format!("skipped {expected} invalid record")),
            "{}: {stderr}",
            case.file
        );
        assert!(out.exists(), "{}: no output", case.file);
    }
}

#[test]
fn unusual_but_valid_inputs_are_read() {
    for (file, items) in [
        ("csv/ok_bom_crlf.csv", 2),
        ("csv/ok_quotes_and_newlines.csv", 3),
        ("csv/ok_numbers_as_labels.csv", 2),
        ("jsonl/ok_bom_crlf.jsonl", 2),
    ] {
        let input = corpus(file);
        let text = accord_ok(&[
            "consolidate",
            input.to_str().unwrap(),
            "--backend",
            "cpu",
            "-q",
        ]);
        assert_eq!(csv_rows(&text).len(), items, "{file}: {text}");
    }
}
