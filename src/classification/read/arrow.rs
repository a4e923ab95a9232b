//! Arrow record batches, and the files that hold them (Parquet, Arrow IPC
//! files and streams): the long table item, worker, label, packed batch by
//! batch straight into an [`AnnotationBuilder`], with no rows in between.
//!
//! Each batch is first read on the thread pool into names local to it (a
//! dictionary value or a distinct plain value, in first-seen order) and
//! each row's local ids; the batches are then merged in input order on the
//! calling thread, so global ids are assigned in first-seen order exactly
//! as the CSV readers assign them, while later batches are still being read.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Schema};
use hashbrown::HashMap;

use super::{repeated_field, ColumnTypes, FieldNames, IdType, Input, InputFormat, ReadOptions};
use crate::engine::pack::{AnnotationBuilder, MAX_ID_BYTES};
use crate::error::{Error, Location, Result};
use crate::io::in_order::InOrder;
use crate::io::{Reject, Rejects};

/// Packs Arrow record batches holding the item, worker and label columns
/// (named by `options.fields`, compared case-insensitively; other columns
/// are ignored) into the engine's annotations, as the file readers do.
///
/// Each column may be utf8, large_utf8 or utf8_view, a dictionary (any
/// integer key) of those or of integers, or any integer type (int8 to
/// uint64; ids are their decimal text, so `7` and the CSV's `7` are one
/// item). A null item or worker is an error; a null label is an error, or
/// with `options.skip_invalid` a record in [`Input::rejects`], like an empty
/// id or a label outside `options.categories`. `name` names the source in
/// messages, which locate rows as `record batch N, row R` (both 0-based).
/// `options.format` is ignored; the result's format is
/// [`InputFormat::Arrow`].
pub fn read_batches(
    name: &Path,
    batches: impl IntoIterator<Item = RecordBatch>,
    options: &ReadOptions,
) -> Result<Input> {
    let mut batches = batches.into_iter().peekable();
    let Some(first) = batches.peek() else {
        return Err(no_annotation(name));
    };
    let schema = first.schema();
    let mut input = pack(
        name,
        &schema,
        batches.map(Ok),
        &Parts::Batches,
        options,
        &|_| {},
    )?;
    input.format = Some(InputFormat::Arrow);
    Ok(input)
}

/// How rows are located in messages.
pub(super) enum Parts {
    /// `record batch N, row R`: each batch counts as one part.
    Batches,
    /// `row group G, row R`, from the first row of each row group.
    RowGroups {
        /// Each row group's first row.
        starts: Vec<u64>,
        /// Rows in all.
        rows: u64,
    },
}

impl Parts {
    /// Where row `row` of batch `batch` (whose first row is the input's
    /// `first`-th) is.
    pub(super) fn locate(&self, batch: usize, first: u64, row: usize) -> Location {
        match self {
            Parts::Batches => Location::Row {
                part: "record batch",
                index: batch,
                row: row as u64,
            },
            Parts::RowGroups { starts, .. } => {
                let global = first + row as u64;
                let group = starts.partition_point(|&s| s <= global).saturating_sub(1);
                Location::Row {
                    part: "row group",
                    index: group,
                    row: global - starts.get(group).copied().unwrap_or(0),
                }
            }
        }
    }
}

/// The error of an input with no annotation, as the other readers give it.
pub(super) fn no_annotation(name: &Path) -> Error {
    Error::BadInput {
        path: name.into(),
        location: Location::File,
        problem: "holds no annotation, so there is no label set: pass `categories` to write an empty result".into(),
    }
}

/// What the three fields are called, for messages.
const FIELDS: [&str; 3] = ["item", "worker", "label"];

/// The id type a column of `data_type` gives back in columnar outputs, or
/// `None` if accord cannot read it.
fn id_type(data_type: &DataType) -> Option<IdType> {
    Some(match data_type {
        DataType::Utf8 => IdType::Utf8,
        DataType::LargeUtf8 => IdType::LargeUtf8,
        DataType::Utf8View => IdType::Utf8View,
        DataType::Int8 => IdType::Int8,
        DataType::Int16 => IdType::Int16,
        DataType::Int32 => IdType::Int32,
        DataType::Int64 => IdType::Int64,
        DataType::UInt8 => IdType::UInt8,
        DataType::UInt16 => IdType::UInt16,
        DataType::UInt32 => IdType::UInt32,
        DataType::UInt64 => IdType::UInt64,
        // A dictionary's ids come back in its values' type.
        DataType::Dictionary(key, value)
            if key.is_integer() && !matches!(**value, DataType::Dictionary(..)) =>
        {
            id_type(value)?
        }
        _ => return None,
    })
}

