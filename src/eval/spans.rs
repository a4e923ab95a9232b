//! Span scores against gold, as CoNLL's `conlleval` counts them: a
//! predicted span is right when its item, start, end and label all equal a
//! gold span's. Precision, recall and F1 per label and micro-averaged over
//! all spans; partial-overlap F1 (a predicted span is right when it
//! overlaps a gold span of the same label on the same item, and a gold span
//! is found when a predicted one of its label overlaps it); and each
//! worker's spans scored the same way on the texts the worker answered.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{Error, Result};

/// One span of a table: item, start, end (exclusive), label.
pub type SpanRow = (String, u32, u32, String);

/// Counts and scores of one set of spans against gold.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Prf {
    /// Predicted spans that are right.
    pub correct: usize,
    /// Predicted spans.
    pub predicted: usize,
    /// Gold spans.
    pub gold: usize,
    /// correct / predicted (0 when nothing was predicted).
    pub precision: f64,
    /// correct / gold (0 when there is no gold span).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Prf {
    /// Scores of `correct` of `predicted` against `gold` spans.
    pub fn new(correct: usize, predicted: usize, gold: usize) -> Prf {
        Self::with_found(correct, predicted, correct, gold)
    }

    /// Precision from `right` of `predicted`, recall from `found` of `gold`
    /// (they differ for partial overlap).
    fn with_found(right: usize, predicted: usize, found: usize, gold: usize) -> Prf {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(right, predicted), ratio(found, gold));
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            correct: right,
            predicted,
            gold,
            precision,
            recall,
            f1,
        }
    }
}

/// Scores of a prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpanScores {
    /// Exact-match scores per label, labels sorted.
    pub per_label: Vec<(String, Prf)>,
    /// Exact-match scores over every span.
    pub micro: Prf,
    /// Partial-overlap scores over every span (`correct` counts the right
    /// predicted spans; recall uses the gold spans found).
    pub partial: Prf,
    /// Items scored.
    pub items: usize,
}

/// Reads a CSV of spans with a header naming `item`, `start`, `end` and
/// `label` (other columns ignored): consolidate's CSV output, a gold file,
/// or spans.csv (then `worker` is read too, else empty).
pub fn read_span_table(path: &Path) -> Result<Vec<(SpanRow, String)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header = csv
        .headers()
        .map_err(|e| Error::at_line(path, 1, format!("cannot read the header: {e}")))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
    };
    let mut index = Vec::new();
    for name in ["item", "start", "end", "label"] {
        index.push(col(name).ok_or_else(|| {
            Error::at_line(
                path,
                1,
                format!(
                    "the header has no column {name:?}: expected item,start,end,label (found {})",
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            )
        })?);
    }
    let worker = col("worker");
    let mut rows = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, format!("invalid CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| {
            record.get(i).ok_or_else(|| {
                Error::at_line(
                    path,
                    line,
                    format!(
                        "{} fields, but the header has {}",
                        record.len(),
                        header.len()
                    ),
                )
            })
        };
        let int = |i: usize, name: &str| -> Result<u32> {
            let v = field(i)?;
            v.trim().parse::<u32>().map_err(|_| {
                Error::at_line(path, line, format!("{name} {v:?} is not an integer ≥ 0"))
            })
        };
        let (start, end) = (int(index[1], "start")?, int(index[2], "end")?);
        if start >= end {
            return Err(Error::at_line(
                path,
                line,
                format!("start {start} is not before end {end}"),
            ));
        }
        let item = field(index[0])?.to_string();
        if item.is_empty() {
            return Err(Error::at_line(path, line, "empty item id"));
        }
        let w = match worker {
            Some(i) => field(i)?.to_string(),
            None => String::new(),
        };
        rows.push(((item, start, end, field(index[3])?.to_string()), w));
    }
    Ok(rows)
}

/// Reads the `item` (and `worker`, if there is one) columns of a CSV, e.g.
/// responses.csv: the answers.
pub fn read_answers(path: &Path) -> Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let header = csv
        .headers()
        .map_err(|e| Error::at_line(path, 1, format!("cannot read the header: {e}")))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
    };
    let item =
        col("item").ok_or_else(|| Error::at_line(path, 1, "the header has no column \"item\""))?;
    let worker = col("worker");
    let mut out = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, format!("invalid CSV: {e}"))
        })?;
        let get = |i: usize| record.get(i).unwrap_or("").to_string();
        out.push((get(item), worker.map_or(String::new(), get)));
    }
    Ok(out)
}

