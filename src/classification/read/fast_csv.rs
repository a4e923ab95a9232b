//! The fast path for the common CSV/TSV layout: no quotes, one record per
//! line. The input is read in large blocks cut at newlines; each block is
//! split into pieces parsed in parallel, each with its own interner of byte
//! slices; the pieces are then merged in input order, so ids are assigned in
//! first-seen order exactly as the sequential reader would. A quote anywhere
//! sends the caller back to the general reader.

use std::hash::BuildHasher;
use std::io::Read;
use std::path::Path;

use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use crate::engine::pack::{AnnotationBuilder, MAX_ID_BYTES};
use crate::error::{Error, Result};
use crate::io::in_order::InOrder;

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
///
/// Names of at most 16 bytes (nearly all ids) are looked up by their bytes
/// packed into a `u128` held in the table itself: a lookup then touches only
/// the table, never the input where the name was first seen, which would be
/// a cache miss per line. Longer names go through a map of byte slices.
struct LocalNames<'a> {
    short: HashTable<ShortEntry>,
    long: HashMap<&'a [u8], u32>,
    hasher: DefaultHashBuilder,
    names: Vec<&'a [u8]>,
    /// Line of each name's first occurrence, for error messages.
    first_line: Vec<u64>,
    per_annotation: Vec<u32>,
    /// The previous short name's key and id: annotations are usually grouped
    /// by item, so most item lookups end here.
    last: Option<(ShortKey, u32)>,
}

/// A name of at most 16 bytes: its bytes (little-endian, zero-padded) and
/// its length, so that names ending in NUL bytes stay distinct. Two `u64`s
/// rather than a `u128`, so that a table entry takes 24 bytes, not 48.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShortKey {
    low: u64,
    high: u64,
    len: u32,
}

#[derive(Clone, Copy)]
struct ShortEntry {
    low: u64,
    high: u64,
    len: u32,
    id: u32,
}

impl ShortEntry {
    fn key(&self) -> ShortKey {
        ShortKey {
            low: self.low,
            high: self.high,
            len: self.len,
        }
    }
}

impl ShortKey {
    /// The key of `bytes[start..end]`, or `None` for names over 16 bytes.
    /// Reads 16 bytes at once where the slice allows, and masks the tail.
    #[inline(always)]
    fn of(bytes: &[u8], start: usize, end: usize) -> Option<ShortKey> {
        let len = end - start;
        if len > 16 {
            return None;
        }
        let word = match bytes.get(start..start + 16) {
            Some(w) => u128::from_le_bytes(w.try_into().expect("16 bytes")),
            None => {
                let mut w = [0u8; 16];
                w[..len].copy_from_slice(&bytes[start..end]);
                u128::from_le_bytes(w)
            }
        };
        let mask = if len == 16 {
            u128::MAX
        } else {
            (1u128 << (8 * len)) - 1
        };
        let word = word & mask;
        Some(ShortKey {
            low: word as u64,
            high: (word >> 64) as u64,
            len: len as u32,
        })
    }
}

impl<'a> LocalNames<'a> {
    fn with_capacity(n: usize) -> Self {
        LocalNames {
            short: HashTable::with_capacity(n),
            long: HashMap::new(),
            hasher: DefaultHashBuilder::default(),
            names: Vec::with_capacity(n),
            first_line: Vec::with_capacity(n),
            per_annotation: Vec::new(),
            last: None,
        }
    }

    /// Adds one occurrence of `bytes[start..end]`; returns whether the name
    /// is new to this piece.
    #[inline(always)]
    fn push(&mut self, bytes: &'a [u8], start: usize, end: usize, line: u64) -> bool {
        let name = &bytes[start..end];
        let next = self.names.len() as u32;
        let Some(key) = ShortKey::of(bytes, start, end) else {
            let id = *self.long.entry(name).or_insert(next);
            return self.record(id, name, line);
        };
        if let Some((last_key, id)) = self.last {
            if last_key == key {
                self.per_annotation.push(id);
                return false;
            }
        }
        let hash = self.hasher.hash_one((key.low, key.high));
        let id = match self.short.find(hash, |e| e.key() == key) {
            Some(e) => e.id,
            None => {
                let hasher = &self.hasher;
                let entry = ShortEntry {
                    low: key.low,
                    high: key.high,
                    len: key.len,
                    id: next,
                };
                self.short
                    .insert_unique(hash, entry, |e| hasher.hash_one((e.low, e.high)));
                next
            }
        };
        self.last = Some((key, id));
        self.record(id, name, line)
    }

