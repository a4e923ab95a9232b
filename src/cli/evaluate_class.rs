//! `accord evaluate` for classification: consolidated labels (and, with
//! `--annotations`, the raw annotations) scored against gold.

use std::io::Write;

use accord::classification::read::ReadOptions;
use accord::engine::pack::{pack, DuplicatePolicy};
use accord::eval::metrics::{annotation_scores, annotations_alpha, Scores};
use accord::eval::{read_predictions, score_predictions};
use serde_json::json;

use super::evaluate::Args;

pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(path) = &args.plot_confusion {
        accord::report::plot::check_figure_path(path)?;
        let mut inputs: Vec<&std::path::Path> = vec![&args.pred, &args.gold];
        inputs.extend(args.annotations.as_deref());
        super::consolidate::refuse_clashes(&[path], &inputs)?;
    }
    // Gold and predictions are read side by side; gold's error comes first.
    let (gold, predictions) = rayon::join(
        || accord::eval::read_gold_counted(&args.gold),
        || read_predictions(&args.pred),
    );
    let (gold, gold_repeats) = gold?;
    let (predictions, _) = predictions?;
    let scored = score_predictions(&gold, &predictions);
    let (scores, missing, unscored) = (&scored.scores, scored.missing, scored.unscored);

    let annotations = match &args.annotations {
        None => None,
        Some(path) => {
            let bar = super::progress::reading_bar(path, false)?;
            let input = accord::classification::read::read(path, &ReadOptions::default(), &|n| {
                bar.set_position(n)
            })?;
            bar.finish_and_clear();
            let data = pack(input.annotations, DuplicatePolicy::Keep)?;
            Some((
                annotation_scores(&data, &gold.for_packed(&data)),
                annotations_alpha(&data),
            ))
        }
    };

    if let Some(path) = &args.plot_confusion {
        let mut panels: Vec<accord::report::plot::ConfusionPanel> = Vec::new();
        if let Some((a, _)) = &annotations {
            panels.push(("raw annotations", &a.classes, &a.confusion_normalised));
        }
        panels.push((
            "consolidated labels",
            &scores.classes,
            &scores.confusion_normalised,
        ));
        accord::report::plot::write(path, &accord::report::plot::ConfusionHeatmaps { panels })?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = scores_json(scores);
        value["items"] = json!(scores.scored);
        value["missing"] = json!(missing);
        value["unscored"] = json!(unscored);
        value["repeated_rows"] =
            json!({ "predictions": predictions.repeats, "gold": gold_repeats });
        if let Some((a, alpha)) = &annotations {
            let mut raw = scores_json(a);
            raw["krippendorff_alpha"] = json!(alpha);
            value["annotations"] = raw;
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} of {} gold items scored ({missing} without a prediction; {unscored} predictions without gold)",
        scores.scored,
        gold.len()
    )?;
    if predictions.repeats + gold_repeats > 0 {
        writeln!(
            out,
            "repeated rows with the same label, counted once: {} in the predictions, {gold_repeats} in gold",
            predictions.repeats
        )?;
    }
    print_scores(&mut out, "consolidated labels", scores)?;
    if let Some((a, alpha)) = &annotations {
        print_scores(&mut out, "raw annotations, each against gold", a)?;
        match alpha {
            Some(alpha) => writeln!(
                out,
                "Krippendorff's alpha (nominal) of the annotations: {alpha:.4}"
            )?,
            None => writeln!(
                out,
                "Krippendorff's alpha: undefined (no pairable disagreement possible)"
            )?,
        }
    }
    Ok(())
}

fn scores_json(s: &Scores) -> serde_json::Value {
    json!({
        "accuracy": s.accuracy,
        "ece": s.ece,
        "per_class": s.per_class,
        "classes": s.classes,
        "confusion": s.confusion,
        "confusion_normalised": s.confusion_normalised,
        "calibration": s.calibration,
        "scored": s.scored,
    })
}

fn print_scores(out: &mut dyn Write, title: &str, s: &Scores) -> std::io::Result<()> {
    writeln!(
        out,
        "\n{title}: accuracy {:.4} over {}",
        s.accuracy, s.scored
    )?;
    if let Some(ece) = s.ece {
        writeln!(out, "expected calibration error {ece:.4}")?;
    }
    let width = s.classes.iter().map(String::len).max().unwrap_or(5).max(5);
    writeln!(
        out,
        "{:>width$}  precision  recall      f1  support",
        "class"
    )?;
    for c in &s.per_class {
        writeln!(
            out,
            "{:>width$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
            c.class, c.precision, c.recall, c.f1, c.support
        )?;
    }
    writeln!(
        out,
        "confusion (rows gold, columns predicted): counts | row shares"
    )?;
    write!(out, "{:>width$} ", "")?;
    for c in &s.classes {
        write!(out, " {c:>7}")?;
    }
    writeln!(out)?;
    for (g, row) in s.confusion.iter().enumerate() {
        write!(out, "{:>width$} ", s.classes[g])?;
        for n in row {
            write!(out, " {n:>7}")?;
        }
        write!(out, " |")?;
        for share in &s.confusion_normalised[g] {
            write!(out, " {share:>5.3}")?;
        }
        writeln!(out)?;
    }
    if !s.calibration.is_empty() {
        writeln!(
            out,
            "calibration:  confidence bin   count  mean confidence  accuracy"
        )?;
        for b in s.calibration.iter().filter(|b| b.count > 0) {
            writeln!(
                out,
                "              {:.1}–{:.1}      {:>7}  {:>15.4}  {:>8.4}",
                b.low, b.high, b.count, b.mean_confidence, b.accuracy
            )?;
        }
    }
    Ok(())
}
