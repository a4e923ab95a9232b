//! The Arrow C stream interface in: a capsule from `__arrow_c_stream__`
//! becomes a reader of record batches, which the library's Arrow reader
//! packs (`accord::classification::read::arrow::read_batches`).

use std::path::Path;

use accord::classification::read::{arrow::read_batches, ReadOptions};
use accord::engine::pack::{pack, DuplicatePolicy, Packed};
use accord::error::Location;
use accord::Error;
use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::to_py;

/// The capsule's name the Arrow PyCapsule interface gives a stream.
const STREAM_CAPSULE: &str = "arrow_array_stream";

/// Takes the stream out of `capsule` (leaving it released, so the capsule's
/// destructor does nothing) and wraps it in a reader.
pub fn stream_reader(capsule: &Bound<'_, PyCapsule>) -> PyResult<ArrowArrayStreamReader> {
    let name = capsule.name()?.map(|n| n.to_string_lossy().into_owned());
    if name.as_deref() != Some(STREAM_CAPSULE) {
        return Err(PyValueError::new_err(format!(
            "expected an {STREAM_CAPSULE:?} capsule (from __arrow_c_stream__), got {name:?}"
        )));
    }
    let raw = capsule.pointer() as *mut FFI_ArrowArrayStream;
    // SAFETY: the capsule named arrow_array_stream holds an
    // FFI_ArrowArrayStream by the interface's contract; from_raw moves it
    // out and leaves an empty (released) stream in its place.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(raw) };
    ArrowArrayStreamReader::try_new(stream)
        .map_err(|e| PyValueError::new_err(format!("cannot read the Arrow stream: {e}")))
}

/// Packs the stream's batches (columns item, worker, label). A bad row is
/// a `ValueError` naming it by its position in the whole input (0-based, so
/// a pandas frame's `RangeIndex` label), and also in its batch when there
/// are several.
pub fn pack_stream(
    reader: ArrowArrayStreamReader,
    categories: Option<&[String]>,
    duplicates: DuplicatePolicy,
) -> PyResult<Packed> {
    let mut stream_error = None;
    let mut batch_rows = Vec::new();
    let batches = reader
        .map_while(|batch| match batch {
            Ok(batch) => Some(batch),
            Err(e) => {
                stream_error = Some(e);
                None
            }
        })
        .inspect(|batch| batch_rows.push(batch.num_rows() as u64));
    let options = ReadOptions {
        categories: categories.map(<[String]>::to_vec),
        ..ReadOptions::default()
    };
    let read = read_batches(Path::new("data"), batches, &options);
    if let Some(e) = stream_error {
        return Err(PyValueError::new_err(format!(
            "cannot read the Arrow stream: {e}"
        )));
    }
    let input = read.map_err(|e| locate_row(e, &batch_rows))?;
    pack(input.annotations, duplicates).map_err(to_py)
}

fn locate_row(error: Error, batch_rows: &[u64]) -> PyErr {
    match &error {
        Error::BadInput {
            location: Location::Row { index, row, .. },
            problem,
            ..
        } => {
            let first: u64 = batch_rows[..(*index).min(batch_rows.len())].iter().sum();
            let within = if batch_rows.len() > 1 {
                format!(" (record batch {index}, row {row})")
            } else {
                String::new()
            };
            PyValueError::new_err(format!("row {}{within}: {problem}", first + row))
        }
        _ => to_py(error),
    }
}