/// The positions of the item, worker and label columns in `schema` and
/// their id types; an error naming what is missing or unreadable.
pub(super) fn find_columns(
    name: &Path,
    schema: &Schema,
    fields: &FieldNames,
) -> Result<([usize; 3], ColumnTypes)> {
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().to_ascii_lowercase())
        .collect();
    let bad = |problem: String| Error::BadInput {
        path: name.into(),
        location: Location::File,
        problem,
    };
    let Some(positions) = fields.positions(&names) else {
        let found: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return Err(bad(format!(
            "expected columns named {}; found {found:?}; name other columns with `columns` (e.g. item=image_id,worker=annotator,label=answer)",
            fields.describe()
        )));
    };
    if let Some(repeated) = repeated_field(&names, fields) {
        return Err(bad(format!(
            "the schema names {repeated:?} in more than one column: which one holds it?"
        )));
    }
    let mut types = [IdType::Utf8; 3];
    for (k, &p) in positions.iter().enumerate() {
        let field = &schema.fields()[p];
        types[k] = id_type(field.data_type()).ok_or_else(|| {
            bad(format!(
                "column {:?} ({}) is of type {}; accord reads utf8, large_utf8, utf8_view, integers (int8 to uint64) and dictionaries of those",
                field.name(),
                FIELDS[k],
                field.data_type()
            ))
        })?;
    }
    Ok((
        positions,
        ColumnTypes {
            item: types[0],
            worker: types[1],
            label: types[2],
        },
    ))
}

/// A column's values: the column itself, or a dictionary's values.
#[derive(Clone, Copy)]
enum Plain<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
}

/// One value: text, or an integer (every integer type fits an `i128`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Name<'a> {
    Str(&'a str),
    Int(i128),
}

/// A value as a batch's lookup key: an integer, or text of at most 15
/// bytes with its length in the top byte, packed into a `u128` (so a
/// lookup hashes one word and compares no bytes); longer text by reference.
/// A column holds integers or text, never both, so packed keys of the two
/// never meet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key<'a> {
    Packed(u128),
    Long(&'a str),
}

impl<'a> Name<'a> {
    #[inline(always)]
    fn key(self) -> Key<'a> {
        match self {
            Name::Int(v) => Key::Packed(v as u128),
            Name::Str(s) if s.len() <= 15 => {
                let mut word = [0u8; 16];
                word[..s.len()].copy_from_slice(s.as_bytes());
                word[15] = s.len() as u8;
                Key::Packed(u128::from_le_bytes(word))
            }
            Name::Str(s) => Key::Long(s),
        }
    }
}

/// Local ids by key.
#[derive(Default)]
struct Keys<'a> {
    packed: HashMap<u128, u32>,
    long: HashMap<&'a str, u32>,
}

impl<'a> Keys<'a> {
    #[inline(always)]
    fn get(&self, key: Key<'a>) -> Option<u32> {
        match key {
            Key::Packed(word) => self.packed.get(&word).copied(),
            Key::Long(s) => self.long.get(s).copied(),
        }
    }

    fn insert(&mut self, key: Key<'a>, id: u32) {
        match key {
            Key::Packed(word) => self.packed.insert(word, id),
            Key::Long(s) => self.long.insert(s, id),
        };
    }
}

