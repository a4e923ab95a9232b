//! Every reader and writer, field by field.

use serde_json::Value;

use crate::support::*;

const TRIPLES_CSV: &str =
    "item,worker,label\na,w1,owl\na,w2,owl\na,w3,falcon\nb,w1,falcon\nb,w2,falcon\nb,w3,falcon\n";

#[test]
fn csv_tsv_task_header_and_jsonl_give_the_same_labels() {
    let dir = tmp();
    let d = dir.path();
    let csv = file(d, "in.csv", TRIPLES_CSV);
    let tsv = file(d, "in.tsv", TRIPLES_CSV.replace(',', "\t"));
    let reordered = file(d, "re.csv", "label,task,worker\nowl,a,w1\nowl,a,w2\nfalcon,a,w3\nfalcon,b,w1\nfalcon,b,w2\nfalcon,b,w3\n");
    let jsonl = file(
        d,
        "in.jsonl",
        TRIPLES_CSV
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!(
                    "{{\"task\":\"{}\",\"worker\":\"{}\",\"label\":\"{}\"}}\n",
                    f[0], f[1], f[2]
                )
            })
            .collect::<String>(),
    );
    let expected = accord_ok(&["consolidate", &csv, "-q"]);
    assert!(
        expected.starts_with("item,label,confidence\na,owl,"),
        "{expected}"
    );
    for input in [&tsv, &reordered, &jsonl] {
        assert_eq!(
            accord_ok(&["consolidate", input, "-q"]),
            expected,
            "{input}"
        );
    }
}

#[test]
fn bom_crlf_quotes_and_embedded_newlines_are_read() {
    let dir = tmp();
    let input = file(
        dir.path(),
        "in.csv",
        "\u{feff}item,worker,label\r\n\"x, \"\"quoted\"\"\",w1,\"multi\nline\"\r\n\"x, \"\"quoted\"\"\",w2,\"multi\nline\"\r\n",
    );
    let out = accord_ok(&["consolidate", &input, "-q", "--method", "mv"]);
    let rows = csv_rows(&out);
    assert_eq!(
        rows,
        vec![vec![
            "x, \"quoted\"".to_string(),
            "multi\nline".into(),
            "1".into()
        ]]
    );
}

#[test]
fn posteriors_columns_follow_class_order_and_sum_to_one() {
    let dir = tmp();
    let input = file(dir.path(), "in.csv", TRIPLES_CSV);
    let out = accord_ok(&[
        "consolidate",
        &input,
        "-q",
        "--posteriors",
        "--categories",
        "owl,falcon,parrot",
    ]);
    let header = out.lines().next().unwrap();
    assert_eq!(header, "item,label,confidence,p_owl,p_falcon,p_parrot");
    for row in csv_rows(&out) {
        let p: Vec<f64> = row[3..].iter().map(|x| x.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
        let conf: f64 = row[2].parse().unwrap();
        assert!((conf - p.iter().cloned().fold(0.0, f64::max)).abs() < 1e-6);
    }
}

fn gt_request() -> String {
    let answer = |label: &str| {
        serde_json::to_string(&serde_json::json!({"crowd-image-classifier": {"label": label}}))
            .unwrap()
    };
    serde_json::json!([
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://bucket/owl.jpg"},
            "annotations": [
                {"workerId": "private.us-east-1.A", "annotationData": {"content": answer("owl")}},
                {"workerId": "private.us-east-1.B", "annotationData": {"content": answer("owl")}},
                {"workerId": "private.us-east-1.C", "annotationData": {"content": answer("falcon")}}
            ]
        },
        {
            "datasetObjectId": "1",
            "dataObject": {"s3Uri": "s3://bucket/falcon.jpg"},
            "annotations": [
                {"workerId": "private.us-east-1.A", "annotationData": {"content": answer("falcon")}},
                {"workerId": "private.us-east-1.B", "annotationData": {"content": answer("falcon")}}
            ]
        },
        {
            "datasetObjectId": "2",
            "dataObject": {"content": "a text nobody labelled"},
            "annotations": []
        }
    ])
    .to_string()
}

