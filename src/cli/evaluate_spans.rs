//! `accord evaluate --task spans`: consolidated spans (and, with
//! `--annotations`, each worker's) scored against gold spans.

use std::collections::HashSet;
use std::io::Write;

use accord::eval::spans::{read_answers, read_span_table, score_spans, worker_scores, Prf};
use accord::Error;
use serde_json::json;

use super::evaluate::Args;

pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.plot_confusion.is_some() {
        return Err(Error::Usage(
            "--plot-confusion draws classification confusion; spans have none".into(),
        )
        .into());
    }
    let gold: Vec<_> = read_span_table(&args.gold)?
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let pred: Vec<_> = read_span_table(&args.pred)?
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let answers = args.responses.as_deref().map(read_answers).transpose()?;
    let items: Option<HashSet<String>> = answers
        .as_ref()
        .map(|a| a.iter().map(|(i, _)| i.clone()).collect());
    let scores = score_spans(&gold, &pred, items.as_ref());
    let workers = match &args.annotations {
        None => None,
        Some(path) => {
            let spans = read_span_table(path)?;
            let scoped: Vec<_> = gold
                .iter()
                .filter(|r| items.as_ref().is_none_or(|s| s.contains(&r.0)))
                .cloned()
                .collect();
            Some(worker_scores(
                &scoped,
                &spans,
                answers.as_deref().unwrap_or(&[]),
            ))
        }
    };
    let mut out = std::io::stdout().lock();
    let prf = |p: &Prf| json!({"precision": p.precision, "recall": p.recall, "f1": p.f1, "correct": p.correct, "predicted": p.predicted, "gold": p.gold});
    if args.json {
        let per_label: serde_json::Map<String, serde_json::Value> = scores
            .per_label
            .iter()
            .map(|(l, p)| (l.clone(), prf(p)))
            .collect();
        let mut value = json!({
            "micro": prf(&scores.micro),
            "partial": prf(&scores.partial),
            "per_label": per_label,
            "items": scores.items,
        });
        if let Some(w) = &workers {
            let list: Vec<_> = w
                .iter()
                .map(|(name, p)| json!({"worker": name, "scores": prf(p)}))
                .collect();
            let mean = w.iter().map(|(_, p)| p.f1).sum::<f64>() / w.len().max(1) as f64;
            value["workers"] = json!(list);
            value["worker_mean_f1"] = json!(mean);
        }
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(
        out,
        "items scored: {}; gold spans {}, predicted {}",
        scores.items, scores.micro.gold, scores.micro.predicted
    )?;
    let line = |name: &str, p: &Prf| {
        format!(
            "{name:>10}  precision {:.4}  recall {:.4}  F1 {:.4}  ({} of {} predicted right, {} gold)",
            p.precision, p.recall, p.f1, p.correct, p.predicted, p.gold
        )
    };
    writeln!(out, "exact-match spans (CoNLL):")?;
    writeln!(out, "{}", line("micro", &scores.micro))?;
    for (l, p) in &scores.per_label {
        writeln!(out, "{}", line(l, p))?;
    }
    writeln!(out, "partial overlap (same label):")?;
    writeln!(
        out,
        "{:>10}  precision {:.4}  recall {:.4}  F1 {:.4}",
        "micro", scores.partial.precision, scores.partial.recall, scores.partial.f1
    )?;
    if let Some(w) = &workers {
        let mean = w.iter().map(|(_, p)| p.f1).sum::<f64>() / w.len().max(1) as f64;
        writeln!(
            out,
            "workers against gold ({}; mean F1 {mean:.4}):",
            w.len()
        )?;
        for (name, p) in w {
            writeln!(out, "{}", line(name, p))?;
        }
    }
    Ok(())
}
