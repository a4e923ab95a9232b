//! The one error type of the library. Every message says what went wrong and,
//! where it can, what to do about it.

use std::path::PathBuf;

/// Where in an input a problem was found: a line of a text file, or an object
/// of a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// 1-based line number.
    Line(u64),
    /// An object of a JSON array, by 0-based index and its id when it has one.
    Object {
        /// 0-based index in the array.
        index: usize,
        /// The object's `datasetObjectId`, if it has one.
        id: Option<String>,
    },
    /// A row of a columnar input (Parquet, Arrow IPC, record batches).
    Row {
        /// What the rows are grouped in: `row group` (Parquet) or
        /// `record batch` (Arrow).
        part: &'static str,
        /// 0-based index of the row group or batch.
        index: usize,
        /// 0-based row within it.
        row: u64,
    },
    /// The file as a whole.
    File,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Object {
                index,
                id: Some(id),
            } => {
                write!(f, "object {index} (datasetObjectId {id:?})")
            }
            Location::Object { index, id: None } => write!(f, "object {index}"),
            Location::Row { part, index, row } => write!(f, "{part} {index}, row {row}"),
            Location::File => write!(f, "(whole file)"),
        }
    }
}

/// Longest problem text a message quotes: a problem can quote its input
/// (a header line, a JSON value), and inputs can be megabytes.
pub const MAX_PROBLEM_CHARS: usize = 2_000;

/// `text` cut to `max` characters, saying how much was cut.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((at, _)) => format!("{}… ({} more bytes cut)", &text[..at], text.len() - at).into(),
    }
}

fn describe_bad_input(path: &std::path::Path, location: &Location, problem: &str) -> String {
    let problem = clip(problem, MAX_PROBLEM_CHARS);
    match location {
        Location::File => format!("{}: {problem}", path.display()),
        other => format!("{}: {other}: {problem}", path.display()),
    }
}

/// Errors of accord. Bad input, bad usage and limits map to exit code 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record of an input file is malformed.
    #[error("{}", describe_bad_input(path, location, problem))]
    BadInput {
        /// The input file.
        path: PathBuf,
        /// Where in the file the record is.
        location: Location,
        /// What is wrong with it.
        problem: String,
    },
    /// The options contradict each other or the data.
    #[error("{0}")]
    Usage(String),
    /// A parameter's value is out of its range. `name` is the library's name
    /// of the field (`max_iter`); the CLI shows it as its flag.
    #[error("`{name}` {problem}")]
    InvalidParam {
        /// The parameter, as the library's field is named.
        name: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// The job would not fit (memory, sizes); the message names the numbers.
    #[error("{0}")]
    Limit(String),
    /// Reading a file failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file that could not be written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The GPU backend failed (no adapter, device lost, out of memory, ...).
    #[error("GPU backend: {0}")]
    Gpu(String),
}

impl Error {
    /// The process exit code this error maps to: 2 for bad input, usage and
    /// limits (the caller can fix them), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadInput { .. }
            | Error::Usage(_)
            | Error::InvalidParam { .. }
            | Error::Limit(_) => 2,
            _ => 1,
        }
    }

    /// Shorthand for an [`Error::InvalidParam`].
    pub fn invalid_param(name: &'static str, problem: impl Into<String>) -> Self {
        Error::InvalidParam {
            name,
            problem: problem.into(),
        }
    }

    /// Shorthand for an [`Error::Read`].
    pub fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Shorthand for a [`Error::BadInput`] at a line.
    pub fn at_line(path: &std::path::Path, line: u64, problem: impl Into<String>) -> Self {
        Error::BadInput {
            path: path.to_path_buf(),
            location: Location::Line(line),
            problem: problem.into(),
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
