//! `{{name}}`: {{description}}
//!
//! Produces `rows` rows (`id`: int64, `name`: utf8 `row-ID`), then ends.
//! Configuration: `{"rows": 10}` (the default).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use weir_sdk::{Error, Poll, Result, Source, SourcePlan};

/// The plugin's configuration (the node's `config:`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How many rows to produce.
    #[serde(default = "default_rows")]
    pub rows: i64,
}

fn default_rows() -> i64 {
    10
}

/// The opened source: where it is.
pub struct Plugin {
    schema: SchemaRef,
    next: i64,
    rows: i64,
}

impl Source for Plugin {
    type Config = Config;

    fn open(config: Config) -> Result<(Self, SourcePlan)> {
        if config.rows < 0 {
            return Err(Error::invalid_config("rows: must not be negative"));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
        ]));
        let source = Plugin { schema: schema.clone(), next: 0, rows: config.rows };
        Ok((source, SourcePlan::new(schema)))
    }

    fn next(&mut self, max_rows: usize) -> Result<Poll> {
        let end = self.rows.min(self.next + max_rows as i64);
        if self.next >= end {
            return Ok(Poll::Done);
        }
        let ids: Vec<i64> = (self.next..end).collect();
        let names: StringArray = ids.iter().map(|id| Some(format!("row-{id}"))).collect();
        self.next = end;
        let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids)), Arc::new(names)];
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(Error::internal)?;
        Ok(Poll::Batch(batch))
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(self.next.to_le_bytes().to_vec()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let bytes = state.try_into().map_err(|_| Error::invalid_state("expected 8 bytes"))?;
        self.next = i64::from_le_bytes(bytes);
        Ok(())
    }
}

weir_sdk::export_source!(Plugin);
