//! Multi-label classification: the binary packing through the EM engine,
//! the methods on generated data, readers, writers, bad input and
//! `evaluate --task multilabel`. Parity of the two backends is in gpu.rs.

use accord::engine::backend::cpu::CpuBackend;
use accord::multilabel::methods::{fit_em, EmSettings};
use accord::multilabel::{Answers, Decision, MultiLabelConsolidator, MultiMethod, MultiParams};
use accord::synth::multilabel::{generate, MultiSpec};
use serde_json::Value;

use crate::support::*;

fn settings(max_iter: usize, tol: f64) -> EmSettings {
    EmSettings {
        max_iter,
        tol,
        prior_correct: 1.0,
        prior_strength: 1.0,
    }
}

/// Keeps only `label` of every response.
fn only_label(a: &Answers, label: usize) -> Answers {
    let mut one = a.clone();
    one.labels = vec![a.labels[label].clone()];
    one.ticked = (0..a.n_responses())
        .map(|r| a.has(r, label) as u64)
        .collect();
    one
}

#[test]
fn ds_over_all_labels_equals_ds_on_each_label_alone() {
    // Each label's binary problem has its own workers (w, l) and its own
    // class priors (the label's prevalence): one run over all labels must
    // give what a run per label gives. Pooled priors would not.
    let synth = generate(&MultiSpec::new(400, 30, 4, 6, 3)).unwrap();
    let a = &synth.answers;
    let all = fit_em(
        a,
        MultiMethod::Ds,
        settings(12, 0.0),
        &CpuBackend,
        &mut |_, _| {},
    )
    .unwrap();
    let l = a.n_labels();
    let mut priors = Vec::new();
    for label in 0..l {
        let one = only_label(a, label);
        let alone = fit_em(
            &one,
            MultiMethod::Ds,
            settings(12, 0.0),
            &CpuBackend,
            &mut |_, _| {},
        )
        .unwrap();
        for i in 0..a.n_items() {
            let (x, y) = (all.confidence[i * l + label], alone.confidence[i]);
            assert!((x - y).abs() < 1e-5, "label {label} item {i}: {x} vs {y}");
        }
        assert!((all.label_priors[label] - alone.label_priors[0]).abs() < 1e-5);
        priors.push(all.label_priors[label]);
    }
    // The generator's prevalences fall from 0.3 to 0.02: the fitted priors follow.
    assert!(priors[0] > 0.2 && priors[l - 1] < 0.08, "{priors:?}");
}

/// Per label F1 of `selected` against the truth, summed over labels.
fn mean_f1(selected: &[bool], truth: &[bool], l: usize) -> f64 {
    let mut total = 0.0;
    for label in 0..l {
        let (mut tp, mut fp, mut fneg) = (0, 0, 0);
        for (s, t) in selected.iter().zip(truth).skip(label).step_by(l) {
            match (s, t) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fneg += 1,
                _ => {}
            }
        }
        total += 2.0 * tp as f64 / (2 * tp + fp + fneg).max(1) as f64;
    }
    total / l as f64
}

#[test]
fn the_models_beat_majority_vote_when_workers_miss_labels() {
    // Sensitivities 0.4-0.95: many true labels get fewer than half the
    // ticks, which a per-worker model recovers and majority vote cannot.
    let synth = generate(&MultiSpec {
        spammers: 0.1,
        ..MultiSpec::new(1500, 60, 6, 7, 11)
    })
    .unwrap();
    let l = synth.answers.n_labels();
    let f1 = |method| {
        let r = MultiLabelConsolidator::new()
            .method(method)
            .backend(accord::engine::select::BackendChoice::Cpu)
            .fit(synth.answers.clone())
            .unwrap();
        mean_f1(&r.selected, &synth.truth, l)
    };
    let (mv, ds, hds) = (
        f1(MultiMethod::Mv),
        f1(MultiMethod::Ds),
        f1(MultiMethod::Hds),
    );
    assert!(ds > mv + 0.05, "ds {ds} vs mv {mv}");
    assert!(hds > mv + 0.05, "hds {hds} vs mv {mv}");
}