impl<'a> Plain<'a> {
    /// `array` seen as plain values; `None` for a type [`id_type`] refuses
    /// or a dictionary.
    fn of(array: &'a dyn Array) -> Option<Plain<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => Plain::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Plain::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => Plain::View(array.as_string_view()),
            DataType::Int8 => Plain::I8(array.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Plain::I16(array.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Plain::I32(array.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Plain::I64(array.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => Plain::U8(array.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => Plain::U16(array.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => Plain::U32(array.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => Plain::U64(array.as_primitive::<UInt64Type>().values()),
            _ => return None,
        })
    }

    /// Value `i` (not null).
    #[inline(always)]
    fn name(&self, i: usize) -> Name<'a> {
        match *self {
            Plain::Utf8(a) => Name::Str(a.value(i)),
            Plain::LargeUtf8(a) => Name::Str(a.value(i)),
            Plain::View(a) => Name::Str(a.value(i)),
            Plain::I8(v) => Name::Int(v[i] as i128),
            Plain::I16(v) => Name::Int(v[i] as i128),
            Plain::I32(v) => Name::Int(v[i] as i128),
            Plain::I64(v) => Name::Int(v[i] as i128),
            Plain::U8(v) => Name::Int(v[i] as i128),
            Plain::U16(v) => Name::Int(v[i] as i128),
            Plain::U32(v) => Name::Int(v[i] as i128),
            Plain::U64(v) => Name::Int(v[i] as i128),
        }
    }
}

/// A column of one batch: where its values are and which rows are null.
struct Column<'a> {
    values: Plain<'a>,
    /// A dictionary's keys, as indices into `values`.
    keys: Option<Vec<usize>>,
    /// Null rows (for a dictionary, null keys and keys of null values).
    nulls: Option<NullBuffer>,
}

impl<'a> Column<'a> {
    fn of(array: &'a ArrayRef) -> Column<'a> {
        let (values, keys) = match array.as_any_dictionary_opt() {
            Some(dictionary) => (
                Plain::of(dictionary.values().as_ref()),
                Some(dictionary.normalized_keys()),
            ),
            None => (Plain::of(array.as_ref()), None),
        };
        Column {
            values: values.expect("types checked against the schema"),
            keys,
            nulls: array.logical_nulls(),
        }
    }

    /// The index into `values` of row `row`, or `None` if it is null.
    #[inline(always)]
    fn index(&self, row: usize) -> Option<usize> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            return None;
        }
        Some(self.keys.as_ref().map_or(row, |k| k[row]))
    }
}

/// The values array behind a column: itself, or its dictionary's values.
fn values_of(array: &ArrayRef) -> ArrayRef {
    match array.as_any_dictionary_opt() {
        Some(dictionary) => Arc::clone(dictionary.values()),
        None => Arc::clone(array),
    }
}

/// One field's names local to a batch and each kept row's local id.
#[derive(Default)]
struct LocalColumn {
    /// Index into the values array of each local name's first occurrence.
    first: Vec<u32>,
    /// Local id of each kept row.
    ids: Vec<u32>,
}

/// A batch read on the pool, waiting to be merged.
struct LocalBatch {
    /// The values arrays the local names index (item, worker, label).
    values: [ArrayRef; 3],
    columns: [LocalColumn; 3],
    rejects: Vec<Reject>,
}

/// `name` as the text ids are interned under: integers in decimal.
fn text<'a>(name: Name<'a>, buffer: &'a mut String) -> &'a str {
    match name {
        Name::Str(s) => s,
        Name::Int(v) => {
            use std::fmt::Write;
            buffer.clear();
            write!(buffer, "{v}").expect("writing to a String");
            buffer
        }
    }
}

/// What is wrong with `name` as a `what` id, if anything.
fn check(what: &str, name: Name) -> Option<String> {
    let Name::Str(s) = name else { return None };
    if s.is_empty() {
        Some(format!("empty {what} id"))
    } else if s.len() > MAX_ID_BYTES {
        Some(format!(
            "{what} id is {} bytes long; at most {MAX_ID_BYTES} are accepted",
            s.len()
        ))
    } else {
        None
    }
}

/// What the packing of batches needs to know, shared by the pool's tasks.
struct Context<'a> {
    name: &'a Path,
    fields: &'a FieldNames,
    first_schema: &'a Schema,
    /// The fixed label set, if any: a label outside it is a bad record.
    categories: Option<&'a [String]>,
    skip_invalid: bool,
    parts: &'a Parts,
}

impl Context<'_> {
    /// The three columns of `batch`, checked to have the first batch's types.
    fn columns(&self, batch: &RecordBatch, index: usize) -> Result<[ArrayRef; 3]> {
        let schema = batch.schema();
        let (positions, _) = find_columns(self.name, &schema, self.fields)?;
        let (first_positions, _) = find_columns(self.name, self.first_schema, self.fields)?;
        for k in 0..3 {
            let now = schema.field(positions[k]).data_type();
            let before = self.first_schema.field(first_positions[k]).data_type();
            if now != before {
                return Err(Error::BadInput {
                    path: self.name.into(),
                    location: Location::File,
                    problem: format!(
                        "record batch {index} has a {} column of type {now}, the first batch one of type {before}",
                        FIELDS[k]
                    ),
                });
            }
        }
        Ok(positions.map(|p| Arc::clone(batch.column(p))))
    }