    /// Appends annotation `id`, registering its name if it is new.
    #[inline(always)]
    fn record(&mut self, id: u32, name: &'a [u8], line: u64) -> bool {
        self.per_annotation.push(id);
        let is_new = id as usize == self.names.len();
        if is_new {
            self.names.push(name);
            self.first_line.push(line);
        }
        is_new
    }
}

struct Piece<'a> {
    items: LocalNames<'a>,
    workers: LocalNames<'a>,
    labels: LocalNames<'a>,
}

/// `bytes[start..end]` without surrounding ASCII whitespace, as a range.
#[inline(always)]
fn trim(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (start, end)
}

/// Checks and records one line's fields, given as ranges of `bytes` (CR
/// stripped, blank lines skipped), then clears `fields` for the next line.
#[inline(always)]
fn finish_line<'a>(
    piece: &mut Piece<'a>,
    bytes: &'a [u8],
    fields: &mut Vec<(usize, usize)>,
    line: u64,
    cols: Columns,
) -> std::result::Result<(), (u64, String)> {
    if let Some((start, end)) = fields.last_mut() {
        if *end > *start && bytes[*end - 1] == b'\r' {
            *end -= 1;
        }
    }
    if fields.len() == 1 && fields[0].0 == fields[0].1 {
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
        let (start, end) = trim(bytes, fields[col].0, fields[col].1);
        if start == end {
            return Err((line, format!("empty {what} id")));
        }
        if end - start > MAX_ID_BYTES {
            return Err((
                line,
                format!(
                    "{what} id is {} bytes long; at most {MAX_ID_BYTES} are accepted",
                    end - start
                ),
            ));
        }
        if names.push(bytes, start, end, line) {
            if let Err(e) = std::str::from_utf8(&bytes[start..end]) {
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
        items: LocalNames::with_capacity(lines / 8),
        workers: LocalNames::with_capacity(lines / 64),
        labels: LocalNames::with_capacity(16),
    };
    piece.items.per_annotation.reserve(lines);
    piece.workers.per_annotation.reserve(lines);
    piece.labels.per_annotation.reserve(lines);
    // One SIMD pass finds every delimiter and newline in order: cheaper than
    // a search per line and per field over spans of a few bytes.
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(cols.n_fields);
    let mut line = first_line;
    let mut field_start = 0;
    for p in memchr::memchr2_iter(delimiter, b'\n', bytes) {
        fields.push((field_start, p));
        field_start = p + 1;
        if bytes[p] == b'\n' {
            finish_line(&mut piece, bytes, &mut fields, line, cols)?;
            line += 1;
        }
    }
    if field_start < bytes.len() {
        fields.push((field_start, bytes.len()));
        finish_line(&mut piece, bytes, &mut fields, line, cols)?;
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
                .map_err(|e| crate::error::Error::read(path, e))?;
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
        parse_and_merge(path, &pieces, delimiter, cols, builder)?;
        next_line += count_newlines(block);
        buffer.copy_within(cut..filled, 0);
        filled -= cut;
        if eof && filled == 0 {
            break;
        }
    }
    Ok(())
}

/// Parses the pieces on the thread pool and merges each, in input order, on
/// the calling thread as soon as it and those before it are parsed: the
/// sequential merge overlaps the parsing of later pieces. The first bad line
/// in input order is the one reported.
fn parse_and_merge(
    path: &Path,
    pieces: &[(&[u8], u64)],
    delimiter: u8,
    cols: Columns,
    builder: &mut AnnotationBuilder,
) -> Result<()> {
    let mut parsed = InOrder::new();
    rayon::in_place_scope(|scope| {
        for (index, &(bytes, line)) in pieces.iter().enumerate() {
            let sender = parsed.sender();
            scope.spawn(move |_| sender.run(index, || parse_piece(bytes, line, delimiter, cols)));
        }
        for next in 0..pieces.len() {
            let piece = parsed
                .take(next)
                .map_err(|(line, problem)| Error::at_line(path, line, problem))?;
            merge(path, &piece, builder)?;
        }
        Ok(())
    })
}

/// A name's text; validated as UTF-8 when its piece first saw it.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("checked when first seen")
}

/// Interns a piece's local names in their order and appends its annotations.
fn merge(path: &Path, piece: &Piece, builder: &mut AnnotationBuilder) -> Result<()> {
    let size = |names: &LocalNames| (names.names.len(), names.names.iter().map(|n| n.len()).sum());
    builder.reserve(
        size(&piece.items),
        size(&piece.workers),
        piece.items.per_annotation.len(),
    );
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
            .iter()
            .map(|&l| items[l as usize]),
        piece
            .workers
            .per_annotation
            .iter()
            .map(|&l| workers[l as usize]),
        piece
            .labels
            .per_annotation
            .iter()
            .map(|&l| labels[l as usize]),
    );
    Ok(())
}
