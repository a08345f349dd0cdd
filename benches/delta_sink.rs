//! Rows per second into a Delta table against the Parquet `file` sink, on
//! the same batches in the same run (`cargo bench --bench delta_sink`):
//! 1,000,000 orders in batches of 8,192, written, flushed at a checkpoint
//! every 100,000 rows and (Delta) committed. Prints the median of each and
//! the ratio Delta / Parquet in rows per second; issue 21 asks for at least
//! 0.8.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use weir::connectors::{Registry, SinkContext};

const ROWS: usize = 1_000_000;
const BATCH: usize = 8_192;
const CHECKPOINT_ROWS: usize = 100_000;
const RUNS: usize = 5;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("customer", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("country", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]))
}

fn batches() -> Vec<RecordBatch> {
    (0..ROWS)
        .step_by(BATCH)
        .map(|start| {
            let ids: Vec<i64> = (start as i64..(start + BATCH).min(ROWS) as i64).collect();
            let customers: Vec<String> = ids
                .iter()
                .map(|i| format!("customer-{}", i % 977))
                .collect();
            let amounts: Vec<f64> = ids.iter().map(|i| (i % 500) as f64 + 0.25).collect();
            let countries: Vec<&str> = ids
                .iter()
                .map(|i| ["DE", "FR", "US", "GB"][*i as usize % 4])
                .collect();
            let times: Vec<i64> = ids
                .iter()
                .map(|i| 1_796_000_000_000_000 + i * 1000)
                .collect();
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(customers)),
                    Arc::new(Float64Array::from(amounts)),
                    Arc::new(StringArray::from(countries)),
                    Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
                ],
            )
            .unwrap()
        })
        .collect()
}

/// Writes `batches` through sink type `kind` with `config` into `dir`,
/// flushing (and committing) every checkpoint; answers the time.
fn write(kind: &str, config: serde_json::Value, dir: &Path, batches: &[RecordBatch]) -> Duration {
    let connector = Registry::builtin().build_sink(kind, &config, dir).unwrap();
    let context = SinkContext {
        pipeline: "bench".into(),
        node: kind.into(),
        continues: false,
        describing: false,
    };
    let started = Instant::now();
    let mut sink = connector.open(&schema(), &context).unwrap();
    let (mut rows, mut version) = (0, 0);
    for batch in batches {
        sink.write(batch).unwrap();
        rows += batch.num_rows();
        if rows >= CHECKPOINT_ROWS || std::ptr::eq(batch, batches.last().unwrap()) {
            rows = 0;
            sink.flush().unwrap();
            if let Some(transactional) = sink.transactional()
                && let Some(prepared) = transactional.prepare().unwrap()
            {
                transactional.commit(version, &prepared).unwrap();
                version += 1;
            }
        }
    }
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let batches = batches();
    let (mut parquet, mut delta) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        parquet.push(write(
            "file",
            serde_json::json!({"path": "files", "format": "parquet"}),
            dir.path(),
            &batches,
        ));
        delta.push(write(
            "delta",
            serde_json::json!({"path": "lake"}),
            dir.path(),
            &batches,
        ));
    }
    let (parquet, delta) = (median(parquet), median(delta));
    let rate = |t: Duration| ROWS as f64 / t.as_secs_f64();
    println!(
        "{ROWS} rows, median of {RUNS}: parquet file sink {:.0} rows/s ({parquet:.2?}), delta {:.0} rows/s ({delta:.2?}); delta / parquet = {:.2}",
        rate(parquet),
        rate(delta),
        rate(delta) / rate(parquet)
    );
}
