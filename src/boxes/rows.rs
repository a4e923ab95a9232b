//! The rows of a box job's tables (CSV, TSV or JSON Lines), each field
//! asked for by its column.
//!
//! A CSV or TSV table in the common layout (no quotes, one record per
//! line) is parsed in parallel: pieces of about a megabyte are split into
//! fields, their text checked as UTF-8 and their numbers parsed on the
//! thread pool, while the calling thread hands the rows to `visit` in input
//! order. Any row the fast path cannot take as it is (a quote, a stray
//! carriage return, a field that is not a number, a row `visit` refuses)
//! hands that row and every one after it to the general reader (the `csv`
//! crate), which gives exactly the errors and rejects it always gave: the
//! fast path decides only how quickly good rows are read.

use std::path::Path;

use serde_json::Value;

use crate::classification::read::InputFormat;
use crate::error::{Error, Result};
use crate::io::ground_truth::parse_json_strict;
use crate::io::Rejects;

/// A column a reader asks for: the names it accepts (the first is the one
/// messages use), and whether it holds a number.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    names: &'static [&'static str],
    number: bool,
}

/// A column of ids or labels.
pub(super) const fn text(names: &'static [&'static str]) -> Column {
    Column {
        names,
        number: false,
    }
}

/// A column of numbers.
pub(super) const fn number(names: &'static [&'static str]) -> Column {
    Column {
        names,
        number: true,
    }
}

/// One row of a table: a CSV/TSV record under its header, one the fast
/// path parsed, or a JSON Lines object. Fields are asked for by their
/// index in the reader's list of columns.
pub(super) struct Row<'r> {
    columns: &'r [Column],
    fields: RowFields<'r>,
}

enum RowFields<'r> {
    /// `at[c]`: where column `c` is in the record, if the header has it.
    Delimited {
        at: &'r [Option<usize>],
        record: &'r csv::ByteRecord,
    },
    /// One field per column, parsed by the fast path.
    Parsed(&'r [FieldRef<'r>]),
    Json(&'r serde_json::Map<String, Value>),
}

/// A field as the table gave it.
#[derive(Debug, Clone, Copy)]
enum FieldRef<'r> {
    Text(&'r str),
    Number(f64),
    Other(&'r Value),
}

impl<'r> Row<'r> {
    fn name(&self, column: usize) -> &'static str {
        self.columns[column].names[0]
    }

    fn field(&self, column: usize) -> std::result::Result<FieldRef<'r>, String> {
        let missing = || format!("missing column {}", self.name(column));
        match self.fields {
            RowFields::Delimited { at, record } => {
                let at = at[column].ok_or_else(missing)?;
                let bytes = record.get(at).unwrap_or(b"");
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| format!("column {} is not valid UTF-8", self.name(column)))?;
                Ok(FieldRef::Text(text.trim()))
            }
            RowFields::Parsed(fields) => Ok(fields[column]),
            RowFields::Json(map) => {
                let names = self.columns[column].names;
                match names.iter().find_map(|n| map.get(*n)).ok_or_else(missing)? {
                    Value::String(s) => Ok(FieldRef::Text(s)),
                    Value::Number(n) => Ok(FieldRef::Number(n.as_f64().unwrap_or(f64::NAN))),
                    other => Ok(FieldRef::Other(other)),
                }
            }
        }
    }

    /// A non-empty text field (a JSON number is taken as its decimal text).
    pub(super) fn text(
        &self,
        column: usize,
    ) -> std::result::Result<std::borrow::Cow<'r, str>, String> {
        let name = self.name(column);
        let value: std::borrow::Cow<'r, str> = match self.field(column)? {
            FieldRef::Text(s) => s.into(),
            FieldRef::Number(n) if n.fract() == 0.0 && n.abs() < 9.007e15 => format!("{n}").into(),
            FieldRef::Number(n) => {
                return Err(format!("{name}: {n} is not an id (a string or an integer)"))
            }
            FieldRef::Other(v) => return Err(format!("{name}: expected text, found {v}")),
        };
        if value.is_empty() {
            return Err(format!("empty {name}"));
        }
        Ok(value)
    }

    /// A finite number.
    pub(super) fn number(&self, column: usize) -> std::result::Result<f64, String> {
        let name = self.name(column);
        let v = match self.field(column)? {
            FieldRef::Number(n) => n,
            FieldRef::Text(s) => s
                .parse::<f64>()
                .map_err(|_| format!("{name}: {s:?} is not a number"))?,
            FieldRef::Other(v) => return Err(format!("{name}: expected a number, found {v}")),
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("{name}: {v} is not a finite number"))
        }
    }
}

