//! Test fixture: a sink that accepts every batch, except that it panics (a
//! trap) on a batch whose `id` column (int64) holds 13: a poison pill for a
//! sink. Reads only `id`; config: `{}`.

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::SchemaRef;
use weir_sdk::{Error, Result, Sink};

/// No settings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Panics on the poison pill.
pub struct TrapOn13;

impl Sink for TrapOn13 {
    type Config = Config;

    fn open(_config: Self::Config, input: &SchemaRef) -> Result<(Self, Option<Vec<usize>>)> {
        let id = input
            .index_of("id")
            .map_err(|_| Error::invalid_input("the input has no `id` column"))?;
        Ok((TrapOn13, Some(vec![id])))
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| Error::invalid_input("`id` must be int64"))?;
        if ids.iter().any(|id| id == Some(13)) {
            panic!("poison pill: id 13");
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

weir_sdk::export_sink!(TrapOn13);
