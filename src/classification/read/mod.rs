//! Classification readers: CSV, TSV, JSON Lines, Ground Truth's
//! consolidation request, and (feature `arrow`) Parquet, Arrow IPC and
//! Arrow record batches, each turning a file into [`Annotations`]. No maths
//! here.

#[cfg(feature = "arrow")]
pub mod arrow;
#[cfg(feature = "arrow")]
mod arrow_files;
mod csv_reader;
mod fast_csv;
mod gt;
mod jsonl;
pub mod known;
pub mod lambda_event;

use crate::io::{CountingReader, Reject, Rejects};

use std::path::Path;

use crate::engine::pack::{AnnotationBuilder, Annotations};
use crate::error::{Error, Result};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// Comma-separated with a header naming `item` (or `task`), `worker`, `label`.
    Csv,
    /// Tab-separated, same header.
    Tsv,
    /// One JSON object per line with the same fields.
    Jsonl,
    /// Ground Truth's annotation-consolidation request (a JSON array).
    GtRequest,
    /// Ground Truth's consolidation Lambda event (a JSON object whose
    /// `payload.s3Uri` names a local request; see [`lambda_event`]).
    GtEvent,
    /// Parquet with columns item (or task), worker, label (feature `arrow`).
    Parquet,
    /// An Arrow IPC file (Feather v2) or stream with the same columns
    /// (feature `arrow`).
    Arrow,
}

impl InputFormat {
    /// Whether the format is read as Arrow record batches (Parquet, IPC).
    pub fn is_columnar(self) -> bool {
        matches!(self, InputFormat::Parquet | InputFormat::Arrow)
    }
}

/// The type a columnar input gave an id column, so that columnar outputs
/// give the ids back in it (a dictionary's ids come back in its values'
/// type). Text inputs have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// Arrow `utf8` (Parquet `BYTE_ARRAY` strings).
    Utf8,
    /// Arrow `large_utf8`.
    LargeUtf8,
    /// Arrow `utf8_view`.
    Utf8View,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `uint8`.
    UInt8,
    /// `uint16`.
    UInt16,
    /// `uint32`.
    UInt32,
    /// `uint64`.
    UInt64,
}

/// The types of a columnar input's item, worker and label columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnTypes {
    /// The item column's.
    pub item: IdType,
    /// The worker column's.
    pub worker: IdType,
    /// The label column's.
    pub label: IdType,
}

/// What was read: the annotations, and for Ground Truth requests each item's
/// `dataObject` (echoed into the output manifest).
#[derive(Debug, Default)]
pub struct Input {
    /// The annotations read.
    pub annotations: Annotations,
    /// Indexed by item id; empty unless the input was a Ground Truth request.
    pub data_objects: Vec<Option<serde_json::Value>>,
    /// The format read (given or detected); `None` only for a default `Input`.
    pub format: Option<InputFormat>,
    /// Records skipped under [`ReadOptions::skip_invalid`], with why.
    pub rejects: Vec<Reject>,
    /// The Lambda event the request came with, for [`InputFormat::GtEvent`].
    pub event: Option<lambda_event::LambdaEvent>,
    /// The id columns' types, for columnar inputs (Parquet, Arrow).
    pub column_types: Option<ColumnTypes>,
}

/// The names of the three fields in a header (CSV, TSV) or object (JSON
/// Lines). Each field accepts any of its names; header names are compared
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNames {
    /// Names of the item id field (default `item`, or crowd-kit's `task`).
    pub item: Vec<String>,
    /// Names of the worker id field (default `worker`).
    pub worker: Vec<String>,
    /// Names of the label field (default `label`).
    pub label: Vec<String>,
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames {
            item: vec!["item".into(), "task".into()],
            worker: vec!["worker".into()],
            label: vec!["label".into()],
        }
    }
}