#[test]
fn confidences_are_tempered_and_keep_the_ranking() {
    let synth = generate(&MultiSpec::new(800, 40, 3, 9, 5)).unwrap();
    let fit = |calibrate| {
        MultiLabelConsolidator::with_params(MultiParams {
            calibrate,
            ..MultiParams::default()
        })
        .backend(accord::engine::select::BackendChoice::Cpu)
        .fit(synth.answers.clone())
        .unwrap()
    };
    let (raw, tempered) = (fit(false), fit(true));
    let l = synth.answers.n_labels();
    let saturated = |c: &[f32]| {
        c.iter()
            .filter(|&&p| !(1e-6..=1.0 - 1e-6).contains(&p))
            .count()
    };
    assert!(
        saturated(&tempered.fit.confidence) < saturated(&raw.fit.confidence),
        "tempering should leave fewer confidences at 0 or 1"
    );
    assert!(tempered
        .fit
        .temperature
        .iter()
        .all(|t| (0.0..=1.0).contains(t)));
    // Within a label, the order of the items is that of the plain posteriors
    // (up to f32 ties at 0 or 1).
    for label in 0..l {
        for i in 0..synth.answers.n_items() - 1 {
            let (a, b) = (raw.confidence(i, label), raw.confidence(i + 1, label));
            let (x, y) = (
                tempered.confidence(i, label),
                tempered.confidence(i + 1, label),
            );
            if (a - b).abs() > 1e-3 && a > 1e-6 && b > 1e-6 && a < 1.0 - 1e-6 && b < 1.0 - 1e-6 {
                assert_eq!(a > b, x > y, "label {label} items {i}, {}", i + 1);
            }
        }
    }
}

#[test]
fn expected_f1_selects_at_least_the_sure_labels() {
    let synth = generate(&MultiSpec::new(600, 30, 3, 7, 2)).unwrap();
    let base = MultiLabelConsolidator::new().backend(accord::engine::select::BackendChoice::Cpu);
    let t = base.clone().fit(synth.answers.clone()).unwrap();
    let e = base
        .decision(Decision::ExpectedF1)
        .fit(synth.answers.clone())
        .unwrap();
    for (at, &c) in t.fit.confidence.iter().enumerate() {
        if c > 0.99 {
            assert!(e.selected[at], "a label at {c} must be selected");
        }
    }
}

const SELECTIONS: &str = "item,worker,label\ns1,ann,TREATS\ns1,bob,TREATS\ns1,bob,CAUSES\ns2,ann,CAUSES\ns2,cat,CAUSES\n";
const RESPONSES: &str = "item,worker\ns1,ann\ns1,bob\ns1,cat\ns2,ann\ns2,bob\ns2,cat\n";

#[test]
fn mv_reads_responses_as_no_for_unticked_labels() {
    let dir = tmp();
    let sel = file(dir.path(), "selections.csv", SELECTIONS);
    let resp = file(dir.path(), "responses.csv", RESPONSES);
    let out = accord_ok(&[
        "consolidate",
        &sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "--method",
        "mv",
    ]);
    let rows = csv_rows(&out);
    // Labels sorted: CAUSES, TREATS; s1: TREATS by 2 of 3, CAUSES by 1 of 3.
    assert_eq!(rows[0], ["s1", "CAUSES", "0.333333", "0"]);
    assert_eq!(rows[1], ["s1", "TREATS", "0.666667", "1"]);
    assert_eq!(rows[2], ["s2", "CAUSES", "0.666667", "1"]);
    assert_eq!(rows[3], ["s2", "TREATS", "0", "0"]);
    // Without the responses file cat never answered s1: TREATS 2 of 2.
    let out = accord_ok(&[
        "consolidate",
        &sel,
        "--task",
        "multilabel",
        "--method",
        "mv",
    ]);
    assert_eq!(csv_rows(&out)[1], ["s1", "TREATS", "1", "1"]);
}

