//! `accord evaluate`: scores consolidated output against gold. This file
//! reads segmentation masks; classification is in `evaluate_class.rs`.

use std::io::Write;
use std::path::PathBuf;

use accord::eval::segmentation::evaluate_segmentation_with;
use accord::Error;
use serde_json::{json, Value};

use super::consolidate::Task;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What was consolidated.
    #[arg(long, value_enum, default_value_t = Task::Classification)]
    pub task: Task,
    /// Boxes: consolidate's CSV output (item, class, left, top, width, height, confidence).
    /// Classification: consolidate's CSV output (item, label, confidence). Segmentation: its
    /// output manifest (masks found relative to it).
    #[arg(long)]
    pub pred: PathBuf,
    /// Boxes: gold boxes, CSV item,label,left,top,width,height.
    /// Classification: gold labels, CSV item,label. Multi-label: CSV item,label,present (1/0),
    /// only for the pairs judged. Segmentation: JSON Lines of `image` and `mask`
    /// (an index PNG whose values are class ids in the order of the prediction's
    /// internal-color-map), paths relative to this file.
    #[arg(long)]
    pub gold: PathBuf,
    /// Boxes: the workers' boxes (as consolidate read them), each worker scored against gold.
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
    /// Boxes: every gold image, CSV with an item column (the dataset's gold_images.csv), so images
    /// where the expert drew no box are scored too.
    #[arg(long, value_name = "FILE")]
    pub gold_images: Option<std::path::PathBuf>,
    /// Boxes with --annotations: every answer (item,worker), so a worker's empty answers count.
    /// Spans: the answers (CSV with item and worker columns, e.g. responses.csv): only these items
    /// are scored, and with --annotations each worker on the texts they answered.
    #[arg(long, value_name = "FILE")]
    pub responses: Option<std::path::PathBuf>,
    /// Refuse masks of more pixels than this.
    #[arg(long, default_value_t = 100_000_000)]
    max_pixels: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.task == Task::Classification {
        return super::evaluate_class::run(&args);
    }
    if args.task == Task::Multilabel {
        return super::evaluate_multilabel::run(&args);
    }
    if args.task == Task::Boxes {
        return super::evaluate_boxes::run(&args);
    }
    if args.task == Task::Spans {
        return super::evaluate_spans::run(&args);
    }
    if args.annotations.is_some() {
        return Err(Error::Usage(
            "--annotations scores classification annotations; segmentation takes --pred and --gold"
                .into(),
        )
        .into());
    }
    // A bar over the gold images (drawn only on a terminal).
    let bar = super::progress::images_bar(0, false);
    bar.set_message("scoring");
    let evaluation =
        evaluate_segmentation_with(&args.pred, &args.gold, args.max_pixels, &mut |done, all| {
            bar.set_length(all as u64);
            bar.set_position(done as u64);
        })?;
    bar.finish_and_clear();
    let (scores, images, missing) = (&evaluation.scores, evaluation.images, &evaluation.missing);
    let mut out = std::io::stdout().lock();
    if args.json {
        let per_class: serde_json::Map<String, Value> = evaluation
            .classes
            .iter()
            .cloned()
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
        for (name, iou) in evaluation.classes.clone().iter().zip(&scores.per_class_iou) {
            match iou {
                Some(v) => writeln!(out, "  IoU {name}: {v:.4}")?,
                None => writeln!(out, "  IoU {name}: - (in neither)")?,
            }
        }
    }
    Ok(())
}
