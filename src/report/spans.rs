//! The report's section on named-entity spans: counts, scores against gold
//! when given, the workers, and a few texts with every worker's spans and
//! the consolidated ones highlighted.

use super::html::{escape, HtmlPage};
use super::thousands;
use crate::eval::spans::{score_spans, SpanRow};
use crate::spans::SpanLabels;

/// Background colours of the labels, in label order (then round again).
const COLOURS: [&str; 8] = [
    "#ffd8a8", "#b2f2bb", "#a5d8ff", "#fcc2d7", "#d0bfff", "#ffec99", "#99e9f2", "#e9ecef",
];

/// `text` with `spans` (code points, sorted, `(start, end, label, title)`)
/// marked; spans overlapping an earlier one are left out.
fn highlight(text: &str, spans: &[(u32, u32, u32, String)], labels: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut at = 0usize;
    for (s, e, l, title) in spans {
        let (s, e) = (*s as usize, (*e as usize).min(chars.len()));
        if s < at || s >= e {
            continue;
        }
        out.push_str(&escape(&chars[at..s].iter().collect::<String>()));
        out.push_str(&format!(
            "<mark style=\"background:{}\" title=\"{}\">{}<sub>{}</sub></mark>",
            COLOURS[*l as usize % COLOURS.len()],
            escape(title),
            escape(&chars[s..e].iter().collect::<String>()),
            escape(&labels[*l as usize])
        ));
        at = e;
    }
    out.push_str(&escape(&chars[at..].iter().collect::<String>()));
    out
}

