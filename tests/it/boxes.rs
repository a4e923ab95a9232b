//! The box task: Ground Truth's formats field by field, bad input, the
//! methods on generated data, and the shared pedestrian set.

use std::path::Path;

use accord::boxes::{BoxConsolidator, BoxMethod};
use accord::eval::boxes::{read_box_csv, read_image_list, score_boxes};
use accord::synth::boxes::{generate_boxes, BoxSpec};
use serde_json::Value;

use crate::support::{accord, accord_bad_input, accord_ok, file, shared_datasets, tmp};

/// A Ground Truth bounding-box request in the documented shape: three
/// workers on one image (one answers "nothing here"), two on another where
/// both answered empty.
fn request() -> String {
    let content = |boxes: &str| {
        serde_json::to_string(&format!(
            r#"{{"boundingBox":{{"boundingBoxes":[{boxes}],"inputImageProperties":{{"width":640,"height":480}}}}}}"#
        ))
        .unwrap()
    };
    let person =
        |l: i32| format!(r#"{{"label":"person","left":{l},"top":40,"width":50,"height":120}}"#);
    let annotation = |w: &str, boxes: &str| {
        format!(
            r#"{{"workerId":"{w}","annotationData":{{"content":{}}}}}"#,
            content(boxes)
        )
    };
    format!(
        r#"[{{"datasetObjectId":"0","dataObject":{{"s3Uri":"s3://bucket/a.jpg"}},"annotations":[{},{},{}]}},
            {{"datasetObjectId":"1","dataObject":{{"s3Uri":"s3://bucket/b.jpg"}},"annotations":[{},{}]}}]"#,
        annotation("ann", &person(100)),
        annotation("bob", &person(104)),
        annotation("cat", ""),
        annotation("ann", ""),
        annotation("bob", ""),
    )
}

