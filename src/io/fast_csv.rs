//! The fast path for the common CSV/TSV layout: no quotes, one record per
//! line. The input is read in large blocks cut at newlines; each block is
//! split into pieces parsed in parallel, each with its own interner of byte
//! slices; the pieces are then merged in input order, so ids are assigned in
//! first-seen order exactly as the sequential reader would. A quote anywhere
//! sends the caller back to the general reader.

use std::io::Read;
use std::path::Path;

use hashbrown::HashMap;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::pack::{AnnotationBuilder, MAX_ID_BYTES};

/// Bytes read per block.
const BLOCK_BYTES: usize = 64 << 20;

/// Columns of the three fields and the number of fields per line.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    pub item: usize,
    pub worker: usize,
    pub label: usize,
    pub n_fields: usize,
}

/// Why the fast path stopped.
pub enum FastError {
    /// The input has quotes: use the general reader.
    NeedsGeneralReader,
    Failed(Error),
}

impl From<Error> for FastError {
    fn from(e: Error) -> Self {
        FastError::Failed(e)
    }
}

/// Names seen in one piece, in first-seen order, and each annotation's local id.
#[derive(Default)]
struct LocalNames<'a> {
    ids: HashMap<&'a [u8], u32>,
    names: Vec<&'a [u8]>,
    /// Line of each name's first occurrence, for error messages.
    first_line: Vec<u64>,
    per_annotation: Vec<u32>,
}

/// Byte equality for the short names of CSV fields: an inline loop beats a
/// call to memcmp, which `==` on slices makes.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 32 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

impl<'a> LocalNames<'a> {
    fn with_capacity(n: usize) -> Self {
        LocalNames {
            ids: HashMap::with_capacity(n),
            names: Vec::with_capacity(n),
            first_line: Vec::with_capacity(n),
            per_annotation: Vec::new(),
        }
    }

    /// Adds one occurrence. Repeats of the previous name (annotations are
    /// usually grouped by item) and of the few names seen last skip the
    /// hash table.
    fn push(&mut self, name: &'a [u8], line: u64) {
        if let Some(&last) = self.per_annotation.last() {
            if same(self.names[last as usize], name) {
                self.per_annotation.push(last);
                return;
            }
        }
        if self.names.len() <= 16 {
            if let Some(id) = self.names.iter().position(|n| same(n, name)) {
                self.per_annotation.push(id as u32);
                return;
            }
        }
        let next = self.names.len() as u32;
        let id = *self.ids.entry(name).or_insert_with(|| {
            self.names.push(name);
            self.first_line.push(line);
            next
        });
        self.per_annotation.push(id);
    }
}

struct Piece<'a> {
    items: LocalNames<'a>,
    workers: LocalNames<'a>,
    labels: LocalNames<'a>,
}

fn trim(field: &[u8]) -> &[u8] {
    let start = field
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &field[start..end]
}

/// Parses one piece of whole lines starting at line `first_line`.
/// Checks and records one line's fields (CR stripped, blank lines skipped),
/// then clears `fields` for the next line.
#[inline(always)]
fn finish_line<'a>(
    piece: &mut Piece<'a>,
    fields: &mut Vec<&'a [u8]>,
    line: u64,
    cols: Columns,
) -> std::result::Result<(), (u64, String)> {
    if let Some(last) = fields.last_mut() {
        *last = last.strip_suffix(b"\r").unwrap_or(last);
    }
    if fields.len() == 1 && fields[0].is_empty() {
        fields.clear();
        return Ok(());
    }
    if fields.len() != cols.n_fields {
        return Err((
            line,
            format!(
                "expected {} fields as in the header, found {}",
                cols.n_fields,
                fields.len()
            ),
        ));
    }
    for (what, col, names) in [
        ("item", cols.item, &mut piece.items),
        ("worker", cols.worker, &mut piece.workers),
        ("label", cols.label, &mut piece.labels),
    ] {
        let value = trim(fields[col]);
        if value.is_empty() {
            return Err((line, format!("empty {what} id")));
        }
        if value.len() > MAX_ID_BYTES {
            return Err((
                line,
                format!(
                    "{what} id is {} bytes long; at most {MAX_ID_BYTES} are accepted",
                    value.len()
                ),
            ));
        }
        let before = names.names.len();
        names.push(value, line);
        if names.names.len() > before {
            if let Err(e) = std::str::from_utf8(value) {
                return Err((
                    line,
                    format!(
                        "the {what} field is not valid UTF-8 (bad byte at offset {})",
                        e.valid_up_to()
                    ),
                ));
            }
        }
    }
    fields.clear();
    Ok(())
}

