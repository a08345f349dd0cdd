//! Test fixture: a sink that accepts every batch, except that it panics (a
//! trap) on a batch whose `id` column (int64) holds 13: a poison pill for a
//! sink. Reads only `id`; config: `{}`.

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::SchemaRef;
use weir_sdk::{Error, Result, Sink, SinkPlan};

/// No settings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Panics on the poison pill.
/// Traps on a batch holding id 13; `id` is where that column is in the
/// batches it receives.
pub struct TrapOn13 {
    id: usize,
}

impl Sink for TrapOn13 {
    type Config = Config;

    fn open(_config: Self::Config, input: &SchemaRef) -> Result<(Self, SinkPlan)> {
        let id = input
            .index_of("id")
            .map_err(|_| Error::invalid_config("the input has no `id` column"))?;
        let (plan, at) = SinkPlan::reading_at(&[id]);
        Ok((TrapOn13 { id: at[0] }, plan))
    }

    fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let ids = batch
            .column(self.id)
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