#[test]
fn ground_truth_request_to_the_object_detection_manifest() {
    let dir = tmp();
    let input = file(dir.path(), "request.json", request());
    let out = dir.path().join("out.manifest");
    for method in ["lean", "iou-mean", "wbf", "medoid"] {
        accord_ok(&[
            "consolidate",
            "--task",
            "boxes",
            &input,
            "--method",
            method,
            "--out-format",
            "manifest",
            "--job-name",
            "labeling-job/people",
            "--creation-date",
            "2026-12-01T00:00:00",
            "-q",
            "-o",
            out.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{method}: one line per image");
        let first = &lines[0];
        assert_eq!(first["source-ref"], "s3://bucket/a.jpg");
        let attr = &first["bounding-box"];
        assert_eq!(
            attr["image_size"][0],
            serde_json::json!({"width": 640, "height": 480, "depth": 3})
        );
        let annotations = attr["annotations"].as_array().unwrap();
        assert_eq!(
            annotations.len(),
            1,
            "{method}: two of three workers drew the person"
        );
        let a = &annotations[0];
        assert_eq!(a["class_id"], 0);
        for key in ["left", "top", "width", "height"] {
            assert!(a[key].is_i64(), "{method}: {key} in whole pixels");
        }
        assert!(
            (a["left"].as_i64().unwrap() - 102).abs() <= 2,
            "{method}: {a}"
        );
        let meta = &first["bounding-box-metadata"];
        assert_eq!(meta["objects"].as_array().unwrap().len(), annotations.len());
        let confidence = meta["objects"][0]["confidence"].as_f64().unwrap();
        assert!(confidence > 0.0 && confidence <= 1.0);
        assert_eq!(meta["class-map"], serde_json::json!({"0": "person"}));
        assert_eq!(meta["type"], "groundtruth/object-detection");
        assert_eq!(meta["human-annotated"], "yes");
        assert_eq!(meta["creation-date"], "2026-12-01T00:00:00");
        assert_eq!(meta["job-name"], "labeling-job/people");
        // Everyone answered "nothing here": an empty list, not a missing image.
        assert_eq!(
            lines[1]["bounding-box"]["annotations"],
            serde_json::json!([])
        );
        assert_eq!(
            lines[1]["bounding-box-metadata"]["objects"],
            serde_json::json!([])
        );
    }
}

#[test]
fn lambda_response_and_csv_and_worker_report() {
    let dir = tmp();
    let input = file(dir.path(), "request.json", request());
    let out = accord_ok(&[
        "consolidate",
        "--task",
        "boxes",
        &input,
        "--out-format",
        "gt-response",
        "-q",
        "--label-attribute",
        "people",
    ]);
    let response: Value = serde_json::from_str(&out).unwrap();
    let entries = response.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["datasetObjectId"], "0");
    let content = &entries[0]["consolidatedAnnotation"]["content"];
    assert_eq!(
        content["people"]["annotations"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        content["people-metadata"]["type"],
        "groundtruth/object-detection"
    );
    let workers = dir.path().join("workers.csv");
    let csv = accord_ok(&[
        "consolidate",
        "--task",
        "boxes",
        &input,
        "-q",
        "--workers-out",
        workers.to_str().unwrap(),
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("item,class,left,top,width,height,confidence,support")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!((row[0], row[1], row[7]), ("0", "person", "2"));
    let report = std::fs::read_to_string(&workers).unwrap();
    assert!(report.starts_with("worker,answers,boxes,recall,precision,localisation_error\n"));
    assert!(report.contains("\ncat,1,0,"), "{report}");
}

#[test]
fn bad_boxes_name_the_line_and_nothing_is_written() {
    let dir = tmp();
    let responses = file(dir.path(), "responses.csv", "item,worker\na,w1\na,w2\n");
    let out = dir.path().join("out.csv");
    let cases = [
        ("a,w1,p,10,10,-5,20\n", "line 2", "positive"),
        ("a,w1,p,10,10,NaN,20\n", "line 2", "finite"),
        ("a,w1,p,10,ten,5,20\n", "line 2", "not a number"),
        ("a,w1,p,10,10,5,20\na,w3,p,1,1,5,5\n", "line 3", "no answer"),
    ];
    for (rows, line, problem) in cases {
        let boxes = file(
            dir.path(),
            "boxes.csv",
            format!("item,worker,label,left,top,width,height\n{rows}"),
        );
        let err = accord_bad_input(&[
            "consolidate",
            "--task",
            "boxes",
            &boxes,
            "--responses",
            &responses,
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(
            err.contains("boxes.csv") && err.contains(line) && err.contains(problem),
            "{rows}: {err}"
        );
        assert!(!out.exists(), "nothing written on failure");
    }
    // A label outside --categories, and a box wholly outside its image.
    let boxes = file(
        dir.path(),
        "boxes.csv",
        "item,worker,label,left,top,width,height\na,w1,car,1,1,5,5\n",
    );
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "boxes",
        &boxes,
        "--categories",
        "person",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("line 2") && err.contains("--categories"),
        "{err}"
    );
    let images = file(dir.path(), "images.csv", "item,width,height\na,100,100\n");
    let boxes = file(
        dir.path(),
        "boxes.csv",
        "item,worker,label,left,top,width,height\na,w1,p,150,10,5,5\na,w2,p,90,90,20,20\n",
    );
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "boxes",
        &boxes,
        "--images",
        &images,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("line 2") && err.contains("wholly outside"),
        "{err}"
    );
    // With --skip-invalid: the bad box is in the rejects file, the box
    // crossing the border is clipped and counted, the run completes.
    let run = accord(&[
        "consolidate",
        "--task",
        "boxes",
        &boxes,
        "--images",
        &images,
        "--skip-invalid",
        "--method",
        "iou-mean",
        "--quorum",
        "0.5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("1 box clipped") && stderr.contains("skipped 1 invalid record"),
        "{stderr}"
    );
    let rejects = std::fs::read_to_string(dir.path().join("out.csv.rejects.csv")).unwrap();
    assert!(
        rejects.contains("line 2") && rejects.contains("wholly outside"),
        "{rejects}"
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.contains("a,p,90,90,10,10,"),
        "clipped to the 100x100 image: {written}"
    );
}

#[test]
fn bad_request_objects_are_named() {
    let dir = tmp();
    let text = request().replace(r#"\"width\":50"#, r#"\"width\":\"wide\""#);
    let input = file(dir.path(), "request.json", text);
    let err = accord_bad_input(&[
        "consolidate",
        "--task",
        "boxes",
        &input,
        "-o",
        dir.path().join("o.csv").to_str().unwrap(),
    ]);
    assert!(
        err.contains("object 0") && err.contains("width must be a number"),
        "{err}"
    );
}

#[test]
fn without_responses_the_note_says_how_answers_are_counted() {
    let dir = tmp();
    let boxes = file(
        dir.path(),
        "boxes.csv",
        "item,worker,label,left,top,width,height\na,w1,p,1,1,5,5\n",
    );
    let run = accord(&[
        "consolidate",
        "--task",
        "boxes",
        &boxes,
        "-o",
        dir.path().join("o.csv").to_str().unwrap(),
    ]);
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("no --responses file"));
}

fn f1_of(method: BoxMethod, spec: &BoxSpec) -> (f64, usize, usize) {
    let synth = generate_boxes(spec).unwrap();
    let data = synth.to_data(spec.width, spec.height);
    let labels = BoxConsolidator::new(method).fit(&data).unwrap();
    let to_map =
        |per_image: Vec<Vec<(String, accord::boxes::Rect)>>| -> accord::eval::boxes::BoxesByImage {
            synth
                .images
                .iter()
                .cloned()
                .zip(per_image)
                .map(|(i, boxes)| {
                    (
                        i,
                        boxes
                            .into_iter()
                            .map(|(class, rect)| accord::eval::boxes::ScoredBox {
                                class,
                                rect,
                                confidence: 1.0,
                            })
                            .collect(),
                    )
                })
                .collect()
        };
    let pred = to_map(
        labels
            .objects
            .iter()
            .map(|o| {
                o.iter()
                    .map(|b| (synth.classes[b.class as usize].clone(), b.rect))
                    .collect()
            })
            .collect(),
    );
    let gold = to_map(
        synth
            .gold
            .iter()
            .map(|g| {
                g.iter()
                    .map(|(c, r)| (synth.classes[*c as usize].clone(), *r))
                    .collect()
            })
            .collect(),
    );
    let s = score_boxes(&pred, &gold, &synth.images);
    (s.at_50.f1, s.empty_images_predicted_empty, s.empty_images)
}

#[test]
fn lean_beats_the_votes_on_generated_crowds() {
    for seed in [1, 2] {
        let spec = BoxSpec {
            images: 600,
            seed,
            ..BoxSpec::default()
        };
        let lean = f1_of(BoxMethod::Lean, &spec).0;
        for method in [BoxMethod::IouMean, BoxMethod::Wbf, BoxMethod::Medoid] {
            let other = f1_of(method, &spec).0;
            assert!(
                lean > other,
                "seed {seed}: lean F1 {lean:.4} vs {} {other:.4}",
                method.name()
            );
        }
    }
    // Several classes: boxes are still found, with the class voted.
    let spec = BoxSpec {
        images: 400,
        classes: 3,
        seed: 5,
        ..BoxSpec::default()
    };
    let (f1, _, _) = f1_of(BoxMethod::Lean, &spec);
    assert!(f1 > 0.85, "three classes: F1 {f1:.4}");
}

#[test]
fn images_with_nothing_stay_empty() {
    // No objects at all: only false positives, which no two workers share.
    let spec = BoxSpec {
        images: 300,
        objects: 0.0,
        seed: 9,
        ..BoxSpec::default()
    };
    for method in BoxMethod::ALL {
        let (_, empty_ok, empty) = f1_of(method, &spec);
        assert_eq!(empty, 300);
        assert!(
            empty_ok >= 297,
            "{}: {empty_ok} of {empty} left empty",
            method.name()
        );
    }
}

#[test]
fn generate_then_consolidate_then_evaluate() {
    let dir = tmp();
    let data = dir.path().join("set");
    accord_ok(&[
        "generate",
        "--task",
        "boxes",
        "--images",
        "200",
        "--seed",
        "4",
        "-o",
        data.to_str().unwrap(),
    ]);
    let p = |name: &str| data.join(name).to_str().unwrap().to_string();
    let out = dir.path().join("lean.csv");
    accord_ok(&[
        "consolidate",
        "--task",
        "boxes",
        &p("boxes.csv"),
        "--responses",
        &p("responses.csv"),
        "--images",
        &p("images.csv"),
        "-q",
        "-o",
        out.to_str().unwrap(),
    ]);
    let json = accord_ok(&[
        "evaluate",
        "--task",
        "boxes",
        "--pred",
        out.to_str().unwrap(),
        "--gold",
        &p("gold.csv"),
        "--gold-images",
        &p("gold_images.csv"),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["images"], 200);
    assert!(v["at_50"]["f1"].as_f64().unwrap() > 0.85, "{v}");
    assert!(v["ap"].as_f64().unwrap() > 0.5, "{v}");
    // The same seed gives the same bytes.
    let again = dir.path().join("again");
    accord_ok(&[
        "generate",
        "--task",
        "boxes",
        "--images",
        "200",
        "--seed",
        "4",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(data.join("boxes.csv")).unwrap(),
        std::fs::read(again.join("boxes.csv")).unwrap()
    );
}

fn shared_scores(dir: &Path, method: &str) -> accord::eval::boxes::BoxScores {
    let out = tempfile::NamedTempFile::new().unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    accord_ok(&[
        "consolidate",
        "--task",
        "boxes",
        &p("boxes.csv"),
        "--responses",
        &p("responses.csv"),
        "--images",
        &p("images.csv"),
        "--method",
        method,
        "-q",
        "-o",
        out.path().to_str().unwrap(),
    ]);
    let pred = read_box_csv(out.path()).unwrap();
    let gold = read_box_csv(&dir.join("gold.csv")).unwrap();
    score_boxes(
        &pred,
        &gold,
        &read_image_list(&dir.join("gold_images.csv")).unwrap(),
    )
}

#[test]
#[ignore = "needs the real datasets (ACCORD_DATASETS, default ../shared/datasets): run with -- --ignored"]
fn pedestrians_lean_beats_every_vote() {
    let dir = shared_datasets().unwrap().join("boxes-pedestrians");
    let lean = shared_scores(&dir, "lean");
    println!("lean: {lean:?}");
    assert!(lean.at_50.f1 >= 0.94, "F1@0.5 {}", lean.at_50.f1);
    assert!(lean.at_75.f1 >= 0.78, "F1@0.75 {}", lean.at_75.f1);
    assert!(lean.mean_iou >= 0.84, "mean IoU {}", lean.mean_iou);
    for method in ["iou-mean", "wbf", "medoid"] {
        let other = shared_scores(&dir, method);
        assert!(
            lean.at_50.f1 > other.at_50.f1,
            "{method} F1@0.5 {}",
            other.at_50.f1
        );
        assert!(
            lean.at_75.f1 > other.at_75.f1,
            "{method} F1@0.75 {}",
            other.at_75.f1
        );
        // The baseline of the dataset's README.
        if method == "iou-mean" {
            assert!(
                (other.at_50.f1 - 0.927).abs() < 0.005,
                "iou-mean F1@0.5 {}",
                other.at_50.f1
            );
            assert_eq!(other.empty_images_predicted_empty, other.empty_images);
        }
    }
}

#[test]
fn report_page_has_the_scores_the_workers_and_drawings() {
    let dir = tmp();
    let data = dir.path().join("set");
    accord_ok(&[
        "generate",
        "--task",
        "boxes",
        "--images",
        "150",
        "--seed",
        "2",
        "-o",
        data.to_str().unwrap(),
    ]);
    let p = |name: &str| data.join(name).to_str().unwrap().to_string();
    let page = dir.path().join("report.html");
    accord_ok(&[
        "report",
        "--task",
        "boxes",
        &p("boxes.csv"),
        "--responses",
        &p("responses.csv"),
        "--images",
        &p("images.csv"),
        "--gold",
        &p("gold.csv"),
        "--gold-images",
        &p("gold_images.csv"),
        "--draw",
        "4",
        "-q",
        "-o",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h2>Boxes against gold</h2>"));
    for method in ["lean", "iou-mean", "wbf", "medoid"] {
        assert!(
            html.contains(&format!("<td>{method}</td>")),
            "{method} scored"
        );
    }
    // One row per worker who answered (20 workers, 5 per image).
    let workers = html
        .split("<h2>Box workers</h2>")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert_eq!(workers.matches("<tr>").count(), 1 + 20);
    assert_eq!(html.matches("<svg ").count(), 4, "four images drawn");
    assert!(html.contains("stroke-dasharray"), "gold drawn dashed");
}
