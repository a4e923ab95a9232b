//! Labels and the worker report as Parquet (feature `arrow`): the columns
//! of the CSV outputs, with ids in the type the input gave them.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder};
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    ArrayRef, LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::round6;
use crate::classification::read::IdType;
use crate::classification::Consolidation;
use crate::engine::pack::Packed;

/// Rows per record batch and per row group.
const ROWS_PER_GROUP: usize = 1 << 20;

/// The Arrow type of `ty`.
fn data_type(ty: IdType) -> DataType {
    match ty {
        IdType::Utf8 => DataType::Utf8,
        IdType::LargeUtf8 => DataType::LargeUtf8,
        IdType::Utf8View => DataType::Utf8View,
        IdType::Int8 => DataType::Int8,
        IdType::Int16 => DataType::Int16,
        IdType::Int32 => DataType::Int32,
        IdType::Int64 => DataType::Int64,
        IdType::UInt8 => DataType::UInt8,
        IdType::UInt16 => DataType::UInt16,
        IdType::UInt32 => DataType::UInt32,
        IdType::UInt64 => DataType::UInt64,
    }
}

/// Ids as an array of `ty`; `None` for a name that is no `ty` value (an
/// integer type whose names are not all integers in its range).
fn id_array<'a>(ty: IdType, names: impl Iterator<Item = Option<&'a str>>) -> Option<ArrayRef> {
    fn ints<'a, T: arrow_array::ArrowPrimitiveType>(
        names: impl Iterator<Item = Option<&'a str>>,
    ) -> Option<ArrayRef>
    where
        T::Native: std::str::FromStr,
    {
        let values: Option<Vec<Option<T::Native>>> = names
            .map(|n| {
                n.map(|n| n.parse::<T::Native>().ok())
                    .map_or(Some(None), |v| v.map(Some))
            })
            .collect();
        Some(Arc::new(values?.into_iter().collect::<PrimitiveArray<T>>()))
    }
    Some(match ty {
        IdType::Utf8 => Arc::new(names.collect::<StringArray>()),
        IdType::LargeUtf8 => Arc::new(names.collect::<LargeStringArray>()),
        IdType::Utf8View => Arc::new(names.collect::<StringViewArray>()),
        IdType::Int8 => ints::<Int8Type>(names)?,
        IdType::Int16 => ints::<Int16Type>(names)?,
        IdType::Int32 => ints::<Int32Type>(names)?,
        IdType::Int64 => ints::<Int64Type>(names)?,
        IdType::UInt8 => ints::<UInt8Type>(names)?,
        IdType::UInt16 => ints::<UInt16Type>(names)?,
        IdType::UInt32 => ints::<UInt32Type>(names)?,
        IdType::UInt64 => ints::<UInt64Type>(names)?,
    })
}

/// `ty` if every name is a `ty` value, else utf8: an integer input whose
/// ids were joined by names that are not integers (`categories`, Ground
/// Truth objects) is written as text rather than lose them.
fn usable<'a>(ty: Option<IdType>, names: impl Iterator<Item = &'a str>) -> IdType {
    let ty = ty.unwrap_or(IdType::Utf8);
    let parses = |name: &str| -> bool {
        match ty {
            IdType::Utf8 | IdType::LargeUtf8 | IdType::Utf8View => true,
            IdType::Int8 => name.parse::<i8>().is_ok(),
            IdType::Int16 => name.parse::<i16>().is_ok(),
            IdType::Int32 => name.parse::<i32>().is_ok(),
            IdType::Int64 => name.parse::<i64>().is_ok(),
            IdType::UInt8 => name.parse::<u8>().is_ok(),
            IdType::UInt16 => name.parse::<u16>().is_ok(),
            IdType::UInt32 => name.parse::<u32>().is_ok(),
            IdType::UInt64 => name.parse::<u64>().is_ok(),
        }
    };
    let mut names = names;
    if names.all(parses) {
        ty
    } else {
        IdType::Utf8
    }
}

/// Writes batches to `out` as one Parquet file. The Parquet writer needs an
/// owned `Send` writer: it writes into a buffer, which is emptied into
/// `out` after each row group. Only bytes the writer has already counted
/// are moved, so its offsets stay right.
struct Sink<'o> {
    writer: ArrowWriter<Vec<u8>>,
    out: &'o mut dyn Write,
}

impl<'o> Sink<'o> {
    fn new(out: &'o mut dyn Write, schema: Arc<Schema>) -> std::io::Result<Self> {
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties))
            .map_err(std::io::Error::other)?;
        Ok(Sink { writer, out })
    }

    fn write(&mut self, batch: &RecordBatch) -> std::io::Result<()> {
        self.writer.write(batch).map_err(std::io::Error::other)?;
        self.writer.flush().map_err(std::io::Error::other)?;
        let buffer = self.writer.inner_mut();
        self.out.write_all(buffer)?;
        buffer.clear();
        Ok(())
    }

    fn finish(self) -> std::io::Result<()> {
        let rest = self.writer.into_inner().map_err(std::io::Error::other)?;
        self.out.write_all(&rest)
    }
}