#[test]
fn ground_truth_request_in_manifest_and_lambda_response_out() {
    let dir = tmp();
    let content = |labels: &str| {
        serde_json::to_string(&format!(
            "{{\"crowd-image-classifier-multi-select\": {{\"labels\": [{labels}]}}}}"
        ))
        .unwrap()
    };
    let request = format!(
        r#"[{{"datasetObjectId": "0", "dataObject": {{"s3Uri": "s3://b/0.jpg"}}, "annotations": [
            {{"workerId": "a", "annotationData": {{"content": {}}}}},
            {{"workerId": "b", "annotationData": {{"content": {}}}}},
            {{"workerId": "c", "annotationData": {{"content": {}}}}}]}},
           {{"datasetObjectId": "1", "dataObject": {{"s3Uri": "s3://b/1.jpg"}}, "annotations": []}}]"#,
        content(r#""cat", "dog""#),
        content(r#""cat", "cat""#),
        content("")
    );
    let req = file(dir.path(), "request.json", request);
    let manifest = dir.path().join("out.manifest");
    let workers = dir.path().join("workers.json");
    let out = accord(&[
        "consolidate",
        &req,
        "--task",
        "multilabel",
        "--categories",
        "dog,cat,owl",
        "--out-format",
        "manifest",
        "--label-attribute",
        "animals",
        "--job-name",
        "j",
        "--creation-date",
        "2026-01-01T00:00:00",
        "-o",
        manifest.to_str().unwrap(),
        "--workers-out",
        workers.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 with no label") && stderr.contains("1 repeated label"),
        "{stderr}"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["source-ref"], "s3://b/0.jpg");
    // Ticked by someone: dog (0) and cat (1), in class order.
    assert_eq!(lines[0]["animals"], serde_json::json!([0, 1]));
    let meta = &lines[0]["animals-metadata"];
    assert_eq!(
        meta["class-map"],
        serde_json::json!({"0": "dog", "1": "cat"})
    );
    assert_eq!(meta["type"], "groundtruth/image-classification-multilabel");
    assert_eq!(meta["human-annotated"], "yes");
    assert_eq!(meta["job-name"], "j");
    assert_eq!(meta["creation-date"], "2026-01-01T00:00:00");
    let cat = meta["confidence-map"]["1"].as_f64().unwrap();
    let dog = meta["confidence-map"]["0"].as_f64().unwrap();
    assert!(cat > dog && (0.0..=1.0).contains(&cat), "{meta}");
    assert_eq!(lines[1]["animals"], serde_json::json!([]));
    assert_eq!(lines[1]["animals-metadata"]["human-annotated"], "no");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&workers).unwrap()).unwrap();
    assert_eq!(report[0]["worker"], "a");
    assert_eq!(report[0]["answers"], 1);
    let sens = report[0]["labels"]["cat"]["sensitivity"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&sens));

    let response = accord_ok(&[
        "consolidate",
        &req,
        "--task",
        "multilabel",
        "--out-format",
        "gt-response",
        "--data-type",
        "text",
        "--method",
        "ds",
    ]);
    let response: Value = serde_json::from_str(&response).unwrap();
    assert_eq!(response[0]["datasetObjectId"], "0");
    let content = &response[0]["consolidatedAnnotation"]["content"];
    assert_eq!(content["label"], serde_json::json!([0, 1]));
    assert_eq!(
        content["label-metadata"]["type"],
        "groundtruth/text-classification-multilabel"
    );
}