/// Adds the spans section: `gold` (if any) scores the consolidation, and
/// `shown` texts (those whose least confident span is least confident,
/// first) are drawn with every worker's spans.
pub fn spans_section(
    page: &mut HtmlPage,
    labels: &SpanLabels,
    gold: Option<&[SpanRow]>,
    shown: usize,
) {
    let batch = &labels.batch;
    let fit = &labels.fit;
    page.heading("Spans");
    page.table(
        &[
            "texts",
            "answers",
            "workers",
            "workers' spans",
            "consolidated spans",
            "method",
        ],
        &[vec![
            thousands(batch.n_items()),
            thousands(batch.n_responses()),
            thousands(batch.n_workers()),
            thousands(batch.n_spans()),
            thousands(fit.n_spans()),
            fit.method.name().to_string(),
        ]],
    );
    let mut per_label = vec![(0usize, 0usize); batch.n_labels()];
    for &l in &batch.span_label {
        per_label[l as usize].0 += 1;
    }
    for &l in &fit.label {
        per_label[l as usize].1 += 1;
    }
    let rows: Vec<Vec<String>> = batch
        .label_names
        .iter()
        .zip(&per_label)
        .map(|(name, (w, c))| vec![name.clone(), thousands(w), thousands(c)])
        .collect();
    page.table(&["label", "workers' spans", "consolidated spans"], &rows);
    if let Some(gold) = gold {
        let pred: Vec<SpanRow> = labels
            .spans()
            .map(|s| (s.item.to_string(), s.start, s.end, s.label.to_string()))
            .collect();
        let answered: std::collections::HashSet<String> = (0..batch.n_items())
            .filter(|&i| !batch.responses(i).is_empty())
            .map(|i| batch.item_names.get(i).to_string())
            .collect();
        let scores = score_spans(gold, &pred, Some(&answered));
        let row = |name: &str, p: &crate::eval::spans::Prf| {
            vec![
                name.to_string(),
                format!("{:.4}", p.precision),
                format!("{:.4}", p.recall),
                format!("{:.4}", p.f1),
                thousands(p.gold),
            ]
        };
        let mut rows = vec![row("micro (exact)", &scores.micro)];
        rows.extend(scores.per_label.iter().map(|(l, p)| row(l, p)));
        rows.push(row("micro (partial overlap)", &scores.partial));
        page.paragraph("Against gold, on the texts with answers, as CoNLL counts spans:");
        page.table(&["", "precision", "recall", "F1", "gold spans"], &rows);
    }
    let mut workers: Vec<(usize, &crate::spans::WorkerSpanStats)> =
        fit.workers.iter().enumerate().collect();
    workers.sort_by_key(|w| std::cmp::Reverse(w.1.spans));
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|(w, s)| {
            let mean = |v: &[f32]| {
                let f: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
                if f.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.3}", f.iter().sum::<f32>() / f.len() as f32)
                }
            };
            vec![
                batch.worker_names.get(*w).to_string(),
                thousands(s.responses),
                thousands(s.spans),
                mean(&s.precision),
                mean(&s.recall),
                if s.boundary_error.is_finite() {
                    format!("{:.3}", s.boundary_error)
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    page.paragraph("Workers, most spans first (precision and recall: the mean over labels; for seq the model's token-level estimates, else against the consolidated spans):");
    page.table(
        &[
            "worker",
            "texts",
            "spans",
            "precision",
            "recall",
            "boundary error",
        ],
        &rows,
    );

    // The texts whose least confident consolidated span is least confident.
    let mut order: Vec<(f32, usize)> = (0..batch.n_items())
        .filter(|&i| !batch.responses(i).is_empty())
        .map(|i| {
            let low = fit
                .spans(i)
                .map(|k| fit.confidence[k])
                .fold(1.0f32, f32::min);
            (low, i)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    if order.is_empty() {
        return;
    }
    page.paragraph(&format!(
        "The {} texts whose least confident consolidated span is least confident; hover over a span for its label and confidence:",
        shown.min(order.len())
    ));
    let mut gold_by_item: std::collections::HashMap<&str, Vec<&SpanRow>> = Default::default();
    for g in gold.into_iter().flatten() {
        gold_by_item.entry(g.0.as_str()).or_default().push(g);
    }
    for &(_, i) in order.iter().take(shown) {
        let text = &batch.texts[i];
        let item = batch.item_names.get(i);
        let mut html = format!("<div class=\"text\"><p><b>{}</b></p><table>", escape(item));
        let consolidated: Vec<(u32, u32, u32, String)> = fit
            .spans(i)
            .map(|k| {
                let title = format!(
                    "{} {:.3}, {} of {} workers",
                    batch.label_names[fit.label[k] as usize],
                    fit.confidence[k],
                    fit.support[k],
                    batch.responses(i).len()
                );
                (fit.start[k], fit.end[k], fit.label[k], title)
            })
            .collect();
        html.push_str(&format!(
            "<tr><th>consolidated</th><td>{}</td></tr>",
            highlight(text, &consolidated, &batch.label_names)
        ));
        if let Some(g) = gold_by_item.get(item) {
            let mut spans: Vec<(u32, u32, u32, String)> = g
                .iter()
                .filter_map(|r| {
                    let l = batch.label_names.iter().position(|n| *n == r.3)? as u32;
                    Some((r.1, r.2, l, format!("gold {}", r.3)))
                })
                .collect();
            spans.sort();
            html.push_str(&format!(
                "<tr><th>gold</th><td>{}</td></tr>",
                highlight(text, &spans, &batch.label_names)
            ));
        }
        for r in batch.responses(i) {
            let spans: Vec<(u32, u32, u32, String)> = batch
                .spans(r)
                .map(|s| {
                    (
                        batch.span_start[s],
                        batch.span_end[s],
                        batch.span_label[s],
                        batch.label_names[batch.span_label[s] as usize].clone(),
                    )
                })
                .collect();
            html.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(batch.worker_names.get(batch.response_worker[r] as usize)),
                highlight(text, &spans, &batch.label_names)
            ));
        }
        html.push_str("</table></div>");
        page.raw(&html);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn highlighting_escapes_and_marks_code_points() {
        let labels = vec!["PER".to_string()];
        let html = super::highlight("😀 <Bob>", &[(3, 6, 0, "PER 0.9".into())], &labels);
        assert_eq!(
            html,
            "😀 &lt;<mark style=\"background:#ffd8a8\" title=\"PER 0.9\">Bob<sub>PER</sub></mark>&gt;"
        );
    }
}