impl FieldNames {
    /// Parses `item=image_id,worker=annotator,label=answer` (any subset;
    /// the others keep their defaults).
    pub fn parse(spec: &str) -> Result<FieldNames> {
        let mut names = FieldNames::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((field, name)) = part.split_once('=') else {
                return Err(Error::invalid_param(
                    "columns",
                    format!("{part:?} is not FIELD=NAME (e.g. item=image_id)"),
                ));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(Error::invalid_param(
                    "columns",
                    format!("{part:?} names no column"),
                ));
            }
            let slot = match field.trim() {
                "item" | "task" => &mut names.item,
                "worker" => &mut names.worker,
                "label" => &mut names.label,
                other => {
                    return Err(Error::invalid_param(
                        "columns",
                        format!("{other:?} is not a field: use item, worker or label"),
                    ))
                }
            };
            *slot = vec![name.to_string()];
        }
        Ok(names)
    }

    /// The three fields' positions among header `names` (lower-cased).
    pub(crate) fn positions(&self, names: &[String]) -> Option<[usize; 3]> {
        let find = |wanted: &[String]| {
            names
                .iter()
                .position(|n| wanted.iter().any(|w| w.eq_ignore_ascii_case(n)))
        };
        Some([find(&self.item)?, find(&self.worker)?, find(&self.label)?])
    }

    /// `item (or task), worker and label`, for messages.
    pub(crate) fn describe(&self) -> String {
        let one = |names: &[String]| match names {
            [] => String::new(),
            [first] => first.clone(),
            [first, rest @ ..] => format!("{first} (or {})", rest.join(", ")),
        };
        format!(
            "{}, {} and {}",
            one(&self.item),
            one(&self.worker),
            one(&self.label)
        )
    }
}

/// A CSV or TSV field as both CSV readers read it: without surrounding
/// ASCII whitespace (the fast reader trims the same bytes), so one file
/// gives one answer whichever reader runs.
pub(crate) fn trim_field(field: &str) -> &str {
    field.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// The name of a field that more than one header column claims
/// (`item,worker,label,label`), which would otherwise be read from the
/// first silently.
pub(crate) fn repeated_field(names: &[String], fields: &FieldNames) -> Option<String> {
    [&fields.item, &fields.worker, &fields.label]
        .into_iter()
        .find_map(|wanted| {
            let columns: Vec<&String> = names
                .iter()
                .filter(|n| wanted.iter().any(|w| w.eq_ignore_ascii_case(n)))
                .collect();
            (columns.len() > 1).then(|| columns[0].clone())
        })
}

/// Options of the readers.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `None`: detect from the extension, then the first bytes.
    pub format: Option<InputFormat>,
    /// The label set, in order; `None`: learn it from the data.
    pub categories: Option<Vec<String>>,
    /// Skip bad records (into [`Input::rejects`]) instead of stopping.
    pub skip_invalid: bool,
    /// The names of the item, worker and label fields.
    pub fields: FieldNames,
}

/// Detects the format from the file name, then from the first bytes:
/// `PAR1` is Parquet, `ARROW1` (or an IPC stream's first message) Arrow; a
/// first non-blank `[` is a Ground Truth request, `{` JSON Lines, else CSV
/// or TSV by the header line's delimiter (tabs and no commas: TSV, whatever
/// the extension says, so TSV saved as `.csv` is read right).
pub fn detect_format(path: &Path) -> Result<InputFormat> {
    use std::io::Read;
    let mut head = [0u8; 4096];
    let mut file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let n = file.read(&mut head).map_err(|e| Error::read(path, e))?;
    Ok(detect_format_of(path, &head[..n]))
}

/// [`detect_format`] from the file name and its first bytes (`name` may be
/// `-` for standard input: then only the bytes decide).
pub fn detect_format_of(name: &Path, head: &[u8]) -> InputFormat {
    let ext = name
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let delimited = || {
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
        if first_line.contains(&b'\t') && !first_line.contains(&b',') {
            InputFormat::Tsv
        } else {
            InputFormat::Csv
        }
    };
    match ext.as_str() {
        "csv" | "tsv" | "tab" => return delimited(),
        "jsonl" | "ndjson" => return InputFormat::Jsonl,
        "parquet" | "pq" => return InputFormat::Parquet,
        "arrow" | "arrows" | "feather" | "ipc" => return InputFormat::Arrow,
        _ => {}
    }
    if head.starts_with(b"PAR1") {
        return InputFormat::Parquet;
    }
    // An IPC stream starts with a message: the continuation marker.
    if head.starts_with(b"ARROW1") || head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) {
        return InputFormat::Arrow;
    }
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => InputFormat::GtRequest,
        Some(b'{') if lambda_event::looks_like_event(head) => InputFormat::GtEvent,
        Some(b'{') => InputFormat::Jsonl,
        _ => delimited(),
    }
}

/// Reads annotations from standard input: all of it, then as
/// [`read_bytes`], the format from `options.format` or the content.
pub fn read_stdin(options: &ReadOptions) -> Result<Input> {
    use std::io::Read;
    let name = Path::new("<stdin>");
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::read(name, e))?;
    let format = options
        .format
        .unwrap_or_else(|| detect_format_of(Path::new("-"), &bytes[..bytes.len().min(4096)]));
    if format.is_columnar() {
        return read_columnar_bytes(name, bytes, format, options);
    }
    read_bytes(name, &bytes, format, options)
}