#[test]
fn ground_truth_request_to_manifest_field_by_field() {
    let dir = tmp();
    let input = file(dir.path(), "request.json", gt_request());
    let out = dir.path().join("output.manifest");
    accord_ok(&[
        "consolidate",
        &input,
        "-q",
        "--categories",
        "owl,falcon",
        "--out-format",
        "manifest",
        "--label-attribute",
        "bird",
        "--job-name",
        "birds-job",
        "--creation-date",
        "2026-11-23T10:00:00.000000",
        "-o",
        out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "every object appears, even the unlabelled one"
    );
    let first = &lines[0];
    assert_eq!(first["source-ref"], "s3://bucket/owl.jpg");
    assert_eq!(first["bird"], 0);
    let meta = &first["bird-metadata"];
    assert_eq!(meta["class-name"], "owl");
    assert_eq!(meta["type"], "groundtruth/image-classification");
    assert_eq!(meta["job-name"], "birds-job");
    assert_eq!(meta["human-annotated"], "yes");
    assert_eq!(meta["creation-date"], "2026-11-23T10:00:00.000000");
    let conf = meta["confidence"].as_f64().unwrap();
    assert!(conf > 0.5 && conf <= 1.0, "{conf}");
    assert_eq!(lines[1]["bird"], 1);
    assert_eq!(lines[1]["bird-metadata"]["class-name"], "falcon");
    assert_eq!(lines[2]["source"], "a text nobody labelled");
    assert!(lines[2]["bird"].is_u64());
}

#[test]
fn ground_truth_request_to_lambda_response_field_by_field() {
    let dir = tmp();
    let input = file(dir.path(), "request.json", gt_request());
    let out = accord_ok(&[
        "consolidate",
        &input,
        "-q",
        "--format",
        "gt-request",
        "--out-format",
        "gt-response",
        "--data-type",
        "text",
        "--creation-date",
        "2026-11-23T10:00:00.000000",
    ]);
    let response: Value = serde_json::from_str(&out).unwrap();
    let entries = response.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["datasetObjectId"], "0");
    let content = &entries[0]["consolidatedAnnotation"]["content"];
    // Classes from the data, sorted: falcon = 0, owl = 1.
    assert_eq!(content["label"]["label"], "owl");
    assert_eq!(content["label"]["class-id"], 1);
    assert!(content["label"]["confidence"].as_f64().unwrap() > 0.5);
    assert_eq!(
        content["label-metadata"]["type"],
        "groundtruth/text-classification"
    );
    assert_eq!(content["label-metadata"]["class-name"], "owl");
    assert_eq!(content["label-metadata"]["human-annotated"], "yes");
    assert_eq!(
        entries[1]["consolidatedAnnotation"]["content"]["label"]["label"],
        "falcon"
    );
}

#[test]
fn worker_report_csv_and_json() {
    let dir = tmp();
    let input = file(dir.path(), "in.csv", TRIPLES_CSV);
    let csv_path = dir.path().join("workers.csv");
    let json_path = dir.path().join("workers.json");
    for p in [&csv_path, &json_path] {
        accord_ok(&[
            "consolidate",
            &input,
            "-q",
            "--workers-out",
            p.to_str().unwrap(),
            "-o",
            dir.path().join("o.csv").to_str().unwrap(),
        ]);
    }
    let csv_text = std::fs::read_to_string(&csv_path).unwrap();
    assert!(
        csv_text.starts_with(
            "worker,annotations,accuracy,c_falcon_falcon,c_falcon_owl,c_owl_falcon,c_owl_owl,spammer_score\n"
        ),
        "{csv_text}"
    );
    assert_eq!(csv_rows(&csv_text).len(), 3);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(report["classes"], serde_json::json!(["falcon", "owl"]));
    let w3 = &report["workers"][2];
    assert_eq!(w3["worker"], "w3");
    assert_eq!(w3["annotations"], 2);
    let acc = w3["accuracy"].as_f64().unwrap();
    assert!(
        acc < report["workers"][0]["accuracy"].as_f64().unwrap(),
        "w3 disagreed once"
    );
    for row in w3["confusion"].as_array().unwrap() {
        let s: f64 = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((s - 1.0).abs() < 1e-5);
    }
}

