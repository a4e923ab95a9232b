//! Parquet files and Arrow IPC files and streams, read as record batches
//! (only the three columns, a batch at a time) and handed to
//! [`super::arrow`]'s packer.

use std::io::{Read, Seek};
use std::path::Path;

use arrow_array::{RecordBatch, RecordBatchReader};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::arrow::{find_columns, pack, Parts};
use super::{Input, InputFormat, ReadOptions};
use crate::error::{Error, Location, Result};

/// Rows per record batch read from a Parquet file: large enough that each
/// batch's distinct names are few next to its rows, small enough that the
/// batches in flight hold little memory.
const BATCH_ROWS: usize = 1 << 17;

/// `schema` with the utf8 and large_utf8 columns at `positions` turned
/// into dictionaries of them.
fn dictionary_hint(schema: &Schema, positions: &[usize]) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 if positions.contains(&i) => {
                let dictionary = DataType::Dictionary(
                    Box::new(DataType::Int32),
                    Box::new(field.data_type().clone()),
                );
                field.as_ref().clone().with_data_type(dictionary)
            }
            _ => field.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// `problem` about the file as a whole.
fn bad_file(name: &Path, problem: String) -> Error {
    Error::BadInput {
        path: name.into(),
        location: Location::File,
        problem,
    }
}

/// Reads `path` (a regular file) as `format`, Parquet or Arrow IPC;
/// `progress` receives about how many bytes were read.
pub(super) fn read_file(
    path: &Path,
    format: InputFormat,
    options: &ReadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Input> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let size = file.metadata().map_err(|e| Error::read(path, e))?.len();
    match format {
        InputFormat::Parquet => read_parquet(path, file, size, options, progress),
        // The IPC readers give no row count up front: no progress.
        _ => read_ipc(
            path,
            std::io::BufReader::with_capacity(1 << 20, file),
            options,
        ),
    }
}

/// Reads `bytes` (all of an input already in memory, such as standard
/// input) as `format`, Parquet or Arrow IPC.
pub(super) fn read_bytes(
    name: &Path,
    bytes: bytes::Bytes,
    format: InputFormat,
    options: &ReadOptions,
) -> Result<Input> {
    let size = bytes.len() as u64;
    match format {
        InputFormat::Parquet => read_parquet(name, bytes, size, options, &|_| {}),
        _ => read_ipc(name, std::io::Cursor::new(bytes), options),
    }
}

fn read_parquet<T: ChunkReader + 'static>(
    name: &Path,
    reader: T,
    size: u64,
    options: &ReadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Input> {
    let unreadable = |e: parquet::errors::ParquetError| {
        bad_file(
            name,
            format!("cannot be read as Parquet ({e}); is the file cut short, or not Parquet?"),
        )
    };
    let metadata =
        ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new()).map_err(unreadable)?;
    let (positions, _) = find_columns(name, metadata.schema(), &options.fields)?;
    // Text id columns stored dictionary-encoded (pyarrow and Spark write
    // them so, until a dictionary grows past its page limit) are asked for
    // as dictionaries: a batch's names are then looked up once per
    // dictionary entry, not once per row. Plain ones stay plain: building
    // a dictionary of them would cost more than it saves.
    let stored = metadata.metadata();
    let encoded: Vec<usize> = positions
        .iter()
        .copied()
        .filter(|&root| {
            let descriptor = stored.file_metadata().schema_descr();
            let leaf =
                (0..descriptor.num_columns()).find(|&l| descriptor.get_column_root_idx(l) == root);
            match (leaf, stored.row_groups().first()) {
                (Some(leaf), Some(group)) => group.column(leaf).dictionary_page_offset().is_some(),
                _ => false,
            }
        })
        .collect();
    let hinted = dictionary_hint(metadata.schema(), &encoded);
    let metadata = ArrowReaderMetadata::try_new(
        Arc::clone(metadata.metadata()),
        ArrowReaderOptions::new().with_schema(Arc::new(hinted)),
    )
    .map_err(unreadable)?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(reader, metadata);
    // Only the three columns are decoded; the arrow schema's top-level
    // fields are the Parquet schema's root columns, in order.
    let mask = ProjectionMask::roots(builder.parquet_schema(), positions);
    let mut starts = Vec::with_capacity(builder.metadata().num_row_groups());
    let mut total = 0u64;
    for group in builder.metadata().row_groups() {
        starts.push(total);
        total += group.num_rows().max(0) as u64;
    }
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| bad_file(name, format!("cannot be read as Parquet ({e})")))?;
    let projected = reader.schema();
    let parts = Parts::RowGroups {
        starts,
        rows: total,
    };
    let mut next_row = 0u64;
    let batches = reader.map(|batch| match batch {
        Ok(batch) => {
            next_row += batch.num_rows() as u64;
            Ok(batch)
        }
        Err(e) => Err(Error::BadInput {
            path: name.into(),
            location: parts.locate(0, next_row, 0),
            problem: format!("cannot decode the rows from here on ({e}); is the file damaged?"),
        }),
    });
    let by_rows = |rows: u64| progress(rows.saturating_mul(size) / total.max(1));
    let mut input = pack(name, &projected, batches, &parts, options, &by_rows)?;
    input.format = Some(InputFormat::Parquet);
    Ok(input)
}

/// An Arrow IPC file (`ARROW1` magic: Feather v2 too) or stream.
fn read_ipc<R: Read + Seek>(name: &Path, mut reader: R, options: &ReadOptions) -> Result<Input> {
    let mut magic = [0u8; 6];
    let n = reader.read(&mut magic).map_err(|e| Error::read(name, e))?;
    reader.rewind().map_err(|e| Error::read(name, e))?;
    let unreadable = |e: arrow_schema::ArrowError| {
        bad_file(
            name,
            format!("cannot be read as Arrow IPC ({e}); is the file cut short, or not Arrow?"),
        )
    };
    let parts = Parts::Batches;
    let mut index = 0usize;
    let mut located = |batch: std::result::Result<RecordBatch, arrow_schema::ArrowError>| {
        let at = index;
        index += 1;
        batch.map_err(|e| Error::BadInput {
            path: name.into(),
            location: Location::Row {
                part: "record batch",
                index: at,
                row: 0,
            },
            problem: format!("cannot decode this batch ({e}); is the file damaged or cut short?"),
        })
    };
    let mut input = if n == 6 && &magic == b"ARROW1" {
        let reader = arrow_ipc::reader::FileReader::try_new(reader, None).map_err(unreadable)?;
        let schema = reader.schema();
        pack(
            name,
            &schema,
            reader.map(&mut located),
            &parts,
            options,
            &|_| {},
        )?
    } else {
        let reader = arrow_ipc::reader::StreamReader::try_new(reader, None).map_err(unreadable)?;
        let schema = reader.schema();
        pack(
            name,
            &schema,
            reader.map(&mut located),
            &parts,
            options,
            &|_| {},
        )?
    };
    input.format = Some(InputFormat::Arrow);
    Ok(input)
}
