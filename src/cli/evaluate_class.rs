//! `accord evaluate` for classification: consolidated labels (and, with
//! `--annotations`, the raw annotations) scored against gold.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use accord::classification::read::ReadOptions;
use accord::engine::pack::{pack, DuplicatePolicy};
use accord::eval::metrics::{annotation_pairs, annotations_alpha, score, Scores};
use accord::Error;
use serde_json::json;

use super::evaluate::Args;

/// A prediction: label and, when the file has the column, confidence.
type Prediction = (String, Option<f64>);

/// Reads `consolidate`'s CSV output: columns `item` (or `task`), `label`,
/// and optionally `confidence`.
fn read_predictions(path: &Path) -> Result<HashMap<String, Prediction>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .from_path(path)
        .map_err(|e| Error::Read {
            path: path.into(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let header = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, e.to_string()))?
        .clone();
    let find = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
    let (Some(item), Some(label)) = (find(&["item", "task"]), find(&["label"])) else {
        return Err(Error::at_line(
            path,
            1,
            format!("expected a header naming item (or task) and label, as consolidate writes; found {header:?}"),
        ));
    };
    let confidence = find(&["confidence"]);
    let mut predictions = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let conf = match confidence {
            None => None,
            Some(c) => Some(
                field(c)
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=1.0).contains(v))
                    .ok_or_else(|| {
                        Error::at_line(
                            path,
                            line,
                            format!("confidence {:?} is not a number in [0, 1]", field(c)),
                        )
                    })?,
            ),
        };
        if field(item).is_empty() {
            return Err(Error::at_line(path, line, "empty item id"));
        }
        predictions
            .entry(field(item).to_owned())
            .or_insert((field(label).to_owned(), conf));
    }
    Ok(predictions)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if let Some(path) = &args.plot_confusion {
        accord::report::plot::check_figure_path(path)?;
    }
    let gold = accord::eval::read_gold(&args.gold)?;
    let predictions = read_predictions(&args.pred)?;
    let mut pairs = Vec::new();
    let mut missing = 0u64;
    for (item, truth) in &gold {
        match predictions.get(item) {
            Some((label, confidence)) => pairs.push((truth.as_str(), label.as_str(), *confidence)),
            None => missing += 1,
        }
    }
    let unscored = predictions
        .keys()
        .filter(|i| !gold.contains_key(*i))
        .count();
    let scores = score(pairs.iter().copied());

    let annotations = match &args.annotations {
        None => None,
        Some(path) => {
            let input = accord::classification::read::read(path, &ReadOptions::default(), &|_| {})?;
            let data = pack(input.annotations, DuplicatePolicy::Keep)?;
            Some((
                score(annotation_pairs(&data, &gold)),
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
        let mut value = scores_json(&scores);
        value["items"] = json!(scores.scored);
        value["missing"] = json!(missing);
        value["unscored"] = json!(unscored);
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
    print_scores(&mut out, "consolidated labels", &scores)?;
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