/// Probabilities rounded as in the CSV output; null where `keep` is false.
fn probabilities(values: impl Iterator<Item = (f32, bool)>) -> ArrayRef {
    let mut builder = Float64Builder::new();
    for (p, keep) in values {
        builder.append_option(keep.then(|| round6(p)));
    }
    Arc::new(builder.finish())
}

/// The labels as Parquet: `item` (in `item_type` when every item id is
/// one, else utf8), `label` (likewise in `label_type`; null for an item
/// nobody annotated), `confidence` (float64, rounded to 6 decimals as in
/// the CSV; null likewise), and with `posteriors` one float64 column
/// `p_<class>` per class.
pub fn write_labels(
    out: &mut dyn Write,
    data: &Packed,
    fit: &Consolidation,
    posteriors: bool,
    item_type: Option<IdType>,
    label_type: Option<IdType>,
) -> std::io::Result<()> {
    let item_type = usable(item_type, data.item_names.iter());
    let label_type = usable(label_type, data.class_names.iter().map(String::as_str));
    let mut fields = vec![
        Field::new("item", data_type(item_type), false),
        Field::new("label", data_type(label_type), true),
        Field::new("confidence", DataType::Float64, true),
    ];
    if posteriors {
        fields.extend(
            data.class_names
                .iter()
                .map(|c| Field::new(format!("p_{c}"), DataType::Float64, false)),
        );
    }
    let schema = Arc::new(Schema::new(fields));
    let mut sink = Sink::new(out, Arc::clone(&schema))?;
    let annotated = |item: usize| !data.item_range(item).is_empty();
    for start in (0..data.n_items()).step_by(ROWS_PER_GROUP) {
        let rows = start..(start + ROWS_PER_GROUP).min(data.n_items());
        let mut columns = vec![
            id_array(item_type, rows.clone().map(|i| Some(&data.item_names[i])))
                .expect("checked by `usable`"),
            id_array(
                label_type,
                rows.clone().map(|i| {
                    annotated(i).then(|| data.class_names[fit.labels[i] as usize].as_str())
                }),
            )
            .expect("checked by `usable`"),
            probabilities(rows.clone().map(|i| (fit.confidence[i], annotated(i)))),
        ];
        if posteriors {
            for class in 0..data.n_classes() {
                columns.push(probabilities(
                    rows.clone().map(|i| (fit.posteriors[[i, class]], true)),
                ));
            }
        }
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), columns).map_err(std::io::Error::other)?;
        sink.write(&batch)?;
    }
    sink.finish()
}

/// The worker report as Parquet: `worker` (in `worker_type` when every
/// worker id is one, else utf8), `annotations` (int64), `accuracy` and one
/// `c_<true>_<given>` column per confusion cell and `spammer_score`
/// (float64, rounded to 6 decimals), as in the CSV report.
pub fn write_workers(
    out: &mut dyn Write,
    data: &Packed,
    fit: &Consolidation,
    worker_type: Option<IdType>,
) -> std::io::Result<()> {
    let worker_type = usable(worker_type, data.worker_names.iter());
    let mut fields = vec![
        Field::new("worker", data_type(worker_type), false),
        Field::new("annotations", DataType::Int64, false),
        Field::new("accuracy", DataType::Float64, false),
    ];
    for t in &data.class_names {
        for l in &data.class_names {
            fields.push(Field::new(format!("c_{t}_{l}"), DataType::Float64, false));
        }
    }
    fields.push(Field::new("spammer_score", DataType::Float64, false));
    let scores = crate::classification::spammer::spammer_scores(fit);
    let schema = Arc::new(Schema::new(fields));
    let mut sink = Sink::new(out, Arc::clone(&schema))?;
    let k = data.n_classes();
    for start in (0..data.n_workers()).step_by(ROWS_PER_GROUP) {
        let rows = start..(start + ROWS_PER_GROUP).min(data.n_workers());
        let mut annotations = Int64Builder::new();
        for w in rows.clone() {
            annotations.append_value(data.worker_range(w).len() as i64);
        }
        let mut columns = vec![
            id_array(
                worker_type,
                rows.clone().map(|w| Some(&data.worker_names[w])),
            )
            .expect("checked by `usable`"),
            Arc::new(annotations.finish()) as ArrayRef,
            probabilities(rows.clone().map(|w| (fit.worker_accuracy[w], true))),
        ];
        for t in 0..k {
            for l in 0..k {
                columns.push(probabilities(
                    rows.clone().map(|w| (fit.confusion[[w, t, l]], true)),
                ));
            }
        }
        columns.push(probabilities(rows.clone().map(|w| (scores[w], true))));
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), columns).map_err(std::io::Error::other)?;
        sink.write(&batch)?;
    }
    sink.finish()
}
