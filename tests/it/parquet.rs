//! Parquet and Arrow IPC input and output: every id type gives the CSV
//! path's labels exactly; nulls, truncated files and wrong schemas are
//! clear errors with nothing written.

use std::path::Path;
use std::sync::Arc;

use accord::classification::read::arrow::read_batches;
use accord::classification::read::{FieldNames, IdType, InputFormat, ReadOptions};
use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float64Array, LargeStringArray, PrimitiveArray, RecordBatch,
    RecordBatchReader, StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use crate::support::{accord, accord_bad_input, accord_ok, csv_rows, file, tmp};

/// A small crowd: 100 items, 7 workers, 3 classes, 5 answers per item,
/// workers right about three times in four (a fixed LCG, so every run has
/// the same table). Values are small numbers that each type scales.
fn table() -> Vec<[u64; 3]> {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    let mut rows = Vec::new();
    for item in 1..=100u64 {
        let truth = item % 3;
        let first = next() % 7;
        for k in 0..5 {
            let worker = (first + k) % 7;
            let label = if next() % 4 == 0 { next() % 3 } else { truth };
            rows.push([item, worker, label]);
        }
    }
    rows
}

/// The id types exercised, by name.
const TYPES: [&str; 14] = [
    "utf8",
    "large_utf8",
    "utf8_view",
    "dict_int32_utf8",
    "dict_uint8_large_utf8",
    "dict_int16_int64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
];

/// Value `v` as type `ty` holds it, in decimal text (what the CSV holds):
/// each integer type shifts or scales `v` toward its range's edges
/// (int8 goes negative, uint64 beyond int64).
fn scaled(ty: &str, v: u64) -> String {
    match ty {
        "int8" => (v as i64 - 64).to_string(),
        "int16" => (v as i64 * 300 - 15_000).to_string(),
        "int32" => (v as i64 * 20_000_000).to_string(),
        "int64" | "dict_int16_int64" => {
            (v as i64 * 90_000_000_000_000_000 - 4_000_000_000_000_000_000).to_string()
        }
        "uint8" => (v + 150).to_string(),
        "uint16" => (v * 600).to_string(),
        "uint32" => (v * 40_000_000).to_string(),
        "uint64" => (v * 180_000_000_000_000_000).to_string(),
        _ => format!("id-{v}"),
    }
}

/// A column of type `ty` from decimal text (`None`: null).
fn column(ty: &str, values: &[Option<String>]) -> ArrayRef {
    fn ints<T: arrow_array::ArrowPrimitiveType>(values: &[Option<String>]) -> ArrayRef
    where
        T::Native: std::str::FromStr,
        <T::Native as std::str::FromStr>::Err: std::fmt::Debug,
    {
        Arc::new(
            values
                .iter()
                .map(|v| v.as_ref().map(|v| v.parse::<T::Native>().unwrap()))
                .collect::<PrimitiveArray<T>>(),
        )
    }
    let strs = || values.iter().map(|v| v.as_deref());
    match ty {
        "utf8" => Arc::new(strs().collect::<StringArray>()),
        "large_utf8" => Arc::new(strs().collect::<LargeStringArray>()),
        "utf8_view" => Arc::new(strs().collect::<StringViewArray>()),
        "dict_int32_utf8" => Arc::new(strs().collect::<DictionaryArray<Int32Type>>()),
        "dict_uint8_large_utf8" => {
            let mut b = StringDictionaryBuilder::<UInt8Type>::new();
            for v in strs() {
                b.append_option(v);
            }
            let dict = b.finish();
            // Large strings as values, so both string widths are covered.
            let values = LargeStringArray::from_iter(dict.values().as_string::<i32>().iter());
            Arc::new(DictionaryArray::new(dict.keys().clone(), Arc::new(values)))
        }
        "dict_int16_int64" => {
            // Distinct values, then keys into them.
            let mut distinct: Vec<&String> = Vec::new();
            let keys: Vec<Option<i16>> = values
                .iter()
                .map(|v| {
                    v.as_ref()
                        .map(|v| match distinct.iter().position(|d| *d == v) {
                            Some(p) => p as i16,
                            None => {
                                distinct.push(v);
                                distinct.len() as i16 - 1
                            }
                        })
                })
                .collect();
            let values: PrimitiveArray<Int64Type> =
                distinct.iter().map(|d| d.parse::<i64>().unwrap()).collect();
            Arc::new(DictionaryArray::new(
                PrimitiveArray::<Int16Type>::from(keys),
                Arc::new(values),
            ))
        }
        "int8" => ints::<Int8Type>(values),
        "int16" => ints::<Int16Type>(values),
        "int32" => ints::<Int32Type>(values),
        "int64" => ints::<Int64Type>(values),
        "uint8" => ints::<UInt8Type>(values),
        "uint16" => ints::<UInt16Type>(values),
        "uint32" => ints::<UInt32Type>(values),
        "uint64" => ints::<UInt64Type>(values),
        other => panic!("no type {other}"),
    }
}

