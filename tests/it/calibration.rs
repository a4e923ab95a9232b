//! Calibrated confidence: labels never change, a calibrated model is left
//! nearly as it is, and posteriors made overconfident by items of unequal
//! difficulty are brought toward their accuracy.

use accord::classification::{Confidence, Consolidator, Labels, Method, Params};
use accord::engine::pack::{pack, AnnotationBuilder, DuplicatePolicy, Packed};
use accord::engine::select::BackendChoice;
use accord::eval::metrics::score_ids;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support::{accord, file, labels_csv, tmp};

fn fit(data: &Packed, method: Method, confidence: Confidence) -> Labels {
    let mut params = Params::new(method);
    params.confidence = confidence;
    Consolidator::with_params(params)
        .backend(BackendChoice::Cpu)
        .fit_packed(data.clone())
        .unwrap()
}

fn ece(labels: &Labels, truth: &[u32]) -> f64 {
    let names: Vec<String> = (0..labels.classes().len()).map(|c| c.to_string()).collect();
    let pairs = truth.iter().enumerate().map(|(i, &t)| {
        (
            t,
            labels.fit.labels[i],
            Some(labels.fit.confidence[i] as f64),
        )
    });
    score_ids(&names, pairs).ece.unwrap()
}

/// Items of two kinds answered by the same 40 workers: easy ones, where
/// every worker is right with probability 0.9, and hard ones (`hard` of
/// them in 1), where each is right with 0.45 and otherwise picks one of the
/// other 3 classes, one of them twice as often. A model of one accuracy per
/// worker is sure of the hard items it gets wrong.
fn easy_and_hard(items: usize, per_item: usize, hard: f64, seed: u64) -> (Packed, Vec<u32>) {
    let k = 4u32;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b =
        AnnotationBuilder::with_categories(&(0..k).map(|c| c.to_string()).collect::<Vec<_>>())
            .unwrap();
    let mut truth = Vec::new();
    for i in 0..items {
        let t = rng.gen_range(0..k);
        truth.push(t);
        let is_hard = rng.gen_bool(hard);
        let mut workers: Vec<u32> = (0..40).collect();
        for _ in 0..per_item {
            let w = workers.swap_remove(rng.gen_range(0..workers.len()));
            let right = rng.gen_bool(if is_hard { 0.45 } else { 0.9 });
            let label = if right {
                t
            } else if is_hard && rng.gen_bool(0.5) {
                (t + 1) % k
            } else {
                (t + rng.gen_range(1..k)) % k
            };
            b.push(&format!("i{i}"), &format!("w{w}"), &label.to_string())
                .unwrap();
        }
    }
    (pack(b.finish(), DuplicatePolicy::Keep).unwrap(), truth)
}

#[test]
fn calibration_changes_no_label_and_keeps_posteriors_summing_to_one() {
    let (data, _) = easy_and_hard(600, 5, 0.3, 1);
    for method in [Method::Auto, Method::Ds, Method::Hds, Method::OneCoin] {
        let raw = fit(&data, method, Confidence::Raw);
        let calibrated = fit(&data, method, Confidence::Calibrated);
        assert_eq!(raw.fit.labels, calibrated.fit.labels, "{method:?}");
        assert!(raw.fit.calibration.is_none());
        let c = calibrated.fit.calibration.as_ref().expect("calibrated");
        assert_eq!(c.answers, data.n_annotations());
        let k = data.n_classes();
        let q = calibrated.fit.posteriors.as_slice().unwrap();
        for (i, row) in q.chunks(k).enumerate() {
            assert!(
                (row.iter().sum::<f32>() - 1.0).abs() < 1e-4,
                "{method:?} {row:?}"
            );
            let label = calibrated.fit.labels[i] as usize;
            assert!(row.iter().all(|&p| p <= row[label]), "{method:?} {row:?}");
            assert_eq!(calibrated.fit.confidence[i], row[label]);
        }
    }
}

#[test]
fn overconfidence_from_hard_items_is_mostly_removed() {
    let (data, truth) = easy_and_hard(3000, 5, 0.3, 2);
    for method in [Method::Ds, Method::Hds] {
        let before = ece(&fit(&data, method, Confidence::Raw), &truth);
        let after = ece(&fit(&data, method, Confidence::Calibrated), &truth);
        assert!(
            before > 0.05,
            "{method:?}: the test needs an overconfident model ({before})"
        );
        eprintln!("{method:?}: ECE {before:.4} -> {after:.4}");
        assert!(
            after < 0.6 * before,
            "{method:?}: ECE {before:.4} -> {after:.4}"
        );
    }
}