fn split_lines(bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

/// What a row's visitor is: a problem it returns is bad input at that line.
type Visit<'v> = dyn FnMut(&Row) -> std::result::Result<(), String> + 'v;

/// Calls `visit(row)` for every row of a CSV, TSV or JSON Lines table, in
/// input order, whose fields are read by their index in `columns`. A
/// problem `visit` returns is bad input at that line. A row `visit`
/// refuses may be visited again (the fast path hands it to the general
/// reader), so a refusal must leave no trace.
pub(super) fn for_each_row(
    path: &Path,
    bytes: &[u8],
    format: InputFormat,
    columns: &[Column],
    rejects: &mut Rejects,
    mut visit: impl FnMut(&Row) -> std::result::Result<(), String>,
) -> Result<()> {
    let pieces = Some(fast::PIECE_BYTES);
    read_rows(path, bytes, format, columns, rejects, pieces, &mut visit)
}

/// [`for_each_row`], with the fast path cutting pieces of `piece_bytes`
/// (`None`: the general reader only).
fn read_rows(
    path: &Path,
    bytes: &[u8],
    format: InputFormat,
    columns: &[Column],
    rejects: &mut Rejects,
    piece_bytes: Option<usize>,
    visit: &mut Visit,
) -> Result<()> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if format == InputFormat::Jsonl {
        return json_rows(path, bytes, columns, rejects, visit);
    }
    let delimiter = if format == InputFormat::Tsv {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::at_line(path, 1, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err(Error::at_line(
                path,
                1,
                format!("the header names the column {name:?} twice"),
            ));
        }
    }
    let positions: Vec<Option<usize>> = columns
        .iter()
        .map(|column| {
            column
                .names
                .iter()
                .find_map(|n| header.iter().position(|h| h == n))
        })
        .collect();
    let body = Resume {
        offset: reader.position().byte() as usize,
        line: reader.position().line(),
    };
    let table = Table {
        path,
        bytes,
        delimiter,
        header_len: header.len(),
        positions: &positions,
        columns,
    };
    // A column the header lacks is every row's problem: the general
    // reader reports it.
    let resume = match piece_bytes {
        Some(piece_bytes) if positions.iter().all(Option::is_some) => {
            fast::rows(&table, body, piece_bytes, visit)
        }
        _ => Some(body),
    };
    match resume {
        Some(at) => delimited_rows(&table, at, rejects, visit),
        None => Ok(()),
    }
}

/// A delimited table and the columns asked of it.
struct Table<'t> {
    path: &'t Path,
    bytes: &'t [u8],
    delimiter: u8,
    header_len: usize,
    /// Where each asked-for column is in a record.
    positions: &'t [Option<usize>],
    columns: &'t [Column],
}

/// Where a reader starts: the byte offset of a line's start, and its line
/// number (1-based, the header being line 1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Resume {
    offset: usize,
    line: u64,
}