#[test]
fn bad_input_names_the_file_and_line_and_writes_nothing() {
    let dir = tmp();
    let out = dir.path().join("out.csv");
    let out_s = out.to_str().unwrap();
    let sel = file(dir.path(), "sel.csv", SELECTIONS);
    let err = accord_bad_input(&[
        "consolidate",
        &sel,
        "--task",
        "multilabel",
        "--categories",
        "TREATS",
        "-o",
        out_s,
    ]);
    assert!(
        err.contains("sel.csv: line 4") && err.contains("\"CAUSES\" is not one of"),
        "{err}"
    );
    assert!(!out.exists());
    // A selection whose answer the responses file lacks.
    let resp = file(
        dir.path(),
        "resp.csv",
        "item,worker\ns1,ann\ns1,bob\ns2,ann\n",
    );
    let err = accord_bad_input(&[
        "consolidate",
        &sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "-o",
        out_s,
    ]);
    assert!(
        err.contains("sel.csv: line 6") && err.contains("\"cat\""),
        "{err}"
    );
    assert!(!out.exists());
    // A single-label request.
    let req = file(
        dir.path(),
        "single.json",
        r#"[{"datasetObjectId": "7", "annotations": [{"workerId": "a", "annotationData": {"content": "{\"crowd-image-classifier\": {\"label\": \"cat\"}}"}}]}]"#,
    );
    let err = accord_bad_input(&["consolidate", &req, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("object 0 (datasetObjectId \"7\")") && err.contains("single-label"),
        "{err}"
    );
    // A header without a label column.
    let bad = file(dir.path(), "bad.csv", "item,worker,answer\ns1,ann,X\n");
    let err = accord_bad_input(&["consolidate", &bad, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("bad.csv: line 1") && err.contains("\"label\""),
        "{err}"
    );
    assert!(!out.exists());
    // --skip-invalid: the bad row goes to the rejects file, the rest is consolidated.
    let rejects = dir.path().join("rejects.csv");
    accord_ok(&[
        "consolidate",
        &sel,
        "--task",
        "multilabel",
        "--categories",
        "TREATS",
        "--skip-invalid",
        "--rejects",
        rejects.to_str().unwrap(),
        "-o",
        out_s,
    ]);
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(rejected.lines().count(), 4, "{rejected}"); // header + the 3 CAUSES rows
                                                           // Only s1's TREATS rows remain: s2 had none.
    let rows = csv_rows(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][..2], ["s1", "TREATS"]);
}

#[test]
fn evaluate_scores_partial_gold() {
    let dir = tmp();
    let pred = file(
        dir.path(),
        "pred.csv",
        "item,label,confidence,selected\na,X,0.9,1\na,Y,0.2,0\nb,X,0.6,1\nb,Y,0.7,1\nc,X,0.1,0\nc,Y,,\n",
    );
    // Y judged only on a and b; c,Y has no prediction (nobody answered c? no:
    // its confidence is empty), d is not predicted at all.
    let gold = file(
        dir.path(),
        "gold.csv",
        "item,label,present\na,X,1\nb,X,0\nc,X,1\na,Y,0\nb,Y,1\nc,Y,1\nd,X,1\n",
    );
    let json = accord_ok(&[
        "evaluate",
        "--task",
        "multilabel",
        "--pred",
        &pred,
        "--gold",
        &gold,
        "--json",
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let x = &v["per_label"][0];
    assert_eq!(x["label"], "X");
    // X: selected a, b; present a, c: TP 1, FP 1, FN 1.
    assert_eq!(x["true_positives"], 1);
    assert_eq!(x["f1"], 0.5);
    // X confidences: a 0.9 (+), b 0.6 (−), c 0.1 (+): pairs (a,b) right, (c,b) wrong.
    assert_eq!(x["roc_auc"], 0.5);
    let y = &v["per_label"][1];
    assert_eq!(y["f1"], 1.0);
    assert_eq!(y["roc_auc"], 1.0);
    assert_eq!(v["missing"], 2);
    assert_eq!(v["pairs"], 5);
    // Wrong: b,X and c,X. Items: a right on both, b wrong on X, c wrong on X.
    assert_eq!(v["hamming_loss"], 0.4);
    assert!((v["subset_accuracy"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    // micro: TP 2, FP 1, FN 1.
    assert!((v["micro_f1"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-12);
    assert_eq!(v["macro_f1"], 0.75);
    let err = accord_bad_input(&[
        "evaluate",
        "--task",
        "multilabel",
        "--pred",
        &pred,
        "--gold",
        &file(dir.path(), "g2.csv", "item,label,present\na,X,yes\n"),
    ]);
    assert!(
        err.contains("g2.csv: line 2") && err.contains("1 or 0"),
        "{err}"
    );
}

#[test]
fn generate_writes_a_set_that_consolidates() {
    let dir = tmp();
    let d = dir.path().to_str().unwrap();
    accord_ok(&[
        "generate",
        "--task",
        "multilabel",
        "--items",
        "300",
        "--workers",
        "20",
        "--classes",
        "4",
        "--per-item",
        "5",
        "-o",
        d,
    ]);
    let sel = dir.path().join("selections.csv");
    let resp = dir.path().join("responses.csv");
    let gold = dir.path().join("gold.csv");
    assert_eq!(
        std::fs::read_to_string(&resp).unwrap().lines().count(),
        1 + 300 * 5
    );
    assert_eq!(
        std::fs::read_to_string(&gold).unwrap().lines().count(),
        1 + 300 * 4
    );
    let pred = dir.path().join("pred.csv");
    accord_ok(&[
        "consolidate",
        sel.to_str().unwrap(),
        "--responses",
        resp.to_str().unwrap(),
        "--task",
        "multilabel",
        "--backend",
        "cpu",
        "-o",
        pred.to_str().unwrap(),
    ]);
    let json = accord_ok(&[
        "evaluate",
        "--task",
        "multilabel",
        "--pred",
        pred.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["pairs"], 1200);
    assert!(v["micro_f1"].as_f64().unwrap() > 0.7, "{v}");
}

#[test]
#[ignore = "needs the real datasets (ACCORD_DATASETS, default ../shared/datasets): run with -- --ignored"]
fn relex_vote_share_references_and_the_default() {
    let root = shared_datasets().unwrap().join("multilabel-relex");
    let (sel, resp, gold) = (
        root.join("selections.csv"),
        root.join("responses.csv"),
        root.join("gold.csv"),
    );
    let dir = tmp();
    let score = |method: &str| -> Value {
        let pred = dir.path().join(format!("{method}.csv"));
        accord_ok(&[
            "consolidate",
            sel.to_str().unwrap(),
            "--responses",
            resp.to_str().unwrap(),
            "--task",
            "multilabel",
            "--method",
            method,
            "--backend",
            "cpu",
            "-q",
            "-o",
            pred.to_str().unwrap(),
        ]);
        let json = accord_ok(&[
            "evaluate",
            "--task",
            "multilabel",
            "--pred",
            pred.to_str().unwrap(),
            "--gold",
            gold.to_str().unwrap(),
            "--json",
        ]);
        serde_json::from_str(&json).unwrap()
    };
    let get = |v: &Value, label: &str, key: &str| -> f64 {
        v["per_label"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["label"] == label)
            .unwrap()[key]
            .as_f64()
            .unwrap()
    };
    // The README's references for majority vote and the vote share.
    let mv = score("mv");
    assert!((get(&mv, "TREATS", "f1") - 0.7229).abs() < 5e-4);
    assert!((get(&mv, "CAUSES", "f1") - 0.1765).abs() < 5e-4);
    assert!((get(&mv, "TREATS", "roc_auc") - 0.8993).abs() < 5e-4);
    assert!((get(&mv, "CAUSES", "roc_auc") - 0.6427).abs() < 5e-4);
    // The default: TREATS within 2 points of the gold-tuned share threshold
    // (0.836) and a better ranking than the vote share on both labels.
    // CAUSES F1 stays far below its gold-tuned 0.441 (the expert's "cause"
    // is broader than the crowd's checkbox; see the README), but above mv.
    let hds = score("hds");
    assert!(get(&hds, "TREATS", "f1") >= 0.816, "{hds}");
    assert!(get(&hds, "TREATS", "roc_auc") > 0.8993, "{hds}");
    assert!(get(&hds, "CAUSES", "roc_auc") > 0.6427, "{hds}");
    assert!(
        get(&hds, "CAUSES", "f1") > get(&mv, "CAUSES", "f1"),
        "{hds}"
    );
}

#[test]
fn more_than_64_labels_take_several_words_per_answer() {
    let synth = generate(&MultiSpec::new(200, 20, 70, 5, 9)).unwrap();
    let a = &synth.answers;
    assert_eq!(a.words(), 2);
    let cpu = accord::engine::select::BackendChoice::Cpu;
    let mv = MultiLabelConsolidator::new()
        .method(MultiMethod::Mv)
        .backend(cpu)
        .fit(a.clone())
        .unwrap();
    for label in [0, 63, 64, 69] {
        for i in 0..a.n_items() {
            let mine: Vec<usize> = (0..a.n_responses())
                .filter(|&r| a.response_item[r] as usize == i)
                .collect();
            let ticks = mine.iter().filter(|&&r| a.has(r, label)).count();
            let share = ticks as f32 / mine.len() as f32;
            assert_eq!(mv.confidence(i, label), share, "item {i} label {label}");
        }
    }
    // The EM methods pack and fit the 70 binary problems too, and the
    // truth is recovered better than chance on the common labels.
    let hds = MultiLabelConsolidator::new()
        .backend(cpu)
        .fit(a.clone())
        .unwrap();
    assert_eq!(hds.fit.confidence.len(), 200 * 70);
    assert!(mean_f1(&hds.selected, &synth.truth, 70) > 0.3);
}

#[test]
fn ragged_rows_with_more_fields_than_the_header_are_refused() {
    let dir = tmp();
    let out = dir.path().join("out.csv");
    let out_s = out.to_str().unwrap();
    let sel = file(
        dir.path(),
        "sel.csv",
        "item,worker,label\ni1,w1,A\ni2,w1,A,extra\n",
    );
    let err = accord_bad_input(&["consolidate", &sel, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("sel.csv: line 3") && err.contains("4 fields where the header has 3"),
        "{err}"
    );
    assert!(!out.exists());
    // In the responses table too.
    let ok_sel = file(dir.path(), "ok.csv", "item,worker,label\ni1,w1,A\n");
    let resp = file(dir.path(), "resp.csv", "item,worker\ni1,w1\ni4,w1,zz\n");
    let args = [
        "consolidate",
        &ok_sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "-o",
        out_s,
    ];
    let err = accord_bad_input(&args);
    assert!(
        err.contains("resp.csv: line 3") && err.contains("3 fields where the header has 2"),
        "{err}"
    );
    // Short rows stay refused.
    let short = file(dir.path(), "short.csv", "item,worker,label\ni1,w1\n");
    let err = accord_bad_input(&["consolidate", &short, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("short.csv: line 2") && err.contains("2 fields where the header has 3"),
        "{err}"
    );
    // --skip-invalid: the whole row goes to the rejects file.
    let rejects = dir.path().join("rejects.csv");
    let mut skipping = args.to_vec();
    skipping.extend(["--skip-invalid", "--rejects", rejects.to_str().unwrap()]);
    accord_ok(&skipping);
    let rejected = csv_rows(&std::fs::read_to_string(&rejects).unwrap());
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0][0], "line 3");
    assert!(rejected[0][1].contains("3 fields where the header has 2"));
    assert_eq!(rejected[0][2], "i4,w1,zz");
}

#[test]
fn fields_are_trimmed_of_ascii_whitespace() {
    let dir = tmp();
    let sel = file(
        dir.path(),
        "sel.csv",
        " item , worker , label \n i1 , w1 , A \ni1,w2,A\n\ti2\t, w1 ,B \n",
    );
    let resp = file(
        dir.path(),
        "resp.csv",
        "item,worker\n i1 , w1 \ni1,w2\ni2 ,w1\n",
    );
    let out = accord_ok(&[
        "consolidate",
        &sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "--method",
        "mv",
    ]);
    let rows = csv_rows(&out);
    assert_eq!(
        rows,
        [
            ["i1", "A", "1", "1"],
            ["i1", "B", "0", "0"],
            ["i2", "A", "0", "0"],
            ["i2", "B", "1", "1"],
        ]
    );
}

#[test]
fn a_header_naming_a_field_twice_is_refused() {
    let dir = tmp();
    let out = dir.path().join("out.csv");
    let out_s = out.to_str().unwrap();
    let sel = file(
        dir.path(),
        "sel.csv",
        "item,worker,label,label\ni1,w1,A,B\n",
    );
    let err = accord_bad_input(&["consolidate", &sel, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("sel.csv: line 1") && err.contains("names \"label\" twice"),
        "{err}"
    );
    let ok_sel = file(dir.path(), "ok.csv", "item,worker,label\ni1,w1,A\n");
    let resp = file(dir.path(), "resp.csv", "item,worker,worker\ni1,w1,w2\n");
    let err = accord_bad_input(&[
        "consolidate",
        &ok_sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "-o",
        out_s,
    ]);
    assert!(
        err.contains("resp.csv: line 1") && err.contains("names \"worker\" twice"),
        "{err}"
    );
    // `task` is `item` spelt another way: both is one too many.
    let both = file(
        dir.path(),
        "both.csv",
        "item,task,worker,label\ni1,i2,w1,A\n",
    );
    let err = accord_bad_input(&["consolidate", &both, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("both.csv: line 1") && err.contains("\"item\" column twice"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn an_over_long_id_gives_a_short_message() {
    let dir = tmp();
    let out = dir.path().join("out.csv");
    let out_s = out.to_str().unwrap();
    let long = "x".repeat(5000);
    let req = file(
        dir.path(),
        "req.json",
        format!(r#"[{{"datasetObjectId": "{long}", "annotations": []}}]"#),
    );
    let err = accord_bad_input(&["consolidate", &req, "--task", "multilabel", "-o", out_s]);
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
    assert!(
        err.contains("object 0 (datasetObjectId \"xxx")
            && err.contains("4900 more bytes cut")
            && err.contains("5000 bytes long"),
        "{err}"
    );
    // Ids of an accepted length quoted in a CSV row's problem are clipped too.
    let (item, worker) = ("i".repeat(4000), "w".repeat(4000));
    let sel = file(
        dir.path(),
        "sel.csv",
        format!("item,worker,label\n{item},{worker},A\n"),
    );
    let resp = file(dir.path(), "resp.csv", "item,worker\ni1,w1\n");
    let err = accord_bad_input(&[
        "consolidate",
        &sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "-o",
        out_s,
    ]);
    assert!(err.len() < 600, "{} bytes: {err}", err.len());
    assert!(
        err.contains("sel.csv: line 2") && err.contains("responses file"),
        "{err}"
    );
}

#[test]
fn tsv_and_json_lines_are_named_as_such() {
    let dir = tmp();
    let out = dir.path().join("out.csv");
    let out_s = out.to_str().unwrap();
    let tsv = file(dir.path(), "sel.tsv", "item\tworker\tlabel\ni1\tw1\tA\n");
    let err = accord_bad_input(&["consolidate", &tsv, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("multi-label reads CSV (or a Ground Truth request")
            && err.contains("sel.tsv looks like TSV"),
        "{err}"
    );
    let jsonl = file(
        dir.path(),
        "sel.jsonl",
        "{\"item\": \"i1\", \"worker\": \"w1\", \"label\": \"A\"}\n",
    );
    let err = accord_bad_input(&["consolidate", &jsonl, "--task", "multilabel", "-o", out_s]);
    assert!(
        err.contains("multi-label reads CSV") && err.contains("sel.jsonl looks like JSON Lines"),
        "{err}"
    );
    // The responses table too.
    let sel = file(dir.path(), "sel.csv", "item,worker,label\ni1,w1,A\n");
    let resp = file(dir.path(), "resp.tsv", "item\tworker\ni1\tw1\n");
    let err = accord_bad_input(&[
        "consolidate",
        &sel,
        "--responses",
        &resp,
        "--task",
        "multilabel",
        "-o",
        out_s,
    ]);
    assert!(err.contains("resp.tsv looks like TSV"), "{err}");
    assert!(!out.exists());
}
