//! `accord evaluate` for classification: scores of labels and annotations
//! against gold, as text and JSON.

use crate::support::*;

#[test]
fn evaluate_scores_labels_and_annotations_against_gold() {
    let dir = tmp();
    let (labels, gold) = generated(
        dir.path(),
        &["--items", "400", "--workers", "30", "--classes", "3"],
    );
    let pred = dir.path().join("pred.csv");
    let out = accord(&[
        "consolidate",
        labels.to_str().unwrap(),
        "--backend",
        "cpu",
        "--gold",
        gold.to_str().unwrap(),
        "-o",
        pred.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let printed: f64 = stderr
        .split("accuracy on gold: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    let json = accord_ok(&[
        "evaluate",
        "--pred",
        pred.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--annotations",
        labels.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!((accuracy - printed).abs() < 1e-4, "{accuracy} vs {printed}");
    assert_eq!(v["items"], 400);
    assert_eq!(v["missing"], 0);
    assert_eq!(v["per_class"].as_array().unwrap().len(), 3);
    let confusion = v["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, 400);
    let diagonal: u64 = (0..3).map(|c| confusion[c][c].as_u64().unwrap()).sum();
    assert!((diagonal as f64 / 400.0 - accuracy).abs() < 1e-12);
    let ece = v["ece"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ece));
    let bins: u64 = v["calibration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(bins, 400);
    // Raw annotations are worse than the consolidated labels, and agree
    // better than chance.
    let raw = &v["annotations"];
    assert!(raw["accuracy"].as_f64().unwrap() < accuracy, "{raw}");
    let alpha = raw["krippendorff_alpha"].as_f64().unwrap();
    assert!(alpha > 0.0 && alpha < 1.0, "{alpha}");
    assert!(raw["ece"].is_null());

    // Heatmaps: a 3×3 panel of row shares for the annotations and one for
    // the labels, each cell labelled with its share.
    let figure = dir.path().join("confusion.svg");
    accord_ok(&[
        "evaluate",
        "--pred",
        pred.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--annotations",
        labels.to_str().unwrap(),
        "--plot-confusion",
        figure.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&figure).unwrap();
    assert!(svg.contains("\nraw annotations\n") && svg.contains("\nconsolidated labels\n"));
    let shares = heatmap_shares(&svg);
    assert_eq!(shares.len(), 18, "{shares:?}");
    for rows in shares.chunks(3) {
        let sum: f64 = rows.iter().sum();
        assert!((sum - 1.0).abs() <= 0.02, "a row sums to {sum}");
    }
    let diagonal = (0..3).map(|c| shares[9 + c * 4]).sum::<f64>() / 3.0;
    assert!(
        (diagonal - accuracy).abs() < 0.1,
        "{diagonal} vs {accuracy}"
    );

    let text = accord_ok(&[
        "evaluate",
        "--pred",
        pred.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
    ]);
    assert!(text.contains("400 of 400 gold items scored"), "{text}");
    assert!(text.contains(&format!("accuracy {accuracy:.4}")), "{text}");
    assert!(text.contains("expected calibration error"), "{text}");
}

#[test]
fn evaluate_names_the_line_of_a_bad_prediction() {
    let dir = tmp();
    let gold = file(dir.path(), "gold.csv", "item,label\na,x\n");
    let pred = file(dir.path(), "pred.csv", "item,label,confidence\na,x,1.5\n");
    let stderr = accord_bad_input(&["evaluate", "--pred", &pred, "--gold", &gold]);
    assert!(
        stderr.contains("pred.csv: line 2: confidence \"1.5\" is not a number in [0, 1]"),
        "{stderr}"
    );
    let pred = file(dir.path(), "p2.csv", "id,answer\na,x\n");
    let stderr = accord_bad_input(&["evaluate", "--pred", &pred, "--gold", &gold]);
    assert!(
        stderr.contains("p2.csv: line 1: expected a header"),
        "{stderr}"
    );
}

#[test]
fn simulate_shows_the_error_falling_with_more_annotators() {
    let dir = tmp();
    let (labels, gold) = generated(
        dir.path(),
        &["--items", "300", "--workers", "40", "--per-item", "6"],
    );
    let args = [
        "simulate",
        labels.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--max-annotators",
        "5",
        "--repeats",
        "4",
        "--methods",
        "mv,ds",
        "--backend",
        "cpu",
        "--json",
        "-q",
    ];
    let json = accord_ok(&args);
    assert_eq!(
        json,
        accord_ok(&args),
        "the same seed gives the same result"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    let error = |r: u64, m: &str| {
        let p = points
            .iter()
            .find(|p| p["annotators"] == r && p["method"] == m)
            .unwrap();
        assert_eq!(p["errors"].as_array().unwrap().len(), 4);
        p["mean_error"].as_f64().unwrap()
    };
    let single = v["single_worker_error"].as_f64().unwrap();
    // One annotation per item is a single worker; five, fitted, beat it.
    assert!((error(1, "mv") - single).abs() < 0.05, "{json}");
    assert!(
        error(5, "ds") < error(1, "ds") && error(5, "ds") < single,
        "{json}"
    );
    assert!(error(5, "mv") < error(1, "mv"), "{json}");
    assert_eq!(v["gold_items"], 300);

    // The figure: one 5-point line per method in its colour, the legend.
    let figure = dir.path().join("error.svg");
    let mut with_plot = args.to_vec();
    with_plot.extend(["--plot", figure.to_str().unwrap()]);
    accord_ok(&with_plot);
    let svg = std::fs::read_to_string(&figure).unwrap();
    for colour in ["#1F77B4", "#FF7F0E"] {
        let line = svg
            .lines()
            .filter(|l| {
                l.starts_with("<polyline")
                    && l.contains(&format!("stroke=\"{colour}\" stroke-width=\"2\""))
            })
            .map(|l| {
                let points = l.split("points=\"").nth(1).unwrap();
                points.split('"').next().unwrap().split_whitespace().count()
            })
            .max();
        assert_eq!(line, Some(5), "{colour} series");
    }
    for label in ["single worker", "mv", "ds", "annotators per item"] {
        assert!(svg.contains(&format!("\n{label}\n")), "legend {label}");
    }
}

#[test]
fn review_out_lists_the_least_settled_items_first() {
    let dir = tmp();
    let (labels, _gold) = generated(
        dir.path(),
        &["--items", "200", "--workers", "20", "--per-item", "3"],
    );
    for (by, column, descending) in [("entropy", 3, true), ("margin", 4, false)] {
        let review = dir.path().join(format!("review-{by}.csv"));
        accord_ok(&[
            "consolidate",
            labels.to_str().unwrap(),
            "--backend",
            "cpu",
            "-q",
            "--review-out",
            review.to_str().unwrap(),
            "--review-by",
            by,
            "--review-count",
            "25",
            "-o",
            dir.path().join("out.csv").to_str().unwrap(),
        ]);
        let rows = csv_rows(&std::fs::read_to_string(&review).unwrap());
        assert_eq!(rows.len(), 25, "{by}");
        let values: Vec<f64> = rows.iter().map(|r| r[column].parse().unwrap()).collect();
        for pair in values.windows(2) {
            assert!(
                if descending {
                    pair[0] >= pair[1]
                } else {
                    pair[0] <= pair[1]
                },
                "{by}: {values:?}"
            );
        }
        // With 3 annotations and 3+ classes, some item is split.
        assert!(
            if descending {
                values[0] > 0.5
            } else {
                values[0] < 0.5
            },
            "{by}: {values:?}"
        );
    }
}

#[test]
fn evaluate_refuses_raw_annotations_given_as_predictions() {
    // Regression: passing labels.csv as --pred printed "accuracy 0.6700 over
    // 300" and exited 0, the first row of each item winning.
    let birds = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/birds");
    let err = accord_bad_input(&[
        "evaluate",
        "--pred",
        &format!("{birds}/labels.csv"),
        "--gold",
        &format!("{birds}/gold.csv"),
    ]);
    assert!(err.contains("labels.csv: line "), "{err}");
    assert!(err.contains("is given again with label"), "{err}");
    assert!(err.contains("item \"item-"), "{err}");
}

#[test]
fn evaluate_counts_identical_repeats_and_refuses_conflicting_gold() {
    let dir = tmp();
    let pred = file(
        dir.path(),
        "pred.csv",
        "item,label,confidence\na,x,0.9\nb,y,0.8\na,x,0.9\n",
    );
    let gold = file(dir.path(), "gold.csv", "item,label\na,x\nb,x\nb,x\n");
    let out = accord_ok(&["evaluate", "--pred", &pred, "--gold", &gold]);
    assert!(out.contains("2 of 2 gold items scored"), "{out}");
    assert!(
        out.contains("counted once: 1 in the predictions, 1 in gold"),
        "{out}"
    );
    let conflicting = file(dir.path(), "gold2.csv", "item,label\na,x\nb,x\nb,y\n");
    let err = accord_bad_input(&["evaluate", "--pred", &pred, "--gold", &conflicting]);
    assert!(
        err.contains(
            "gold2.csv: line 4: item \"b\" is given again with label \"y\", earlier \"x\""
        ),
        "{err}"
    );
}

#[test]
fn evaluate_reads_every_format_consolidate_writes() {
    // Regression: evaluate could not read accord's own manifest ("found
    // StringRecord([...])").
    let birds = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/birds");
    let dir = tmp();
    let mut accuracies = Vec::new();
    for format in ["csv", "manifest", "gt-response"] {
        let out = dir.path().join(format!("out.{format}"));
        accord_ok(&[
            "consolidate",
            &format!("{birds}/labels.csv"),
            "--backend",
            "cpu",
            "--out-format",
            format,
            "-o",
            out.to_str().unwrap(),
        ]);
        let json = accord_ok(&[
            "evaluate",
            "--pred",
            out.to_str().unwrap(),
            "--gold",
            &format!("{birds}/gold.csv"),
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["items"], 300, "{format}: {json}");
        accuracies.push((v["accuracy"].as_f64().unwrap(), v["ece"].as_f64().unwrap()));
    }
    assert!(
        accuracies
            .windows(2)
            .all(|w| (w[0].0 - w[1].0).abs() < 1e-12 && (w[0].1 - w[1].1).abs() < 1e-6),
        "{accuracies:?}"
    );
}

#[test]
fn simulate_stops_at_the_most_annotations_an_item_has() {
    // Regression: items with 3 annotations were simulated up to 5, two flat
    // points that looked like data.
    let dir = tmp();
    let out = dir.path().join("data");
    // `-o`, as consolidate and report take it.
    accord_ok(&[
        "generate",
        "-o",
        out.to_str().unwrap(),
        "--items",
        "200",
        "--workers",
        "20",
        "--per-item",
        "3",
    ]);
    let (labels, gold) = (out.join("labels.csv"), out.join("gold.csv"));
    let run = |extra: &[&str]| -> (serde_json::Value, String) {
        let mut args = vec![
            "simulate",
            labels.to_str().unwrap(),
            "--gold",
            gold.to_str().unwrap(),
            "--repeats",
            "2",
            "--backend",
            "cpu",
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = accord(&args);
        assert!(o.status.success());
        (
            serde_json::from_slice(&o.stdout).unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let most = |v: &serde_json::Value| {
        v["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["annotators"].as_u64().unwrap())
            .max()
    };
    let (default, _) = run(&[]);
    assert_eq!(most(&default), Some(3));
    let (asked, stderr) = run(&["--max-annotators", "5"]);
    assert_eq!(most(&asked), Some(3));
    assert!(stderr.contains("capped at 3"), "{stderr}");
}

/// Floats equal to 1e-12 relative, everything else exactly.
fn assert_json_close(got: &serde_json::Value, want: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(g), Value::Number(w)) if g.is_f64() || w.is_f64() => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{at}: {g} vs {w}"
            );
        }
        (Value::Object(g), Value::Object(w)) => {
            assert_eq!(
                g.keys().collect::<Vec<_>>(),
                w.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in w {
                assert_json_close(&g[k], v, &format!("{at}.{k}"));
            }
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_json_close(g, w, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

#[test]
fn scores_on_birds_are_those_before_gold_moved_to_ids() {
    // tests/data/birds-evaluate.json is what evaluate gave before gold,
    // predictions and scores moved from maps of strings to ids (the binary
    // of 8b0f09f on today's consolidate output, with the repeated_rows
    // field added since). Its calibration sums ran in hash order, so their
    // last digits varied from run to run; they now run in gold's order.
    let birds = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/birds");
    let dir = tmp();
    let pred = dir.path().join("pred.csv");
    let out = accord(&[
        "consolidate",
        &format!("{birds}/labels.csv"),
        "--backend",
        "cpu",
        "--method",
        "hds",
        "--gold",
        &format!("{birds}/gold.csv"),
        "-o",
        pred.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("accord: accuracy on gold: 0.8033 (241 of 300 gold items)"),
        "{stderr}"
    );
    let gold = format!("{birds}/gold.csv");
    let labels = format!("{birds}/labels.csv");
    let args = [
        "evaluate",
        "--pred",
        pred.to_str().unwrap(),
        "--gold",
        &gold,
        "--annotations",
        &labels,
        "--json",
    ];
    let json = accord_ok(&args);
    assert_eq!(
        json,
        accord_ok(&args),
        "the same input gives the same digits"
    );
    let got: serde_json::Value = serde_json::from_str(&json).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(include_str!("../data/birds-evaluate.json")).unwrap();
    assert_json_close(&got, &want, "");
}