/// The general reader: the records of `table` from `at` on, read by the
/// `csv` crate (quotes, embedded newlines and all).
fn delimited_rows(
    table: &Table,
    at: Resume,
    rejects: &mut Rejects,
    visit: &mut Visit,
) -> Result<()> {
    if at.offset >= table.bytes.len() {
        return Ok(());
    }
    // The csv crate drops a byte-order mark at the start of its input; one
    // at the start of a later line is the first field's, so the reader
    // starts on the line end before it (an empty line, skipped).
    let start = match at.offset.checked_sub(1) {
        Some(before) if matches!(table.bytes[before], b'\n' | b'\r') => before,
        _ => at.offset,
    };
    let bytes = &table.bytes[start..];
    // The reader counts lines from 1 at `start`, by their '\n'.
    let first_line = at.line - (start < at.offset && table.bytes[start] == b'\n') as u64;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(table.delimiter)
        // Flexible: a row of the wrong length is that row's problem (a
        // reject under --skip-invalid), not the end of the file.
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let line_of = |line: u64| first_line + line - 1;
    let mut record = csv::ByteRecord::new();
    loop {
        let before = reader.position().clone();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(before.line(), |p| p.line());
                return Err(Error::at_line(table.path, line_of(line), format!("{e}")));
            }
        }
        let checked = if record.len() != table.header_len {
            Err(format!(
                "{} fields where the header has {}",
                record.len(),
                table.header_len
            ))
        } else {
            visit(&Row {
                columns: table.columns,
                fields: RowFields::Delimited {
                    at: table.positions,
                    record: &record,
                },
            })
        };
        if let Err(problem) = checked {
            let mut line = record.position().map_or(before.line(), |p| p.line());
            let mut start = record.position().map_or(0, |p| p.byte() as usize);
            let end = (reader.position().byte() as usize).min(bytes.len());
            // The csv crate's position of a record is where the blank lines
            // it skipped before it began: the record itself starts after.
            while start < end && matches!(bytes[start], b'\n' | b'\r') {
                line += (bytes[start] == b'\n') as u64;
                start += 1;
            }
            rejects.bad(
                Error::at_line(table.path, line_of(line), problem),
                &bytes[start..end],
            )?;
        }
    }
    Ok(())
}

/// The rows of a JSON Lines table.
fn json_rows(
    path: &Path,
    bytes: &[u8],
    columns: &[Column],
    rejects: &mut Rejects,
    visit: &mut Visit,
) -> Result<()> {
    for (line, text) in split_lines(bytes) {
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(text)
            .map_err(|_| "not valid UTF-8".to_string())
            .and_then(|t| parse_json_strict(t).map_err(|e| format!("invalid JSON: {e}")))
            .and_then(|v| match v {
                Value::Object(map) => visit(&Row {
                    columns,
                    fields: RowFields::Json(&map),
                }),
                _ => Err("expected a JSON object".into()),
            });
        if let Err(problem) = parsed {
            rejects.bad(Error::at_line(path, line, problem), text)?;
        }
    }
    Ok(())
}

/// The parallel reader of quote-free tables.
mod fast {
    use crate::io::in_order::InOrder;

    use super::{FieldRef, Resume, Row, RowFields, Table, Visit};

    /// Bytes per piece: large enough that a piece's bookkeeping is noise,
    /// small enough that the pieces in flight stay bounded.
    pub(super) const PIECE_BYTES: usize = 1 << 20;

