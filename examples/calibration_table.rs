//! Prints the README's calibration table: for every set in
//! ../shared/datasets (or $ACCORD_DATASETS), the expected calibration error
//! (10 equal bins, as `accord evaluate`) of a method's raw posterior and of
//! its calibrated confidence, with the temperatures it learnt; and draws
//! each set's reliability diagram, before and after, into a folder (SVG
//! and PNG).
//!
//!     cargo run --release --example calibration_table -- [METHOD] [FIGURE_DIR]
//!
//! METHOD defaults to the default method; FIGURE_DIR to
//! target/calibration. Labels never change, so accuracy is printed once.

use std::path::PathBuf;

use accord::classification::read::ReadOptions;
use accord::classification::{Confidence, Consolidator, Labels, Method};
use accord::engine::pack::{self, DuplicatePolicy};
use accord::engine::select::BackendChoice;
use accord::eval::metrics::{score, Scores};
use accord::eval::read_gold;
use accord::report::plot::{self, CalibrationCompare, CalibrationCurve};

fn scores(labels: &Labels, gold: &accord::eval::Gold) -> Scores {
    let pairs: Vec<(&str, &str, Option<f64>)> = labels
        .items()
        .filter(|row| !row.label.is_empty())
        .filter_map(|row| {
            let truth = gold.get(row.item)?;
            Some((truth, row.label, Some(row.confidence as f64)))
        })
        .collect();
    score(pairs)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let method = match args.next() {
        Some(name) => {
            Method::from_name(&name).ok_or_else(|| anyhow::anyhow!("no method {name}"))?
        }
        None => Method::default(),
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let figures = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/calibration"));
    std::fs::create_dir_all(&figures)?;
    let datasets = std::env::var_os("ACCORD_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/datasets"));
    if !datasets.is_dir() {
        anyhow::bail!("{} not found: set ACCORD_DATASETS", datasets.display());
    }
    let mut names: Vec<String> = std::fs::read_dir(&datasets)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("labels.csv").is_file() && e.path().join("gold.csv").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    println!(
        "| set | accuracy | ECE raw | ECE calibrated | agreement bins and their temperatures |"
    );
    println!("|---|---|---|---|---|");
    let (mut raw_sum, mut calibrated_sum) = (0.0, 0.0);
    for name in &names {
        let dir = datasets.join(name);
        let gold = read_gold(&dir.join("gold.csv"))?;
        let fit = |confidence: Confidence| -> anyhow::Result<Labels> {
            let input = accord::classification::read::read(
                &dir.join("labels.csv"),
                &ReadOptions::default(),
                &|_| {},
            )?;
            let data = pack::pack(input.annotations, DuplicatePolicy::Keep)?;
            let mut params = accord::classification::Params::new(method);
            params.confidence = confidence;
            Ok(Consolidator::with_params(params)
                .backend(BackendChoice::Cpu)
                .fit_packed(data)?)
        };
        let raw = fit(Confidence::Raw)?;
        let calibrated = fit(Confidence::Calibrated)?;
        let (before, after) = (scores(&raw, &gold), scores(&calibrated, &gold));
        let map = match &calibrated.fit.calibration {
            None => "none: the method keeps its vote share".to_owned(),
            Some(c) => {
                let t: Vec<String> = c
                    .bins
                    .iter()
                    .map(|b| format!("{:.1}", b.temperature))
                    .collect();
                format!("{} bins, T {}", c.bins.len(), t.join(" "))
            }
        };
        let (e0, e1) = (before.ece.unwrap_or(0.0), after.ece.unwrap_or(0.0));
        raw_sum += e0;
        calibrated_sum += e1;
        println!(
            "| {name} | {:.4} | {e0:.3} | {e1:.3} | {map} |",
            after.accuracy
        );
        let figure = CalibrationCurve {
            bins: &after.calibration,
            ece: after.ece,
            compare: Some(CalibrationCompare {
                bins: &before.calibration,
                ece: before.ece,
                name: "raw posterior".into(),
                main_name: "calibrated".into(),
            }),
            title: format!("{name}: {}", method.name()),
        };
        // SVG for the README, PNG to look at.
        for extension in ["svg", "png"] {
            plot::write(&figures.join(format!("{name}.{extension}")), &figure)?;
        }
    }
    let n = names.len().max(1) as f64;
    println!(
        "| mean | | {:.3} | {:.3} | |",
        raw_sum / n,
        calibrated_sum / n
    );
    println!("figures in {}", figures.display());
    Ok(())
}