#[test]
fn demo_dataset_is_regenerated_byte_for_byte() {
    let dir = tmp();
    accord_ok(&[
        "generate",
        "--preset",
        "birds",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/birds");
    for name in ["labels.csv", "gold.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join(name)).unwrap(),
            std::fs::read(shipped.join(name)).unwrap(),
            "{name} differs from the generator's output"
        );
    }
}

#[test]
fn same_seed_gives_identical_output_and_random_ties_depend_on_it() {
    let dir = tmp();
    // Every item is a 1-1 tie between two classes.
    let mut text = String::from("item,worker,label\n");
    for i in 0..200 {
        text.push_str(&format!("i{i},a,x\ni{i},b,y\n"));
    }
    let input = file(dir.path(), "ties.csv", text);
    let run = |seed: &str| {
        accord_ok(&[
            "consolidate",
            &input,
            "-q",
            "--method",
            "mv",
            "--ties",
            "random",
            "--seed",
            seed,
        ])
    };
    assert_eq!(run("7"), run("7"));
    assert_ne!(run("7"), run("8"));
    let labels: Vec<String> = csv_rows(&run("7"))
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    let x = labels.iter().filter(|l| *l == "x").count();
    assert!(
        (60..140).contains(&x),
        "random ties should split roughly evenly, got {x} of 200"
    );
    let lowest = accord_ok(&[
        "consolidate",
        &input,
        "-q",
        "--method",
        "mv",
        "--ties",
        "lowest",
    ]);
    assert!(csv_rows(&lowest)
        .iter()
        .all(|r| r[1] == "x" && r[2] == "0.5"));
}

#[test]
fn fast_and_general_csv_readers_agree_on_ids_labels_and_error_lines() {
    let dir = tmp();
    let spec = accord::synth::SynthSpec::numbered(6000, 40, 4, 3, 21);
    accord::synth::write_csv_dataset(&spec, dir.path()).unwrap();
    let plain = std::fs::read_to_string(dir.path().join("labels.csv")).unwrap();
    // A quoted header sends the same records through the general reader.
    let quoted = plain.replacen("item,worker,label", "\"item\",worker,label", 1);
    let fast = file(dir.path(), "fast.csv", &plain);
    let general = file(dir.path(), "general.csv", &quoted);
    let a = accord_ok(&["consolidate", &fast, "-q", "--posteriors"]);
    let b = accord_ok(&["consolidate", &general, "-q", "--posteriors"]);
    assert_eq!(a, b);
    for (path, reader) in [(&fast, "fast"), (&general, "general")] {
        let workers = dir.path().join(format!("{reader}-workers.csv"));
        accord_ok(&[
            "consolidate",
            path,
            "-q",
            "--workers-out",
            workers.to_str().unwrap(),
            "-o",
            dir.path().join("o.csv").to_str().unwrap(),
        ]);
    }
    assert_eq!(
        std::fs::read(dir.path().join("fast-workers.csv")).unwrap(),
        std::fs::read(dir.path().join("general-workers.csv")).unwrap(),
        "worker ids must come out in the same first-seen order"
    );
    // A ragged line deep in the file, past several parallel pieces.
    let mut lines: Vec<&str> = plain.lines().collect();
    lines[15_000] = "item-5000,w-1";
    // A later piece, parsed first or not, must not be the one reported.
    lines[17_500] = "item-5001,,1";
    let broken = file(dir.path(), "broken.csv", lines.join("\n"));
    let stderr = accord_bad_input(&["consolidate", &broken]);
    assert!(
        stderr.contains("line 15001") && stderr.contains("expected 3 fields"),
        "{stderr}"
    );
}

#[test]
fn generate_with_every_option_is_reproducible_and_readable() {
    let dir = tmp();
    let args = |out: &str, seed: &str, format: &str| {
        vec![
            "generate".to_string(),
            "--out".into(),
            out.into(),
            "--items".into(),
            "3000".into(),
            "--workers".into(),
            "60".into(),
            "--classes".into(),
            "4".into(),
            "--per-item".into(),
            "4".into(),
            "--accuracy".into(),
            "beta:8,2".into(),
            "--spammers".into(),
            "0.1".into(),
            "--adversarial".into(),
            "0.05".into(),
            "--class-skew".into(),
            "1".into(),
            "--load-skew".into(),
            "1.2".into(),
            "--seed".into(),
            seed.into(),
            "--format".into(),
            format.into(),
        ]
    };
    let run = |a: Vec<String>| accord_ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (a, b, c, j) = ["a", "b", "c", "j"]
        .map(|n| dir.path().join(n).to_str().unwrap().to_string())
        .into();
    run(args(&a, "5", "csv"));
    run(args(&b, "5", "csv"));
    run(args(&c, "6", "csv"));
    run(args(&j, "5", "jsonl"));
    let read = |d: &str, f: &str| std::fs::read(std::path::Path::new(d).join(f)).unwrap();
    assert_eq!(
        read(&a, "labels.csv"),
        read(&b, "labels.csv"),
        "same seed, same bytes"
    );
    assert_eq!(read(&a, "gold.csv"), read(&b, "gold.csv"));
    assert_ne!(read(&a, "labels.csv"), read(&c, "labels.csv"));
    // Skewed loads: the busiest worker labels far more than an even share.
    let labels = String::from_utf8(read(&a, "labels.csv")).unwrap();
    let busiest = labels
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("w-0"))
        .count();
    assert!(busiest > 3 * 12_000 / 60, "w-0 labelled {busiest} of 12000");
    // Skewed classes: class 0 is the most common truth.
    let gold = String::from_utf8(read(&a, "gold.csv")).unwrap();
    let zeros = gold.lines().skip(1).filter(|l| l.ends_with(",0")).count();
    assert!(zeros > 3000 / 3, "class 0 is gold for {zeros} of 3000");
    // The JSONL file holds the same annotations and consolidates alike.
    let from_csv = accord_ok(&["consolidate", &format!("{a}/labels.csv"), "-q"]);
    let from_jsonl = accord_ok(&["consolidate", &format!("{j}/labels.jsonl"), "-q"]);
    assert_eq!(from_csv, from_jsonl);
}