    /// One piece's rows, parsed.
    #[derive(Default)]
    struct Piece<'b> {
        /// Each row's fields, one per asked-for column, row after row.
        fields: Vec<FieldRef<'b>>,
        /// Each row's first byte (in the table) and its line, counted
        /// from the piece's first line (0).
        starts: Vec<(usize, u32)>,
        /// The first row the fast path cannot take, where its rows end.
        stop: Option<(usize, u32)>,
        /// Newlines in the piece.
        newlines: u64,
    }

    /// Reads the rows of `table` from `at` and hands them to `visit` in
    /// order; returns where the general reader must take over (the first
    /// row the fast path could not parse or `visit` refused), if anywhere.
    pub(super) fn rows<'b>(
        table: &Table<'b>,
        at: Resume,
        piece_bytes: usize,
        visit: &mut Visit,
    ) -> Option<Resume> {
        let cuts = cut(table.bytes, at.offset, piece_bytes);
        // Pieces parsed ahead of the one handed over: enough to keep the
        // pool busy, bounded because a parsed piece holds about four times
        // its bytes (at most 32 pieces, some 130 MB).
        let window = (rayon::current_num_threads() * 2).clamp(4, 32);
        let mut parsed = InOrder::new();
        rayon::in_place_scope(|scope| {
            // A piece's buffers go to the next piece spawned: fresh ones
            // would each be a new mapping whose pages the system zeroes.
            let spawn = |parsed: &InOrder<Piece<'b>>, index: usize, buffers: Piece<'b>| {
                let Some(&(start, end)) = cuts.get(index) else {
                    return;
                };
                let sender = parsed.sender();
                scope.spawn(move |_| sender.run(index, || parse(table, start, end, buffers)));
            };
            (0..window).for_each(|index| spawn(&parsed, index, Piece::default()));
            let mut line = at.line;
            for next in 0..cuts.len() {
                let piece = parsed.take(next);
                if let Some(stop) = hand_over(table, &piece, line, visit) {
                    // Pieces still parsing finish into the channel, unread.
                    return Some(stop);
                }
                line += piece.newlines;
                spawn(&parsed, next + window, piece);
            }
            None
        })
    }

    /// Gives `piece`'s rows to `visit`; returns where the general reader
    /// must start, if it must.
    fn hand_over(
        table: &Table,
        piece: &Piece,
        first_line: u64,
        visit: &mut Visit,
    ) -> Option<Resume> {
        let n = table.columns.len();
        for (row, &(offset, line)) in piece.fields.chunks_exact(n).zip(&piece.starts) {
            let row = Row {
                columns: table.columns,
                fields: RowFields::Parsed(row),
            };
            if visit(&row).is_err() {
                return Some(Resume {
                    offset,
                    line: first_line + line as u64,
                });
            }
        }
        piece.stop.map(|(offset, line)| Resume {
            offset,
            line: first_line + line as u64,
        })
    }

    /// `bytes[from..]` cut into pieces of about `piece_bytes` at newlines.
    fn cut(bytes: &[u8], from: usize, piece_bytes: usize) -> Vec<(usize, usize)> {
        let piece_bytes = piece_bytes.max(1);
        let mut cuts = Vec::with_capacity((bytes.len() - from) / piece_bytes + 1);
        let mut start = from;
        while start < bytes.len() {
            let end = match bytes.get(start + piece_bytes..) {
                Some(rest) => {
                    memchr::memchr(b'\n', rest).map_or(bytes.len(), |p| start + piece_bytes + p + 1)
                }
                None => bytes.len(),
            };
            cuts.push((start, end));
            start = end;
        }
        cuts
    }

    /// Parses the lines of `table.bytes[start..end]` until the first one
    /// the fast path cannot take.
    /// `buffers` is a piece already handed over, whose buffers are reused.
    fn parse<'b>(table: &Table<'b>, start: usize, end: usize, buffers: Piece<'b>) -> Piece<'b> {
        let bytes = table.bytes;
        let piece = &bytes[start..end];
        let newlines = memchr::memchr_iter(b'\n', piece).count() as u64;
        // Quotes are the general reader's: rows stop at the first line
        // holding one.
        let quote = memchr::memchr(b'"', piece).map_or(end, |p| start + p);
        let has_cr = memchr::memchr(b'\r', piece).is_some();
        let n = table.columns.len();
        let Piece {
            mut fields,
            mut starts,
            ..
        } = buffers;
        fields.clear();
        starts.clear();
        let mut out = Piece {
            fields,
            starts,
            stop: None,
            newlines,
        };
        let mut cells: Vec<(usize, usize)> = Vec::with_capacity(table.header_len);
        let mut line_start = start;
        let mut line = 0u32;
        while line_start < end {
            let line_end =
                memchr::memchr(b'\n', &bytes[line_start..end]).map_or(end, |p| line_start + p);
            let next = (line_end + 1).min(end);
            if line_end >= quote {
                out.stop = Some((line_start, line));
                return out;
            }
            let mut content = &bytes[line_start..line_end];
            if has_cr {
                content = content.strip_suffix(b"\r").unwrap_or(content);
                if memchr::memchr(b'\r', content).is_some() {
                    // A lone carriage return ends a record for the csv crate.
                    out.stop = Some((line_start, line));
                    return out;
                }
            }
            if !content.is_empty() {
                cells.clear();
                let mut field_start = 0;
                for p in memchr::memchr_iter(table.delimiter, content) {
                    cells.push((field_start, p));
                    field_start = p + 1;
                }
                cells.push((field_start, content.len()));
                let parsed = cells.len() == table.header_len
                    && push_fields(table, content, &cells, &mut out.fields);
                if !parsed {
                    out.fields.truncate(out.starts.len() * n);
                    out.stop = Some((line_start, line));
                    return out;
                }
                out.starts.push((line_start, line));
            }
            line_start = next;
            line += 1;
        }
        out
    }

    /// Appends a record's asked-for fields as the general reader would
    /// give them (trimmed text; numbers parsed and finite); false where one
    /// is not valid UTF-8 or not a finite number.
    fn push_fields<'b>(
        table: &Table<'b>,
        content: &'b [u8],
        cells: &[(usize, usize)],
        out: &mut Vec<FieldRef<'b>>,
    ) -> bool {
        for (column, at) in table.columns.iter().zip(table.positions) {
            let (s, e) = cells[at.expect("the fast path runs with every column present")];
            let Ok(text) = std::str::from_utf8(&content[s..e]) else {
                return false;
            };
            let text = text.trim();
            if column.number {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => out.push(FieldRef::Number(v)),
                    _ => return false,
                }
            } else {
                out.push(FieldRef::Text(text));
            }
        }
        true
    }
}