/// `rows` as a record batch with columns `names`, each of type `types[k]`
/// (values scaled per type; `None` cells are null).
fn batch(names: [&str; 3], types: [&str; 3], rows: &[[Option<u64>; 3]]) -> RecordBatch {
    let columns: Vec<ArrayRef> = (0..3)
        .map(|k| {
            let values: Vec<Option<String>> = rows
                .iter()
                .map(|r| r[k].map(|v| scaled(types[k], v)))
                .collect();
            column(types[k], &values)
        })
        .collect();
    let fields: Vec<Field> = (0..3)
        .map(|k| Field::new(names[k], columns[k].data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// The same rows as CSV text under the header `names`.
fn csv_text(names: [&str; 3], types: [&str; 3], rows: &[[Option<u64>; 3]]) -> String {
    let mut text = names.join(",") + "\n";
    for r in rows {
        let cells: Vec<String> = (0..3)
            .map(|k| r[k].map_or(String::new(), |v| scaled(types[k], v)))
            .collect();
        text += &cells.join(",");
        text += "\n";
    }
    text
}

fn all_rows() -> Vec<[Option<u64>; 3]> {
    table().into_iter().map(|r| r.map(Some)).collect()
}

/// Writes `batch` as Parquet with row groups of `group_rows` rows.
fn write_parquet(path: &Path, batch: &RecordBatch, group_rows: usize) {
    write_parquet_with(path, batch, group_rows, true)
}

/// Writes `batch` as Parquet, its pages dictionary-encoded or plain.
fn write_parquet_with(path: &Path, batch: &RecordBatch, group_rows: usize, dictionary: bool) {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .set_dictionary_enabled(dictionary)
        .build();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        Some(properties),
    )
    .unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Writes `batch` as an Arrow IPC file in batches of `batch_rows` rows.
fn write_ipc(path: &Path, batch: &RecordBatch, batch_rows: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow_ipc::writer::FileWriter::try_new(file, &batch.schema()).unwrap();
    for start in (0..batch.num_rows()).step_by(batch_rows) {
        let len = batch_rows.min(batch.num_rows() - start);
        writer.write(&batch.slice(start, len)).unwrap();
    }
    writer.finish().unwrap();
}

/// The schema and batches of the Parquet file at `path`.
fn read_parquet(path: &Path) -> (arrow_schema::SchemaRef, Vec<RecordBatch>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let schema = reader.schema();
    (schema, reader.map(Result::unwrap).collect())
}

/// Cell `row` of `array` as the CSV output would print it ("" for null).
fn text_at(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => array.as_string_view().value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float64 => array
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap()
            .value(row)
            .to_string(),
        other => panic!("no text for {other}"),
    }
}

/// The rows of a Parquet output as the CSV output's rows.
fn parquet_rows(path: &Path) -> Vec<Vec<String>> {
    let (_, batches) = read_parquet(path);
    batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .map(move |r| b.columns().iter().map(|c| text_at(c.as_ref(), r)).collect())
        })
        .collect()
}

/// The type the output's item column should have for input type `ty`.
fn output_type(ty: &str) -> DataType {
    match ty {
        "utf8" | "dict_int32_utf8" => DataType::Utf8,
        "large_utf8" | "dict_uint8_large_utf8" => DataType::LargeUtf8,
        "utf8_view" => DataType::Utf8View,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" | "dict_int16_int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        other => panic!("no type {other}"),
    }
}

