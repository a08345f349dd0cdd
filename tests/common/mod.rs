//! Helpers shared by the end-to-end tests: one engine per test binary (with
//! a compiled-component cache in the temp folder, so repeated runs do not
//! recompile), loading plugins built by `weir-plugin-artifacts`, and batches.
#![allow(dead_code)]

pub mod nexmark;

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use weir::plugin::{EngineOptions, Plugin, PluginEngine};

/// The engine shared by the tests of one binary.
pub fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let options = EngineOptions {
            cache_dir: Some(std::env::temp_dir().join("weir-test-component-cache")),
            ..EngineOptions::default()
        };
        PluginEngine::new(&options).expect("engine")
    })
}

/// Loads a plugin built from `plugins/`.
pub fn load(path: &str) -> Plugin {
    engine().load_file(path.as_ref()).expect("load plugin")
}

/// A batch with every column type the tests use, including nulls:
/// id i64, amount f64, name utf8, at timestamp(ms), vip bool.
pub fn mixed_batch() -> RecordBatch {
    let id: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(1),
        Some(2),
        None,
        Some(4),
        Some(5),
        Some(6),
    ]));
    let amount: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(10.0),
        None,
        Some(30.0),
        Some(-4.0),
        Some(50.0),
        Some(0.0),
    ]));
    let name: ArrayRef = Arc::new(StringArray::from(vec![
        Some("ann"),
        Some("bob"),
        Some("cid"),
        None,
        Some("eve"),
        Some("fay"),
    ]));
    let at: ArrayRef = Arc::new(
        TimestampMillisecondArray::from(vec![1000, 2000, 3000, 4000, 5000, 6000])
            .with_timezone("+00:00"),
    );
    let vip: ArrayRef = Arc::new(BooleanArray::from(vec![
        Some(true),
        Some(false),
        Some(true),
        None,
        Some(false),
        Some(true),
    ]));
    RecordBatch::try_from_iter([
        ("id", id),
        ("amount", amount),
        ("name", name),
        ("at", at),
        ("vip", vip),
    ])
    .unwrap()
}

/// The column `column` of `batch` as array type `A`; panics naming what is wrong.
pub fn column<'a, A: Array + 'static>(batch: &'a RecordBatch, column: &str) -> &'a A {
    let array = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    array
        .as_any()
        .downcast_ref::<A>()
        .unwrap_or_else(|| panic!("column {column} is {}", array.data_type()))
}

/// Values of an Int64 column, by name.
pub fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    column::<Int64Array>(batch, name).iter().collect()
}

/// Values of a Utf8 column, by name.
pub fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    column::<StringArray>(batch, name)
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

/// Values of a Float64 column, by name.
pub fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    column::<Float64Array>(batch, name).iter().collect()
}

/// Concatenates batches of one schema.
pub fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow::compute::concat_batches(&batches[0].schema(), batches).unwrap()
}

/// The column names of `batch`, in order.
pub fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Every batch of the Parquet files in `dir`, in file name order.
pub fn read_parquet(dir: &std::path::Path) -> Vec<RecordBatch> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|path| {
            let file = std::fs::File::open(path).unwrap();
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
        })
        .collect()
}