/// The fast path against the general reader on the same bytes, for the
/// tests and the fuzz target.
#[cfg(any(test, fuzzing))]
mod agreement {
    use super::*;

    /// What a read gave: the rows `visit` took (as text), and the rejects
    /// or the error.
    #[derive(Debug, PartialEq)]
    pub(super) struct Outcome {
        rows: Vec<String>,
        pub(super) rejects: Vec<(String, String, String)>,
        error: Option<String>,
    }

    /// Reads `bytes` as a CSV of `columns` with pieces of `piece_bytes`
    /// (`None`: the general reader only). The visitor refuses rows whose
    /// first column is "no".
    pub(super) fn read(
        bytes: &[u8],
        columns: &[Column],
        skip: bool,
        piece_bytes: Option<usize>,
    ) -> Outcome {
        let mut rows = Vec::new();
        let mut rejects = Rejects::new(skip);
        let result = read_rows(
            Path::new("t.csv"),
            bytes,
            InputFormat::Csv,
            columns,
            &mut rejects,
            piece_bytes,
            &mut |row: &Row| {
                let mut fields = Vec::new();
                for (c, column) in columns.iter().enumerate() {
                    fields.push(if column.number {
                        row.number(c)?.to_string()
                    } else {
                        row.text(c)?.into_owned()
                    });
                }
                if fields[0] == "no" {
                    return Err("item no is refused".into());
                }
                rows.push(fields.join("|"));
                Ok(())
            },
        );
        Outcome {
            rows,
            rejects: rejects
                .records
                .iter()
                .map(|r| (r.location.to_string(), r.problem.clone(), r.record.clone()))
                .collect(),
            error: result.err().map(|e| e.to_string()),
        }
    }

    /// Panics where the fast path and the general reader read `bytes`
    /// differently (the fuzz target `box_table`): as ids, as numbers, with
    /// and without skipping, in small and large pieces.
    #[cfg(fuzzing)]
    pub fn assert_readers_agree(bytes: &[u8]) {
        let columns = [
            [text(&["item"]), text(&["worker"]), text(&["label"])],
            [text(&["item"]), text(&["worker"]), number(&["label"])],
        ];
        for columns in &columns {
            for skip in [true, false] {
                let general = read(bytes, columns, skip, None);
                for piece_bytes in [7, 1 << 20] {
                    assert_eq!(read(bytes, columns, skip, Some(piece_bytes)), general);
                }
            }
        }
    }
}

#[cfg(fuzzing)]
pub use agreement::assert_readers_agree;