const NAMES: [&str; 3] = ["item", "worker", "label"];

#[test]
fn every_id_type_in_parquet_and_arrow_gives_the_csv_labels_and_parquet_output_keeps_the_type() {
    let dir = tmp();
    let rows = all_rows();
    for ty in TYPES {
        let types = [ty; 3];
        let csv = file(
            dir.path(),
            &format!("{ty}.csv"),
            csv_text(NAMES, types, &rows),
        );
        let expected = accord_ok(&[
            "consolidate",
            &csv,
            "--backend",
            "cpu",
            "--posteriors",
            "-q",
        ]);
        assert_eq!(csv_rows(&expected).len(), 100, "{ty}: {expected}");
        let b = batch(NAMES, types, &rows);
        let parquet = dir.path().join(format!("{ty}.parquet"));
        write_parquet(&parquet, &b, 64);
        let arrow = dir.path().join(format!("{ty}.arrow"));
        write_ipc(&arrow, &b, 50);
        // Plain pages too: text ids are then read as text, not dictionaries.
        let plain = dir.path().join(format!("{ty}.plain.parquet"));
        write_parquet_with(&plain, &b, 64, false);
        for input in [&parquet, &arrow, &plain] {
            let input = input.to_str().unwrap();
            let got = accord_ok(&[
                "consolidate",
                input,
                "--backend",
                "cpu",
                "--posteriors",
                "-q",
            ]);
            assert_eq!(
                got, expected,
                "{ty}: {input} gives other labels than the CSV"
            );
        }
        // Parquet out: the CSV's cells, the item and label in the input's type.
        let out = dir.path().join(format!("{ty}.out.parquet"));
        accord_ok(&[
            "consolidate",
            parquet.to_str().unwrap(),
            "--backend",
            "cpu",
            "--posteriors",
            "-q",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            parquet_rows(&out),
            csv_rows(&expected),
            "{ty}: Parquet output"
        );
        let (schema, _) = read_parquet(&out);
        assert_eq!(schema.field(0).name(), "item");
        assert_eq!(
            schema.field(0).data_type(),
            &output_type(ty),
            "{ty}: item type"
        );
        assert_eq!(
            schema.field(1).data_type(),
            &output_type(ty),
            "{ty}: label type"
        );
        assert_eq!(schema.field(2).data_type(), &DataType::Float64);
        let p: Vec<&str> = schema.fields()[3..]
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let classes: Vec<String> = (0..3).map(|v| format!("p_{}", scaled(ty, v))).collect();
        assert_eq!(p, classes, "{ty}: one posterior column per class");
    }
}

#[test]
fn mixed_types_renamed_columns_and_extra_columns_read_as_in_csv() {
    let dir = tmp();
    let rows = all_rows();
    let names = ["Image_ID", "annotator", "answer"];
    let types = ["dict_int32_utf8", "uint16", "large_utf8"];
    let mut b = batch(names, types, &rows);
    // An extra column of a type accord does not read is ignored.
    let extra = Float64Array::from_iter_values((0..b.num_rows()).map(|r| r as f64));
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.insert(1, Field::new("score", DataType::Float64, false));
    let mut columns = b.columns().to_vec();
    columns.insert(1, Arc::new(extra));
    b = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    let parquet = dir.path().join("renamed.parquet");
    write_parquet(&parquet, &b, 100);
    let csv = file(dir.path(), "renamed.csv", csv_text(names, types, &rows));
    let spec = "item=image_id,worker=annotator,label=answer";
    let expected = accord_ok(&[
        "consolidate",
        &csv,
        "--columns",
        spec,
        "--backend",
        "cpu",
        "-q",
    ]);
    let got = accord_ok(&[
        "consolidate",
        parquet.to_str().unwrap(),
        "--columns",
        spec,
        "--backend",
        "cpu",
        "-q",
    ]);
    assert_eq!(got, expected);
    // Without --columns the message names the columns found and the flag.
    let err = accord_bad_input(&["consolidate", parquet.to_str().unwrap(), "--backend", "cpu"]);
    assert!(
        err.contains("renamed.parquet") && err.contains("Image_ID"),
        "{err}"
    );
    assert!(err.contains("--columns"), "{err}");
}

#[test]
fn standard_input_reads_parquet_and_arrow_with_format() {
    let dir = tmp();
    let rows = all_rows();
    let types = ["utf8", "int64", "int8"];
    let csv = file(dir.path(), "a.csv", csv_text(NAMES, types, &rows));
    let expected = accord_ok(&["consolidate", &csv, "--backend", "cpu", "-q"]);
    let b = batch(NAMES, types, &rows);
    let parquet = dir.path().join("a.parquet");
    write_parquet(&parquet, &b, 128);
    let arrow = dir.path().join("a.arrow");
    write_ipc(&arrow, &b, 128);
    for (path, format) in [(&parquet, "parquet"), (&arrow, "arrow"), (&parquet, "")] {
        let mut args = vec!["consolidate", "-", "--backend", "cpu", "-q"];
        if !format.is_empty() {
            args.extend(["--format", format]);
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(&args)
            .stdin(std::fs::File::open(path).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            expected,
            "{format:?}"
        );
    }
}

/// The table with cell `column` of input row `at` null.
fn with_null(at: usize, column: usize) -> Vec<[Option<u64>; 3]> {
    let mut rows = all_rows();
    rows[at][column] = None;
    rows
}

#[test]
fn a_null_item_or_worker_is_an_error_naming_the_row_group_and_row_and_nothing_is_written() {
    let dir = tmp();
    for (column, what) in [(0, "item"), (1, "worker")] {
        // Input row 133 is row 5 of row group 2 (groups of 64 rows).
        let b = batch(NAMES, ["utf8", "int32", "utf8"], &with_null(133, column));
        let parquet = dir.path().join(format!("null_{what}.parquet"));
        write_parquet(&parquet, &b, 64);
        let out = dir.path().join("out.csv");
        let workers = dir.path().join("workers.csv");
        for skip in [false, true] {
            let mut args = vec![
                "consolidate",
                parquet.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--workers-out",
                workers.to_str().unwrap(),
            ];
            if skip {
                args.push("--skip-invalid");
            }
            let err = accord_bad_input(&args);
            assert!(
                err.contains(&format!(
                    "null_{what}.parquet: row group 2, row 5: null {what} id"
                )),
                "{err}"
            );
            assert!(!out.exists() && !workers.exists(), "nothing written");
        }
        // Arrow IPC: the batch and its row (batches of 50: row 133 is 2, 33).
        let arrow = dir.path().join(format!("null_{what}.arrow"));
        write_ipc(&arrow, &b, 50);
        let err = accord_bad_input(&[
            "consolidate",
            arrow.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(err.contains("record batch 2, row 33: null"), "{err}");
        assert!(!out.exists());
    }
}

#[test]
fn a_null_label_is_an_error_or_a_reject_under_skip_invalid() {
    let dir = tmp();
    let types = ["dict_int32_utf8", "uint8", "dict_int32_utf8"];
    let b = batch(NAMES, types, &with_null(70, 2));
    let parquet = dir.path().join("null_label.parquet");
    write_parquet(&parquet, &b, 64);
    let out = dir.path().join("out.csv");
    let err = accord_bad_input(&[
        "consolidate",
        parquet.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains("null_label.parquet: row group 1, row 6: null label"),
        "{err}"
    );
    assert!(!out.exists());
    let rejects = dir.path().join("rejects.csv");
    accord_ok(&[
        "consolidate",
        parquet.to_str().unwrap(),
        "--backend",
        "cpu",
        "-q",
        "--skip-invalid",
        "--rejects",
        rejects.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let rejected = std::fs::read_to_string(&rejects).unwrap();
    let row = &all_rows()[70];
    let record = format!(
        "{},{},",
        scaled(types[0], row[0].unwrap()),
        scaled(types[1], row[1].unwrap())
    );
    assert_eq!(
        csv_rows(&rejected),
        vec![vec![
            "row group 1, row 6".to_string(),
            "null label".into(),
            record
        ]]
    );
    // The labels are those of the CSV without that row.
    let mut rows = all_rows();
    rows.remove(70);
    let csv = file(dir.path(), "without.csv", csv_text(NAMES, types, &rows));
    let expected = accord_ok(&["consolidate", &csv, "--backend", "cpu", "-q"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
}

#[test]
fn empty_ids_and_labels_outside_categories_are_rejected_like_the_csv_readers_do() {
    let dir = tmp();
    let mut b = batch(NAMES, ["utf8"; 3], &all_rows());
    // Row 10's item becomes "" (an empty id), row 20's label "x".
    let mut items: Vec<Option<String>> = (0..b.num_rows())
        .map(|r| Some(text_at(b.column(0).as_ref(), r)))
        .collect();
    items[10] = Some(String::new());
    let mut labels: Vec<Option<String>> = (0..b.num_rows())
        .map(|r| Some(text_at(b.column(2).as_ref(), r)))
        .collect();
    labels[20] = Some("x".into());
    b = RecordBatch::try_new(
        b.schema(),
        vec![
            column("utf8", &items),
            Arc::clone(b.column(1)),
            column("utf8", &labels),
        ],
    )
    .unwrap();
    let parquet = dir.path().join("bad_cells.parquet");
    write_parquet(&parquet, &b, 1000);
    let categories = "id-0,id-1,id-2";
    let err = accord_bad_input(&[
        "consolidate",
        parquet.to_str().unwrap(),
        "--categories",
        categories,
    ]);
    assert!(err.contains("row group 0, row 10: empty item id"), "{err}");
    let rejects = dir.path().join("r.csv");
    let out = dir.path().join("o.csv");
    accord_ok(&[
        "consolidate",
        parquet.to_str().unwrap(),
        "--categories",
        categories,
        "--backend",
        "cpu",
        "-q",
        "--skip-invalid",
        "--rejects",
        rejects.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let rejected = csv_rows(&std::fs::read_to_string(&rejects).unwrap());
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(
        rejected[0][..2],
        ["row group 0, row 10".to_string(), "empty item id".into()]
    );
    assert_eq!(rejected[1][0], "row group 0, row 20");
    assert!(
        rejected[1][1].contains("\"x\" is not one of `categories`"),
        "{rejected:?}"
    );
}

#[test]
fn truncated_files_and_wrong_schemas_are_clear_errors_and_nothing_is_written() {
    let dir = tmp();
    let b = batch(NAMES, ["utf8", "utf8", "int32"], &all_rows());
    let parquet = dir.path().join("whole.parquet");
    write_parquet(&parquet, &b, 64);
    let arrow = dir.path().join("whole.arrow");
    write_ipc(&arrow, &b, 50);
    let out = dir.path().join("out.parquet");
    let run = |input: &Path| {
        let err = accord_bad_input(&[
            "consolidate",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(!out.exists(), "nothing written for {}", input.display());
        err
    };
    for (source, name) in [(&parquet, "cut.parquet"), (&arrow, "cut.arrow")] {
        let bytes = std::fs::read(source).unwrap();
        for keep in [bytes.len() / 2, bytes.len() - 3, 7] {
            let cut = dir.path().join(name);
            std::fs::write(&cut, &bytes[..keep]).unwrap();
            let err = run(&cut);
            assert!(
                err.contains(name) && err.contains("cut short"),
                "{keep} bytes: {err}"
            );
        }
    }
    // A missing column.
    let two = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("item", DataType::Utf8, false),
            Field::new("label", DataType::Utf8, false),
        ])),
        vec![Arc::clone(b.column(0)), Arc::clone(b.column(1))],
    )
    .unwrap();
    let missing = dir.path().join("missing.parquet");
    write_parquet(&missing, &two, 64);
    let err = run(&missing);
    assert!(
        err.contains("expected columns named item (or task), worker and label"),
        "{err}"
    );
    // A float label, and a boolean worker: the column, its type, what is read.
    for (k, ty, name) in [
        (2, DataType::Float64, "float_label"),
        (1, DataType::Boolean, "bool_worker"),
    ] {
        let mut columns = b.columns().to_vec();
        columns[k] = arrow_cast_like(&ty, b.num_rows());
        let fields: Vec<Field> = (0..3)
            .map(|j| Field::new(NAMES[j], columns[j].data_type().clone(), false))
            .collect();
        let wrong = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        for (path, write) in [
            (dir.path().join(format!("{name}.parquet")), true),
            (dir.path().join(format!("{name}.arrow")), false),
        ] {
            if write {
                write_parquet(&path, &wrong, 64);
            } else {
                write_ipc(&path, &wrong, 64);
            }
            let err = run(&path);
            assert!(
                err.contains(&format!(
                    "column \"{}\" ({}) is of type {ty}",
                    NAMES[k], NAMES[k]
                )) && err.contains("accord reads utf8"),
                "{err}"
            );
        }
    }
    // Not Parquet at all, though named so.
    let text = dir.path().join("text.parquet");
    std::fs::write(&text, "item,worker,label\n1,2,3\n").unwrap();
    let err = run(&text);
    assert!(err.contains("cannot be read as Parquet"), "{err}");
}

/// A column of `ty` (float64 or boolean) with `n` values.
fn arrow_cast_like(ty: &DataType, n: usize) -> ArrayRef {
    match ty {
        DataType::Float64 => Arc::new(Float64Array::from_iter_values(
            (0..n).map(|r| (r % 3) as f64),
        )),
        DataType::Boolean => Arc::new(arrow_array::BooleanArray::from_iter(
            (0..n).map(|r| Some(r % 2 == 0)),
        )),
        other => panic!("no column for {other}"),
    }
}

#[test]
fn the_worker_report_as_parquet_has_the_csv_reports_cells() {
    let dir = tmp();
    let b = batch(NAMES, ["int64", "uint32", "utf8"], &all_rows());
    let parquet = dir.path().join("w.parquet");
    write_parquet(&parquet, &b, 64);
    let (csv_report, parquet_report) = (dir.path().join("w.csv"), dir.path().join("w.out.parquet"));
    for report in [&csv_report, &parquet_report] {
        accord_ok(&[
            "consolidate",
            parquet.to_str().unwrap(),
            "--backend",
            "cpu",
            "-q",
            "-o",
            "-",
            "--workers-out",
            report.to_str().unwrap(),
        ]);
    }
    let expected = csv_rows(&std::fs::read_to_string(&csv_report).unwrap());
    assert_eq!(parquet_rows(&parquet_report), expected);
    let (schema, _) = read_parquet(&parquet_report);
    assert_eq!(schema.field(0).data_type(), &DataType::UInt32);
    assert_eq!(schema.field(1).data_type(), &DataType::Int64);
    assert_eq!(schema.field(3).name(), "c_id-0_id-0");
}

#[test]
fn record_batches_pack_through_the_library_as_their_file_does() {
    let rows = all_rows();
    let types = ["utf8_view", "int16", "dict_int16_int64"];
    let b = batch(NAMES, types, &rows);
    let batches: Vec<RecordBatch> = (0..5).map(|i| b.slice(i * 100, 100)).collect();
    let input = read_batches(Path::new("<batches>"), batches, &ReadOptions::default()).unwrap();
    assert_eq!(input.format, Some(InputFormat::Arrow));
    let types_read = input.column_types.unwrap();
    assert_eq!(
        [types_read.item, types_read.worker, types_read.label],
        [IdType::Utf8View, IdType::Int16, IdType::Int64]
    );
    let annotations = &input.annotations;
    assert_eq!(annotations.item.len(), 500);
    assert_eq!(annotations.items.len(), 100);
    assert_eq!(annotations.items.names().get(0), "id-1");
    assert_eq!(
        annotations.workers.names().get(0),
        scaled("int16", rows[0][1].unwrap())
    );
    // Batches whose column types change midway are refused, naming both.
    let other = batch(
        NAMES,
        ["utf8_view", "int32", "dict_int16_int64"],
        &rows[..10],
    );
    let err = read_batches(
        Path::new("<batches>"),
        [b.clone(), other],
        &ReadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "record batch 1 has a worker column of type Int32, the first batch one of type Int16"
        ),
        "{err}"
    );
    // Renamed fields, through `ReadOptions::fields`.
    let renamed = batch(["task", "annotator", "answer"], types, &rows);
    let options = ReadOptions {
        fields: FieldNames::parse("worker=annotator,label=answer").unwrap(),
        ..Default::default()
    };
    let input = read_batches(Path::new("<batches>"), [renamed], &options).unwrap();
    assert_eq!(input.annotations.label.len(), 500);
    // No batch: no annotation.
    let err = read_batches(Path::new("<batches>"), [], &ReadOptions::default()).unwrap_err();
    assert!(err.to_string().contains("holds no annotation"), "{err}");
}

#[test]
fn other_tasks_refuse_parquet_and_arrow() {
    let dir = tmp();
    let b = batch(NAMES, ["utf8"; 3], &all_rows()[..20]);
    let parquet = dir.path().join("x.parquet");
    write_parquet(&parquet, &b, 64);
    let err = accord_bad_input(&[
        "consolidate",
        parquet.to_str().unwrap(),
        "--task",
        "multilabel",
    ]);
    assert!(err.contains("--task classification only"), "{err}");
    let csv = file(dir.path(), "x.csv", "item,worker,label\n1,1,a\n");
    let out = accord(&[
        "consolidate",
        &csv,
        "--task",
        "boxes",
        "-o",
        dir.path().join("o.parquet").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--task classification only"));
}

#[test]
#[ignore = "needs the real datasets (ACCORD_DATASETS, default ../shared/datasets): run with -- --ignored"]
fn every_shared_dataset_as_parquet_gives_the_csv_labels() {
    let root = crate::support::shared_datasets().unwrap();
    let dir = tmp();
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let folder = entry.unwrap().path();
        let labels = folder.join("labels.csv");
        if !labels.is_file() {
            continue;
        }
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&labels).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        // Each column as int64 when every cell is an integer, else utf8:
        // what a user converting the CSV with pyarrow or pandas would get.
        let columns: Vec<ArrayRef> = (0..header.len())
            .map(|c| {
                let cells: Vec<&str> = records.iter().map(|r| r[c].trim()).collect();
                match cells
                    .iter()
                    .map(|s| s.parse::<i64>())
                    .collect::<Result<Vec<i64>, _>>()
                {
                    Ok(ints) => Arc::new(PrimitiveArray::<Int64Type>::from(ints)) as ArrayRef,
                    Err(_) => Arc::new(StringArray::from(cells)),
                }
            })
            .collect();
        let fields: Vec<Field> = header
            .iter()
            .zip(&columns)
            .map(|(h, c)| Field::new(h, c.data_type().clone(), false))
            .collect();
        let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let parquet = dir.path().join(format!("{name}.parquet"));
        write_parquet(&parquet, &b, 100_000);
        let args = |input: &str| -> Vec<String> {
            [
                "consolidate",
                input,
                "--backend",
                "cpu",
                "-q",
                "--posteriors",
            ]
            .map(String::from)
            .to_vec()
        };
        let run = |input: &str| {
            let a = args(input);
            accord_ok(&a.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let expected = run(labels.to_str().unwrap());
        assert_eq!(run(parquet.to_str().unwrap()), expected, "{name}");
        eprintln!(
            "{name}: {} annotations, Parquet labels identical to CSV",
            records.len()
        );
        checked += 1;
    }
    assert!(checked >= 1, "no dataset under {}", root.display());
}

#[test]
fn more_labels_than_one_run_holds_is_an_error_naming_the_file_in_every_format() {
    // Regression: class ids are two bytes, and a Parquet file with 65,537
    // distinct labels (no categories) panicked in the batch merge.
    let dir = tmp();
    let rows: Vec<[Option<u64>; 3]> = (0..65_537u64)
        .map(|a| [Some(a / 3), Some(a % 7), Some(a)])
        .collect();
    let b = batch(NAMES, ["utf8"; 3], &rows);
    let parquet = dir.path().join("many_labels.parquet");
    write_parquet(&parquet, &b, 20_000);
    let csv = dir.path().join("many_labels.csv");
    std::fs::write(&csv, csv_text(NAMES, ["utf8"; 3], &rows)).unwrap();
    for input in [&parquet, &csv] {
        let out = dir.path().join("out.csv");
        let err = accord_bad_input(&[
            "consolidate",
            input.to_str().unwrap(),
            "--method",
            "mv",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(
            err.contains("many_labels") && err.contains("at most 65536"),
            "{err}"
        );
        assert!(!out.exists());
    }
}
