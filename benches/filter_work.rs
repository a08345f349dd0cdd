//! The work both filter benchmarks measure: the input batch, the native
//! baseline and the plugin configurations.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::cmp::gt;

/// Rows per batch.
pub const ROWS: usize = 8192;
/// The filter keeps `id > THRESHOLD` (about half the rows).
pub const THRESHOLD: i64 = 500;

/// One batch of 5 columns: id (i64), amount (f64), name (utf8), at
/// (timestamp), vip (bool), from a fixed seed. `FILTER_BENCH_ROWS` rows,
/// `ROWS` by default: small batches (say 64 rows) show the fixed cost of a
/// call.
pub fn batch() -> RecordBatch {
    let rows = std::env::var("FILTER_BENCH_ROWS").map_or(ROWS, |rows| {
        rows.parse().expect("FILTER_BENCH_ROWS is a number of rows")
    });
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ids: Vec<i64> = (0..rows).map(|_| (next() % 1000) as i64).collect();
    let amount: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..rows).map(|_| (next() % 100_000) as f64 / 100.0),
    ));
    let name: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows).map(|_| format!("user-{:06}", next() % 1_000_000)),
    ));
    let at: ArrayRef = Arc::new(
        TimestampMillisecondArray::from_iter_values(
            (0..rows).map(|i| 1_795_564_800_000 + i as i64),
        )
        .with_timezone("+00:00"),
    );
    let vip: ArrayRef = Arc::new(BooleanArray::from_iter(
        (0..rows).map(|_| Some(next() % 2 == 0)),
    ));
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids)) as ArrayRef),
        ("amount", amount),
        ("name", name),
        ("at", at),
        ("vip", vip),
    ])
    .unwrap()
}

/// The predicate `id > THRESHOLD` with arrow's `gt` kernel.
pub fn mask(batch: &RecordBatch) -> BooleanArray {
    let id = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    gt(id, &Int64Array::new_scalar(THRESHOLD)).unwrap()
}

/// The filter done natively: arrow's `gt` kernel and `filter_record_batch`
/// on the 4 output columns.
pub fn native(batch: &RecordBatch) -> RecordBatch {
    filter_record_batch(&batch.project(&[0, 1, 2, 3]).unwrap(), &mask(batch)).unwrap()
}

/// The `filter` plugin's config for `output` (`selection` or `batches`).
pub fn filter_config(output: &str) -> String {
    format!(
        r#"{{"predicate": "id > {THRESHOLD}", "columns": ["id", "amount", "name", "at"], "output": "{output}"}}"#
    )
}
