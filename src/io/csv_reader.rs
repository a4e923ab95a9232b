//! CSV / TSV with a header naming `item` (or crowd-kit's `task`), `worker`
//! and `label`, in any order; other columns are ignored.

use std::io::Read;
use std::path::Path;

use super::Input;
use crate::error::{Error, Result};
use crate::pack::AnnotationBuilder;

pub fn read(
    path: &Path,
    reader: impl Read,
    delimiter: u8,
    mut builder: AnnotationBuilder,
) -> Result<Input> {
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let line_of = |r: &csv::ByteRecord| r.position().map_or(0, |p| p.line());
    let csv_err = |e: csv::Error| -> Error {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => super::read_error(path, source),
            other => Error::at_line(path, line, format!("{other:?}")),
        }
    };

    if !csv.read_byte_record(&mut record).map_err(csv_err)? {
        return Err(Error::at_line(
            path,
            1,
            "the file is empty: expected a header naming item (or task), worker and label",
        ));
    }
    let header_line = line_of(&record);
    let names: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            String::from_utf8_lossy(f).trim().to_ascii_lowercase()
        })
        .collect();
    let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let (Some(item_col), Some(worker_col), Some(label_col)) =
        (find(&["item", "task"]), find(&["worker"]), find(&["label"]))
    else {
        let sep = if delimiter == b'\t' { "tab" } else { "comma" };
        return Err(Error::at_line(
            path,
            header_line,
            format!(
                "expected a {sep}-separated header naming item (or task), worker and label; found {:?}",
                names
            ),
        ));
    };
    let n_fields = names.len();

    while csv.read_byte_record(&mut record).map_err(csv_err)? {
        let line = line_of(&record);
        if record.len() != n_fields {
            return Err(Error::at_line(
                path,
                line,
                format!(
                    "expected {n_fields} fields as in the header, found {}",
                    record.len()
                ),
            ));
        }
        let field = |col: usize, what: &str| -> Result<&str> {
            std::str::from_utf8(&record[col]).map_err(|e| {
                Error::at_line(
                    path,
                    line,
                    format!(
                        "the {what} field is not valid UTF-8 (bad byte at offset {})",
                        e.valid_up_to()
                    ),
                )
            })
        };
        let item = field(item_col, "item")?;
        let worker = field(worker_col, "worker")?;
        let label = field(label_col, "label")?;
        builder
            .push(item.trim(), worker.trim(), label.trim())
            .map_err(|p| Error::at_line(path, line, p))?;
    }
    Ok(Input {
        annotations: builder.finish(),
        ..Default::default()
    })
}
