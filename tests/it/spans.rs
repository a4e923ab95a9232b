//! Named-entity spans: readers and their bad-input errors, the outputs,
//! the methods on generated data and on the shared CoNLL crowd set.

use std::collections::HashSet;
use std::path::Path;

use accord::eval::spans::{read_span_table, score_spans, SpanRow};
use accord::spans::read::{read_gt_request, read_tables, OffsetUnit, SpanReadOptions};
use accord::spans::{SpanConsolidator, SpanMethod};
use accord::synth::spans::{write_span_dataset, SpanSpec};
use serde_json::{json, Value};

use crate::support::*;

/// A request of one text and the given annotations (worker, entities).
fn request(text: &str, annotations: &[(&str, Value)]) -> String {
    let annotations: Vec<Value> = annotations
        .iter()
        .map(|(w, entities)| {
            let content = json!({"crowd-entity-annotation": {"entities": entities}});
            json!({"workerId": w, "annotationData": {"content": content.to_string()}})
        })
        .collect();
    json!([{ "datasetObjectId": "0", "dataObject": {"content": text}, "annotations": annotations }])
        .to_string()
}

fn entity(s: u32, e: u32, l: &str) -> Value {
    json!({"startOffset": s, "endOffset": e, "label": l})
}

/// The three tables in `dir`.
fn tables(dir: &Path, texts: &str, responses: &str, spans: &str) -> [String; 3] {
    [
        file(dir, "spans.csv", spans),
        file(dir, "responses.csv", responses),
        file(dir, "texts.jsonl", texts),
    ]
}

#[test]
fn a_request_and_the_tables_give_the_same_spans() {
    let dir = tmp();
    let text = "Ada Lovelace met Babbage in London";
    let req = request(
        text,
        &[
            ("w1", json!([entity(0, 12, "PER"), entity(28, 34, "LOC")])),
            (
                "w2",
                json!([
                    entity(0, 12, "PER"),
                    entity(17, 24, "PER"),
                    entity(28, 34, "LOC")
                ]),
            ),
            ("w3", json!([])),
        ],
    );
    let req_path = file(dir.path(), "req.json", &req);
    let from_request = read_gt_request(Path::new(&req_path), &SpanReadOptions::default()).unwrap();
    let [spans, responses, texts] = tables(
        dir.path(),
        &format!("{}\n", json!({"item": "0", "text": text})),
        "item,worker\n0,w1\n0,w2\n0,w3\n",
        "item,worker,start,end,label\n0,w1,0,12,PER\n0,w1,28,34,LOC\n0,w2,0,12,PER\n0,w2,17,24,PER\n0,w2,28,34,LOC\n",
    );
    let from_tables = read_tables(
        Path::new(&spans),
        Some(Path::new(&responses)),
        Path::new(&texts),
        &SpanReadOptions::default(),
    )
    .unwrap();
    for input in [&from_request, &from_tables] {
        let b = &input.batch;
        assert_eq!(b.n_responses(), 3, "the empty answer is an answer");
        assert_eq!(b.n_spans(), 5);
        assert_eq!(b.label_names, ["LOC", "PER"]);
    }
    for method in SpanMethod::ALL {
        let fit = |batch| {
            SpanConsolidator::new()
                .method(method)
                .fit_batch(batch)
                .unwrap()
        };
        let a = fit(from_request.batch.clone());
        let b = fit(from_tables.batch.clone());
        assert_eq!(a.fit.start, b.fit.start, "{method:?}");
        assert_eq!(a.fit.label, b.fit.label, "{method:?}");
        // Two of three workers marked the person and the place.
        let found: Vec<(u32, u32)> = a.spans().map(|s| (s.start, s.end)).collect();
        assert!(
            found.contains(&(0, 12)) && found.contains(&(28, 34)),
            "{method:?}: {found:?}"
        );
    }
}

