//! `{{name}}`: {{description}}
//!
//! Counts the rows it is given and logs the total at each flush (see the
//! run's log). Reads no column: only row counts cross the boundary.
//! Configuration: none (`{}`).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use weir_sdk::{Result, Sink, SinkPlan, host};

/// The plugin's configuration (the node's `config:`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// The opened sink.
pub struct Plugin {
    rows: u64,
}

impl Sink for Plugin {
    type Config = Config;

    fn open(_config: Config, _input: &SchemaRef) -> Result<(Self, SinkPlan)> {
        // It counts rows, so it reads no column; `SinkPlan::all()` reads all.
        Ok((Plugin { rows: 0 }, SinkPlan::reading_at(&[]).0))
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        host::info("rows written", &[("rows", &self.rows.to_string())]);
        Ok(())
    }
}

weir_sdk::export_sink!(Plugin);
