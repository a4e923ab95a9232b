//! Scoring consolidated labels against gold labels.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::pack::Packed;

/// Reads a gold file: CSV with a header `item,label` (or `task,label`).
/// Returns item → label; a repeated item keeps its first label.
pub fn read_gold(path: &Path) -> Result<HashMap<String, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .map_err(|e| Error::BadInput {
            path: path.into(),
            location: crate::error::Location::File,
            problem: e.to_string(),
        })?;
    let mut gold = HashMap::new();
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        _ => return Err(Error::at_line(path, 1, "expected a header item,label")),
    };
    let names: Vec<String> = header
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let col = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let (Some(item_col), Some(label_col)) = (col(&["item", "task"]), col(&["label", "true_label"]))
    else {
        return Err(Error::at_line(
            path,
            1,
            format!("expected a header item,label; found {names:?}"),
        ));
    };
    for record in records {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let (Some(item), Some(label)) = (record.get(item_col), record.get(label_col)) else {
            return Err(Error::at_line(
                path,
                line,
                "missing the item or label field",
            ));
        };
        gold.entry(item.trim().to_string())
            .or_insert_with(|| label.trim().to_string());
    }
    Ok(gold)
}

/// Accuracy of `labels` on the items that have a gold label: (correct, scored).
pub fn gold_accuracy(
    data: &Packed,
    labels: &[u32],
    gold: &HashMap<String, String>,
) -> (usize, usize) {
    let mut correct = 0;
    let mut scored = 0;
    for (item, name) in data.item_names.iter().enumerate() {
        if let Some(truth) = gold.get(name) {
            scored += 1;
            if data.class_names[labels[item] as usize] == *truth {
                correct += 1;
            }
        }
    }
    (correct, scored)
}