#[test]
fn outputs_follow_ground_truths_text_span_format() {
    let dir = tmp();
    let req = file(
        dir.path(),
        "req.json",
        request(
            "Paris is nice",
            &[
                ("w1", json!([entity(0, 5, "LOC")])),
                ("w2", json!([entity(0, 5, "LOC")])),
            ],
        ),
    );
    let out = dir.path().join("out.jsonl");
    accord_ok(&[
        "consolidate",
        "--task",
        "spans",
        &req,
        "--out-format",
        "manifest",
        "--label-attribute",
        "ner",
        "--job-name",
        "job",
        "--creation-date",
        "2026-01-01T00:00:00",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    let line: Value = serde_json::from_str(std::fs::read_to_string(&out).unwrap().trim()).unwrap();
    assert_eq!(line["source"], "Paris is nice");
    assert_eq!(
        line["ner"]["annotations"]["entities"],
        json!([{"label": "LOC", "startOffset": 0, "endOffset": 5}])
    );
    assert_eq!(
        line["ner"]["annotations"]["labels"],
        json!([{"label": "LOC"}])
    );
    let meta = &line["ner-metadata"];
    assert_eq!(meta["type"], "groundtruth/text-span");
    assert_eq!(meta["human-annotated"], "yes");
    assert_eq!(meta["job-name"], "job");
    assert!(meta["entities"][0]["confidence"].as_f64().unwrap() > 0.5);
    let response: Value = serde_json::from_str(&accord_ok(&[
        "consolidate",
        "--task",
        "spans",
        &req,
        "--out-format",
        "gt-response",
        "-q",
    ]))
    .unwrap();
    assert_eq!(response[0]["datasetObjectId"], "0");
    assert_eq!(
        response[0]["consolidatedAnnotation"]["content"]["label"]["annotations"]["entities"][0]
            ["label"],
        "LOC"
    );
    let csv = csv_rows(&accord_ok(&["consolidate", "--task", "spans", &req, "-q"]));
    assert_eq!(csv[0][..4], ["0", "0", "5", "LOC"]);
    assert_eq!(csv[0][5..], ["2", "2", "Paris"], "support, answered, text");
}

#[test]
fn utf16_offsets_are_read_and_written_in_utf16() {
    let dir = tmp();
    // "😀 Bob": the emoji is 2 UTF-16 units, so Bob is 3..6 in UTF-16, 2..5 in code points.
    let req = file(
        dir.path(),
        "req.json",
        request(
            "😀 Bob",
            &[
                ("w1", json!([entity(3, 6, "PER")])),
                ("w2", json!([entity(3, 6, "PER")])),
            ],
        ),
    );
    let utf16 = SpanReadOptions {
        offsets: OffsetUnit::Utf16,
        ..Default::default()
    };
    let input = read_gt_request(Path::new(&req), &utf16).unwrap();
    assert_eq!((input.batch.span_start[0], input.batch.span_end[0]), (2, 5));
    let csv = csv_rows(&accord_ok(&[
        "consolidate",
        "--task",
        "spans",
        &req,
        "--offsets",
        "utf16",
        "-q",
    ]));
    assert_eq!(csv[0][1..4], ["3", "6", "PER"]);
    assert_eq!(csv[0][7], "Bob");
    // Inside the surrogate pair.
    let bad = file(
        dir.path(),
        "bad.json",
        request("😀 Bob", &[("w1", json!([entity(1, 6, "PER")]))]),
    );
    let err = accord_bad_input(&["consolidate", "--task", "spans", &bad, "--offsets", "utf16"]);
    assert!(
        err.contains("surrogate pair") && err.contains("object 0"),
        "{err}"
    );
}

#[test]
fn bad_spans_are_errors_naming_the_line_and_nothing_is_written() {
    let dir = tmp();
    let texts = "{\"item\": \"a\", \"text\": \"Ada wrote\"}\n";
    let out = dir.path().join("out.csv");
    let cases = [
        (
            "a,w1,0,30,PER\n",
            "line 2: end 30 is beyond the text, which has 9 characters",
        ),
        ("a,w1,3,3,PER\n", "line 2: start 3 is not before end 3"),
        ("a,w1,x,3,PER\n", "line 2: start \"x\" is not an integer"),
        ("b,w1,0,3,PER\n", "line 2: item \"b\" has no text"),
        (
            "a,w1,0,3,ORG\n",
            "line 2: label \"ORG\" is not one of --categories (PER,LOC)",
        ),
    ];
    for (row, expected) in cases {
        let [spans, responses, texts] = tables(
            dir.path(),
            texts,
            "item,worker\na,w1\n",
            &format!("item,worker,start,end,label\n{row}"),
        );
        let err = accord_bad_input(&[
            "consolidate",
            "--task",
            "spans",
            &spans,
            "--responses",
            &responses,
            "--texts",
            &texts,
            "--categories",
            "PER,LOC",
            "-o",
            out.to_str().unwrap(),
            "--workers-out",
            dir.path().join("w.csv").to_str().unwrap(),
        ]);
        assert!(
            err.contains(expected) && err.contains("spans.csv"),
            "{row}: {err}"
        );
        assert!(
            !out.exists() && !dir.path().join("w.csv").exists(),
            "nothing written on failure"
        );
    }
    let bad_request = file(
        dir.path(),
        "req.json",
        request(
            "Ada",
            &[(
                "w1",
                json!([{"startOffset": 0, "endOffset": 9, "label": "PER"}]),
            )],
        ),
    );
    let err = accord_bad_input(&["consolidate", "--task", "spans", &bad_request]);
    assert!(
        err.contains("object 0 (datasetObjectId \"0\")")
            && err.contains("entity 0: end 9 is beyond"),
        "{err}"
    );
}

#[test]
fn skip_invalid_lists_each_bad_span_with_its_file() {
    let dir = tmp();
    let [spans, responses, texts] = tables(
        dir.path(),
        "{\"item\": \"a\", \"text\": \"Ada wrote\"}\n",
        "item,worker\na,w1\na,w2\n",
        "item,worker,start,end,label\na,w1,0,3,PER\na,w2,0,99,PER\na,w2,0,3,PER\n",
    );
    let out = dir.path().join("out.csv");
    let o = out.to_str().unwrap();
    let run = accord(&[
        "consolidate",
        "--task",
        "spans",
        &spans,
        "--responses",
        &responses,
        "--texts",
        &texts,
        "--skip-invalid",
        "-o",
        o,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("skipped 1 invalid record"));
    let rejects = csv_rows(&std::fs::read_to_string(format!("{o}.rejects.csv")).unwrap());
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0][0], "line 3");
    assert!(
        rejects[0][1].contains("spans.csv") && rejects[0][1].contains("end 99"),
        "{:?}",
        rejects[0]
    );
    assert_eq!(
        csv_rows(&std::fs::read_to_string(&out).unwrap())[0][..4],
        ["a", "0", "3", "PER"]
    );
}

/// The spans of a consolidation as rows for scoring.
fn rows(labels: &accord::spans::SpanLabels) -> Vec<SpanRow> {
    labels
        .spans()
        .map(|s| (s.item.to_string(), s.start, s.end, s.label.to_string()))
        .collect()
}

/// Exact-span vote: a span kept when at least `share` of the text's workers
/// marked exactly it (the reference with its quorum tuned on gold).
fn exact_vote(batch: &accord::engine::pack::spans::SpanBatch, share: f64) -> Vec<SpanRow> {
    let mut out = Vec::new();
    for i in 0..batch.n_items() {
        let mut counts: std::collections::HashMap<(u32, u32, u32), usize> = Default::default();
        for r in batch.responses(i) {
            for s in batch.spans(r) {
                *counts
                    .entry((batch.span_start[s], batch.span_end[s], batch.span_label[s]))
                    .or_default() += 1;
            }
        }
        let answered = batch.responses(i).len() as f64;
        for ((s, e, l), c) in counts {
            if c as f64 >= share * answered {
                out.push((
                    batch.item_names.get(i).to_string(),
                    s,
                    e,
                    batch.label_names[l as usize].clone(),
                ));
            }
        }
    }
    out
}

/// F1 of every method (and the exact vote) on a set of tables.
fn f1_of_methods(spans: &Path, responses: &Path, texts: &Path, gold: &Path) -> Vec<(String, f64)> {
    let input = read_tables(spans, Some(responses), texts, &SpanReadOptions::default()).unwrap();
    let gold: Vec<SpanRow> = read_span_table(gold)
        .unwrap()
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let answered: HashSet<String> = (0..input.batch.n_items())
        .filter(|&i| !input.batch.responses(i).is_empty())
        .map(|i| input.batch.item_names.get(i).to_string())
        .collect();
    let mut out: Vec<(String, f64)> = SpanMethod::ALL
        .iter()
        .map(|&m| {
            let labels = SpanConsolidator::new()
                .method(m)
                .fit_batch(input.batch.clone())
                .unwrap();
            (
                m.name().to_string(),
                score_spans(&gold, &rows(&labels), Some(&answered)).micro.f1,
            )
        })
        .collect();
    out.push((
        "exact-vote-0.3".into(),
        score_spans(&gold, &exact_vote(&input.batch, 0.3), Some(&answered))
            .micro
            .f1,
    ));
    out
}

fn assert_default_wins(scores: &[(String, f64)]) {
    let default = scores[0].1;
    assert_eq!(scores[0].0, "seq");
    for (name, f1) in &scores[1..] {
        assert!(
            default > *f1,
            "seq {default:.4} should beat {name} {f1:.4}: {scores:?}"
        );
    }
}

#[test]
fn the_default_beats_voting_on_generated_spans() {
    let dir = tmp();
    let spec = SpanSpec::new(3000, 7);
    write_span_dataset(&spec, dir.path()).unwrap();
    let d = dir.path();
    let scores = f1_of_methods(
        &d.join("spans.csv"),
        &d.join("responses.csv"),
        &d.join("texts.jsonl"),
        &d.join("gold.csv"),
    );
    eprintln!("generated (3000 texts × 5 workers): {scores:?}");
    assert_default_wins(&scores);
    assert!(scores[0].1 > 0.85, "{scores:?}");
    // --strict-bio: a valid BIO chain, and it settles.
    let input = read_tables(
        &d.join("spans.csv"),
        Some(&d.join("responses.csv")),
        &d.join("texts.jsonl"),
        &SpanReadOptions::default(),
    )
    .unwrap();
    let strict = SpanConsolidator::new()
        .strict_bio(true)
        .patience(0)
        .fit_batch(input.batch)
        .unwrap();
    assert!(strict.fit.converged, "{} iterations", strict.fit.iterations);
    let gold: Vec<SpanRow> = read_span_table(&d.join("gold.csv"))
        .unwrap()
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let f1 = score_spans(&gold, &rows(&strict), None).micro.f1;
    assert!(
        f1 > scores[1].1 && f1 > scores[2].1,
        "strict {f1:.4} against {scores:?}"
    );
}

#[test]
fn seq_stops_where_its_decisions_settle_and_scores_no_lower() {
    // On generated crowds the loose chain's likelihood keeps rising toward
    // spurious spans (README, Spans); `--patience` stops EM once the count
    // of tokens changing their most probable tag stops falling.
    let dir = tmp();
    write_span_dataset(&SpanSpec::new(20_000, 12), dir.path()).unwrap();
    let d = dir.path();
    let input = read_tables(
        &d.join("spans.csv"),
        Some(&d.join("responses.csv")),
        &d.join("texts.jsonl"),
        &SpanReadOptions::default(),
    )
    .unwrap();
    let gold: Vec<SpanRow> = read_span_table(&d.join("gold.csv"))
        .unwrap()
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let fit = |patience: usize| {
        SpanConsolidator::new()
            .patience(patience)
            .fit_batch(input.batch.clone())
            .unwrap()
    };
    let (settling, plain) = (fit(3), fit(0));
    let (f1_settling, f1_plain) = (
        score_spans(&gold, &rows(&settling), None).micro.f1,
        score_spans(&gold, &rows(&plain), None).micro.f1,
    );
    let trace = &settling.fit;
    eprintln!(
        "patience 3: {} iterations, F1 {f1_settling:.4}; patience 0: {} iterations, F1 {f1_plain:.4}; changed {:?}",
        trace.iterations, plain.fit.iterations, trace.changed
    );
    assert!(
        trace.settled && !trace.converged,
        "{} iterations, changed {:?}",
        trace.iterations,
        trace.changed
    );
    assert!(trace.iterations < plain.fit.iterations);
    assert_eq!(trace.changed.len(), trace.iterations);
    // The first pass sets every answered token's tag.
    let tokens: u64 = (0..input.batch.n_items())
        .filter(|&i| !input.batch.responses(i).is_empty())
        .map(|i| input.batch.texts[i].split_whitespace().count() as u64)
        .sum();
    assert_eq!(trace.changed[0], tokens);
    // The stop: the fewest changes lie exactly `patience` iterations back.
    let fewest = trace.changed.iter().min().unwrap();
    let at = trace.changed.iter().position(|c| c == fewest).unwrap();
    assert_eq!(trace.iterations - 1 - at, 3, "{:?}", trace.changed);
    assert!(!plain.fit.settled);
    assert!(
        f1_settling >= f1_plain,
        "settling {f1_settling:.4} against {f1_plain:.4}"
    );
}

#[test]
#[ignore = "needs the real datasets (ACCORD_DATASETS, default ../shared/datasets): run with -- --ignored"]
fn the_default_beats_voting_on_the_conll_crowd_set() {
    let Some(root) = shared_datasets() else {
        return;
    };
    let d = root.join("ner-conll-mturk");
    let scores = f1_of_methods(
        &d.join("spans.csv"),
        &d.join("responses.csv"),
        &d.join("texts.jsonl"),
        &d.join("gold.csv"),
    );
    eprintln!("ner-conll-mturk exact-span F1: {scores:?}");
    assert_default_wins(&scores);
    assert!(scores[0].1 >= 0.77, "the issue's target: {scores:?}");
    // The request holds the same answers: the same F1 once ids are mapped by text.
    let input = read_gt_request(&d.join("request.json"), &SpanReadOptions::default()).unwrap();
    let labels = SpanConsolidator::new().fit_batch(input.batch).unwrap();
    assert_eq!(labels.fit.n_spans(), {
        let t = read_tables(
            &d.join("spans.csv"),
            Some(&d.join("responses.csv")),
            &d.join("texts.jsonl"),
            &SpanReadOptions::default(),
        )
        .unwrap();
        SpanConsolidator::new()
            .fit_batch(t.batch)
            .unwrap()
            .fit
            .n_spans()
    });
}

#[test]
fn the_readme_span_table_lists_exactly_the_span_methods() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## Spans\n")
        .nth(1)
        .expect("README has a Spans section");
    let mut names: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| `--method`"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('`').nth(1).expect("a `name` cell"))
        .collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = SpanMethod::ALL.iter().map(|m| m.name()).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
}

