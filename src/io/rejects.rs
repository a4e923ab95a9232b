//! Bad records: an error that stops the run, or, with `--skip-invalid`, a
//! line in the rejects file and a count in the summary. Either way nothing
//! is dropped without a trace.

use std::path::Path;

use crate::error::{Error, Location, Result};

/// A record a reader skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Where in the input the record is.
    pub location: Location,
    /// What is wrong with it.
    pub problem: String,
    /// The record as it was read (lossy UTF-8), for the rejects file.
    pub record: String,
}

/// Bytes of a record kept in the rejects file.
const MAX_RECORD_BYTES: usize = 1000;

/// Where a reader sends its bad records.
#[derive(Debug, Default)]
pub struct Rejects {
    skip: bool,
    /// The records skipped so far, in input order.
    pub records: Vec<Reject>,
}

impl Rejects {
    /// Bad records are errors.
    pub fn strict() -> Self {
        Rejects::default()
    }

    /// Bad records are kept here and the reader goes on.
    pub fn skipping() -> Self {
        Rejects {
            skip: true,
            records: Vec::new(),
        }
    }

    /// [`Rejects::skipping`] when `skip_invalid`, else [`Rejects::strict`].
    pub fn new(skip_invalid: bool) -> Self {
        Rejects {
            skip: skip_invalid,
            records: Vec::new(),
        }
    }

    /// Whether bad records are skipped rather than errors.
    pub fn skips(&self) -> bool {
        self.skip
    }

    /// `err` for `record`: returned when strict; recorded when skipping,
    /// if it is a [`Error::BadInput`] (failing I/O still stops the run).
    pub fn bad(&mut self, err: Error, record: &[u8]) -> Result<()> {
        match err {
            Error::BadInput {
                location, problem, ..
            } if self.skip => {
                // Records can be megabytes of base64: the start says which.
                let cut = record.len().saturating_sub(MAX_RECORD_BYTES);
                let record = String::from_utf8_lossy(&record[..record.len() - cut]);
                let record = if cut > 0 {
                    format!("{record}… ({cut} more bytes cut)").into()
                } else {
                    record
                };
                self.records.push(Reject {
                    location,
                    problem: crate::error::clip(&problem, crate::error::MAX_PROBLEM_CHARS)
                        .into_owned(),
                    record: record.trim_end_matches(['\r', '\n']).to_owned(),
                });
                Ok(())
            }
            other => Err(other),
        }
    }
}

/// Writes `rejects` as CSV (`location,problem,record`), atomically.
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> Result<()> {
    super::write_atomic(path, |out| write_rejects_to(out, rejects))
}

/// The rejects file's CSV (`location,problem,record`) into `out`.
pub fn write_rejects_to(out: &mut dyn std::io::Write, rejects: &[Reject]) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(["location", "problem", "record"])?;
    for r in rejects {
        csv.write_record([r.location.to_string().as_str(), &r.problem, &r.record])?;
    }
    csv.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_returns_the_error_and_skipping_keeps_it() {
        let err = || Error::at_line(Path::new("x.csv"), 3, "empty item");
        assert!(Rejects::strict().bad(err(), b"a,,b").is_err());
        let mut r = Rejects::skipping();
        r.bad(err(), b",w,b\r\n").unwrap();
        assert_eq!(r.records[0].location, Location::Line(3));
        assert_eq!(r.records[0].record, ",w,b");
        let io = Error::Read {
            path: "x".into(),
            source: std::io::Error::other("disk"),
        };
        assert!(r.bad(io, b"").is_err(), "I/O errors are never skipped");
    }
}
