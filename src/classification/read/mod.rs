//! Classification readers: CSV, TSV, JSON Lines and Ground Truth's
//! consolidation request, each turning a file into [`Annotations`]. No maths
//! here.

mod csv_reader;
mod fast_csv;
mod gt;
mod jsonl;

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
}

/// Detects the format from the file name, then from the first non-blank byte
/// (`[` → Ground Truth request, `{` → JSON Lines, else CSV/TSV by header).
pub fn detect_format(path: &Path) -> Result<InputFormat> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => return Ok(InputFormat::Csv),
        "tsv" | "tab" => return Ok(InputFormat::Tsv),
        "jsonl" | "ndjson" => return Ok(InputFormat::Jsonl),
        _ => {}
    }
    use std::io::Read;
    let mut head = [0u8; 4096];
    let mut file = std::fs::File::open(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    let n = file.read(&mut head).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    let head = &head[..n];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Ok(InputFormat::GtRequest),
        Some(b'{') => Ok(InputFormat::Jsonl),
        _ => {
            let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
            if first_line.contains(&b'\t') && !first_line.contains(&b',') {
                Ok(InputFormat::Tsv)
            } else {
                Ok(InputFormat::Csv)
            }
        }
    }
}

/// Reads annotations from `path`. `progress` receives the bytes read so far.
pub fn read(path: &Path, options: &ReadOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<Input> {
    let format = match options.format {
        Some(f) => f,
        None => detect_format(path)?,
    };
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

/// Reads annotations in `format` from `bytes`, as [`read`] reads a file;
/// `name` is the file name used in error messages. For input already in
/// memory (a batch job's buffer, a fuzzer's case).
pub fn read_bytes(
    name: &Path,
    bytes: &[u8],
    format: InputFormat,
    options: &ReadOptions,
) -> Result<Input> {
    read_with(name, format, options, || Ok(bytes))
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
                csv_reader::read_fast(path, open()?, delimiter, builder()?)
            };
            match fast {
                Ok(input) => input,
                Err(fast_csv::FastError::Failed(e)) => return Err(e),
                // Quotes or an unusual header: start again with the general reader.
                Err(fast_csv::FastError::NeedsGeneralReader) => {
                    csv_reader::read(path, open()?, delimiter, builder()?, &mut rejects)?
                }
            }
        }
        InputFormat::Jsonl => jsonl::read(path, open()?, builder()?, &mut rejects)?,
        InputFormat::GtRequest => gt::read_request(path, open()?, builder()?, &mut rejects)?,
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