#[test]
fn a_model_that_fits_its_data_stays_calibrated() {
    // Data drawn from the Dawid-Skene model itself: the raw posterior is
    // calibrated, and calibration must not spoil it.
    let (data, truth) = crate::support::synthetic_set(4000, 60, 3, 4, 3);
    let raw = ece(&fit(&data, Method::Ds, Confidence::Raw), &truth);
    let calibrated = ece(&fit(&data, Method::Ds, Confidence::Calibrated), &truth);
    eprintln!("ECE {raw:.4} -> {calibrated:.4}");
    assert!(calibrated < raw + 0.02, "ECE {raw:.4} -> {calibrated:.4}");
}

#[test]
fn the_cli_reports_the_calibration_and_raw_turns_it_off() {
    let dir = tmp();
    let (data, _) = easy_and_hard(300, 5, 0.3, 4);
    let input = file(dir.path(), "in.csv", labels_csv(&data));
    let run = |extra: &[&str]| {
        let mut args = vec!["consolidate", input.as_str()];
        args.extend_from_slice(extra);
        if !extra.contains(&"--method") {
            args.extend_from_slice(&["--method", "ds"]);
        }
        let out = accord(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (calibrated, stderr) = run(&[]);
    assert!(
        stderr.contains("confidence calibrated on 1500 held-out answers (5 folds)"),
        "{stderr}"
    );
    let (raw, stderr) = run(&["--confidence", "raw"]);
    assert!(!stderr.contains("calibrated"), "{stderr}");
    let labels = |csv: &str| -> Vec<String> {
        csv.lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_owned())
            .collect()
    };
    assert_eq!(labels(&calibrated), labels(&raw));
    assert_ne!(calibrated, raw);
    // mv keeps its vote share whatever --confidence says.
    let (mv, stderr) = run(&["--method", "mv"]);
    assert!(!stderr.contains("calibrated"), "{stderr}");
    let (mv_raw, _) = run(&["--method", "mv", "--confidence", "raw"]);
    assert_eq!(mv, mv_raw);
}

#[test]
fn known_items_join_the_calibration() {
    let dir = tmp();
    let (data, truth) = easy_and_hard(400, 5, 0.3, 5);
    let input = file(dir.path(), "in.csv", labels_csv(&data));
    let mut known = String::from("item,label\n");
    for (i, t) in truth.iter().enumerate().step_by(10) {
        known.push_str(&format!("{},{}\n", &data.item_names[i], t));
    }
    let known = file(dir.path(), "known.csv", known);
    let out = accord(&["consolidate", &input, "--method", "ds", "--known", &known]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // 40 known items, each once per fold.
    assert!(
        stderr.contains("and 200 known-item labels (5 folds)"),
        "{stderr}"
    );
}

/// On every shared set, the default's calibrated confidence is no worse
/// calibrated than its raw posterior (0.005 of ECE for noise), and the mean
/// ECE falls by a fifth at least (measured: 0.139 to 0.101).
#[test]
#[ignore = "needs the real datasets (ACCORD_DATASETS, default ../shared/datasets): run with -- --ignored"]
fn calibration_lowers_the_defaults_ece_on_the_shared_sets() {
    use accord::classification::read::{read, ReadOptions};
    use accord::eval::read_gold;
    let Some(root) = crate::support::shared_datasets() else {
        return;
    };
    let mut sums = (0.0, 0.0, 0usize);
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("labels.csv").is_file() {
            continue;
        }
        let input = read(&dir.join("labels.csv"), &ReadOptions::default(), &|_| {}).unwrap();
        let data = pack(input.annotations, DuplicatePolicy::Keep).unwrap();
        let gold = read_gold(&dir.join("gold.csv")).unwrap();
        let truth: Vec<Option<u32>> = (0..data.n_items())
            .map(|i| {
                let name = gold.get(&data.item_names[i])?;
                data.class_names
                    .iter()
                    .position(|c| c == name)
                    .map(|c| c as u32)
            })
            .collect();
        let gold_ece = |labels: &Labels| {
            let names: Vec<String> = data.class_names.iter().map(|c| c.to_string()).collect();
            let pairs = truth.iter().enumerate().filter_map(|(i, t)| {
                Some((
                    (*t)?,
                    labels.fit.labels[i],
                    Some(labels.fit.confidence[i] as f64),
                ))
            });
            score_ids(&names, pairs).ece.unwrap()
        };
        let raw = gold_ece(&fit(&data, Method::Auto, Confidence::Raw));
        let calibrated = gold_ece(&fit(&data, Method::Auto, Confidence::Calibrated));
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("{name}: ECE {raw:.3} -> {calibrated:.3}");
        assert!(
            calibrated <= raw + 0.005,
            "{name}: ECE {raw:.4} -> {calibrated:.4}"
        );
        sums = (sums.0 + raw, sums.1 + calibrated, sums.2 + 1);
    }
    assert!(sums.2 >= 1);
    assert!(
        sums.1 <= 0.8 * sums.0,
        "mean ECE {:.4} -> {:.4}",
        sums.0 / sums.2 as f64,
        sums.1 / sums.2 as f64
    );
}