/// Reading Parquet or Arrow without the `arrow` feature.
#[cfg(not(feature = "arrow"))]
fn needs_arrow(format: InputFormat) -> Error {
    Error::Usage(format!(
        "reading {format:?} input needs accord built with the `arrow` feature"
    ))
}

/// Parquet or Arrow IPC held in memory.
fn read_columnar_bytes(
    name: &Path,
    bytes: Vec<u8>,
    format: InputFormat,
    options: &ReadOptions,
) -> Result<Input> {
    #[cfg(feature = "arrow")]
    return arrow_files::read_bytes(name, bytes.into(), format, options);
    #[cfg(not(feature = "arrow"))]
    {
        let _ = (name, bytes, options);
        Err(needs_arrow(format))
    }
}

/// Reads annotations from `path`. `progress` receives the bytes read so far.
pub fn read(path: &Path, options: &ReadOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Input> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::read(path, e))?;
    if metadata.is_dir() {
        return Err(Error::BadInput {
            path: path.into(),
            location: crate::error::Location::File,
            problem: "is a folder, not a file of annotations".into(),
        });
    }
    if !metadata.is_file() {
        // A pipe or FIFO can be read only once: read it whole (up to half
        // the memory available), then sniff and parse the bytes. A device
        // such as /dev/zero never ends: refused.
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            let kind = metadata.file_type();
            if kind.is_char_device() || kind.is_block_device() {
                return Err(Error::BadInput {
                    path: path.into(),
                    location: crate::error::Location::File,
                    problem: "is a device, not a file of annotations".into(),
                });
            }
        }
        let limit = crate::engine::memory::available_bytes().map_or(u64::MAX, |b| b / 2);
        let mut bytes = Vec::new();
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut bytes))
            .map_err(|e| Error::read(path, e))?;
        if bytes.len() as u64 > limit {
            return Err(Error::Limit(format!(
                "{}: a stream of more than {limit} bytes (half the memory available): save it to a file first",
                path.display()
            )));
        }
        let format = options
            .format
            .unwrap_or_else(|| detect_format_of(path, &bytes[..bytes.len().min(4096)]));
        if format.is_columnar() {
            return read_columnar_bytes(path, bytes, format, options);
        }
        return read_bytes(path, &bytes, format, options);
    }
    let format = match options.format {
        Some(f) => f,
        None => detect_format(path)?,
    };
    if format.is_columnar() {
        #[cfg(feature = "arrow")]
        return arrow_files::read_file(path, format, options, progress);
        #[cfg(not(feature = "arrow"))]
        return Err(needs_arrow(format));
    }
    refuse_beyond_memory(path, metadata.len())?;
    let open = || -> Result<_> {
        let file = std::fs::File::open(path).map_err(|source| Error::Read {
            path: path.into(),
            source,
        })?;
        Ok(CountingReader::new(
            std::io::BufReader::with_capacity(1 << 20, file),
            progress,
        ))
    };
    read_with(path, format, options, open)
}

/// Bytes per annotation that packing holds at the least: the input's three
/// id columns (4 + 4 + 2) beside the by-item layout (4 + 2). A fit's peak
/// is above this (names, posteriors), so a file refused on it could never
/// have been consolidated here.
const LEAST_BYTES_PER_ANNOTATION: u64 = 16;

/// Refuses, before reading, a text file whose annotations cannot fit in
/// memory: their number is estimated as the file's size over the longer
/// of the mean line lengths of its first and its last MiB (ids numbered
/// from 0 grow longer down a file, so the start alone would overcount),
/// and each needs [`LEAST_BYTES_PER_ANNOTATION`]. A manifest with several
/// annotations per line is undercounted, which only makes the check
/// lenient. Without it the reading would run for minutes and fail when
/// packing.
fn refuse_beyond_memory(path: &Path, size: u64) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    const SAMPLE: u64 = 1 << 20;
    if size <= 2 * SAMPLE {
        return Ok(());
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut mean_line = |from: u64| -> Result<Option<u64>> {
        let mut sample = Vec::new();
        file.seek(SeekFrom::Start(from))
            .and_then(|_| (&mut file).take(SAMPLE).read_to_end(&mut sample))
            .map_err(|e| Error::read(path, e))?;
        let lines = memchr::memchr_iter(b'\n', &sample).count() as u64;
        Ok((lines >= 2).then(|| (sample.len() as u64).div_ceil(lines)))
    };
    let (Some(head), Some(tail)) = (mean_line(0)?, mean_line(size - SAMPLE)?) else {
        return Ok(());
    };
    let annotations = size / head.max(tail).max(1);
    crate::engine::memory::check_fits(
        annotations.saturating_mul(LEAST_BYTES_PER_ANNOTATION),
        crate::engine::memory::available_bytes(),
        &format!(
            "{}: about {annotations} annotations (its size over the mean length of its first and last lines), \
             at {LEAST_BYTES_PER_ANNOTATION} bytes each at the least,",
            path.display()
        ),
        "split the input by item into runs that fit (carrying the worker model between them with \
         `--workers-out` / `--workers-in`), or use a machine with more memory",
    )
}

