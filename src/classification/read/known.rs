//! The known-labels file (`known`): CSV or TSV with a header naming `item`
//! (or crowd-kit's `task`) and `label` (or `true_label`); other columns are
//! ignored. The separator is the header's: a tab if it has one and no comma.

use std::io::{BufRead, Read};
use std::path::Path;

use crate::classification::known::KnownLabels;
use crate::error::{Error, Result};

/// Reads known labels from `path` (see the module docs). Errors name the
/// file and line: a missing column, a short row, an empty field, an item
/// given again with another label.
pub fn read_known(path: &Path) -> Result<KnownLabels> {
    if path.is_dir() {
        return Err(Error::BadInput {
            path: path.into(),
            location: crate::error::Location::File,
            problem: "is a folder, not a known-labels file (CSV item,label)".into(),
        });
    }
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut input = std::io::BufReader::new(file);
    let mut first = Vec::new();
    input
        .read_until(b'\n', &mut first)
        .map_err(|e| Error::read(path, e))?;
    let header = String::from_utf8_lossy(&first);
    let tab = header.contains('\t') && !header.contains(',');
    let reader = std::io::Cursor::new(first).chain(input);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(if tab { b'\t' } else { b',' })
        .flexible(true)
        .from_reader(reader);
    let names: Vec<String> = csv
        .headers()
        .map_err(|e| Error::at_line(path, 1, e.to_string()))?
        .iter()
        .map(|f| f.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let col = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let (Some(item_col), Some(label_col)) = (col(&["item", "task"]), col(&["label", "true_label"]))
    else {
        return Err(Error::at_line(
            path,
            1,
            format!("expected a header item,label (or task,label); found {names:?}"),
        ));
    };
    let mut known = KnownLabels::default();
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::at_line(path, line, e.to_string())
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let (Some(item), Some(label)) = (record.get(item_col), record.get(label_col)) else {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "has {} field{}; the header names {}",
                    record.len(),
                    if record.len() == 1 { "" } else { "s" },
                    names.len()
                ),
            ));
        };
        known
            .insert(
                item.trim().to_string(),
                label.trim().to_string(),
                Some(line),
            )
            .map_err(|problem| Error::at_line(path, line, problem))?;
    }
    Ok(known.with_source(path))
}