    /// What is wrong with `name` as field `k`'s value, if anything: an
    /// empty or overlong id, or a label outside the categories.
    fn problem(&self, k: usize, name: Name) -> Option<String> {
        if let Some(problem) = check(FIELDS[k], name) {
            return Some(problem);
        }
        let categories = self.categories.filter(|_| k == 2)?;
        let mut buffer = String::new();
        let label = text(name, &mut buffer);
        (!categories.iter().any(|c| c == label)).then(|| {
            format!(
                "label {label:?} is not one of `categories` ({})",
                categories.join(",")
            )
        })
    }

    /// Reads one batch into local names; `first` is the input's row number
    /// of its first row. Bad rows are an error, or rejects when skipping
    /// (a null item or worker is always an error).
    fn local(&self, batch: &RecordBatch, index: usize, first: u64) -> Result<LocalBatch> {
        let arrays = self.columns(batch, index)?;
        let columns: Vec<Column> = arrays.iter().map(Column::of).collect();
        let n = batch.num_rows();
        let mut out = LocalBatch {
            values: [0, 1, 2].map(|k| values_of(&arrays[k])),
            columns: Default::default(),
            rejects: Vec::new(),
        };
        for c in &mut out.columns {
            c.ids.reserve(n);
        }
        // Local ids by value index (dictionaries) or by value (plain
        // columns), plus the last plain value, since rows usually come
        // grouped by item.
        let mut by_index: [Vec<u32>; 3] = [0, 1, 2].map(|k| match &columns[k].keys {
            Some(_) => vec![u32::MAX; out.values[k].len()],
            None => Vec::new(),
        });
        let mut by_key: [Keys; 3] = Default::default();
        let mut last: [Option<(Key, u32)>; 3] = [None; 3];
        let mut rejects = Rejects::new(self.skip_invalid);
        // Each field's value index and local id (`None`: new to the batch);
        // a row's new names are registered only once all three are good,
        // so that a rejected row adds no name (as in the CSV readers).
        let mut found: [(usize, Option<Key>, Option<u32>); 3] = [(0, None, None); 3];
        'rows: for row in 0..n {
            for k in 0..3 {
                let column = &columns[k];
                let bad = |problem: String| Error::BadInput {
                    path: self.name.into(),
                    location: self.parts.locate(index, first, row),
                    problem,
                };
                let Some(value) = column.index(row) else {
                    if k < 2 {
                        return Err(bad(format!(
                            "null {} id (a null item or worker is never skipped: the row cannot be placed)",
                            FIELDS[k]
                        )));
                    }
                    rejects.bad(bad("null label".into()), &record(&columns, row))?;
                    continue 'rows;
                };
                let (key, known) = if column.keys.is_some() {
                    (None, Some(by_index[k][value]).filter(|&id| id != u32::MAX))
                } else {
                    let key = column.values.name(value).key();
                    let known = match last[k] {
                        Some((previous, id)) if previous == key => Some(id),
                        _ => by_key[k].get(key),
                    };
                    (Some(key), known)
                };
                if known.is_none() {
                    // First sight in this batch: check the value once.
                    if let Some(problem) = self.problem(k, column.values.name(value)) {
                        rejects.bad(bad(problem), &record(&columns, row))?;
                        continue 'rows;
                    }
                }
                found[k] = (value, key, known);
            }
            for (k, &(value, key, known)) in found.iter().enumerate() {
                let local = &mut out.columns[k];
                let id = match known {
                    Some(id) => id,
                    None => {
                        let id = local.first.len() as u32;
                        local.first.push(value as u32);
                        match key {
                            Some(key) => by_key[k].insert(key, id),
                            None => by_index[k][value] = id,
                        }
                        id
                    }
                };
                if let Some(key) = key {
                    last[k] = Some((key, id));
                }
                local.ids.push(id);
            }
        }
        out.rejects = rejects.records;
        Ok(out)
    }
}

/// Row `row` as text for the rejects file: `item,worker,label`, a null as
/// nothing.
fn record(columns: &[Column], row: usize) -> Vec<u8> {
    let mut buffer = String::new();
    let fields: Vec<String> = columns
        .iter()
        .map(|c| {
            c.index(row).map_or(String::new(), |v| {
                text(c.values.name(v), &mut buffer).to_owned()
            })
        })
        .collect();
    fields.join(",").into_bytes()
}

