//! `accord evaluate --task multilabel`: per-label scores, micro and macro
//! F1, subset accuracy, Hamming loss and calibration, against partial gold.

use std::io::Write;

use accord::eval::multilabel::evaluate_multilabel;
use accord::Error;

use super::evaluate::Args;

fn show(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |x| format!("{x:.4}"))
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.annotations.is_some() || args.plot_confusion.is_some() {
        return Err(Error::Usage(
            "--annotations and --plot-confusion are for classification; --task multilabel takes --pred and --gold"
                .into(),
        )
        .into());
    }
    let scores = evaluate_multilabel(&args.pred, &args.gold)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&scores)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "judged pairs scored: {} of {} gold items; judged pairs without a prediction: {}",
        scores.pairs, scores.items, scores.missing
    )?;
    writeln!(
        out,
        "micro F1 {}  macro F1 {}  subset accuracy {:.4}  Hamming loss {:.4}",
        show(scores.micro_f1),
        show(scores.macro_f1),
        scores.subset_accuracy,
        scores.hamming_loss
    )?;
    writeln!(
        out,
        "{:<28} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "label", "judged", "positive", "precision", "recall", "F1", "ROC AUC", "ECE"
    )?;
    for s in &scores.per_label {
        writeln!(
            out,
            "{:<28} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7.4}",
            s.label,
            s.judged,
            s.positives,
            show(s.precision),
            show(s.recall),
            show(s.f1),
            show(s.roc_auc),
            s.ece
        )?;
    }
    Ok(())
}
