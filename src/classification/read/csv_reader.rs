//! CSV / TSV with a header naming `item` (or crowd-kit's `task`), `worker`
//! and `label`, in any order; other columns are ignored.

use std::io::Read;
use std::path::Path;

use super::fast_csv::{self, Columns, FastError};
use super::{FieldNames, Input, Rejects};
use crate::engine::pack::AnnotationBuilder;
use crate::error::{Error, Result};

/// Finds the three columns in a header; `None` if one is missing.
fn columns(names: &[String], fields: &FieldNames) -> Option<Columns> {
    let [item, worker, label] = fields.positions(names)?;
    Some(Columns {
        item,
        worker,
        label,
        n_fields: names.len(),
    })
}

/// The fast path: a plain header on line 1 and no quotes anywhere. Anything
/// else returns [`FastError::NeedsGeneralReader`] before any record is read,
/// or as soon as a quote is seen.
pub fn read_fast(
    path: &Path,
    mut reader: impl Read,
    delimiter: u8,
    fields: &FieldNames,
    mut builder: AnnotationBuilder,
) -> std::result::Result<Input, FastError> {
    let mut head = vec![0u8; 64 << 10];
    let mut filled = 0;
    let newline = loop {
        let n = reader
            .read(&mut head[filled..])
            .map_err(|e| FastError::Failed(crate::error::Error::read(path, e)))?;
        filled += n;
        if let Some(p) = head[..filled].iter().position(|&b| b == b'\n') {
            break p;
        }
        if n == 0 || filled == head.len() {
            return Err(FastError::NeedsGeneralReader);
        }
    };
    head.truncate(filled);
    let line = &head[..newline];
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.contains(&b'"') {
        return Err(FastError::NeedsGeneralReader);
    }
    let names: Vec<String> = line
        .split(|&b| b == delimiter)
        .map(|f| String::from_utf8_lossy(f).trim().to_ascii_lowercase())
        .collect();
    let Some(cols) = columns(&names, fields) else {
        return Err(FastError::NeedsGeneralReader);
    };
    let rest = head.split_off(newline + 1);
    fast_csv::read_records(path, reader, rest, 1, delimiter, cols, &mut builder)?;
    Ok(Input {
        annotations: builder.finish(),
        ..Default::default()
    })
}

/// The general reader: quotes, embedded newlines, any header layout. Bad
/// records go to `rejects`.
pub fn read(
    path: &Path,
    reader: impl Read,
    delimiter: u8,
    fields: &FieldNames,
    mut builder: AnnotationBuilder,
    rejects: &mut Rejects,
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
            csv::ErrorKind::Io(source) => crate::error::Error::read(path, source),
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
    let Some(Columns {
        item: item_col,
        worker: worker_col,
        label: label_col,
        ..
    }) = columns(&names, fields)
    else {
        let sep = if delimiter == b'\t' { "tab" } else { "comma" };
        // A header of tabs read as one comma-separated field is TSV.
        let hint = if delimiter == b',' && names.len() == 1 && names[0].contains('\t') {
            "; the header has tabs: is this TSV (`format` tsv)?"
        } else {
            "; name other columns with `columns` (e.g. item=image_id,worker=annotator,label=answer)"
        };
        return Err(Error::at_line(
            path,
            header_line,
            format!(
                "expected a {sep}-separated header naming {}; found {:?}{hint}",
                fields.describe(),
                names
            ),
        ));
    };
    let n_fields = names.len();

    while csv.read_byte_record(&mut record).map_err(csv_err)? {
        let line = line_of(&record);
        let mut add = || -> Result<()> {
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
                .map_err(|p| Error::at_line(path, line, p))
        };
        if let Err(e) = add() {
            rejects.bad(e, &record.iter().collect::<Vec<_>>().join(&delimiter))?;
        }
    }
    Ok(Input {
        annotations: builder.finish(),
        ..Default::default()
    })
}
