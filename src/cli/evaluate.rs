//! `accord evaluate`: scores consolidated output against gold. This file
//! reads segmentation masks; classification is in `evaluate_class.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};

use accord::eval::SegScorer;
use accord::segmentation::png_mask::{decode_mask, ColourMap};
use accord::Error;
use serde_json::{json, Value};

use super::consolidate::Task;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What was consolidated.
    #[arg(long, value_enum, default_value_t = Task::Classification)]
    pub task: Task,
    /// Classification: consolidate's CSV output (item, label, confidence). Segmentation: its
    /// output manifest (masks found relative to it).
    #[arg(long)]
    pub pred: PathBuf,
    /// Classification: gold labels, CSV item,label. Segmentation: JSON Lines of `image` and `mask`
    /// (an index PNG whose values are class ids in the order of the prediction's
    /// internal-color-map), paths relative to this file.
    #[arg(long)]
    pub gold: PathBuf,
    /// Classification: also score the raw annotations (each against gold) and give their
    /// Krippendorff's alpha.
    #[arg(long, value_name = "LABELS")]
    pub annotations: Option<PathBuf>,
    /// Classification: draw the row-normalised confusion matrices (the raw annotations' with
    /// --annotations, then the prediction's) as heatmaps, SVG or PNG by the extension.
    #[arg(long, value_name = "FILE.svg|png")]
    pub plot_confusion: Option<PathBuf>,
    /// Print the scores as JSON. Classification: accuracy, ece, per_class, classes, confusion,
    /// confusion_normalised, calibration, items, missing, unscored, annotations. Segmentation:
    /// mean_iou, pixel_accuracy, per_class_iou, images, missing.
    #[arg(long)]
    pub json: bool,
    /// Refuse masks of more pixels than this.
    #[arg(long, default_value_t = 100_000_000)]
    max_pixels: u64,
}

fn bad(path: &Path, line: usize, problem: impl Into<String>) -> Error {
    Error::at_line(path, line as u64 + 1, problem)
}

fn lines(path: &Path) -> Result<Vec<(usize, Value)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .map(|v| (n, v))
                .map_err(|e| bad(path, n, format!("invalid JSON: {e}")))
        })
        .collect()
}

fn read_png(path: &Path, manifest: &Path, line: usize) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| bad(manifest, line, format!("mask {}: {e}", path.display())))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.task == Task::Classification {
        return super::evaluate_class::run(&args);
    }
    if args.annotations.is_some() {
        return Err(Error::Usage(
            "--annotations scores classification annotations; segmentation takes --pred and --gold"
                .into(),
        )
        .into());
    }
    let pred_dir = args
        .pred
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let gold_dir = args
        .gold
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    // Predictions by image: mask path and colour map.
    let mut predicted = std::collections::HashMap::new();
    let mut classes: Option<ColourMap> = None;
    for (n, line) in lines(&args.pred)? {
        let image = line
            .get("source-ref")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&args.pred, n, "missing source-ref"))?
            .to_string();
        let obj = line.as_object().expect("a JSON line is an object here");
        let (attr, mask) = obj
            .iter()
            .find(|(k, v)| k.ends_with("-ref") && *k != "source-ref" && v.is_string())
            .ok_or_else(|| bad(&args.pred, n, "no <attr>-ref mask path"))?;
        let map = obj
            .get(&format!("{attr}-metadata"))
            .and_then(|m| m.get("internal-color-map"))
            .ok_or_else(|| {
                bad(
                    &args.pred,
                    n,
                    format!("missing {attr}-metadata.internal-color-map"),
                )
            })?;
        let map = ColourMap::from_internal(map).map_err(|p| bad(&args.pred, n, p))?;
        match &classes {
            None => classes = Some(map.clone()),
            Some(first) if first.names() != map.names() => {
                return Err(bad(
                    &args.pred,
                    n,
                    "this line's classes differ from the first line's",
                )
                .into())
            }
            Some(_) => {}
        }
        predicted.insert(
            image,
            (n, pred_dir.join(mask.as_str().expect("string")), map),
        );
    }
    let classes = classes
        .ok_or_else(|| Error::Usage(format!("{} holds no prediction", args.pred.display())))?;
    let mut scorer = SegScorer::new(classes.classes.len());
    let (mut images, mut missing) = (0usize, Vec::new());
    for (n, line) in lines(&args.gold)? {
        let image = line
            .get("image")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&args.gold, n, "missing image"))?;
        let mask = line
            .get("mask")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&args.gold, n, "missing mask"))?;
        let Some((pn, pred_path, map)) = predicted.get(image) else {
            missing.push(image.to_string());
            continue;
        };
        let gold_path = gold_dir.join(mask);
        let gold = decode_mask(&read_png(&gold_path, &args.gold, n)?, None, args.max_pixels)
            .map_err(|p| bad(&args.gold, n, format!("mask {}: {p}", gold_path.display())))?;
        let pred = decode_mask(
            &read_png(pred_path, &args.pred, *pn)?,
            Some(map),
            args.max_pixels,
        )
        .map_err(|p| {
            bad(
                &args.pred,
                *pn,
                format!("mask {}: {p}", pred_path.display()),
            )
        })?;
        if (gold.width, gold.height) != (pred.width, pred.height) {
            return Err(bad(
                &args.gold,
                n,
                format!(
                    "gold mask of {image:?} is {}×{}, the prediction {}×{}",
                    gold.width, gold.height, pred.width, pred.height
                ),
            )
            .into());
        }
        if let Some(&c) = gold
            .pixels
            .iter()
            .find(|&&c| c as usize >= classes.classes.len())
        {
            return Err(bad(
                &args.gold,
                n,
                format!(
                    "gold class id {c} is beyond the prediction's {} classes",
                    classes.classes.len()
                ),
            )
            .into());
        }
        scorer.add(&pred.pixels, &gold.pixels);
        images += 1;
    }
    let scores = scorer.scores();
    let mut out = std::io::stdout().lock();
    if args.json {
        let per_class: serde_json::Map<String, Value> = classes
            .names()
            .into_iter()
            .zip(&scores.per_class_iou)
            .map(|(name, iou)| (name, json!(iou)))
            .collect();
        let value = json!({
            "mean_iou": scores.mean_iou,
            "pixel_accuracy": scores.pixel_accuracy,
            "per_class_iou": per_class,
            "images": images,
            "missing": missing,
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "images scored: {images}; gold images without a prediction: {}",
            missing.len()
        )?;
        writeln!(out, "mean IoU: {:.4}", scores.mean_iou)?;
        writeln!(out, "pixel accuracy: {:.4}", scores.pixel_accuracy)?;
        for (name, iou) in classes.names().iter().zip(&scores.per_class_iou) {
            match iou {
                Some(v) => writeln!(out, "  IoU {name}: {v:.4}")?,
                None => writeln!(out, "  IoU {name}: - (in neither)")?,
            }
        }
    }
    Ok(())
}