/// Reads annotations in `format` from `bytes`, as [`read`] reads a file;
/// `name` is the file name used in error messages. For input already in
/// memory (a batch job's buffer, a fuzzer's case).
pub fn read_bytes(
    name: &Path,
    bytes: &[u8],
    format: InputFormat,
    options: &ReadOptions,
) -> Result<Input> {
    if format.is_columnar() {
        return read_columnar_bytes(name, bytes.to_vec(), format, options);
    }
    read_with(name, format, options, || Ok(bytes))
}

/// A Lambda event: the request its payload names, read with the event's
/// categories (unless `options` gives its own).
fn read_event(
    path: &Path,
    options: &ReadOptions,
    mut event_file: impl std::io::Read,
) -> Result<Input> {
    let mut text = String::new();
    event_file
        .read_to_string(&mut text)
        .map_err(|e| Error::read(path, e))?;
    let event = lambda_event::parse_event(path, &text)?;
    let request_options = ReadOptions {
        format: Some(InputFormat::GtRequest),
        categories: options.categories.clone().or(event.categories.clone()),
        ..options.clone()
    };
    let mut input = read(&event.payload, &request_options, &|_| {})?;
    input.format = Some(InputFormat::GtEvent);
    input.event = Some(event);
    Ok(input)
}

/// The readers behind [`read`] and [`read_bytes`]; `open` gives the input
/// from its start (the CSV fast path may hand over to the general reader).
fn read_with<R: std::io::Read + Send>(
    path: &Path,
    format: InputFormat,
    options: &ReadOptions,
    open: impl Fn() -> Result<R>,
) -> Result<Input> {
    let builder = || match &options.categories {
        Some(c) => AnnotationBuilder::with_categories(c),
        None => Ok(AnnotationBuilder::new()),
    };
    if format == InputFormat::GtEvent {
        return read_event(path, options, open()?);
    }
    let mut rejects = Rejects::new(options.skip_invalid);
    let mut input = match format {
        InputFormat::Csv | InputFormat::Tsv => {
            let delimiter = if format == InputFormat::Csv {
                b','
            } else {
                b'\t'
            };
            // The fast reader stops at the first bad record; skipping
            // them is the general reader's job.
            let fast = if options.skip_invalid {
                Err(fast_csv::FastError::NeedsGeneralReader)
            } else {
                csv_reader::read_fast(path, open()?, delimiter, &options.fields, builder()?)
            };
            match fast {
                Ok(input) => input,
                Err(fast_csv::FastError::Failed(e)) => return Err(e),
                // Quotes or an unusual header: start again with the general reader.
                Err(fast_csv::FastError::NeedsGeneralReader) => csv_reader::read(
                    path,
                    open()?,
                    delimiter,
                    &options.fields,
                    builder()?,
                    &mut rejects,
                )?,
            }
        }
        InputFormat::Jsonl => {
            jsonl::read(path, open()?, &options.fields, builder()?, &mut rejects)?
        }
        InputFormat::GtRequest => gt::read_request(path, open()?, builder()?, &mut rejects)?,
        InputFormat::GtEvent => unreachable!("events are read above"),
        InputFormat::Parquet | InputFormat::Arrow => {
            unreachable!("columnar inputs are read by `read` and `read_bytes`")
        }
    };
    input.format = Some(format);
    input.rejects = rejects.records;
    if input.annotations.labels.is_empty() {
        return Err(Error::BadInput {
            path: path.into(),
            location: crate::error::Location::File,
            problem: "holds no annotation, so there is no label set: pass `categories` to write an empty result".into(),
        });
    }
    Ok(input)
}