#[test]
fn fast_reader_keeps_ids_apart_that_share_prefixes_or_end_in_nul() {
    // Ids that are prefixes of one another across the 16-byte boundary of
    // the fast reader's packed keys, ids ending in NUL bytes, multi-byte
    // UTF-8, and a last line with no newline (fewer than 16 bytes left).
    let long = "abcdefghijklmnopqrstuvwxyz0123456789é";
    let mut ids: Vec<String> = (1..=long.len())
        .filter(|&n| long.is_char_boundary(n))
        .map(|n| long[..n].to_string())
        .collect();
    ids.push("ab\0".into());
    ids.push("ab\0\0".into());
    ids.push("abcdefghijklmno\0".into());
    let mut plain = String::from("item,worker,label\n");
    for (i, item) in ids.iter().enumerate() {
        for (j, worker) in ids.iter().enumerate().take(5) {
            plain.push_str(&format!("{item},{worker},{}\n", (i + j) % 3));
        }
    }
    plain.push_str("z,a,1");
    let dir = tmp();
    let quoted = plain.replacen("item,worker,label", "\"item\",worker,label", 1);
    let fast = file(dir.path(), "fast.csv", &plain);
    let general = file(dir.path(), "general.csv", &quoted);
    let a = accord_ok(&["consolidate", &fast, "-q", "--method", "mv"]);
    let b = accord_ok(&["consolidate", &general, "-q", "--method", "mv"]);
    assert_eq!(a, b);
    assert_eq!(csv_rows(&a).len(), ids.len() + 1, "{a}");
}

#[test]
fn out_dash_means_stdout_not_a_file_named_dash() {
    let dir = tmp();
    let input = file(dir.path(), "l.csv", "item,worker,label\na,w1,x\na,w2,x\n");
    // Run inside the folder so a file named "-" would land there.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .current_dir(dir.path())
        .args(["consolidate", &input, "-o", "-", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "item,label,confidence\na,x,1\n"
    );
    assert!(!dir.path().join("-").exists());
    let stderr = accord_bad_input(&["consolidate", "--task", "segmentation", &input, "-o", "-"]);
    assert!(stderr.contains("-o DIR"), "{stderr}");
}

#[test]
fn an_object_nobody_annotated_is_flagged_not_passed_off_as_human() {
    // Regression: the unlabelled object got the prior's label with
    // "human-annotated": "yes".
    let dir = tmp();
    let input = file(dir.path(), "request.json", gt_request());
    let manifest = accord_ok(&["consolidate", &input, "-q", "--out-format", "manifest"]);
    let lines: Vec<Value> = manifest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["label-metadata"]["human-annotated"], "yes");
    assert_eq!(lines[2]["label-metadata"]["human-annotated"], "no");
    let csv = csv_rows(&accord_ok(&["consolidate", &input, "-q"]));
    assert_eq!(csv[2], ["2", "", ""], "no label in CSV: {csv:?}");
    let out = accord(&[
        "consolidate",
        &input,
        "-o",
        dir.path().join("o.csv").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 item has no annotation"), "{stderr}");
}

/// A Lambda event for `request.json` beside it.
fn lambda_event(categories: &str) -> String {
    format!(
        r#"{{"version": "2018-10-16",
            "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/birds-job",
            "labelCategories": {categories},
            "labelAttributeName": "bird",
            "roleArn": "arn:aws:iam::111122223333:role/gt",
            "payload": {{"s3Uri": "request.json"}},
            "outputConfig": "s3://bucket/out"}}"#
    )
}