#[test]
fn texts_without_any_entity_or_answer_give_empty_results_in_every_method() {
    let dir = tmp();
    let [spans, responses, texts] = tables(
        dir.path(),
        "{\"item\": \"a\", \"text\": \"nothing here\"}\n{\"item\": \"b\", \"text\": \"nobody read this\"}\n",
        "item,worker\na,w1\na,w2\n",
        "item,worker,start,end,label\n",
    );
    for method in ["seq", "jaccard", "token-mv"] {
        let out = accord_ok(&[
            "consolidate",
            "--task",
            "spans",
            &spans,
            "--responses",
            &responses,
            "--texts",
            &texts,
            "--method",
            method,
            "--out-format",
            "manifest",
            "-q",
        ]);
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{method}");
        assert_eq!(
            lines[0]["label"]["annotations"]["entities"],
            json!([]),
            "{method}"
        );
        assert_eq!(lines[0]["label-metadata"]["human-annotated"], "yes");
        assert_eq!(
            lines[1]["label-metadata"]["human-annotated"], "no",
            "nobody answered b"
        );
    }
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "spans",
        &spans,
        "--responses",
        &responses,
        "--texts",
        &texts,
        "--gold",
        &spans,
    ]);
    assert!(err.contains("--gold is for classification"), "{err}");
}

