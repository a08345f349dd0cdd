//! `count`: a sink that counts rows and batches.
//!
//! It reads no column (only row counts cross the boundary), publishes the
//! counters `rows` and `batches` as node metrics, and logs the totals at
//! every flush. With `expect_rows`, a flush fails unless exactly that many
//! rows arrived: a pipeline's own check of completeness.
//!
//! With `delay_ms`, it sleeps that long after every batch: a stand-in for a
//! slow destination, to watch backpressure.
//!
//! Configuration: `{"expect_rows": 1000, "delay_ms": 20}` (both optional).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::Deserialize;
use weir_sdk::{Error, Result, Sink, SinkPlan, host};

/// The sink's configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Fail the final flush unless exactly this many rows arrived.
    pub expect_rows: Option<u64>,
    /// Sleep this many milliseconds after each batch.
    #[serde(default)]
    pub delay_ms: u64,
}

/// The running sink.
pub struct Count {
    expect_rows: Option<u64>,
    delay: std::time::Duration,
    rows: u64,
    batches: u64,
}

impl Sink for Count {
    type Config = Config;

    fn open(config: Config, _input: &SchemaRef) -> Result<(Self, SinkPlan)> {
        let sink = Count {
            expect_rows: config.expect_rows,
            delay: std::time::Duration::from_millis(config.delay_ms),
            rows: 0,
            batches: 0,
        };
        // It counts rows: no column needs to cross the boundary.
        Ok((sink, SinkPlan::reading_at(&[]).0))
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.batches += 1;
        host::counter_add("rows", batch.num_rows() as u64);
        host::counter_add("batches", 1);
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let (rows, batches) = (self.rows.to_string(), self.batches.to_string());
        host::info("count", &[("rows", &rows), ("batches", &batches)]);
        match self.expect_rows {
            Some(expected) if expected != self.rows => Err(Error::invalid_input(format!(
                "expected {expected} rows, received {}",
                self.rows
            ))),
            _ => Ok(()),
        }
    }
}

weir_sdk::export_sink!(Count);