#[test]
fn a_ground_truth_lambda_event_is_read_with_its_categories_and_attribute() {
    // Regression: the event itself gave "line 1: missing field \"item\"".
    let dir = tmp();
    file(dir.path(), "request.json", gt_request());
    let event = file(
        dir.path(),
        "event.json",
        lambda_event(r#"["owl", "falcon"]"#),
    );
    let out = accord(&[
        "consolidate",
        &event,
        "--creation-date",
        "2026-11-23T10:00:00",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("labelCategories order"), "{stderr}");
    // A Lambda answers with the consolidation response, by default.
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    let content = &response[0]["consolidatedAnnotation"]["content"];
    assert_eq!(content["bird"]["label"], "owl");
    assert_eq!(content["bird"]["class-id"], 0, "the job's order: owl first");
    assert_eq!(content["bird-metadata"]["job-name"], "birds-job");
    let s3 = file(
        dir.path(),
        "s3.json",
        lambda_event(r#"["owl"]"#).replace("request.json", "s3://bucket/request.json"),
    );
    let err = accord_bad_input(&["consolidate", &s3]);
    assert!(
        err.contains("not local") && err.contains("file://"),
        "{err}"
    );
}

#[test]
fn manifest_class_index_follows_the_order_the_summary_names() {
    let dir = tmp();
    let input = file(dir.path(), "request.json", gt_request());
    let out = accord(&["consolidate", &input, "--out-format", "manifest"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(sorted: no category order given)"),
        "{stderr}"
    );
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["label"], 1, "sorted: falcon 0, owl 1");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    // Regression: `cat labels.csv | accord consolidate -` failed.
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["consolidate", "-", "-q", "--backend", "cpu"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"item\tworker\tlabel\na\tw1\tx\na\tw2\tx\nb\tw1\ty\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        csv_rows(&String::from_utf8_lossy(&out.stdout)),
        [["a", "x", "1"], ["b", "y", "1"]]
    );
}

#[test]
fn other_column_names_are_read_with_columns() {
    // Regression: a header image_id,annotator,answer was refused with no way out.
    let dir = tmp();
    let input = file(
        dir.path(),
        "in.csv",
        "image_id,annotator,answer\na,w1,x\na,w2,x\nb,w1,y\n",
    );
    let err = accord_bad_input(&["consolidate", &input]);
    assert!(err.contains("--columns"), "{err}");
    let out = accord_ok(&[
        "consolidate",
        &input,
        "-q",
        "--columns",
        "item=image_id,worker=annotator,label=answer",
    ]);
    assert_eq!(csv_rows(&out)[0], ["a", "x", "1"]);
    let jsonl = file(
        dir.path(),
        "in.jsonl",
        "{\"image_id\": 1, \"annotator\": \"w\", \"answer\": \"x\"}\n",
    );
    let out = accord_ok(&[
        "consolidate",
        &jsonl,
        "-q",
        "--columns",
        "item=image_id,worker=annotator,label=answer",
    ]);
    assert_eq!(csv_rows(&out)[0], ["1", "x", "1"]);
    let err = accord_bad_input(&["consolidate", &input, "--columns", "colour=x"]);
    assert!(
        err.contains("--columns") && err.contains("item, worker or label"),
        "{err}"
    );
}

#[test]
fn tsv_content_in_a_csv_file_is_read_as_tsv() {
    let dir = tmp();
    let input = file(
        dir.path(),
        "in.csv",
        "item\tworker\tlabel\na\tw1\tx\nb\tw1\ty\n",
    );
    let out = accord_ok(&["consolidate", &input, "-q"]);
    assert_eq!(csv_rows(&out).len(), 2);
    // Forced to CSV, the message suggests TSV.
    let err = accord_bad_input(&["consolidate", &input, "--format", "csv"]);
    assert!(err.contains("--format tsv"), "{err}");
}

#[test]
fn agreement_leaves_out_items_nobody_annotated() {
    // Regression: an unanswered Ground Truth object counted as an item
    // (301 instead of 300) and scaled consistency and uncertainty down.
    let dir = tmp();
    let request = file(dir.path(), "request.json", gt_request());
    let csv = file(
        dir.path(),
        "same.csv",
        "item,worker,label\n0,A,owl\n0,B,owl\n0,C,falcon\n1,A,falcon\n1,B,falcon\n",
    );
    let json = |path: &str| -> Value {
        serde_json::from_str(&accord_ok(&["agreement", path, "--json"])).unwrap()
    };
    let (with_empty, plain) = (json(&request), json(&csv));
    assert_eq!(with_empty["items"], 2);
    assert_eq!(with_empty["items_without_annotations"], 1);
    for key in ["consistency", "uncertainty", "krippendorff_alpha"] {
        assert_eq!(with_empty[key], plain[key], "{key}");
    }
}
