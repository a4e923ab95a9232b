//! CSV / TSV with a header naming `item` (or crowd-kit's `task`), `worker`
//! and `label`, in any order; other columns are ignored.

use std::io::Read;
use std::path::Path;

use super::fast_csv::{self, Columns, FastError};
use super::{repeated_field, trim_field, FieldNames, Input, Rejects};
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
        .map(|f| trim_field(&String::from_utf8_lossy(f)).to_ascii_lowercase())
        .collect();
    // A header the fast path cannot take as it is goes to the general
    // reader, which explains what is wrong with it.
    let Some(cols) = columns(&names, fields).filter(|_| repeated_field(&names, fields).is_none())
    else {
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
        .from_reader(QuoteTracker::new(reader, delimiter));
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
            trim_field(&String::from_utf8_lossy(f)).to_ascii_lowercase()
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
    if let Some(name) = repeated_field(&names, fields) {
        return Err(Error::at_line(
            path,
            header_line,
            format!("the header names {name:?} in more than one column: which one holds it?"),
        ));
    }
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
                .push(trim_field(item), trim_field(worker), trim_field(label))
                .map_err(|p| Error::at_line(path, line, p))
        };
        if let Err(e) = add() {
            rejects.bad(e, &record.iter().collect::<Vec<_>>().join(&delimiter))?;
        }
    }
    // The csv crate ends a quoted field at the end of the input without a
    // word; a quote left open means the last record is cut short.
    // With --skip-invalid the record is listed like any bad one (the
    // records after the quote were read into it).
    if let Some(line) = csv.get_ref().open_quote_line() {
        rejects.bad(
            Error::at_line(
                path,
                line,
                "a quoted field opened on this line is never closed (is the file cut short?)",
            ),
            b"",
        )?;
    }
    Ok(Input {
        annotations: builder.finish(),
        ..Default::default()
    })
}

/// Passes bytes through, following CSV quoting as the csv crate does (a
/// `"` opens a quoted field only at the start of a field; inside one, `""`
/// is a quote and `"` closes it), so that a quote still open at the end of
/// the input can be reported with the line it opened on.
struct QuoteTracker<R> {
    inner: R,
    delimiter: u8,
    state: Quoting,
    line: u64,
    opened_on: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Quoting {
    /// Outside quotes; `true` at the start of a field.
    Outside(bool),
    /// Inside a quoted field.
    Inside,
    /// Inside, just after a quote: closed unless another quote follows.
    AfterQuote,
}

impl<R> QuoteTracker<R> {
    fn new(inner: R, delimiter: u8) -> Self {
        QuoteTracker {
            inner,
            delimiter,
            state: Quoting::Outside(true),
            line: 1,
            opened_on: 0,
        }
    }

    /// The line the open quote began on, if one is open.
    fn open_quote_line(&self) -> Option<u64> {
        (self.state == Quoting::Inside).then_some(self.opened_on)
    }
}

impl<R: Read> Read for QuoteTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            let boundary = b == self.delimiter || b == b'\n' || b == b'\r';
            self.state = match (self.state, b) {
                (Quoting::Outside(true), b'"') => {
                    self.opened_on = self.line;
                    Quoting::Inside
                }
                (Quoting::Outside(_), _) => Quoting::Outside(boundary),
                (Quoting::Inside, b'"') => Quoting::AfterQuote,
                (Quoting::Inside, _) => Quoting::Inside,
                (Quoting::AfterQuote, b'"') => Quoting::Inside,
                (Quoting::AfterQuote, _) => Quoting::Outside(boundary),
            };
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(n)
    }
}