/// `accord consolidate --task spans` on the generated tables in `d` with
/// `extra` flags; its summary (stderr). The run must succeed.
fn spans_summary(d: &str, extra: &[&str]) -> String {
    let (spans, responses, texts) = (
        format!("{d}/spans.csv"),
        format!("{d}/responses.csv"),
        format!("{d}/texts.jsonl"),
    );
    let mut args = vec![
        "consolidate",
        "--task",
        "spans",
        &spans,
        "--responses",
        &responses,
        "--texts",
        &texts,
        "-o",
        "-",
    ];
    args.extend(extra);
    let run = accord(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stderr).into_owned()
}

#[test]
fn seq_stopped_at_max_iter_does_not_advise_more_iterations() {
    // More iterations can lower `seq`'s precision on generated crowds
    // (README, Spans): the summary points to --strict-bio instead, and
    // keeps the usual hint under --strict-bio.
    let dir = tmp();
    let d = dir.path().to_str().unwrap();
    accord_ok(&[
        "generate", "--task", "spans", "--items", "300", "--seed", "3", "-o", d,
    ]);
    let plain = spans_summary(d, &["--max-iter", "1"]);
    assert!(
        plain.contains(
            "not converged (more iterations can add spurious spans; --strict-bio settles sooner)"
        ),
        "{plain}"
    );
    let strict = spans_summary(d, &["--max-iter", "1", "--strict-bio"]);
    assert!(
        strict.contains("not converged (raise --max-iter?)"),
        "{strict}"
    );
}

#[test]
fn seq_says_when_it_stopped_because_its_decisions_settled() {
    let dir = tmp();
    let d = dir.path().to_str().unwrap();
    accord_ok(&[
        "generate", "--task", "spans", "--items", "20000", "--seed", "12", "-o", d,
    ]);
    let run = |patience: &str| spans_summary(d, &["--patience", patience, "--max-iter", "20"]);
    let settled = run("3");
    assert!(
        settled.contains("decisions settled (fewest tokens changing their most probable tag: ")
            && settled.contains("none fewer in the 3 since; --patience)"),
        "{settled}"
    );
    // Off: this set runs to --max-iter.
    let off = run("0");
    assert!(off.contains("20 iterations, not converged"), "{off}");
}
