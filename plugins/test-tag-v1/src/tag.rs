// The source of both test-tag builds (see test-tag-v1's crate docs).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, SchemaRef};
use weir_sdk::{Error, Layout, Output, Plan, Result, Transform};

/// No settings.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// The rows seen so far.
pub struct Tag {
    seen: i64,
}

impl Transform for Tag {
    type Config = Config;

    fn open(_config: Config, input: &SchemaRef) -> Result<(Self, Plan)> {
        let layout = Layout::all(input)
            .append(Field::new("version", DataType::Utf8, false))
            .append(Field::new("seq", DataType::Int64, false));
        Ok((Tag { seen: 0 }, Plan::derived(layout).reading(Vec::new())))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<Output> {
        let rows = batch.num_rows();
        let version: ArrayRef = Arc::new(StringArray::from(vec![env!("CARGO_PKG_NAME"); rows]));
        let seq: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..rows as i64).map(|i| self.seen + i),
        ));
        self.seen += rows as i64;
        Ok(Output::keep_all().with_appended(vec![version, seq]))
    }

    fn snapshot(&self) -> Result<Option<Vec<u8>>> {
        Ok(Some(self.seen.to_le_bytes().to_vec()))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let bytes: [u8; 8] = state
            .try_into()
            .map_err(|_| Error::invalid_state("expected 8 bytes"))?;
        self.seen = i64::from_le_bytes(bytes);
        Ok(())
    }
}

weir_sdk::export_transform!(Tag);