#[cfg(test)]
mod tests {
    use super::*;

    use super::agreement::read;

    const COLUMNS: [Column; 3] = [text(&["item"]), text(&["worker"]), number(&["left"])];

    /// A seeded table of `lines` rows: mostly good, some with each thing
    /// the fast path hands to the general reader.
    fn table(lines: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut out = b"worker, Item ,left,extra\n".to_vec();
        for i in 0..lines {
            let line = match next(40) {
                // Rarer: the rows after a quote all go to the general reader.
                0 if next(8) == 0 => "\"w,1\",q,2.5,x\n".to_string(),
                1 => format!("w{i},i{i},nan,x\n"),
                2 => format!("w{i},i{i},1.5\n"),
                3 => "\n".to_string(),
                4 => "\r\n".to_string(),
                5 => format!("w{i},no,3,x\n"),
                6 => format!("w{i},i{i}\r,4,x\n"),
                7 => format!("w{i}, ,4,x\r\n"),
                8 => format!("w{i},é{i},abc,x\n"),
                9 => format!(" w{i} ,i{i},  -7e2 ,x\r\n"),
                10 => format!("\u{feff}w{i},i{i},5,x\n"),
                11 if next(4) == 0 => format!("\u{feff}w{i},i{i},\"5\",x\n"),
                _ => format!("w{},i{},{}.{},x\n", next(9), i, next(2000), next(10)),
            };
            out.extend_from_slice(line.as_bytes());
        }
        if next(2) == 0 {
            out.extend_from_slice(b"wlast,ilast,1,x");
        }
        out
    }

    #[test]
    fn the_fast_path_reads_what_the_general_reader_reads() {
        for seed in 0..40 {
            let bytes = table(300, seed);
            for skip in [true, false] {
                let general = read(&bytes, &COLUMNS, skip, None);
                for piece_bytes in [1, 64, 700, 1 << 20] {
                    assert_eq!(
                        read(&bytes, &COLUMNS, skip, Some(piece_bytes)),
                        general,
                        "seed {seed}, skip {skip}, pieces of {piece_bytes} bytes"
                    );
                }
            }
        }
    }

    #[test]
    fn the_fast_path_reads_a_clean_table_alone_and_stops_at_the_first_quote() {
        let mut bytes = b"item,worker,left\n".to_vec();
        for i in 0..5000 {
            bytes.extend_from_slice(format!("i{i},w{},{}\n", i % 7, i as f64 / 4.0).as_bytes());
        }
        fn table(bytes: &[u8]) -> Table<'_> {
            Table {
                path: Path::new("t.csv"),
                bytes,
                delimiter: b',',
                header_len: 3,
                positions: &[Some(0), Some(1), Some(2)],
                columns: &COLUMNS,
            }
        }
        let body = Resume {
            offset: 17,
            line: 2,
        };
        let mut seen = 0;
        let mut count = |_: &Row| {
            seen += 1;
            Ok(())
        };
        assert_eq!(fast::rows(&table(&bytes), body, 512, &mut count), None);
        assert_eq!(seen, 5000);

        let at = bytes.len() / 2;
        let line_start = at - bytes[..at].iter().rev().position(|&b| b == b'\n').unwrap();
        bytes[line_start] = b'"';
        let line = 2 + bytes[17..line_start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        let mut seen = 0;
        let mut count = |_: &Row| {
            seen += 1;
            Ok(())
        };
        let resume = fast::rows(&table(&bytes), body, 512, &mut count);
        assert_eq!(
            resume,
            Some(Resume {
                offset: line_start,
                line
            })
        );
        assert_eq!(seen as u64, line - 2, "every row before the quote");
    }

    #[test]
    fn the_body_starts_on_line_two_after_the_header() {
        for bytes in [
            &b"item,worker,left\nno,w,1\n"[..],
            b"item,worker,left\r\nno,w,1\r\n",
        ] {
            let out = read(bytes, &COLUMNS, true, Some(1 << 20));
            assert_eq!(out.rejects[0].0, "line 2", "{out:?}");
        }
    }
}