/// Scores `pred` against `gold` on `items` (every item of either when `None`).
pub fn score_spans(
    gold: &[SpanRow],
    pred: &[SpanRow],
    items: Option<&HashSet<String>>,
) -> SpanScores {
    let keep = |r: &&SpanRow| items.is_none_or(|s| s.contains(&r.0));
    let gold: Vec<&SpanRow> = gold.iter().filter(keep).collect();
    let pred: Vec<&SpanRow> = pred.iter().filter(keep).collect();
    let gold_set: HashSet<&SpanRow> = gold.iter().copied().collect();
    let pred_set: HashSet<&SpanRow> = pred.iter().copied().collect();
    let mut labels: Vec<&str> = gold.iter().chain(&pred).map(|r| r.3.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let per_label = labels
        .iter()
        .map(|&l| {
            let g = gold_set.iter().filter(|r| r.3 == l).count();
            let p = pred_set.iter().filter(|r| r.3 == l).count();
            let c = pred_set
                .iter()
                .filter(|r| r.3 == l && gold_set.contains(*r))
                .count();
            (l.to_string(), Prf::new(c, p, g))
        })
        .collect();
    let correct = pred_set.iter().filter(|r| gold_set.contains(*r)).count();
    let micro = Prf::new(correct, pred_set.len(), gold_set.len());
    let partial = partial_overlap(&gold_set, &pred_set);
    let mut scored: HashSet<&str> = gold.iter().chain(&pred).map(|r| r.0.as_str()).collect();
    if let Some(s) = items {
        scored.extend(s.iter().map(String::as_str));
    }
    SpanScores {
        per_label,
        micro,
        partial,
        items: scored.len(),
    }
}

type ByKey<'a> = HashMap<(&'a str, &'a str), Vec<(u32, u32)>>;

fn by_key<'a>(set: &HashSet<&'a SpanRow>) -> ByKey<'a> {
    let mut m: ByKey<'a> = HashMap::new();
    for r in set {
        m.entry((r.0.as_str(), r.3.as_str()))
            .or_default()
            .push((r.1, r.2));
    }
    m
}

/// Spans of `from` that overlap a span of the same item and label in `against`.
fn overlapping(from: &ByKey<'_>, against: &ByKey<'_>) -> usize {
    from.iter()
        .map(|(key, spans)| {
            let other = against.get(key).map_or(&[][..], Vec::as_slice);
            spans
                .iter()
                .filter(|(s, e)| other.iter().any(|(os, oe)| os < e && s < oe))
                .count()
        })
        .sum()
}

fn partial_overlap(gold: &HashSet<&SpanRow>, pred: &HashSet<&SpanRow>) -> Prf {
    let (g, p) = (by_key(gold), by_key(pred));
    Prf::with_found(
        overlapping(&p, &g),
        pred.len(),
        overlapping(&g, &p),
        gold.len(),
    )
}

/// Each worker's spans against gold on the gold items the worker answered
/// (`answers`: `(item, worker)`; a worker's spans imply answers too).
/// Sorted by worker.
pub fn worker_scores(
    gold: &[SpanRow],
    spans: &[(SpanRow, String)],
    answers: &[(String, String)],
) -> Vec<(String, Prf)> {
    let gold_items: HashSet<&str> = gold.iter().map(|r| r.0.as_str()).collect();
    let mut answered: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (item, worker) in answers.iter().filter(|(_, w)| !w.is_empty()) {
        answered
            .entry(worker.as_str())
            .or_default()
            .insert(item.as_str());
    }
    for ((item, ..), worker) in spans {
        answered
            .entry(worker.as_str())
            .or_default()
            .insert(item.as_str());
    }
    let mut gold_by_item: HashMap<&str, Vec<&SpanRow>> = HashMap::new();
    for r in gold {
        gold_by_item.entry(r.0.as_str()).or_default().push(r);
    }
    let gold_set: HashSet<&SpanRow> = gold.iter().collect();
    let mut by_worker: HashMap<&str, HashSet<&SpanRow>> = HashMap::new();
    for (row, worker) in spans {
        if gold_items.contains(row.0.as_str()) {
            by_worker.entry(worker.as_str()).or_default().insert(row);
        }
    }
    let mut out: Vec<(String, Prf)> = answered
        .iter()
        .map(|(&worker, items)| {
            let g: usize = items
                .iter()
                .filter_map(|i| gold_by_item.get(i))
                .map(Vec::len)
                .sum();
            let mine = by_worker.get(worker);
            let p = mine.map_or(0, HashSet::len);
            let c = mine.map_or(0, |m| m.iter().filter(|r| gold_set.contains(*r)).count());
            (worker.to_string(), Prf::new(c, p, g))
        })
        .filter(|(_, s)| s.gold > 0 || s.predicted > 0)
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(item: &str, s: u32, e: u32, l: &str) -> SpanRow {
        (item.into(), s, e, l.into())
    }

    #[test]
    fn exact_and_partial_scores_count_as_conlleval() {
        let gold = [
            row("a", 0, 5, "PER"),
            row("a", 10, 15, "LOC"),
            row("b", 0, 3, "ORG"),
        ];
        let pred = [
            row("a", 0, 5, "PER"),
            row("a", 10, 13, "LOC"),
            row("b", 0, 3, "PER"),
        ];
        let s = score_spans(&gold, &pred, None);
        assert_eq!(
            (s.micro.correct, s.micro.predicted, s.micro.gold),
            (1, 3, 3)
        );
        assert!((s.micro.f1 - 1.0 / 3.0).abs() < 1e-12);
        // Partial: [10,13) LOC overlaps gold LOC; b's label differs.
        assert_eq!(s.partial.correct, 2);
        assert!((s.partial.recall - 2.0 / 3.0).abs() < 1e-12);
        let per: HashMap<_, _> = s.per_label.iter().cloned().collect();
        assert_eq!(per["ORG"].recall, 0.0);
        assert_eq!(per["PER"].precision, 0.5);
        let only_b: HashSet<String> = ["b".to_string()].into();
        assert_eq!(score_spans(&gold, &pred, Some(&only_b)).micro.gold, 1);
    }
}