/// Interns a batch's local names in their order and appends its rows. A
/// label past the most one run holds is an error naming the file.
fn merge(
    name: &Path,
    local: LocalBatch,
    builder: &mut AnnotationBuilder,
    rejects: &mut Vec<Reject>,
) -> Result<()> {
    let mut buffer = String::new();
    let values: Vec<Plain> = local
        .values
        .iter()
        .map(|v| Plain::of(v.as_ref()).expect("types checked"))
        .collect();
    // Room for the batch's names and rows, so that the interners' arenas
    // grow by what they need rather than by doubling.
    let size = |k: usize| -> (usize, usize) {
        let first = &local.columns[k].first;
        let mut buffer = String::new();
        let bytes = first
            .iter()
            .map(|&v| text(values[k].name(v as usize), &mut buffer).len())
            .sum();
        (first.len(), bytes)
    };
    builder.reserve(size(0), size(1), local.columns[0].ids.len());
    let mut global: [Vec<u32>; 3] = Default::default();
    for k in 0..3 {
        let values = values[k];
        let first = &local.columns[k].first;
        global[k] = first
            .iter()
            .map(|&v| {
                let id = text(values.name(v as usize), &mut buffer);
                match k {
                    0 => Ok(builder.intern_item(id)),
                    1 => Ok(builder.intern_worker(id)),
                    // Labels outside fixed categories were rejected in the
                    // batch; this is the class limit.
                    _ => builder.intern_label(id).map_err(|problem| Error::BadInput {
                        path: name.into(),
                        location: crate::error::Location::File,
                        problem,
                    }),
                }
            })
            .collect::<Result<_>>()?;
    }
    let [items, workers, labels] = &global;
    let [item, worker, label] = &local.columns;
    builder.extend_ids(
        item.ids.iter().map(|&l| items[l as usize]),
        worker.ids.iter().map(|&l| workers[l as usize]),
        label.ids.iter().map(|&l| labels[l as usize]),
    );
    rejects.extend(local.rejects);
    Ok(())
}

/// Batches read at once on the pool, beyond which the caller's iterator
/// waits: bounds the memory held by batches not yet merged.
fn batches_in_flight() -> usize {
    rayon::current_num_threads() * 2 + 1
}

/// Packs `batches` (whose columns `schema`, the first batch's, names) into
/// an [`Input`]; `progress` receives the rows read so far.
pub(super) fn pack(
    name: &Path,
    schema: &Schema,
    batches: impl Iterator<Item = Result<RecordBatch>>,
    parts: &Parts,
    options: &ReadOptions,
    progress: &dyn Fn(u64),
) -> Result<Input> {
    let (_, types) = find_columns(name, schema, &options.fields)?;
    let mut builder = match &options.categories {
        Some(c) => AnnotationBuilder::with_categories(c)?,
        None => AnnotationBuilder::new(),
    };
    // A Parquet file says how many rows it holds: the id arrays are sized
    // once, exactly, instead of doubling (which can leave them nearly
    // twice too large).
    if let Parts::RowGroups { rows, .. } = parts {
        let rows = usize::try_from(*rows)
            .unwrap_or(usize::MAX)
            .min(u32::MAX as usize);
        builder.reserve((0, 0), (0, 0), rows);
    }
    let context = Context {
        name,
        fields: &options.fields,
        first_schema: schema,
        categories: options.categories.as_deref(),
        skip_invalid: options.skip_invalid,
        parts,
    };
    let mut rejects = Vec::new();
    let limit = batches_in_flight();
    rayon::in_place_scope(|scope| -> Result<()> {
        let mut parsed = InOrder::new();
        let (mut sent, mut merged) = (0usize, 0usize);
        let mut rows = 0u64;
        // Merges what is ready, in order; waits for the next batch while
        // more than `keep` are in flight.
        let mut settle =
            |parsed: &mut InOrder<_>, keep: usize, sent: usize, merged: &mut usize| -> Result<()> {
                while *merged < sent {
                    let ready = if sent - *merged > keep {
                        parsed.take(*merged)
                    } else {
                        match parsed.try_take(*merged) {
                            Some(batch) => batch,
                            None => return Ok(()),
                        }
                    };
                    merge(name, ready?, &mut builder, &mut rejects)?;
                    *merged += 1;
                }
                Ok(())
            };
        for batch in batches {
            let batch = batch?;
            let first = rows;
            rows += batch.num_rows() as u64;
            let (sender, context, index) = (parsed.sender(), &context, sent);
            scope.spawn(move |_| sender.run(index, || context.local(&batch, index, first)));
            sent += 1;
            settle(&mut parsed, limit, sent, &mut merged)?;
            progress(rows);
        }
        settle(&mut parsed, 0, sent, &mut merged)
    })?;
    if builder.is_empty() && options.categories.is_none() {
        return Err(no_annotation(name));
    }
    Ok(Input {
        annotations: builder.finish(),
        rejects,
        column_types: Some(types),
        ..Default::default()
    })
}