fn parse_piece(
    bytes: &[u8],
    first_line: u64,
    delimiter: u8,
    cols: Columns,
) -> std::result::Result<Piece<'_>, (u64, String)> {
    // A guess at the number of distinct names, to spare rehashing.
    let lines = bytes.len() / 16 + 1;
    let mut piece = Piece {
        items: LocalNames::with_capacity(lines / 2),
        workers: LocalNames::with_capacity(lines.min(1 << 14)),
        labels: LocalNames::default(),
    };
    piece.items.per_annotation.reserve(lines);
    piece.workers.per_annotation.reserve(lines);
    piece.labels.per_annotation.reserve(lines);
    // One SIMD pass finds every delimiter and newline in order: cheaper than
    // a search per line and per field over spans of a few bytes.
    let mut fields: Vec<&[u8]> = Vec::with_capacity(cols.n_fields);
    let mut line = first_line;
    let mut field_start = 0;
    for p in memchr::memchr2_iter(delimiter, b'\n', bytes) {
        fields.push(&bytes[field_start..p]);
        field_start = p + 1;
        if bytes[p] == b'\n' {
            finish_line(&mut piece, &mut fields, line, cols)?;
            line += 1;
        }
    }
    if field_start < bytes.len() {
        fields.push(&bytes[field_start..]);
        finish_line(&mut piece, &mut fields, line, cols)?;
    }
    Ok(piece)
}

/// Splits `bytes` (whole lines) into about `n` pieces at newlines; returns
/// each piece with its first line number.
fn split_pieces(bytes: &[u8], first_line: u64, n: usize) -> Vec<(&[u8], u64)> {
    let mut pieces = Vec::with_capacity(n);
    let target = bytes.len().div_ceil(n.max(1)).max(1);
    let mut start = 0;
    let mut line = first_line;
    while start < bytes.len() {
        let mut end = (start + target).min(bytes.len());
        if end < bytes.len() {
            end = match memchr_newline(&bytes[end..]) {
                Some(offset) => end + offset + 1,
                None => bytes.len(),
            };
        }
        let piece = &bytes[start..end];
        pieces.push((piece, line));
        line += count_newlines(piece);
        start = end;
    }
    pieces
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Reads the records after the header. `rest` holds bytes already read past
/// the header line, which was line `header_line`.
pub fn read_records(
    path: &Path,
    mut reader: impl Read,
    rest: Vec<u8>,
    header_line: u64,
    delimiter: u8,
    cols: Columns,
    builder: &mut AnnotationBuilder,
) -> std::result::Result<(), FastError> {
    let mut next_line = header_line + 1;
    let pieces_per_block = rayon::current_num_threads() * 4;
    // One block buffer for the whole file (calloc'd: pages are zeroed lazily
    // by the OS); the partial line at a block's end moves to the front.
    let mut buffer = vec![0u8; BLOCK_BYTES.max(2 * rest.len())];
    buffer[..rest.len()].copy_from_slice(&rest);
    let mut filled = rest.len();
    let mut eof = false;
    loop {
        while !eof && filled < buffer.len() {
            let n = reader
                .read(&mut buffer[filled..])
                .map_err(|e| super::read_error(path, e))?;
            if n == 0 {
                eof = true;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        let cut = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buffer[..filled]) {
                Some(p) => p + 1,
                None => {
                    // A line longer than the block: grow and read on.
                    buffer.resize(buffer.len() * 2, 0);
                    continue;
                }
            }
        };
        let block = &buffer[..cut];
        if memchr::memchr(b'"', block).is_some() {
            return Err(FastError::NeedsGeneralReader);
        }
        let pieces = split_pieces(block, next_line, pieces_per_block);
        let parsed: Vec<std::result::Result<Piece, (u64, String)>> = pieces
            .par_iter()
            .map(|&(bytes, line)| parse_piece(bytes, line, delimiter, cols))
            .collect();
        for piece in parsed {
            let piece = piece.map_err(|(line, problem)| {
                FastError::Failed(Error::at_line(path, line, problem))
            })?;
            merge(path, &piece, builder)?;
        }
        next_line += count_newlines(block);
        buffer.copy_within(cut..filled, 0);
        filled -= cut;
        if eof && filled == 0 {
            break;
        }
    }
    Ok(())
}

/// A name's text; validated as UTF-8 when its piece first saw it.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("checked when first seen")
}

/// Interns a piece's local names in their order and appends its annotations.
fn merge(path: &Path, piece: &Piece, builder: &mut AnnotationBuilder) -> Result<()> {
    let items: Vec<u32> = piece
        .items
        .names
        .iter()
        .map(|n| builder.intern_item(text(n)))
        .collect();
    let workers: Vec<u32> = piece
        .workers
        .names
        .iter()
        .map(|n| builder.intern_worker(text(n)))
        .collect();
    let mut labels = Vec::with_capacity(piece.labels.names.len());
    for (n, name) in piece.labels.names.iter().enumerate() {
        let id = builder
            .intern_label(text(name))
            .map_err(|problem| Error::at_line(path, piece.labels.first_line[n], problem))?;
        labels.push(id);
    }
    builder.extend_ids(
        piece
            .items
            .per_annotation
            .par_iter()
            .map(|&l| items[l as usize]),
        piece
            .workers
            .per_annotation
            .par_iter()
            .map(|&l| workers[l as usize]),
        piece
            .labels
            .per_annotation
            .par_iter()
            .map(|&l| labels[l as usize]),
    );
    Ok(())
}
